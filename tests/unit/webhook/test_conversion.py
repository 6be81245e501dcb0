"""Conversion between StatefulSet versions loses nothing, for any object the schema allows."""
from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.webhook import conversion

ALPHA, BETA = "apps.kruise.io/v1alpha1", "apps.kruise.io/v1beta1"


def beta(**spec) -> dict:
    return {"apiVersion": BETA, "kind": "StatefulSet", "metadata": {"name": "s", "namespace": "n"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
                     **spec}}


def test_beta_only_fields_survive_a_v1alpha1_client():
    obj = beta(reserveOrdinals=[1, "3-4"], lifecycle={"preDelete": {"labelsHandler": {"k": "v"}}},
               scaleStrategy={"maxUnavailable": 2}, ordinals={"start": 5},
               persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Retain"})
    alpha = conversion.convert(obj, ALPHA)
    assert "reserveOrdinals" not in alpha["spec"] and "ordinals" not in alpha["spec"]
    assert conversion.STASH_ANNOTATION in alpha["metadata"]["annotations"]
    alpha["spec"]["replicas"] = 5  # the v1alpha1 client edits what it knows
    back = conversion.convert(alpha, BETA)
    assert back["spec"]["reserveOrdinals"] == [1, "3-4"] and back["spec"]["ordinals"] == {"start": 5}
    assert back["spec"]["replicas"] == 5
    assert "annotations" not in back["metadata"], "the stash leaves no trace in the stored object"


def test_the_clients_own_value_wins_over_the_stash():
    alpha = conversion.convert(beta(reserveOrdinals=[1]), ALPHA)
    alpha["metadata"]["annotations"][conversion.STASH_ANNOTATION] = '{"/spec/replicas": 9}'
    assert conversion.convert(alpha, BETA)["spec"]["replicas"] == 3


def test_status_fields_unknown_to_v1alpha1_survive():
    obj = beta()
    obj["status"] = {"replicas": 3, "updatedReadyReplicas": 2, "labelSelector": "a=b"}
    alpha = conversion.convert(obj, ALPHA)
    assert "updatedReadyReplicas" not in alpha["status"]
    assert conversion.convert(alpha, BETA)["status"] == obj["status"]


def test_conversion_review_answers_every_object():
    review = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
              "request": {"uid": "u", "desiredAPIVersion": ALPHA, "objects": [beta(), beta(reserveOrdinals=[0])]}}
    out = conversion.review(review)
    assert out["response"]["uid"] == "u" and out["response"]["result"]["status"] == "Success"
    assert [o["apiVersion"] for o in out["response"]["convertedObjects"]] == [ALPHA, ALPHA]


scalars = st.one_of(st.integers(-5, 50), st.text("abcxyz-", max_size=6), st.booleans())
ordinals = st.lists(st.one_of(st.integers(0, 20), st.builds(lambda a, b: f"{a}-{a + b}", st.integers(0, 9), st.integers(0, 5))),
                    max_size=4)
handler = st.fixed_dictionaries({}, optional={
    "labelsHandler": st.dictionaries(st.text("abc", min_size=1, max_size=3), st.text("xyz", max_size=3), max_size=2),
    "finalizersHandler": st.lists(st.text("abc/", min_size=1, max_size=5), max_size=2),
    "markPodNotReady": st.booleans()})
beta_specs = st.fixed_dictionaries({}, optional={
    "replicas": st.integers(0, 100),
    "reserveOrdinals": ordinals,
    "lifecycle": st.fixed_dictionaries({}, optional={"preDelete": handler, "inPlaceUpdate": handler}),
    "scaleStrategy": st.fixed_dictionaries({}, optional={"maxUnavailable": st.one_of(st.integers(1, 5), st.just("50%"))}),
    "ordinals": st.fixed_dictionaries({"start": st.integers(0, 10)}),
    "persistentVolumeClaimRetentionPolicy": st.fixed_dictionaries(
        {}, optional={"whenDeleted": st.sampled_from(["Retain", "Delete"]), "whenScaled": st.sampled_from(["Retain", "Delete"])}),
    "podManagementPolicy": st.sampled_from(["OrderedReady", "Parallel"]),
    "updateStrategy": st.fixed_dictionaries({"type": st.just("RollingUpdate")}, optional={
        "rollingUpdate": st.fixed_dictionaries({}, optional={
            "partition": st.integers(0, 10), "paused": st.booleans(),
            "podUpdatePolicy": st.sampled_from(["ReCreate", "InPlaceIfPossible", "InPlaceOnly"])})}),
})


@settings(max_examples=200, deadline=None)
@given(spec=beta_specs, annotations=st.dictionaries(st.text("abc./", min_size=1, max_size=6), scalars.map(str), max_size=2))
def test_round_trip_through_v1alpha1_returns_the_same_object(spec, annotations):
    obj = beta(**spec)
    if annotations:
        obj["metadata"]["annotations"] = annotations
    original = copy.deepcopy(obj)
    assert conversion.convert(conversion.convert(obj, ALPHA), BETA) == original
    assert obj == original, "conversion never mutates its input"
