"""Fuzzing (issue 19 item 4), part (a): bodies that are not reviews, and reviews whose envelope is malformed, sent
to every admission and conversion path of the webhook server (the product's aiohttp application, in process).
Each gets a well-formed answer: HTTP 400 with a message, or a review that denies (or fails a conversion) with a
message; never a 500, never an exception. Defects found are kept below as explicit examples."""
from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests import fuzzing as fz

pytestmark = pytest.mark.slow  # property tests: left out of `make verify`, run by `make test`

ADMISSION_PATHS = list(fz.webhook_paths()) + fz.deletion_protection_paths()


@pytest.fixture(scope="module")
def webhooks():
    with fz.InProcessWebhooks() as served:
        yield served


def test_every_generated_path_is_served(webhooks):
    """The fuzz reaches every path of the generated webhook configuration (nothing 404s)."""
    served = fz.webhook_paths()
    assert set(served.values()) == set(fz.SCHEMA.kinds()) | {None}, served    # every kind, and pods
    assert {p.split("-")[0] for p in served} == {"/mutate", "/validate"}
    assert len(fz.deletion_protection_paths()) == 7
    for path in ADMISSION_PATHS:
        status, answer = webhooks.post(path, fz.body({"request": {"uid": "u", "operation": "CONNECT"}}))
        assert status == 200 and answer["response"]["allowed"] is True, (path, status, answer)


@fz.fuzz_settings(120)
@given(path=st.sampled_from(ADMISSION_PATHS), raw=fz.raw_bodies())
# Defects found: each of these was a 500 from aiohttp ("Server got itself in trouble").
@example(path="/mutate-pod", raw=b"[" * 100_000)          # RecursionError in json.loads
@example(path="/mutate-pod", raw=b"\xff\xfe")             # UnicodeDecodeError
@example(path="/validate-apps-kruise-io-statefulset", raw=b"NaN")   # a float, then .get on it
@example(path="/mutate-apps-kruise-io-sidecarset", raw=b'{"request": Infinity}')
def test_raw_bodies_are_refused_with_a_message(webhooks, path, raw):
    fz.assert_admission_answer(*webhooks.post(path, raw), None)


@fz.fuzz_settings(80)
@given(raw=fz.raw_bodies())
@example(raw=b"")
def test_raw_bodies_to_the_conversion_path(webhooks, raw):
    fz.assert_conversion_answer(*webhooks.post(fz.CONVERT_PATH, raw), None)


@fz.fuzz_settings(250)
@given(path=st.sampled_from(ADMISSION_PATHS), review=fz.MALFORMED_ENVELOPES)
@example(path="/validate-apps-kruise-io-v1alpha1-containerrecreaterequest", review=None)   # null body
@example(path="/mutate-apps-kruise-io-imagelistpulljob", review=False)
@example(path="/mutate-apps-kruise-io-v1alpha1-cloneset", review="\ud800")               # a lone surrogate
@example(path="/mutate-apps-kruise-io-v1alpha1-cloneset", review={"request": 5})
@example(path="/validate-apps-kruise-io-v1alpha1-cloneset",
         review={"request": {"operation": "CREATE", "object": {"apiVersion": "apps.kruise.io/v1alpha1",
                                                                "kind": "CloneSet", "metadata": "x"}}})
@example(path="/mutate-apps-kruise-io-v1alpha1-containerrecreaterequest",
         review={"request": {"operation": "CREATE", "object": {"kind": "ContainerRecreateRequest",
                                                                "apiVersion": "apps.kruise.io/v1alpha1",
                                                                "metadata": {"labels": {"a": 1}}}}})
@example(path="/mutate-pod", review={"apiVersion": {"x": 1}, "request": {"uid": 7}})
def test_malformed_admission_reviews_get_a_well_formed_answer(webhooks, path, review):
    fz.assert_admission_answer(*webhooks.post(path, fz.body(review)), review)


@fz.fuzz_settings(200)
@given(review=fz.MALFORMED_ENVELOPES)
@example(review={"request": {"desiredAPIVersion": "apps.kruise.io/v1alpha1",
                             "objects": [{"apiVersion": "apps.kruise.io/v1beta1", "kind": "NodeImage",
                                          "metadata": None}]}})     # was a 500: None.pop
@example(review={"request": {"desiredAPIVersion": 5, "objects": [{}]}})
@example(review={"request": {"desiredAPIVersion": "apps.kruise.io/v1alpha1", "objects": 5}})
def test_malformed_conversion_reviews_get_a_well_formed_answer(webhooks, review):
    fz.assert_conversion_answer(*webhooks.post(fz.CONVERT_PATH, fz.body(review)), review)


def test_a_malformed_review_is_refused_naming_the_field(webhooks):
    status, answer = webhooks.post("/validate-apps-kruise-io-v1alpha1-cloneset", fz.body({"request": {
        "uid": "u1", "operation": "CREATE",
        "object": {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {"labels": {"a": 1}}}}}))
    assert status == 200 and answer["response"]["uid"] == "u1"
    assert answer["response"]["status"] == {
        "code": 400, "reason": "BadRequest",
        "message": "request.object.metadata.labels[a]: Invalid value: must be a string, not a number"}
    status, answer = webhooks.post("/mutate-pod", b"[" * 100_000)
    assert (status, answer) == (400, {"message": "the body is nested more than 100 levels deep"})
    status, answer = webhooks.post(fz.CONVERT_PATH, fz.body({"request": {"uid": "u2", "objects": []}}))
    assert answer["response"] == {"uid": "u2", "convertedObjects": [], "result": {
        "status": "Failure", "message": "request.desiredAPIVersion: Required value: must be a string"}}


def test_a_review_too_deep_for_the_handlers_is_refused_as_a_review(webhooks):
    """The API server stores objects nested up to 10000 levels in schemaless fields (a pod template), and sends
    them to the webhooks: they must be refused as reviews (the API server then answers 400), not with HTTP 400
    (which it reports as `failed calling webhook`, a 500). Found by the e2e fuzz: a CloneSet template 120 deep."""
    cloneset = fz.example("CloneSet")
    cloneset["spec"]["template"] = {"deep": "DEEP"}
    for depth in (120, 5000):      # readable by Python's json, and not
        inner = fz.body(cloneset).replace(b'"DEEP"', b"[" * depth + b"1" + b"]" * depth)
        raw = ('{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"deep-1",'
               '"operation":"CREATE","object":' + inner.decode() + "}}").encode()
        status, answer = webhooks.post("/mutate-apps-kruise-io-v1alpha1-cloneset", raw)
        assert status == 200 and answer["response"] == {"uid": "deep-1", "allowed": False, "status": {
            "code": 400, "reason": "BadRequest", "message": "the object is nested more than 100 levels deep"}}
        raw = ('{"kind":"ConversionReview","apiVersion":"apiextensions.k8s.io/v1","request":{"uid":"deep-2",'
               '"desiredAPIVersion":"apps.kruise.io/v1alpha1","objects":[' + inner.decode() + "]}}").encode()
        status, answer = webhooks.post(fz.CONVERT_PATH, raw)
        assert status == 200 and answer["response"]["uid"] == "deep-2"
        assert answer["response"]["result"] == {"status": "Failure",
                                                "message": "the object is nested more than 100 levels deep"}
