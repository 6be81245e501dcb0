"""SidecarSet API as OpenKruise v1.9.0 (openkruise-1.9/sidecarset.md §0 C1-C3, §1): served as v1alpha1 and
v1beta1 (stored), and the conversion between them loses nothing."""
from __future__ import annotations

import base64
import copy
import json

import jsonpatch
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controllers import schema
from controllers.sidecarset import hashes
from controllers.webhook import admission, conversion

ALPHA, BETA = "apps.kruise.io/v1alpha1", "apps.kruise.io/v1beta1"
CUSTOM_VERSION = "apps.kruise.io/sidecarset-custom-version"
NAME_LABEL = "kubernetes.io/metadata.name"
VERSIONS = ["v1alpha1", "v1beta1"]


def sidecarset(version: str = "v1beta1", *, labels: dict | None = None, **spec) -> dict:
    base = {"selector": {"matchLabels": {"app": "a"}}, "containers": [{"name": "sidecar", "image": "busybox"}]}
    meta: dict = {"name": "s"}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": f"apps.kruise.io/{version}", "kind": "SidecarSet", "metadata": meta,
            "spec": {**base, **spec}}


# ------------------------------------------------------------------------------------------------ conversion

def test_the_namespace_becomes_a_name_selector_and_comes_back() -> None:
    alpha = sidecarset("v1alpha1", namespace="ns1")
    beta = conversion.convert(alpha, BETA)
    assert beta["spec"]["namespaceSelector"] == {"matchLabels": {NAME_LABEL: "ns1"}} and "namespace" not in beta["spec"]
    assert conversion.convert(beta, ALPHA) == alpha


def test_the_namespace_wins_over_a_selector_set_next_to_it_which_comes_back() -> None:
    alpha = sidecarset("v1alpha1", namespace="ns1", namespaceSelector={"matchLabels": {"team": "x"}})
    beta = conversion.convert(alpha, BETA)
    assert beta["spec"]["namespaceSelector"] == {"matchLabels": {NAME_LABEL: "ns1"}}, "upstream: Namespace wins"
    assert conversion.convert(beta, ALPHA) == alpha


def test_a_v1beta1_edit_of_the_selector_wins_over_the_record() -> None:
    beta = conversion.convert(sidecarset("v1alpha1", namespace="ns1"), BETA)
    beta["spec"]["namespaceSelector"] = {"matchLabels": {"team": "y"}}
    alpha = conversion.convert(beta, ALPHA)
    assert "namespace" not in alpha["spec"] and alpha["spec"]["namespaceSelector"] == {"matchLabels": {"team": "y"}}
    assert "annotations" not in alpha["metadata"], "the stale record is dropped"


def test_a_v1beta1_name_selector_stays_a_selector_in_v1alpha1() -> None:
    beta = sidecarset(namespaceSelector={"matchLabels": {NAME_LABEL: "ns1"}})
    alpha = conversion.convert(beta, ALPHA)
    assert "namespace" not in alpha["spec"], "only a namespace a v1alpha1 client wrote comes back as one"
    assert conversion.convert(alpha, BETA) == beta


def test_the_custom_version_label_is_spec_custom_version_in_v1beta1() -> None:
    alpha = sidecarset("v1alpha1", labels={CUSTOM_VERSION: "v2", "app": "x"})
    beta = conversion.convert(alpha, BETA)
    assert beta["spec"]["customVersion"] == "v2" and beta["metadata"]["labels"] == {"app": "x"}
    assert "annotations" not in beta["metadata"], "nothing to remember"
    assert conversion.convert(beta, ALPHA) == alpha


def test_v1beta1_custom_version_is_the_label_in_v1alpha1_over_a_stale_label() -> None:
    beta = sidecarset(labels={CUSTOM_VERSION: "old"}, customVersion="new")
    alpha = conversion.convert(beta, ALPHA)
    assert alpha["metadata"]["labels"][CUSTOM_VERSION] == "new" and "customVersion" not in alpha["spec"]
    assert conversion.convert(alpha, BETA) == beta, "upstream loses the v1beta1 label; here it comes back"
    edited = copy.deepcopy(alpha)
    edited["metadata"]["labels"][CUSTOM_VERSION] = "newer"
    back = conversion.convert(edited, BETA)
    assert back["spec"]["customVersion"] == "newer" and CUSTOM_VERSION not in back["metadata"].get("labels", {})


def test_a_v1alpha1_client_removing_the_label_removes_the_custom_version() -> None:
    alpha = conversion.convert(sidecarset(labels={CUSTOM_VERSION: "old"}, customVersion="new"), ALPHA)
    del alpha["metadata"]["labels"][CUSTOM_VERSION]
    assert "customVersion" not in conversion.convert(alpha, BETA)["spec"]


def test_fields_new_in_v1_9_are_in_both_versions() -> None:
    container = {"name": "sidecar", "image": "busybox", "shareVolumeDevicePolicy": {"type": "enabled"},
                 "resourcesPolicy": {"targetContainersMode": "sum", "targetContainersNameRegex": ".*",
                                     "resourcesExpr": {"limits": {"cpu": "cpu*50%"}}}}
    beta = sidecarset(containers=[container], injectionStrategy={"revision": {"revisionName": "r", "policy": "Partial"}})
    beta["status"] = {"matchedPods": 1, "updatedPods": 1, "readyPods": 1, "updatedReadyPods": 1,
                      "observedGeneration": 2, "latestRevision": "s-abc", "collisionCount": 0}
    alpha = conversion.convert(beta, ALPHA)
    assert alpha["spec"] == {k: v for k, v in beta["spec"].items()} and alpha["status"] == beta["status"]
    assert "annotations" not in alpha["metadata"]
    assert not schema.validate(alpha) and not schema.validate(beta)


selectors = st.sampled_from([{"matchLabels": {"team": "x"}}, {"matchLabels": {NAME_LABEL: "ns1"}},
                             {"matchExpressions": [{"key": "env", "operator": "Exists"}]}])
label_values = st.sampled_from([None, "", "v1", "v2"])
statuses = st.fixed_dictionaries({"matchedPods": st.integers(0, 3), "updatedPods": st.integers(0, 3),
                                  "readyPods": st.integers(0, 3)},
                                 optional={"observedGeneration": st.integers(1, 9), "collisionCount": st.integers(0, 2),
                                           "updatedReadyPods": st.integers(0, 3), "latestRevision": st.just("s-x")})
common_specs = {
    "namespaceSelector": selectors,
    "updateStrategy": st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["NotUpdate", "RollingUpdate"]), "partition": st.sampled_from([0, 2, "50%"]),
        "paused": st.booleans()}),
    "injectionStrategy": st.fixed_dictionaries({}, optional={"paused": st.booleans(), "revision": st.just(
        {"customVersion": "v1", "policy": "Always"})}),
    "revisionHistoryLimit": st.integers(0, 10),
}


def _with_label(obj: dict, value: str | None, other: bool) -> dict:
    labels = ({CUSTOM_VERSION: value} if value is not None else {}) | ({"app": "x"} if other else {})
    if labels:
        obj["metadata"]["labels"] = labels
    return obj


@settings(max_examples=200, deadline=None)
@given(spec=st.fixed_dictionaries({}, optional={**common_specs, "customVersion": st.sampled_from(["", "v1", "v3"])}),
       status=statuses, label=label_values, other=st.booleans())
def test_v1beta1_round_trip_through_v1alpha1_is_lossless(spec, status, label, other) -> None:
    obj = _with_label(sidecarset("v1beta1", **spec), label, other)
    obj["status"] = status
    original = copy.deepcopy(obj)
    alpha = conversion.convert(obj, ALPHA)
    assert "customVersion" not in alpha["spec"]
    assert not [e for e in schema.validate(alpha) if "unknown field" in e.message], "only v1alpha1 fields are left"
    assert conversion.convert(alpha, BETA) == original
    assert obj == original, "conversion never mutates its input"


@settings(max_examples=200, deadline=None)
@given(spec=st.fixed_dictionaries({}, optional={**common_specs, "namespace": st.sampled_from(["", "ns1"])}),
       status=statuses, label=label_values, other=st.booleans())
def test_v1alpha1_round_trip_through_v1beta1_is_lossless(spec, status, label, other) -> None:
    obj = _with_label(sidecarset("v1alpha1", **spec), label, other)
    obj["status"] = status
    original = copy.deepcopy(obj)
    beta = conversion.convert(obj, BETA)
    assert "namespace" not in beta["spec"] and CUSTOM_VERSION not in beta["metadata"].get("labels", {})
    if spec.get("namespace"):
        assert beta["spec"]["namespaceSelector"] == {"matchLabels": {NAME_LABEL: spec["namespace"]}}
    if label is not None:
        assert beta["spec"]["customVersion"] == label
    assert not [e for e in schema.validate(beta) if "unknown field" in e.message]
    assert conversion.convert(beta, ALPHA) == original
    assert obj == original


# ------------------------------------------------------------------------------------------------ defaults

def mutated(obj: dict, old: dict | None = None) -> dict:
    """The object as the mutating webhook leaves it (its JSON patch applied)."""
    request = {"uid": "1", "operation": "UPDATE" if old else "CREATE", "object": obj}
    if old:
        request["oldObject"] = old
    answer = admission.mutate({"request": request})["response"]
    assert answer["allowed"]
    patch = json.loads(base64.b64decode(answer["patch"])) if "patch" in answer else []
    return jsonpatch.apply_patch(obj, patch)


@pytest.mark.parametrize("version", VERSIONS)
def test_defaults_as_set_defaults_sidecarset_v1beta1(version: str) -> None:
    obj = sidecarset(version, initContainers=[{"name": "init", "image": "busybox:1.36"}],
                     containers=[{"name": "sidecar", "image": "busybox",
                                  "ports": [{"containerPort": 80}],
                                  "env": [{"name": "P", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                                  "transferEnv": [{"sourceContainerNameFrom": {"fieldRef": {"fieldPath": "metadata.labels['a']"}},
                                                   "envName": "E"}],
                                  "resources": {"limits": {"cpu": "0.5", "memory": "1.5Gi"}},
                                  "readinessProbe": {"httpGet": {"port": 80}},
                                  "startupProbe": {"tcpSocket": {"port": 80}},
                                  "lifecycle": {"preStop": {"httpGet": {"port": 80}}}}],
                     volumes=[{"name": "empty"}, {"name": "conf", "configMap": {"name": "c"}}],
                     patchPodMetadata=[{"annotations": {"a": "b"}}],
                     injectionStrategy={"revision": {"revisionName": "r"}})
    spec = mutated(obj)["spec"]
    init, container = spec["initContainers"][0], spec["containers"][0]
    assert init["podInjectPolicy"] == "AfterAppContainer" and init["imagePullPolicy"] == "IfNotPresent"
    assert container["podInjectPolicy"] == "BeforeAppContainer"
    assert container["imagePullPolicy"] == "Always", "no tag means latest"
    for c in (init, container):
        assert c["upgradeStrategy"] == {"upgradeType": "ColdUpgrade"} and c["shareVolumePolicy"] == {"type": "disabled"}
        assert c["terminationMessagePath"] == "/dev/termination-log" and c["terminationMessagePolicy"] == "File"
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert container["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert container["transferEnv"][0]["sourceContainerNameFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert container["resources"] == {"limits": {"cpu": "500m", "memory": "1536Mi"}}
    assert container["readinessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                           "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert container["startupProbe"] == {"tcpSocket": {"port": 80}}, "upstream does not default startupProbe"
    assert container["lifecycle"]["preStop"]["httpGet"] == {"port": 80, "path": "/", "scheme": "HTTP"}
    assert spec["volumes"] == [{"name": "empty", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "c", "defaultMode": 420}}]
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "partition": 0, "maxUnavailable": 1}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["patchPodMetadata"] == [{"annotations": {"a": "b"}, "patchPolicy": "Retain"}]
    assert spec["injectionStrategy"]["revision"]["policy"] == "Always"


@pytest.mark.parametrize("version", VERSIONS)
def test_the_hash_annotations_are_written_after_the_defaults(version: str) -> None:
    obj = mutated(sidecarset(version))
    stored = conversion.convert(obj, BETA)
    assert obj["metadata"]["annotations"] == {hashes.HASH_ANNOTATION: hashes.sidecarset_hash(stored),
                                              hashes.HASH_WITHOUT_IMAGE_ANNOTATION:
                                                  hashes.sidecarset_hash_without_image(stored)}
    assert '"imagePullPolicy":"Always"' in hashes.encode(stored), "the hash covers the defaulted containers"


def test_an_update_recomputes_the_hashes_and_re_defaults_the_pull_policy() -> None:
    old = mutated(sidecarset(containers=[{"name": "sidecar", "image": "busybox:1"}]))
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "busybox:latest"
    del new["spec"]["containers"][0]["imagePullPolicy"]       # a full PUT that leaves it out (PR #1697)
    after = mutated(new, old)
    annotations, before = after["metadata"]["annotations"], old["metadata"]["annotations"]
    assert after["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    assert annotations[hashes.HASH_ANNOTATION] != before[hashes.HASH_ANNOTATION]
    assert annotations[hashes.HASH_WITHOUT_IMAGE_ANNOTATION] != before[hashes.HASH_WITHOUT_IMAGE_ANNOTATION]
    image_only = copy.deepcopy(old)
    image_only["spec"]["containers"][0]["image"] = "busybox:2"
    again = mutated(image_only, old)["metadata"]["annotations"]
    assert again[hashes.HASH_WITHOUT_IMAGE_ANNOTATION] == before[hashes.HASH_WITHOUT_IMAGE_ANNOTATION]
    assert again[hashes.HASH_ANNOTATION] != before[hashes.HASH_ANNOTATION]
