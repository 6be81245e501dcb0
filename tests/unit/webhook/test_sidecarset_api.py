"""SidecarSet API as OpenKruise v1.9.0 (openkruise-1.9/sidecarset.md §0 C1-C3, §1): served as v1alpha1 and
v1beta1 (stored), and the conversion between them loses nothing."""
from __future__ import annotations

import asyncio
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


# ------------------------------------------------------------------------------------------------ validation

def errors(obj: dict, old: dict | None = None, **state) -> dict[str, str]:
    """Field errors of the object as the validating webhook sees it: defaulted, in v1beta1."""
    stored = conversion.convert(mutated(obj), BETA)
    before = conversion.convert(mutated(old), BETA) if old else None
    return {e.path: e.message for e in schema.validate(stored, before, state=state)}


NATIVE = {"name": "native", "image": "envoy:v1", "restartPolicy": "Always"}
RESOURCES_POLICY = {"targetContainersMode": "sum", "resourcesExpr": {"limits": {"cpu": "max(cpu*50%, 50m)"}}}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("spec", [
    {},
    {"initContainers": [NATIVE], "updateStrategy": {"type": "NotUpdate"}},
    {"namespaceSelector": {"matchLabels": {NAME_LABEL: "ns1"}}},
    {"updateStrategy": {"selector": {"matchLabels": {"canary": "true"}}}},       # C7: the defaulted partition 0
    {"updateStrategy": {"type": "NotUpdate", "selector": {"matchLabels": {"a": "b"}}, "partition": 3}},
    {"updateStrategy": {"partition": "50%", "maxUnavailable": 0}},                # C6: 0 is accepted
    {"updateStrategy": {"scatterStrategy": [{"key": "zone", "value": "*"}]}},
    {"containers": [{"name": "sidecar", "image": "envoy", "resourcesPolicy": RESOURCES_POLICY}]},
    {"initContainers": [{**NATIVE, "resourcesPolicy": RESOURCES_POLICY}], "updateStrategy": {"type": "NotUpdate"}},
    {"containers": [], "initContainers": [{"name": "init", "image": "busybox"}]},
    {"containers": [{"name": "sidecar", "image": "x", "transferEnv": [
        {"sourceContainerNameFrom": {"fieldRef": {"fieldPath": "metadata.annotations['Example.com/App']"}},
         "envName": "E"}]}]},
    {"containers": [{"name": "sidecar", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
     "volumes": [{"name": "v", "emptyDir": {}}]},
    {"containers": [{"name": "sidecar", "image": "x", "upgradeStrategy": {"upgradeType": "HotUpgrade",
                                                                         "hotUpgradeEmptyImage": "empty:1"}}]},
], ids=lambda spec: json.dumps(spec)[:60])
def test_accepted(version: str, spec: dict) -> None:
    assert errors(sidecarset(version, **spec)) == {}


@pytest.mark.parametrize("obj, path, message", [
    ({**sidecarset(), "metadata": {"name": "a.b"}}, "metadata.name", "a valid name must consist of alphanumeric"),
    ({**sidecarset(), "metadata": {"name": "a" * 64}}, "metadata.name", "must be no more than 63 characters"),
    (sidecarset(initContainers=[NATIVE]), "spec.updateStrategy",
     "Required value: The initContainer in-place upgrade is not currently supported."),
    (sidecarset(selector={}), "spec.selector", "Invalid value: empty selector is not valid for sidecarset."),
    (sidecarset(selector={"matchLabels": {"a": "b c"}}), "spec.selector.matchLabels", "a valid label"),
    (sidecarset(namespaceSelector={}), "spec.namespaceSelector", "empty selector is not valid for sidecarset."),
    (sidecarset(injectionStrategy={"revision": {"policy": "Partial"}}), "spec.injectionStrategy.revision",
     "revisionName and customVersion cannot be empty simultaneously"),
    (sidecarset(injectionStrategy={"revision": {"policy": "Sometimes", "revisionName": "r"}}),
     "spec.injectionStrategy.revision.policy", 'Unsupported value: "Sometimes"'),
    (sidecarset(updateStrategy={"partition": 1, "selector": {"matchLabels": {"a": "b"}}}), "spec.updateStrategy",
     "Partition and Selector cannot be used together"),
    (sidecarset(updateStrategy={"partition": "0", "selector": {"matchLabels": {"a": "b"}}}), "spec.updateStrategy",
     "Partition and Selector cannot be used together"),
    (sidecarset(updateStrategy={"selector": {}}), "spec.updateStrategy.selector", "empty selector is not valid"),
    (sidecarset(updateStrategy={"partition": "5.5%"}), "spec.updateStrategy.partition", "percentage"),
    (sidecarset(updateStrategy={"maxUnavailable": -1}), "spec.updateStrategy.maxUnavailable", "greater than or equal to 0"),
    (sidecarset(updateStrategy={"priorityStrategy": {"weightPriority": [{"weight": 101, "matchSelector": {
        "matchLabels": {"a": "b"}}}]}}), "spec.updateStrategy.priorityStrategy.weightPriority[0].weight", "100"),
    (sidecarset(updateStrategy={"priorityStrategy": {"weightPriority": [{"weight": 1, "matchSelector": {}}]}}),
     "spec.updateStrategy.priorityStrategy.weightPriority[0].matchSelector", "empty matchSelector"),
    (sidecarset(updateStrategy={"scatterStrategy": [{"key": "a", "value": "b"}, {"key": "a", "value": "b"}]}),
     "spec.updateStrategy.scatterStrategy[1]", "Duplicate"),
    (sidecarset(containers=[]), "spec.containers", "Required value: no initContainer or container defined for SidecarSet"),
    (sidecarset(containers=[{"name": "Bad_Name", "image": "x"}]), "spec.containers[0].name", "RFC 1123 label"),
    (sidecarset(containers=[{"name": "s"}]), "spec.containers[0].image", "Required value"),
    (sidecarset(initContainers=[{"name": "sidecar", "image": "x"}]), "spec.containers[0].name",
     'Duplicate value: "sidecar"'),
    (sidecarset(containers=[{"name": "s", "image": "x", "volumeMounts": [{"name": "logs", "mountPath": "/l"}]}]),
     "spec.containers[0].volumeMounts[0].name", 'Not found: "logs"'),
    (sidecarset(containers=[{"name": "s", "image": "x", "ports": [{"containerPort": 70000}]}]),
     "spec.containers[0].ports[0].containerPort", "between 1 and 65535"),
    (sidecarset(containers=[{"name": "s", "image": "x", "podInjectPolicy": "Middle"}]),
     "spec.containers[0].podInjectPolicy", 'Unsupported value: "Middle"'),
    (sidecarset(containers=[{"name": "s", "image": "x", "shareVolumePolicy": {"type": "sometimes"}}]),
     "spec.containers[0].shareVolumePolicy.type", 'Unsupported value: "sometimes"'),
    (sidecarset(containers=[{"name": "s", "image": "x", "transferEnv": [
        {"sourceContainerNameFrom": {"fieldRef": {"fieldPath": "metadata.name"}}, "envName": "E"}]}]),
     "spec.containers[0].transferEnv[0].sourceContainerNameFrom.fieldRef.fieldPath", "field label not supported"),
    (sidecarset(containers=[{"name": "s", "image": "x", "transferEnv": [
        {"sourceContainerNameFrom": {"fieldRef": {"fieldPath": "metadata.labels['bad key']"}}, "envName": "E"}]}]),
     "spec.containers[0].transferEnv[0].sourceContainerNameFrom.fieldRef", "qualified name"),
    (sidecarset(containers=[{"name": "s", "image": "x", "resources": {"limits": {"cpu": "1"}},
                             "resourcesPolicy": RESOURCES_POLICY}]),
     "spec.containers[0].resourcesPolicy", "resourcesPolicy and resources cannot be configured together"),
    (sidecarset(containers=[{"name": "s", "image": "x", "resourcesPolicy": {
        "targetContainersMode": "sum", "targetContainersNameRegex": "(", "resourcesExpr": {"limits": {"cpu": "cpu"}}}}]),
     "spec.containers[0].resourcesPolicy.targetContainersNameRegex", "invalid regex"),
    (sidecarset(containers=[{"name": "s", "image": "x", "resourcesPolicy": {
        "targetContainersMode": "sum", "resourcesExpr": {}}}]),
     "spec.containers[0].resourcesPolicy.resourcesExpr", "at least one of limits or requests"),
    (sidecarset(containers=[{"name": "s", "image": "x", "resourcesPolicy": {
        "targetContainersMode": "sum", "resourcesExpr": {"requests": {"memory": "memory * (50%"}}}}]),
     "spec.containers[0].resourcesPolicy.resourcesExpr.requests.memory", "invalid expression"),
    (sidecarset(containers=[{"name": "s", "image": "x", "resourcesPolicy": {
        "targetContainersMode": "sum", "resourcesExpr": {"limits": {"cpu": "memory"}}}}]),
     "spec.containers[0].resourcesPolicy.resourcesExpr.limits.cpu", "unknown variable"),
    (sidecarset(initContainers=[{"name": "i", "image": "x", "resourcesPolicy": RESOURCES_POLICY}]),
     "spec.initContainers[0].resourcesPolicy", "only supported for containers with RestartPolicy Always"),
    (sidecarset(containers=[{"name": "s", "image": "x", "upgradeStrategy": {"upgradeType": "HotUpgrade"}}]),
     "spec.containers[0].upgradeStrategy.hotUpgradeEmptyImage", "hotUpgradeEmptyImage is required"),
    (sidecarset(patchPodMetadata=[{"annotations": {}}]), "spec.patchPodMetadata[0].annotations",
     "Required value: no annotations defined for SidecarSet"),
    (sidecarset(patchPodMetadata=[{"annotations": {"bad key": "v"}}]), "spec.patchPodMetadata[0].annotations",
     "name part must consist of alphanumeric characters"),
    (sidecarset(patchPodMetadata=[{"annotations": {"a": "1"}}, {"annotations": {"a": "2"}, "patchPolicy": "Overwrite"}]),
     "spec.patchPodMetadata[1].annotations", "patch annotation[a] already exist"),
], ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("version", VERSIONS)
def test_refused_naming_the_field(version: str, obj: dict, path: str, message: str) -> None:
    if version == "v1alpha1":
        obj = conversion.convert(obj, ALPHA)
    found = errors(obj)
    assert path in found, found
    assert message in found[path]


def test_a_namespace_conflict_check_of_v1_8_3_is_gone() -> None:
    # v1.8.3 refused namespace together with namespaceSelector; v1.9.0 converts and lets namespace win (C2).
    assert errors(sidecarset("v1alpha1", namespace="a", namespaceSelector={"matchLabels": {"b": "c"}})) == {}


def test_updates_keep_containers_and_their_upgrade_type() -> None:
    old = sidecarset(containers=[{"name": "a", "image": "x"}, {"name": "b", "image": "x"}])
    removed = sidecarset(containers=[{"name": "a", "image": "y"}])
    assert errors(removed, old) == {}, "removing a container is allowed"
    added = sidecarset(containers=[{"name": "a", "image": "x"}, {"name": "c", "image": "x"}])
    assert errors(added, old) == {"spec.containers[1].name": 'Invalid value: "c": container c is not found'}
    hot = sidecarset(containers=[{"name": "a", "image": "x", "upgradeStrategy": {
        "upgradeType": "HotUpgrade", "hotUpgradeEmptyImage": "e"}}])
    assert errors(hot, old) == {"spec.containers[0].upgradeStrategy.upgradeType": "Invalid value: field is immutable"}
    new_init = sidecarset(initContainers=[{"name": "new-init", "image": "x"}],
                          containers=[{"name": "a", "image": "x"}])
    assert errors(new_init, old) == {}, "initContainers are not checked"


# ---- the pinned revision must exist (§1.4, §4.5)

REVISIONS = [{"metadata": {"name": "s-abc", "labels": {"kruise.io/sidecarset-name": "s",
                                                       "apps.kruise.io/sidecarset-custom-version": "v1"}}}]


@pytest.mark.parametrize("revision, found", [({"revisionName": "s-abc"}, True), ({"revisionName": "s-xyz"}, False),
                                             ({"customVersion": "v1"}, True), ({"customVersion": "v2"}, False)])
def test_a_pinned_revision_must_exist(revision: dict, found: bool) -> None:
    obj = sidecarset(injectionStrategy={"revision": revision})
    result = errors(obj, revisions=REVISIONS)
    assert result == {} if found else "Cannot find specific ControllerRevision" in result["spec.injectionStrategy.revision"]
    assert errors(obj) == {}, "without the cluster state the rule does not run (unit tests, dry schema checks)"


# ---- the patchPodMetadata whitelist (§1.5)

def whitelist(*rules: dict) -> dict:
    return {"SidecarSet_PatchPodMetadata_WhiteList": json.dumps({"rules": list(rules)})}


def whitelist_errors(obj: dict, configuration: dict | None, allowed: bool = False) -> dict:
    stored = conversion.convert(mutated(obj), BETA)
    gates = {"SidecarSetPatchPodMetadataDefaultsAllowed": allowed}
    return {e.path: e.message for e in schema.validate(stored, state={"kruiseConfiguration": configuration},
                                                       feature_gates=gates)}


PATCHING = sidecarset(patchPodMetadata=[{"annotations": {"oom-score": "{\"a\": 1}"}, "patchPolicy": "MergePatchJson"}])


@pytest.mark.parametrize("configuration, allowed, expected", [
    (None, False, "SidecarSet patch metadata whitelist not found"),
    ({}, False, "SidecarSet patch metadata whitelist not found"),
    (None, True, None),
    (whitelist({"allowedAnnotationKeyExprs": ["^oom-score$"]}), False, None),
    (whitelist({"allowedAnnotationKeyExprs": ["score"]}), False, None),          # unanchored, as Go MatchString
    (whitelist({"allowedAnnotationKeyExprs": ["^other$"]}), True, "sidecarSet patch metadata annotation(oom-score) is not allowed"),
    (whitelist({"selector": {"matchLabels": {"team": "x"}}, "allowedAnnotationKeyExprs": [".*"]}), False,
     "sidecarSet patch metadata annotation is not allowed"),
    (whitelist({"selector": {"matchLabels": {"team": "x"}}, "allowedAnnotationKeyExprs": [".*"]}), True, None),
    (whitelist({"annotationKeyExprs": [".*"]}), False, "sidecarSet patch metadata annotation is not allowed"),
])
def test_the_patch_pod_metadata_whitelist(configuration, allowed, expected) -> None:
    found = whitelist_errors(PATCHING, configuration, allowed)
    assert found == ({} if expected is None else {"spec.patchPodMetadata": f"Required value: {expected}"})
    assert whitelist_errors(sidecarset(), None) == {}, "only a SidecarSet that patches is checked"


# ---- conflicts between SidecarSets (§1.4 step 5)

def stored(name: str, **spec) -> dict:
    obj = conversion.convert(mutated(sidecarset(**spec)), BETA)
    obj["metadata"]["name"] = name
    return obj


def conflict_errors(obj: dict, *others: dict) -> dict:
    return {e.path: e.message for e in schema.validate(conversion.convert(mutated(obj), BETA),
                                                       state={"sidecarsets": list(others)})}


def test_the_same_container_name_in_an_overlapping_sidecarset_is_refused() -> None:
    other = stored("other")
    assert conflict_errors(sidecarset(), other) == {
        "spec.containers[0].name": 'Invalid value: "sidecar": container sidecar already exist in other'}
    assert conflict_errors(sidecarset(), stored("s")) == {}, "a SidecarSet never conflicts with itself"


@pytest.mark.parametrize("mine, theirs, overlap", [
    ({"matchLabels": {"app": "a"}}, {"matchLabels": {"app": "b"}}, False),
    ({"matchLabels": {"app": "a"}}, {"matchLabels": {"tier": "web"}}, True),
    ({"matchLabels": {"app": "a"}}, {"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}]}, True),
    ({"matchLabels": {"app": "a"}}, {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["a"]}]}, False),
    ({"matchLabels": {"app": "a"}}, {"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, False),
    ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, {"matchLabels": {"app": "z"}}, True),
    ({"matchLabels": {"app": "a"}}, {"matchExpressions": [{"key": "x", "operator": "Exists"}]}, False),
])
def test_selector_overlap_as_is_selector_overlapping(mine: dict, theirs: dict, overlap: bool) -> None:
    assert bool(conflict_errors(sidecarset(selector=mine), stored("other", selector=theirs))) == overlap


def test_disjoint_namespace_selectors_never_conflict() -> None:
    mine = sidecarset("v1alpha1", namespace="ns1")
    assert conflict_errors(mine, stored("other", namespaceSelector={"matchLabels": {NAME_LABEL: "ns2"}})) == {}
    assert conflict_errors(mine, stored("other")), "no namespaceSelector: every namespace"


def test_init_names_volumes_and_annotations_conflict_as_upstream() -> None:
    init = {"name": "init", "image": "busybox"}
    assert "spec.initContainers[0].name" in conflict_errors(sidecarset(containers=[{"name": "x", "image": "x"}],
                                                                       initContainers=[init]),
                                                            stored("other", initContainers=[init]))
    # An init name used by another's containers is not detected (separate maps upstream).
    assert conflict_errors(sidecarset(containers=[{"name": "x", "image": "x"}], initContainers=[{"name": "sidecar",
                                                                                                 "image": "b"}]),
                           stored("other")) == {}
    mine = sidecarset(containers=[{"name": "mine", "image": "x"}], volumes=[{"name": "v", "hostPath": {"path": "/a"}}])
    same = stored("other", volumes=[{"name": "v", "hostPath": {"path": "/a"}}])
    different = stored("other", volumes=[{"name": "v", "hostPath": {"path": "/b"}}])
    assert conflict_errors(mine, same) == {}
    assert conflict_errors(mine, different) == {
        "spec.volumes[0]": 'Invalid value: "v": volume v is in conflict with sidecarset other'}


@pytest.mark.parametrize("mine, theirs, conflict", [
    ("Overwrite", "Overwrite", True), ("Overwrite", "MergePatchJson", True), ("MergePatchJson", "Overwrite", True),
    ("MergePatchJson", "MergePatchJson", False), ("Retain", "Overwrite", False), ("Overwrite", "Retain", False)])
def test_patched_annotations_conflict_unless_both_merge_json(mine: str, theirs: str, conflict: bool) -> None:
    ours = sidecarset(containers=[{"name": "mine", "image": "x"}],
                      patchPodMetadata=[{"annotations": {"k": "{}"}, "patchPolicy": mine}])
    other = stored("other", patchPodMetadata=[{"annotations": {"k": "{}"}, "patchPolicy": theirs}])
    assert bool(conflict_errors(ours, other)) == conflict


def test_conflicts_are_checked_only_on_an_otherwise_valid_object() -> None:
    found = conflict_errors(sidecarset(selector={}), stored("other"))
    assert list(found) == ["spec.selector"]


def test_the_validating_webhook_reads_the_cluster_state_it_needs_and_answers_422() -> None:
    asked = []

    async def sidecarsets(obj: dict) -> list[dict]:
        asked.append(obj["apiVersion"])
        return [stored("other")]

    obj = mutated(sidecarset("v1alpha1"))
    review = {"request": {"uid": "1", "operation": "CREATE", "object": obj}}
    answer = asyncio.run(admission.validate(review, lookups={"sidecarsets": sidecarsets}))["response"]
    assert asked == [BETA], "the lookup gets the object as v1beta1"
    assert not answer["allowed"] and answer["status"]["code"] == 422
    assert answer["status"]["message"] == ('SidecarSet.apps.kruise.io "s" is invalid: spec.containers[0].name: '
                                           'Invalid value: "sidecar": container sidecar already exist in other')

    async def broken(_: dict) -> list[dict]:
        raise RuntimeError("the API server is away")

    answer = asyncio.run(admission.validate(review, lookups={"sidecarsets": broken}))["response"]
    assert not answer["allowed"] and answer["status"]["code"] == 500 and "the API server is away" in answer["status"]["message"]
