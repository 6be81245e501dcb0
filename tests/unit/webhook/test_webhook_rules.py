"""Advanced StatefulSet admission rules of OpenKruise v1.9.0 (pkg/webhook/statefulset/validating/
statefulset_validation.go) on plain dicts: each rule refuses with the field named, and the matching good object is
accepted. The same cases go through the real API server in tests/e2e/test_webhook_rules.py. Also the SidecarSet
and scatter-term rules added with them."""
from __future__ import annotations

import copy

import pytest

from controllers import schema

GATES = {"StatefulSetAutoResizePVCGate": True}


def asts(**spec) -> dict:
    base = {"selector": {"matchLabels": {"app": "a"}}, "serviceName": "s", "podManagementPolicy": "Parallel",
            "template": {"metadata": {"labels": {"app": "a"}},
                         "spec": {"readinessGates": [{"conditionType": "InPlaceUpdateReady"}],
                                  "containers": [{"name": "c", "image": "i:1"}]}}}
    obj = {"apiVersion": "apps.kruise.io/v1beta1", "kind": "StatefulSet",
           "metadata": {"name": "s", "namespace": "n"}, "spec": {**base, **spec}}
    return schema.apply_defaults(obj, GATES)


def errors(obj: dict, old: dict | None = None) -> dict[str, str]:
    operation = "UPDATE" if old is not None else "CREATE"
    return {e.path: e.message for e in schema.validate(obj, old, operation=operation, feature_gates=GATES)}


PRIORITY = "spec.updateStrategy.rollingUpdate.unorderedUpdate.priorityStrategy"


def unordered(priority: dict) -> dict:
    return {"type": "RollingUpdate", "rollingUpdate": {"unorderedUpdate": {"priorityStrategy": priority}}}


# (what, spec changes of a bad object, the same of its good twin, the field named, the words)
CREATE = [
    ("reserveOrdinals int >= 0", {"reserveOrdinals": [1, -1]}, {"reserveOrdinals": [1, 0]},
     "spec.reserveOrdinals[1]", "1 th reserve ordinal is negative: -1"),
    ("reserveOrdinals string is a range", {"reserveOrdinals": ["5"]}, {"reserveOrdinals": ["5-5"]},
     "spec.reserveOrdinals[0]", "0 th reserve ordinal is not a valid range: 5"),
    ("reserveOrdinals range first <= last", {"reserveOrdinals": [2, "7-3"]}, {"reserveOrdinals": [2, "3-7"]},
     "spec.reserveOrdinals[1]", "1 th reserve ordinal is invalid: 7-3, err = invalid range 7-3"),
    ("scale maxUnavailable >= 1", {"scaleStrategy": {"maxUnavailable": 0}}, {"scaleStrategy": {"maxUnavailable": "1%"}},
     "spec.scaleStrategy.maxUnavailable", "should not be less than 1"),
    ("scale maxUnavailable 0% < 1", {"scaleStrategy": {"maxUnavailable": "0%"}}, {"scaleStrategy": {"maxUnavailable": 3}},
     "spec.scaleStrategy.maxUnavailable", "should not be less than 1"),
    ("scale maxUnavailable only with Parallel",
     {"podManagementPolicy": "OrderedReady", "scaleStrategy": {"maxUnavailable": 2},
      "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}},
     {"podManagementPolicy": "OrderedReady", "scaleStrategy": {"maxUnavailable": 1},
      "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}},
     "spec.scaleStrategy.maxUnavailable", "can only work with Parallel PodManagementPolicyType"),
    ("priority weight selector not empty", {"updateStrategy": unordered({"weightPriority": [{"weight": 5, "matchSelector": {}}]})},
     {"updateStrategy": unordered({"weightPriority": [{"weight": 5, "matchSelector": {"matchLabels": {"a": "b"}}}]})},
     f"{PRIORITY}.weightPriority[0].matchSelector", "selector can not be empty"),
    ("priority weight selector syntax",
     {"updateStrategy": unordered({"weightPriority": [{"weight": 5, "matchSelector": {"matchLabels": {"a": "b"}}},
                                                      {"weight": 5, "matchSelector": {"matchLabels": {"bad key": "b"}}}]})},
     {"updateStrategy": unordered({"weightPriority": [{"weight": 5, "matchSelector": {"matchLabels": {"a": "b"}}},
                                                      {"weight": 5, "matchSelector": {"matchLabels": {"good-key": "b"}}}]})},
     f"{PRIORITY}.weightPriority[1].matchSelector.matchLabels", "Invalid value"),
]


@pytest.mark.parametrize("what, bad, good, path, words", CREATE, ids=[c[0] for c in CREATE])
def test_create_rule(what: str, bad: dict, good: dict, path: str, words: str) -> None:
    found = errors(asts(**bad))
    assert path in found and words in found[path], found
    assert errors(asts(**good)) == {}


def with_claim(storage: str = "1Gi", modes: tuple = ("ReadWriteOnce",), name: str = "data", **spec) -> dict:
    claim = {"metadata": {"name": name}, "spec": {"accessModes": list(modes), "resources": {"requests": {"storage": storage}}}}
    return asts(volumeClaimTemplates=[claim], volumeClaimUpdateStrategy={"type": "OnPodRollingUpdate"}, **spec)


def image(obj: dict, value: str) -> dict:
    out = copy.deepcopy(obj)
    out["spec"]["template"]["spec"]["containers"][0]["image"] = value
    return out


def in_place_only() -> dict:
    return asts(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"podUpdatePolicy": "InPlaceOnly"}})


def env(obj: dict) -> dict:
    out = copy.deepcopy(obj)
    out["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "b"}]
    return out


# (what, old, bad new, good new, the field named, the words)
UPDATE = [
    ("InPlaceOnly allows only images", in_place_only(), env(in_place_only()), image(in_place_only(), "i:2"),
     "spec.template.spec", "only image update is allowed for InPlaceOnly"),
    ("serviceName immutable, scaleStrategy mutable", asts(), asts(serviceName="other"),
     asts(scaleStrategy={"maxUnavailable": 2}), "spec.serviceName", "Forbidden: updates to StatefulSet spec"),
    ("claims not added", with_claim(), with_claim(name="other"), with_claim(storage="2Gi"),
     "spec.volumeClaimTemplates", "cannot be added, removed or renamed"),
    ("claims keep access modes", with_claim(), with_claim(modes=("ReadWriteMany",)), with_claim(storage="5Gi"),
     "spec.volumeClaimTemplates[data]", "can not be modified when OnRollingUpdate"),
    ("claims do not shrink", with_claim(storage="2Gi"), with_claim(storage="1Gi"), with_claim(storage="3Gi"),
     "spec.volumeClaimTemplates", "cannot shrink"),
]


@pytest.mark.parametrize("what, old, bad, good, path, words", UPDATE, ids=[c[0] for c in UPDATE])
def test_update_rule(what: str, old: dict, bad: dict, good: dict, path: str, words: str) -> None:
    found = errors(bad, old)
    assert path in found and words in found[path], found
    assert errors(good, old) == {}


def test_claim_rules_only_with_the_gate_and_on_pod_rolling_update() -> None:
    old, new = with_claim(), with_claim(modes=("ReadWriteMany",))
    assert schema.validate(new, old, operation="UPDATE", feature_gates={}) == []
    on_delete = copy.deepcopy(new)
    on_delete["spec"]["volumeClaimUpdateStrategy"]["type"] = "OnDelete"
    assert errors(on_delete, old) == {}


def test_in_place_only_is_the_new_objects_policy() -> None:
    """Switching away from InPlaceOnly in the same update frees the template (upstream reads the new object)."""
    recreate = env(asts(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"podUpdatePolicy": "ReCreate"}}))
    assert errors(recreate, in_place_only()) == {}


def sidecarset(**update) -> dict:
    obj = {"apiVersion": "apps.kruise.io/v1beta1", "kind": "SidecarSet", "metadata": {"name": "s"},
           "spec": {"selector": {"matchLabels": {"app": "a"}}, "containers": [{"name": "side", "image": "i"}],
                    "updateStrategy": {"type": "RollingUpdate", **update}}}
    return schema.apply_defaults(obj)


def test_sidecarset_priority_selector_syntax_only_for_rolling_update() -> None:
    """validateSidecarSetUpdateStrategy: UpdatePriorityStrategy.FieldsValidation, for RollingUpdate only."""
    terms = [{"weight": 5, "matchSelector": {"matchLabels": {"bad key": "x"}}}]
    found = errors(sidecarset(priorityStrategy={"weightPriority": terms}))
    assert any(p.startswith("spec.updateStrategy.priorityStrategy.weightPriority[0].matchSelector") for p in found), found
    not_update = sidecarset(priorityStrategy={"weightPriority": terms})
    not_update["spec"]["updateStrategy"]["type"] = "NotUpdate"
    assert not any("matchSelector" in p for p in errors(not_update))
    good = [{"weight": 5, "matchSelector": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}}]
    assert errors(sidecarset(priorityStrategy={"weightPriority": good})) == {}


def test_scatter_terms_need_a_key_not_a_value() -> None:
    """UpdateScatterStrategy.FieldsValidation: a key, no duplicate key/value pair; an empty value is allowed."""
    assert errors(sidecarset(scatterStrategy=[{"key": "zone", "value": ""}])) == {}
    assert "spec.updateStrategy.scatterStrategy[0].key" in str(errors(sidecarset(scatterStrategy=[{"key": "", "value": "x"}])))
    duplicated = errors(sidecarset(scatterStrategy=[{"key": "z", "value": "a"}, {"key": "z", "value": "a"}]))
    assert any("scatterStrategy" in p for p in duplicated), duplicated
