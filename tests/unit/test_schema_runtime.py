"""controllers/schema.py: defaulting and validation driven by the generated runtime schema."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from controllers import schema
from controllers.schema import FieldError, Schema

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = {p.stem: yaml.safe_load(p.read_text())["example"]
            for p in (REPO / "schema" / "apps.kruise.io").glob("*.yaml") if not p.name.startswith("_")}


def cloneset(**spec) -> dict:
    base = {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a"}},
                                                                    "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}
    return {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {"name": "cs", "uid": "u1"},
            "spec": {**base, **spec}}


def statefulset(version: str = "v1beta1", **spec) -> dict:
    obj = cloneset(**spec)
    obj.update(apiVersion=f"apps.kruise.io/{version}", kind="StatefulSet")
    return obj


def paths(errors: list[FieldError]) -> list[str]:
    return [e.path for e in errors]


# ------------------------------------------------------------------------------------------------ defaults

def test_cloneset_defaults() -> None:
    spec = schema.apply_defaults(cloneset())["spec"]
    assert spec["replicas"] == 1 and spec["revisionHistoryLimit"] == 10
    assert spec["updateStrategy"] == {"type": "ReCreate", "partition": 0, "maxUnavailable": "20%", "maxSurge": 0}
    assert "inPlaceUpdateStrategy" not in spec["updateStrategy"]


def test_in_place_cloneset_gets_an_in_place_strategy() -> None:
    spec = schema.apply_defaults(cloneset(updateStrategy={"type": "InPlaceIfPossible"}))["spec"]
    assert spec["updateStrategy"]["inPlaceUpdateStrategy"] == {}


def test_defaults_keep_values_that_are_set_and_do_not_touch_the_input() -> None:
    obj = cloneset(replicas=0, updateStrategy={"maxUnavailable": 3})
    original = copy.deepcopy(obj)
    spec = schema.apply_defaults(obj)["spec"]
    assert spec["replicas"] == 0 and spec["updateStrategy"]["maxUnavailable"] == 3
    assert obj == original


def test_statefulset_defaults_follow_the_version() -> None:
    beta = schema.apply_defaults(statefulset("v1beta1"))["spec"]
    assert beta["podManagementPolicy"] == "OrderedReady"
    assert beta["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {
        "partition": 0, "maxUnavailable": 1, "podUpdatePolicy": "ReCreate", "minReadySeconds": 0}}
    assert beta["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    alpha = schema.apply_defaults(statefulset("v1alpha1"))["spec"]
    assert "persistentVolumeClaimRetentionPolicy" not in alpha     # a v1beta1 field
    assert alpha["updateStrategy"] == beta["updateStrategy"]


def test_feature_gates_switch_defaults() -> None:
    off = schema.apply_defaults(statefulset(), feature_gates={"StatefulSetAutoDeletePVC": False})["spec"]
    assert "persistentVolumeClaimRetentionPolicy" not in off
    on = schema.apply_defaults(statefulset(), feature_gates={"StatefulSetAutoResizePVCGate": True})["spec"]
    assert on["volumeClaimUpdateStrategy"] == {"type": "OnDelete"}


def test_on_delete_statefulset_gets_no_rolling_update() -> None:
    spec = schema.apply_defaults(statefulset(updateStrategy={"type": "OnDelete"}))["spec"]
    assert spec["updateStrategy"] == {"type": "OnDelete"}


@pytest.mark.parametrize("rolling,expected", [
    ({}, {"maxUnavailable": 1, "maxSurge": 0}),                      # both unset: both default
    ({"maxSurge": 2}, {"maxSurge": 2}),                               # one set: the other stays unset
    ({"maxUnavailable": "10%"}, {"maxUnavailable": "10%"}),
])
def test_daemonset_surge_and_unavailable_default_together(rolling: dict, expected: dict) -> None:
    obj = {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "DaemonSet", "metadata": {"name": "d"},
           "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {},
                    "updateStrategy": {"rollingUpdate": dict(rolling)}}}
    rolling_update = schema.apply_defaults(obj)["spec"]["updateStrategy"]["rollingUpdate"]
    assert {k: v for k, v in rolling_update.items() if k in ("maxUnavailable", "maxSurge")} == expected
    assert rolling_update["rollingUpdateType"] == "Standard"


def test_sidecar_containers_get_per_list_defaults() -> None:
    obj = copy.deepcopy(EXAMPLES["sidecarset"])
    obj["spec"]["initContainers"] = [{"name": "init", "image": "busybox"}]
    spec = schema.apply_defaults(obj)["spec"]
    assert spec["containers"][0]["podInjectPolicy"] == "BeforeAppContainer"
    assert spec["initContainers"][0]["podInjectPolicy"] == "AfterAppContainer"
    assert spec["containers"][0]["upgradeStrategy"] == {"upgradeType": "ColdUpgrade"}
    assert spec["containers"][0]["command"] == ["sleep", "999d"]        # container fields are preserved
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "partition": 0, "maxUnavailable": 1}


def test_united_deployment_min_replicas_only_with_capacity_settings() -> None:
    obj = copy.deepcopy(EXAMPLES["uniteddeployment"])
    subsets = schema.apply_defaults(obj)["spec"]["topology"]["subsets"]
    assert all("minReplicas" not in s for s in subsets)                 # replicas used: no default
    for subset in obj["spec"]["topology"]["subsets"]:
        subset.pop("replicas", None)
    obj["spec"]["topology"]["subsets"][0]["maxReplicas"] = 3
    subsets = schema.apply_defaults(obj)["spec"]["topology"]["subsets"]
    assert [s["minReplicas"] for s in subsets] == [0, 0]
    ud = schema.apply_defaults(obj)["spec"]
    assert ud["updateStrategy"] == {"type": "Manual", "manualUpdate": {}}
    assert "replicas" not in ud["template"]["cloneSetTemplate"]["spec"]  # template defaults are not applied


def test_defaults_for_lists_defaults_in_application_order() -> None:
    entries = schema.defaults_for("CloneSet", "v1alpha1")
    order = [(e["parent"], e["field"]) for e in entries]
    assert order.index(("spec", "updateStrategy")) < order.index(("spec.updateStrategy", "type"))
    inplace = next(e for e in entries if e["field"] == "inPlaceUpdateStrategy")
    assert inplace["value"] == {} and "when" in inplace
    entries[0]["value"] = "changed"                                      # callers get copies
    assert schema.defaults_for("CloneSet", "v1alpha1")[0]["value"] != "changed"


def test_fallbacks() -> None:
    assert schema.fallback("UnitedDeployment", "v1alpha1",
                           "spec.topology.scheduleStrategy.adaptive.rescheduleCriticalSeconds") == 30


@settings(max_examples=60, deadline=None)
@given(replicas=st.one_of(st.none(), st.integers(0, 50)),
       strategy=st.sampled_from([None, "ReCreate", "InPlaceIfPossible", "InPlaceOnly"]),
       partition=st.one_of(st.none(), st.integers(0, 5), st.sampled_from(["0%", "50%", "100%"])))
def test_defaulting_is_idempotent_and_yields_valid_objects(replicas, strategy, partition) -> None:
    spec: dict = {}
    if replicas is not None:
        spec["replicas"] = replicas
    update = {k: v for k, v in (("type", strategy), ("partition", partition)) if v is not None}
    if update:
        spec["updateStrategy"] = update
    once = schema.apply_defaults(cloneset(**spec))
    assert schema.apply_defaults(once) == once
    assert schema.validate(once) == []


# ---------------------------------------------------------------------------------------------- validation

@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_are_valid_before_and_after_defaults(name: str) -> None:
    gates = {"ImagePullJobGate": True}  # the image jobs are refused without it (off by default, as OpenKruise)
    assert schema.validate(EXAMPLES[name], feature_gates=gates) == []
    assert schema.validate(schema.apply_defaults(EXAMPLES[name]), feature_gates=gates) == []


def test_field_errors_name_the_path() -> None:
    obj = cloneset(replicas=-1, updateStrategy={"type": "Rolling", "partition": "ten", "bogus": 1},
                   scaleStrategy={"podsToDelete": ["a", "a"]})
    errors = schema.validate(obj)
    assert all(isinstance(e, FieldError) for e in errors)
    assert set(paths(errors)) >= {"spec.replicas", "spec.updateStrategy.type", "spec.updateStrategy.partition",
                                  "spec.updateStrategy.bogus", "spec.scaleStrategy.podsToDelete"}
    message = dict(errors)["spec.updateStrategy.type"]
    assert "Unsupported value" in message and '"InPlaceOnly"' in message


def test_required_fields() -> None:
    obj = cloneset()
    del obj["spec"]["selector"]
    assert ("spec.selector", "Required value") in schema.validate(obj)


def test_int32_and_booleans_are_not_confused() -> None:
    assert "spec.replicas" in paths(schema.validate(cloneset(replicas=True)))
    assert "spec.replicas" in paths(schema.validate(cloneset(replicas=2 ** 31)))
    assert "spec.updateStrategy.paused" in paths(schema.validate(cloneset(updateStrategy={"paused": 1})))


def test_priority_strategy_allows_one_kind_of_priority() -> None:
    both = {"weightPriority": [{"weight": 50, "matchSelector": {"matchLabels": {"a": "b"}}}],
            "orderPriority": [{"orderedKey": "k"}]}
    errors = schema.validate(cloneset(updateStrategy={"priorityStrategy": both}))
    assert "spec.updateStrategy.priorityStrategy.orderPriority" in paths(errors)
    heavy = {"weightPriority": [{"weight": 101, "matchSelector": {}}]}
    assert "spec.updateStrategy.priorityStrategy.weightPriority[0].weight" in paths(
        schema.validate(cloneset(updateStrategy={"priorityStrategy": heavy})))


def test_scatter_strategy_rejects_duplicates() -> None:
    scatter = [{"key": "zone", "value": "a"}, {"key": "zone", "value": "a"}]
    assert "spec.updateStrategy.scatterStrategy[1]" in paths(
        schema.validate(cloneset(updateStrategy={"scatterStrategy": scatter})))


def test_selector_must_match_the_template() -> None:
    obj = cloneset()
    obj["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    assert "spec.template.metadata.labels" in paths(schema.validate(obj))
    obj["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}]}
    assert schema.validate(obj) == []
    obj["spec"]["selector"] = {}
    assert "spec.selector" in paths(schema.validate(obj))


def test_template_restart_policy_and_deadline() -> None:
    obj = cloneset()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    obj["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 5
    assert {"spec.template.spec.restartPolicy", "spec.template.spec.activeDeadlineSeconds"} <= set(
        paths(schema.validate(obj)))


def test_in_place_only_refuses_surge() -> None:
    bad = schema.apply_defaults(cloneset(replicas=4, updateStrategy={"type": "InPlaceOnly", "maxSurge": "25%"}))
    assert "spec.updateStrategy.maxSurge" in paths(schema.validate(bad))
    good = schema.apply_defaults(cloneset(replicas=4, updateStrategy={"type": "InPlaceOnly"}))
    assert schema.validate(good) == []


def test_max_unavailable_and_surge_cannot_both_be_below_one() -> None:
    obj = schema.apply_defaults(cloneset(replicas=3, updateStrategy={"maxUnavailable": 0, "maxSurge": "0%"}))
    assert "spec.updateStrategy.maxUnavailable" in paths(schema.validate(obj))
    obj["spec"]["updateStrategy"]["maxUnavailable"] = "10%"              # rounds up to 1
    assert schema.validate(obj) == []


def test_cloneset_update_whitelist_and_in_place_only_images() -> None:
    old = schema.apply_defaults(cloneset(updateStrategy={"type": "InPlaceOnly"}))
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "a", "x": "y"}}
    new["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    errors = schema.validate(new, old)
    assert "spec.selector" in paths(errors) and "updates to cloneset spec" in dict(errors)["spec.selector"]
    images = copy.deepcopy(old)
    images["spec"]["template"]["spec"]["containers"][0]["image"] = "i:2"
    images["spec"]["replicas"] = 3
    assert schema.validate(images, old) == []
    env = copy.deepcopy(old)
    env["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
    assert "spec.template.spec" in paths(schema.validate(env, old))


def test_pods_to_delete_needs_pods_it_owns() -> None:
    obj = schema.apply_defaults(cloneset(scaleStrategy={"podsToDelete": ["mine", "gone", "dying", "theirs"]}))
    pods = {
        "mine": {"metadata": {"ownerReferences": [{"uid": "u1", "controller": True}]}},
        "dying": {"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z",
                               "ownerReferences": [{"uid": "u1", "controller": True}]}},
        "theirs": {"metadata": {"ownerReferences": [{"uid": "u2", "controller": True}]}},
    }
    assert schema.validate(obj) == []                                    # no lookups given: rule skipped
    errors = dict(schema.validate(obj, pods=pods))
    assert set(errors) == {"spec.scaleStrategy.podsToDelete[1]", "spec.scaleStrategy.podsToDelete[2]",
                           "spec.scaleStrategy.podsToDelete[3]"}
    assert errors["spec.scaleStrategy.podsToDelete[1]"].endswith('failed: pods "gone" not found')


def test_statefulset_rules() -> None:
    inplace = statefulset(podManagementPolicy="Parallel", updateStrategy={
        "rollingUpdate": {"podUpdatePolicy": "InPlaceIfPossible", "maxUnavailable": 2}})
    errors = paths(schema.validate(schema.apply_defaults(inplace)))
    assert errors == ["spec.template.spec.readinessGates"]
    inplace["spec"]["template"]["spec"]["readinessGates"] = [{"conditionType": "InPlaceUpdateReady"}]
    assert schema.validate(schema.apply_defaults(inplace)) == []
    ordered = statefulset(updateStrategy={"rollingUpdate": {"maxUnavailable": 2, "unorderedUpdate": {}}})
    assert set(paths(schema.validate(schema.apply_defaults(ordered)))) == {
        "spec.updateStrategy.rollingUpdate.maxUnavailable", "spec.updateStrategy.rollingUpdate.unorderedUpdate"}
    on_delete = statefulset(updateStrategy={"type": "OnDelete", "rollingUpdate": {}})
    assert "spec.updateStrategy.rollingUpdate" in paths(schema.validate(on_delete))


def test_statefulset_v1alpha1_does_not_know_v1beta1_fields() -> None:
    obj = statefulset("v1alpha1", reserveOrdinals=[1])
    assert ("spec.reserveOrdinals", "Forbidden: unknown field") in schema.validate(obj)
    assert schema.validate(statefulset("v1beta1", reserveOrdinals=[1, "3-5"])) == []
    assert "spec.reserveOrdinals[0]" in paths(schema.validate(statefulset("v1beta1", reserveOrdinals=["x"])))


def test_statefulset_update_whitelist_and_claims() -> None:
    claim = {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "10Gi"}}}}
    old = schema.apply_defaults(statefulset(serviceName="a", volumeClaimTemplates=[claim],
                                            volumeClaimUpdateStrategy={"type": "OnPodRollingUpdate"}))
    new = copy.deepcopy(old)
    new["spec"]["serviceName"] = "b"
    assert "spec.serviceName" in paths(schema.validate(new, old)), "the refusal names the field that changed"
    shrink = copy.deepcopy(old)
    shrink["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "5Gi"
    # Only with StatefulSetAutoResizePVCGate, as upstream checks claim updates only then.
    gated = {"StatefulSetAutoResizePVCGate": True}
    assert "spec.volumeClaimTemplates" in paths(schema.validate(shrink, old, feature_gates=gated))
    assert schema.validate(shrink, old) == []
    grow = copy.deepcopy(old)
    grow["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "20Gi"
    assert schema.validate(grow, old, feature_gates=gated) == []


def test_daemonset_rules() -> None:
    obj = schema.apply_defaults(EXAMPLES["daemonset"])
    obj["spec"]["updateStrategy"]["rollingUpdate"]["maxSurge"] = 1
    assert set(paths(schema.validate(obj))) == {"spec.updateStrategy.rollingUpdate.maxSurge"}
    obj["spec"]["lifecycle"] = {"inPlaceUpdate": {"labelsHandler": {"a": "b"}}}
    assert "spec.lifecycle.inPlaceUpdate" in paths(schema.validate(obj))
    zero = schema.apply_defaults(EXAMPLES["daemonset"])
    zero["spec"]["updateStrategy"]["rollingUpdate"].update(maxUnavailable=0, maxSurge=0)
    assert "spec.updateStrategy.rollingUpdate.maxUnavailable" in paths(schema.validate(zero))
    moved = copy.deepcopy(obj)
    moved["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    assert "spec.selector" in paths(schema.validate(moved, obj))


def test_sidecarset_rules() -> None:
    obj = schema.apply_defaults(EXAMPLES["sidecarset"])
    obj["spec"]["containers"].append({"name": "sidecar1", "image": "x"})
    obj["spec"]["containers"][0]["upgradeStrategy"] = {"upgradeType": "HotUpgrade"}
    errors = paths(schema.validate(obj))
    assert {"spec.containers[1].name",
            "spec.containers[0].upgradeStrategy.hotUpgradeEmptyImage"} <= set(errors)
    old = schema.apply_defaults(EXAMPLES["sidecarset"])
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["upgradeStrategy"] = {"upgradeType": "HotUpgrade", "hotUpgradeEmptyImage": "e"}
    assert paths(schema.validate(new, old)) == ["spec.containers[0].upgradeStrategy.upgradeType"]


def test_united_deployment_rules() -> None:
    obj = schema.apply_defaults(EXAMPLES["uniteddeployment"])
    assert schema.validate(obj) == []
    too_many = copy.deepcopy(obj)
    too_many["spec"]["topology"]["subsets"][1]["replicas"] = "90%"       # 2 + floor(5.4) = 7 > 6
    assert "spec.topology.subsets" in paths(schema.validate(too_many))
    both = copy.deepcopy(obj)
    both["spec"]["topology"]["subsets"][0]["maxReplicas"] = 4
    assert "spec.topology.subsets[0].maxReplicas" in paths(schema.validate(both))
    two = copy.deepcopy(obj)
    two["spec"]["template"]["deploymentTemplate"] = {"spec": {}}
    assert "spec.template.deploymentTemplate" in paths(schema.validate(two))
    partitions = copy.deepcopy(obj)
    partitions["spec"]["updateStrategy"]["manualUpdate"]["partitions"] = {"subset-a": 1, "subset-z": 1}
    assert paths(schema.validate(partitions)) == ["spec.updateStrategy.manualUpdate.partitions[subset-z]"]
    moved = copy.deepcopy(obj)
    moved["spec"]["topology"]["subsets"][0]["nodeSelectorTerm"] = {}
    assert paths(schema.validate(moved, obj)) == ["spec.topology.subsets[0].nodeSelectorTerm"]
    replicas_in_template = copy.deepcopy(obj)
    replicas_in_template["spec"]["template"]["cloneSetTemplate"]["spec"]["replicas"] = 3
    assert paths(schema.validate(replicas_in_template)) == ["spec.template.cloneSetTemplate.spec.replicas"]


def test_delete_protection_needs_its_gate() -> None:
    obj = schema.apply_defaults(cloneset(replicas=2))
    obj["metadata"]["labels"] = {"policy.kruise.io/delete-protection": "Cascading"}
    assert schema.validate(obj, operation="DELETE") == []
    gates = {"ResourcesDeletionProtection": True}
    assert paths(schema.validate(obj, operation="DELETE", feature_gates=gates)) == ["metadata.labels"]
    obj["spec"]["replicas"] = 0
    assert schema.validate(obj, operation="DELETE", feature_gates=gates) == []


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(schema.SchemaLookupError):
        schema.validate({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {}})
    with pytest.raises(schema.SchemaLookupError):
        schema.apply_defaults({"apiVersion": "apps.kruise.io/v9", "kind": "CloneSet", "spec": {}})


def test_a_schema_can_be_loaded_from_any_dict() -> None:
    data = json.loads((REPO / "controllers" / "_generated" / "schema.json").read_text())
    custom = Schema(data)
    assert custom.kinds() == schema.kinds() == ["CloneSet", "ContainerRecreateRequest", "DaemonSet", "ImageListPullJob",
                                                "ImagePullJob", "NodeImage", "SidecarSet", "StatefulSet",
                                                "UnitedDeployment"]


def test_conditions() -> None:
    obj = {"a": {"b": [{"c": 1}, {"c": 2}], "p": "50%", "n": 4}}
    assert schema.evaluate({"field": "a.b[*].c", "equals": 2}, obj, obj, {})
    assert schema.evaluate({"field": "a.b[*].d", "present": False}, obj, obj, {})
    assert schema.evaluate({"field": "a.p", "gte": 2, "scaledBy": "a.n", "round": "down"}, obj, obj, {})
    assert not schema.evaluate({"field": "a.p", "gt": 2, "scaledBy": "a.n"}, obj, obj, {})
    assert schema.evaluate({"field": "a.x", "notIn": [1]}, obj, obj, {})
    assert schema.evaluate({"featureGate": "G"}, obj, obj, {"G": True})
    assert not schema.evaluate({"field": "a.n", "equals": True}, obj, obj, {})


def test_default_value_is_the_unconditional_webhook_default():
    # openkruise.md §3: CloneSet updateStrategy.maxUnavailable 20%, revisionHistoryLimit 10.
    assert schema.default_value("CloneSet", "v1alpha1", "spec.updateStrategy.maxUnavailable") == "20%"
    assert schema.default_value("CloneSet", "v1alpha1", "spec.revisionHistoryLimit") == 10
    with pytest.raises(schema.SchemaLookupError, match="spec.nothing"):
        schema.default_value("CloneSet", "v1alpha1", "spec.nothing")


# ------------------------------------------------------------------------------------------------ as_read

def test_as_read_is_the_stored_object_with_defaults_and_fallbacks():
    stored = cloneset(updateStrategy={"type": "InPlaceIfPossible"})
    before = copy.deepcopy(stored)
    read = schema.as_read(stored)
    assert stored == before  # a copy
    assert read == {**schema.apply_defaults(stored), "spec": {
        **schema.apply_defaults(stored)["spec"], "minReadySeconds": 0,
        "updateStrategy": {**schema.apply_defaults(stored)["spec"]["updateStrategy"],
                           "inPlaceUpdateStrategy": {"gracePeriodSeconds": 0}}}}
    # Reading twice changes nothing more.
    assert schema.as_read(read) == read


def test_as_read_drops_what_the_schema_refuses_so_it_reads_as_unset():
    stored = cloneset(replicas="three", minReadySeconds=-5, revisionHistoryLimit=True, lifecycle="x",
                      updateStrategy={"type": "Sideways", "maxUnavailable": "x%", "partition": 1,
                                      "scatterStrategy": {"not": "a list"}},
                      scaleStrategy={"podsToDelete": ["a", 3]})
    spec = schema.as_read(stored)["spec"]
    assert (spec["replicas"], spec["minReadySeconds"], spec["revisionHistoryLimit"]) == (1, 0, 10)
    assert "lifecycle" not in spec
    assert spec["updateStrategy"] == {"type": "ReCreate", "maxUnavailable": "20%", "partition": 1, "maxSurge": 0,
                                      "inPlaceUpdateStrategy": {"gracePeriodSeconds": 0}}
    assert spec["scaleStrategy"] == {"podsToDelete": ["a", 3]}  # items are left to their reader


def test_as_read_fallbacks_make_their_parents_and_follow_the_gates():
    on_delete = statefulset(updateStrategy={"type": "OnDelete"})
    spec = schema.as_read(on_delete)["spec"]
    # No rollingUpdate is defaulted for OnDelete, yet its controller assumes minReadySeconds 0.
    assert spec["updateStrategy"] == {"type": "OnDelete", "rollingUpdate": {
        "minReadySeconds": 0, "inPlaceUpdateStrategy": {"gracePeriodSeconds": 0}}}
    assert spec["ordinals"] == {"start": 0}
    assert "ordinals" not in schema.apply_defaults(on_delete)["spec"]  # fallbacks are never written
    policy = {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["persistentVolumeClaimRetentionPolicy"] == policy
    off = schema.as_read(on_delete, {"StatefulSetAutoDeletePVC": False})["spec"]
    assert off["persistentVolumeClaimRetentionPolicy"] == policy  # not defaulted, but assumed
    assert "persistentVolumeClaimRetentionPolicy" not in schema.apply_defaults(
        on_delete, {"StatefulSetAutoDeletePVC": False})["spec"]


def test_gate_implications_as_openkruise_set_default_feature_gates():
    """Either pre-download gate turns ImagePullJobGate on; KruiseDaemon off turns the image gates off
    (policies/feature-gates.yaml `requires`, `implies`; OpenKruise's SetDefaultFeatureGates)."""
    gates = schema.feature_gates
    assert gates()["ImagePullJobGate"] is False
    for gate in ("PreDownloadImageForInPlaceUpdate", "PreDownloadImageForDaemonSetUpdate"):
        assert gates({gate: True})["ImagePullJobGate"] is True
        off = gates({gate: True, "ImagePullJobGate": True, "KruiseDaemon": False})
        assert (off[gate], off["ImagePullJobGate"]) == (False, False)
    assert gates({"ImagePullJobGate": True})["PreDownloadImageForInPlaceUpdate"] is False
