"""Fuzzing (issue 19 item 4), part (c): the conversion webhook (`/convert`, the product's server in process) for
every kind served in more than one version. For any object the API server can store in a version (every field of
the schema's type, labels and annotations that conversion mappings read), converting it to the other version and
back gives the same object: fields the other version has no place for travel in the stash annotation
(`conversion.apps.kruise.io/fields-not-in-this-version`), and values a mapping rewrites come back. Mutated
objects (any type anywhere) get Success or a Failure with a message, never a 500."""
from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from controllers.webhook import conversion
from tests import fuzzing as fz

pytestmark = pytest.mark.slow  # property tests: left out of `make verify`, run by `make test`

KINDS = fz.converted_kinds()
CASES = [(kind, version) for kind in KINDS for version in fz.versions(kind)]


def test_the_converted_kinds_are_the_crds_with_webhook_conversion():
    crds = fz.SCHEMA.data["chartObjects"]["conversionWebhookCRDs"]
    assert sorted(crds) == sorted(f"{kind.lower()}s.apps.kruise.io" for kind in KINDS)
    assert KINDS == ["DaemonSet", "ImageListPullJob", "ImagePullJob", "NodeImage", "SidecarSet", "StatefulSet"]


@pytest.fixture(scope="module")
def webhooks():
    with fz.InProcessWebhooks() as served:
        yield served


def convert(webhooks, objects: list, desired: str) -> list[dict]:
    review = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
              "request": {"uid": "u", "desiredAPIVersion": desired, "objects": objects}}
    response = fz.assert_conversion_answer(*webhooks.post(fz.CONVERT_PATH, fz.body(review)), review)
    assert response["result"]["status"] == "Success", response["result"]
    return response["convertedObjects"]


def other_version(kind: str, version: str) -> str:
    return next(v for v in fz.versions(kind) if v != version)


# A v1beta1 DaemonSet stored with the deprecated Surging (v1beta1's CRD enum has it; only our webhook refuses it
# there): it came back as Standard, since the v1alpha1 -> v1beta1 mapping rewrote it. Found by fuzzing.
SURGING_IN_V1BETA1 = {"apiVersion": "apps.kruise.io/v1beta1", "kind": "DaemonSet",
                      "metadata": {"name": "fuzz", "namespace": "fuzz"},
                      "spec": {"selector": {}, "template": {},
                               "updateStrategy": {"rollingUpdate": {"rollingUpdateType": "Surging"}}}}


@pytest.mark.parametrize("kind, version", CASES)
def test_round_trips_lose_nothing(webhooks, kind, version):
    other = fz.api_version(other_version(kind, version))

    @fz.fuzz_settings(30)
    @given(obj=fz.objects_of(kind, version))
    @example(obj=SURGING_IN_V1BETA1 if (kind, version) == ("DaemonSet", "v1beta1") else fz.example(kind, version))
    def round_trip(obj):
        there = convert(webhooks, [obj], other)[0]
        assert convert(webhooks, [there], obj["apiVersion"])[0] == obj
        # ... and once more from there: a stash written by one trip is read back by the next.
        assert convert(webhooks, [convert(webhooks, [obj], other)[0]], obj["apiVersion"])[0] == obj
    round_trip()


@pytest.mark.parametrize("kind, version", CASES)
def test_the_other_versions_client_keeps_what_it_cannot_see(webhooks, kind, version):
    """A client of the other version reads, edits a label it knows and writes back: the fields only this version
    has are still there (OpenKruise drops them: kruise #1082, #2102)."""
    other = fz.api_version(other_version(kind, version))

    @fz.fuzz_settings(15)
    @given(obj=fz.objects_of(kind, version))
    def edit(obj):
        there = convert(webhooks, [obj], other)[0]
        there["metadata"].setdefault("labels", {})["edited-by"] = "other-client"
        back = convert(webhooks, [there], obj["apiVersion"])[0]
        assert back["metadata"]["labels"].pop("edited-by") == "other-client"
        if not back["metadata"]["labels"]:
            del back["metadata"]["labels"]
        assert back == obj
    edit()


@fz.fuzz_settings(150)
@given(data=st.data())
@example(data=None)
def test_mutated_objects_convert_or_fail_with_a_message(webhooks, data):
    if data is None:    # a stash annotation a client made into a list: was a 500 (list.pop with two arguments)
        obj = fz.example("StatefulSet", "v1alpha1")
        obj["metadata"]["annotations"] = {conversion.STASH_ANNOTATION: '["was:/spec/x", 1]'}
        objects, desired = [obj], fz.api_version("v1beta1")
    else:
        kind = data.draw(st.sampled_from(KINDS))
        seed = fz.example(kind, data.draw(st.sampled_from(fz.versions(kind))))
        objects = data.draw(st.lists(st.one_of(fz.mutated(seed), fz.mutated(seed, keep_envelope=False)),
                                     min_size=1, max_size=3))
        stash = data.draw(st.one_of(st.none(), fz.ODD_TEXT, fz.ANY_JSON.map(fz.json.dumps)))
        if stash is not None and isinstance(objects[0].get("metadata"), dict):
            annotations = objects[0]["metadata"].get("annotations")
            objects[0]["metadata"]["annotations"] = {**(annotations if isinstance(annotations, dict) else {}),
                                                     conversion.STASH_ANNOTATION: stash}
        desired = fz.api_version(data.draw(st.sampled_from(fz.versions(kind))))
    review = {"request": {"uid": "u", "desiredAPIVersion": desired, "objects": objects}}
    fz.assert_conversion_answer(*webhooks.post(fz.CONVERT_PATH, fz.body(review)), review)
