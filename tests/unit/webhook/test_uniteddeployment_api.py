"""UnitedDeployment API as OpenKruise v1.9.0 (openkruise-1.9/daemonset-uniteddeployment.md B1-B3, B7.4): the
schema's shape (scale subresource, printer columns, status), the webhook defaults, and every validation rule,
accepted and refused, with the field named."""
from __future__ import annotations

import copy

import pytest

from controllers import schema

ROOT = __import__("pathlib").Path(__file__).resolve().parents[3]
POD = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
TEMPLATES = {
    "cloneSetTemplate": {"metadata": {"labels": {"app": "a"}},
                         "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": POD}},
    "statefulSetTemplate": {"metadata": {"labels": {"app": "a"}},
                            "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": POD}},
    "advancedStatefulSetTemplate": {"metadata": {"labels": {"app": "a"}},
                                    "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": POD}},
    "deploymentTemplate": {"metadata": {"labels": {"app": "a"}},
                           "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": POD}},
}


def ud(template: str = "cloneSetTemplate", subsets: list | None = None, **spec) -> dict:
    body = {"replicas": 4, "selector": {"matchLabels": {"app": "a"}},
            "template": {template: copy.deepcopy(TEMPLATES[template])},
            "topology": {"subsets": subsets if subsets is not None else [{"name": "a"}, {"name": "b"}]}}
    body.update(spec)
    return {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "UnitedDeployment",
            "metadata": {"name": "u", "namespace": "n"}, "spec": body}


def errors(obj: dict, old: dict | None = None) -> dict[str, str]:
    return {e.path: e.message for e in schema.validate(obj, old)}


def crd() -> dict:
    import yaml
    return yaml.safe_load((ROOT / "crds/v1/apps.kruise.io_uniteddeployments.yaml").read_text())


# ------------------------------------------------------------------------------------------------ the CRD (B1)

def test_crd_has_the_scale_subresource_printer_columns_and_short_name() -> None:
    c = crd()
    assert c["spec"]["names"]["shortNames"] == ["ud"]
    (version,) = c["spec"]["versions"]
    assert version["name"] == "v1alpha1" and version["storage"]
    assert version["subresources"]["scale"] == {"specReplicasPath": ".spec.replicas",
                                                "statusReplicasPath": ".status.replicas",
                                                "labelSelectorPath": ".status.labelSelector"}
    assert [col["name"] for col in version["additionalPrinterColumns"]] == ["DESIRED", "CURRENT", "UPDATED", "READY",
                                                                              "AGE"]
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert {"subsetStatuses", "conditions", "updateStatus", "reservedPods", "labelSelector"} <= set(status)
    assert {"readyReplicas", "reservedPods", "partition", "conditions"} <= set(
        status["subsetStatuses"]["items"]["properties"])
    adaptive = (version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["topology"]["properties"]
                ["scheduleStrategy"]["properties"])
    assert adaptive["type"]["enum"] == ["Fixed", "Adaptive", ""]
    # v1.9.0 renamed unschedulableLastSeconds (§0.1.5).
    assert set(adaptive["adaptive"]["properties"]) == {"rescheduleCriticalSeconds", "unschedulableDuration",
                                                       "reserveUnschedulablePods"}


# ------------------------------------------------------------------------------------------------ defaults (B2)

def test_defaults() -> None:
    spec = schema.apply_defaults(ud(subsets=[{"name": "a", "replicas": 1}, {"name": "b"}]))["spec"]
    assert spec["updateStrategy"] == {"type": "Manual", "manualUpdate": {}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["replicas"] == 4 and "minReplicas" not in spec["topology"]["subsets"][1]


def test_replicas_has_no_default() -> None:
    obj = ud(subsets=[{"name": "a", "replicas": 1}])
    del obj["spec"]["replicas"]
    assert "replicas" not in schema.apply_defaults(obj)["spec"]


def test_min_replicas_defaults_to_0_only_with_capacity_settings_and_no_replicas() -> None:
    spec = schema.apply_defaults(ud(subsets=[{"name": "a", "maxReplicas": 2}, {"name": "b"}]))["spec"]
    assert [s.get("minReplicas") for s in spec["topology"]["subsets"]] == [0, 0]
    spec = schema.apply_defaults(ud(subsets=[{"name": "a"}, {"name": "b"}]))["spec"]
    assert all("minReplicas" not in s for s in spec["topology"]["subsets"])


def test_adaptive_timers_are_runtime_fallbacks_not_written() -> None:
    obj = ud(subsets=[{"name": "a"}], topology=None)
    obj["spec"]["topology"] = {"subsets": [{"name": "a"}], "scheduleStrategy": {"type": "Adaptive", "adaptive": {}}}
    assert schema.apply_defaults(obj)["spec"]["topology"]["scheduleStrategy"]["adaptive"] == {}
    base = "spec.topology.scheduleStrategy.adaptive."
    assert schema.fallback("UnitedDeployment", "v1alpha1", base + "rescheduleCriticalSeconds") == 30
    assert schema.fallback("UnitedDeployment", "v1alpha1", base + "unschedulableDuration") == 300


# ------------------------------------------------------------------------------------------------ validation (B3)

@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_valid_for_every_template_kind(template: str) -> None:
    assert errors(schema.apply_defaults(ud(template))) == {}


def test_exactly_one_template() -> None:
    obj = ud()
    obj["spec"]["template"]["deploymentTemplate"] = copy.deepcopy(TEMPLATES["deploymentTemplate"])
    assert errors(obj) == {"spec.template.deploymentTemplate": "Forbidden: only one of statefulSetTemplate, "
                           "advancedStatefulSetTemplate, cloneSetTemplate, deploymentTemplate may be set"}
    obj["spec"]["template"] = {}
    assert any(path.startswith("spec.template") for path in errors(obj))


@pytest.mark.parametrize("selector,path", [
    ({}, "spec.selector"),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["a"]}]}, "spec.selector.matchLabels"),
    ({"matchLabels": {"app": "a"}, "matchExpressions": [{"key": "app", "operator": "Bogus"}]},
     "spec.selector.matchExpressions[0].operator"),
])
def test_selector(selector: dict, path: str) -> None:
    obj = ud()
    obj["spec"]["selector"] = selector
    assert path in errors(obj)


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_selector_must_match_the_workload_labels(template: str) -> None:
    obj = ud(template)
    obj["spec"]["template"][template]["metadata"]["labels"] = {"app": "other"}
    assert errors(obj) == {f"spec.template.{template}.metadata.labels":
                           "Invalid value: `selector` does not match template `labels`"}


@pytest.mark.parametrize("template", ["statefulSetTemplate", "advancedStatefulSetTemplate", "deploymentTemplate"])
def test_pod_template_checks(template: str) -> None:
    obj = ud(template)
    obj["spec"]["template"][template]["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    assert f"spec.template.{template}.spec.template.metadata.labels" in errors(obj)
    obj = ud(template)
    obj["spec"]["template"][template]["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert errors(obj) == {f"spec.template.{template}.spec.template.spec.restartPolicy":
                           'Unsupported value: supported values: "Always"'}


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_template_replicas_refused(template: str) -> None:
    obj = ud(template)
    obj["spec"]["template"][template]["spec"]["replicas"] = 2
    assert f"spec.template.{template}.spec.replicas" in errors(obj)


@pytest.mark.parametrize("template,path", [
    ("statefulSetTemplate", "updateStrategy.rollingUpdate.partition"),
    ("advancedStatefulSetTemplate", "updateStrategy.rollingUpdate.partition"),
    ("cloneSetTemplate", "updateStrategy.partition"),
])
def test_template_partition_refused(template: str, path: str) -> None:
    obj = ud(template)
    update = {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}} if "rolling" in path else {"partition": 1}
    obj["spec"]["template"][template]["spec"]["updateStrategy"] = update
    assert f"spec.template.{template}.spec.{path}" in errors(obj)


@pytest.mark.parametrize("name,path", [
    ("", "spec.topology.subsets[1].name"),
    ("Upper", "spec.topology.subsets[1].name"),
    ("a", "spec.topology.subsets[1].name"),  # duplicated
])
def test_subset_names(name: str, path: str) -> None:
    assert path in errors(ud(subsets=[{"name": "a"}, {"name": name}]))


def test_reserve_unschedulable_pods_only_for_stateless_templates() -> None:
    for template in TEMPLATES:
        obj = ud(template, subsets=[{"name": "a"}, {"name": "b"}])
        obj["spec"]["topology"]["scheduleStrategy"] = {"type": "Adaptive",
                                                       "adaptive": {"reserveUnschedulablePods": True}}
        found = errors(obj)
        if template in ("statefulSetTemplate", "advancedStatefulSetTemplate"):
            assert found == {"spec.topology.scheduleStrategy": "Invalid value: only stateless workloads (Deployment "
                             "and CloneSet) are supported by reserved rescheduling"}
        else:
            assert found == {}


def test_adaptive_refuses_subset_replicas() -> None:
    obj = ud(subsets=[{"name": "a", "replicas": 1}, {"name": "b"}])
    obj["spec"]["topology"]["scheduleStrategy"] = {"type": "Adaptive"}
    assert errors(obj) == {"spec.topology.subsets[0].replicas":
                           "Forbidden: specify replicas use minReplicas/maxReplicas to enable adaptive strategy"}
    obj["spec"]["topology"]["scheduleStrategy"] = {"type": "Fixed"}
    assert errors(obj) == {}


def test_unknown_schedule_strategy_type() -> None:
    obj = ud()
    obj["spec"]["topology"]["scheduleStrategy"] = {"type": "Sometimes"}
    assert "spec.topology.scheduleStrategy.type" in errors(obj)


def test_partitions_must_name_subsets() -> None:
    obj = ud(updateStrategy={"type": "Manual", "manualUpdate": {"partitions": {"a": 1, "zzz": 2}}})
    assert errors(obj) == {"spec.updateStrategy.manualUpdate.partitions[zzz]": 'Invalid value: "zzz": subset does not exist'}


# ------------------------------------------------------------------------------------------------ subset quantities (B7.4)

S = "spec.topology.subsets"


@pytest.mark.parametrize("replicas,subsets,expected", [
    # replicas mode
    (4, [{"name": "a", "replicas": 1}, {"name": "b"}], {}),
    (4, [{"name": "a", "replicas": 5}, {"name": "b"}],
     {S: "Invalid value: 5: sum of indicated subset replicas 5 should not be greater than UnitedDeployment replicas 4"}),
    (4, [{"name": "a", "replicas": 1}, {"name": "b", "replicas": 2}],
     {S: "Invalid value: 3: if replicas of all subsets are provided, the sum of indicated subset replicas 3 should "
         "equal UnitedDeployment replicas 4"}),
    # 50% of 5 rounds half up to 3: 3 + 3 > 5
    (5, [{"name": "a", "replicas": "50%"}, {"name": "b", "replicas": "50%"}],
     [(S, "Invalid value: 6: sum of indicated subset replicas 6 should not be greater than UnitedDeployment replicas 5"),
      (S, "Invalid value: 6: if replicas of all subsets are provided, the sum of indicated subset replicas 6 should "
          "equal UnitedDeployment replicas 5")]),
    (3, [{"name": "a", "replicas": "25%"}, {"name": "b", "replicas": "25%"}, {"name": "c"}], {}),
    (None, [{"name": "a", "replicas": 1}, {"name": "b"}],
     {"spec.replicas": "Required value: if UnitedDeployment replicas is not provided, replicas of all subsets should "
                       "be provided"}),
    (None, [{"name": "a", "replicas": 1}, {"name": "b", "replicas": 2}], {}),
    (None, [{"name": "a", "replicas": "10%"}, {"name": "b", "replicas": 2}],
     {f"{S}[0].replicas": 'Invalid value: "10%": subsetReplicas (10%) should not be string when unitedDeployment '
                          "replicas is empty"}),
    (4, [{"name": "a", "replicas": "101%"}, {"name": "b"}],
     {f"{S}[0].replicas": 'Invalid value: "101%": subsetReplicas (101%) should be in range [0, 100]'}),
    # min/max mode
    (4, [{"name": "a", "minReplicas": 1, "maxReplicas": 2}, {"name": "b", "minReplicas": 0}], {}),
    (4, [{"name": "a", "minReplicas": 3, "maxReplicas": 2}, {"name": "b", "minReplicas": 0}],
     {f"{S}[0].minReplicas": "Invalid value: 3: subset[0].minReplicas must be more than or equal to maxReplicas"}),
    (4, [{"name": "a", "minReplicas": 3, "maxReplicas": 3}, {"name": "b", "minReplicas": "100%", "maxReplicas": 0},
         {"name": "c"}],
     {f"{S}[1].minReplicas": 'Invalid value: "100%": subset[1].minReplicas must be more than or equal to maxReplicas'}),
    (4, [{"name": "a", "maxReplicas": 2}, {"name": "b", "maxReplicas": 3}],
     {S: "Invalid value: 2: at least one subset.maxReplicas must be empty"}),
    (None, [{"name": "a", "maxReplicas": 2}, {"name": "b"}],
     {"spec.replicas": "Required value: spec.replicas must be not empty if you set subset.minReplicas/maxReplicas"}),
    (4, [{"name": "a", "replicas": 1}, {"name": "b", "maxReplicas": 2}],
     {S: "Invalid value: subset.Replicas and subset.MinReplicas/subset.MaxReplicas are mutually exclusive in a "
         "UnitedDeployment"}),
])
def test_subset_replicas(replicas, subsets, expected) -> None:
    obj = ud(subsets=subsets, replicas=replicas)
    if replicas is None:
        del obj["spec"]["replicas"]
    found = [(e.path, e.message) for e in schema.validate(schema.apply_defaults(obj))]
    assert found == (expected if isinstance(expected, list) else list(expected.items()))


def test_max_replicas_parse_error_names_max_replicas() -> None:
    obj = ud(subsets=[{"name": "a", "maxReplicas": "200%"}, {"name": "b"}])
    assert f"{S}[0].maxReplicas" in errors(schema.apply_defaults(obj))


# ------------------------------------------------------------------------------------------------ updates (B3)

def test_node_selector_term_and_tolerations_may_not_change() -> None:
    term = {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
    old = schema.apply_defaults(ud(subsets=[{"name": "a", "nodeSelectorTerm": term,
                                             "tolerations": [{"key": "k", "operator": "Exists"}]}, {"name": "b"}]))
    new = copy.deepcopy(old)
    new["spec"]["topology"]["subsets"][0]["nodeSelectorTerm"] = {"matchExpressions": []}
    new["spec"]["topology"]["subsets"][0]["tolerations"] = []
    assert errors(new, old) == {f"{S}[0].nodeSelectorTerm": "Forbidden: may not be changed in an update",
                                f"{S}[0].tolerations": "Forbidden: may not be changed in an update"}
    # A subset removed and one added with a new term are fine.
    new = copy.deepcopy(old)
    new["spec"]["topology"]["subsets"] = [{"name": "b"}, {"name": "c", "nodeSelectorTerm": term}]
    assert errors(new, old) == {}


@pytest.mark.parametrize("template", ["statefulSetTemplate", "advancedStatefulSetTemplate"])
def test_statefulset_template_update_whitelist(template: str) -> None:
    old = schema.apply_defaults(ud(template))
    new = copy.deepcopy(old)
    new["spec"]["template"][template]["spec"]["template"]["spec"]["containers"][0]["image"] = "j"
    new["spec"]["template"][template]["spec"]["updateStrategy"] = {"type": "OnDelete"}
    assert errors(new, old) == {}
    new["spec"]["template"][template]["spec"]["serviceName"] = "svc"
    assert list(errors(new, old)) == [f"spec.template.{template}.spec.serviceName"]


@pytest.mark.parametrize("template", ["cloneSetTemplate", "deploymentTemplate"])
def test_stateless_template_updates_are_free(template: str) -> None:
    old = schema.apply_defaults(ud(template))
    new = copy.deepcopy(old)
    new["spec"]["template"][template]["spec"]["minReadySeconds"] = 5
    assert errors(new, old) == {}


def test_template_kind_may_change_on_update() -> None:
    old = schema.apply_defaults(ud("statefulSetTemplate"))
    new = schema.apply_defaults(ud("deploymentTemplate"))
    assert errors(new, old) == {}


def test_delete_protection() -> None:
    obj = ud()
    obj["metadata"]["labels"] = {"policy.kruise.io/delete-protection": "Cascading"}
    found = {e.path for e in schema.validate(obj, operation="DELETE", feature_gates={"ResourcesDeletionProtection": True})}
    assert found == {"metadata.labels"}
    obj["spec"]["replicas"] = 0
    assert schema.validate(obj, operation="DELETE", feature_gates={"ResourcesDeletionProtection": True}) == []

