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
     asts(scaleStrategy={"maxUnavailable": 2}), "spec.serviceName", "Forbidden: updates to statefulset spec"),
    ("claims not renamed", with_claim(), with_claim(name="other"), with_claim(storage="2Gi"),
     "spec.volumeClaimTemplates[other].name", "Forbidden: volumeClaimTemplate name can not be modified"),
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


# ---- CloneSet: v1.9.0 pkg/webhook/cloneset/validating/validation.go, line by line (README "Admission rules")

def cloneset(**spec) -> dict:
    base = {"replicas": 2, "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}
    obj = {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {"name": "c", "namespace": "n"},
           "spec": {**base, **spec}}
    return schema.apply_defaults(obj, GATES)


def pod_spec(**fields) -> dict:
    return {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}], **fields}}


def weight_term(selector: dict) -> dict:
    return {"priorityStrategy": {"weightPriority": [{"weight": 5, "matchSelector": selector}]}}


# (what, spec of a bad CloneSet, of its good twin, the field named, upstream's message after `<field>: `)
CLONESET_CREATE = [
    ("empty selector", {"selector": {}}, {}, "spec.selector", "Invalid value: empty selector is invalid for cloneset"),
    ("restartPolicy Always", {"template": pod_spec(restartPolicy="Never")}, {"template": pod_spec(restartPolicy="Always")},
     "spec.template.spec.restartPolicy", 'Unsupported value: "Never": supported values: "Always"'),
    ("no activeDeadlineSeconds", {"template": pod_spec(activeDeadlineSeconds=5)}, {},
     "spec.template.spec.activeDeadlineSeconds", "Forbidden: activeDeadlineSeconds in cloneset is not Supported"),
    ("podsToDelete duplicated", {"scaleStrategy": {"podsToDelete": ["a", "b", "a"]}}, {"scaleStrategy": {}},
     "spec.scaleStrategy.podsToDelete", 'Invalid value: ["a", "b", "a"]: duplicated items [a]'),
    ("maxSurge not with InPlaceOnly", {"updateStrategy": {"type": "InPlaceOnly", "maxSurge": "50%"}},
     {"updateStrategy": {"type": "InPlaceIfPossible", "maxSurge": "50%"}}, "spec.updateStrategy.maxSurge",
     'Invalid value: "50%": can not use maxSurge with strategy type InPlaceOnly'),
    ("maxUnavailable or maxSurge", {"updateStrategy": {"maxUnavailable": "0%", "maxSurge": 0}},
     {"updateStrategy": {"maxUnavailable": "0%", "maxSurge": "1%"}}, "spec.updateStrategy.maxUnavailable",
     "Invalid value: maxUnavailable and maxSurge should not both be less than 1"),
    ("priority selector not empty", {"updateStrategy": weight_term({})}, {"updateStrategy": weight_term({"matchLabels": {"a": "b"}})},
     "spec.updateStrategy.priorityStrategy.weightPriority[0].matchSelector", "Invalid value: selector can not be empty"),
    ("priority selector syntax", {"updateStrategy": weight_term({"matchLabels": {"bad key": "b"}})},
     {"updateStrategy": weight_term({"matchExpressions": [{"key": "a", "operator": "Exists"}]})},
     "spec.updateStrategy.priorityStrategy.weightPriority[0].matchSelector.matchLabels", 'Invalid value: "bad key"'),
    ("progressDeadlineSeconds > minReadySeconds", {"progressDeadlineSeconds": 5, "minReadySeconds": 5},
     {"progressDeadlineSeconds": 6, "minReadySeconds": 5}, "spec.progressDeadlineSeconds",
     "Invalid value: 5: must be greater than minReadySeconds"),
    ("a fractional percent partition is a percentage (ParseFloat)", {"updateStrategy": {"partition": "1.5"}},
     {"updateStrategy": {"partition": "12.5%", "maxUnavailable": "0.5%", "maxSurge": ".5%"}},
     "spec.updateStrategy.partition", 'Invalid value: "1.5": must be a non-negative integer or a percentage'),
]


@pytest.mark.parametrize("what, bad, good, path, message", CLONESET_CREATE, ids=[c[0] for c in CLONESET_CREATE])
def test_cloneset_create_rule(what: str, bad: dict, good: dict, path: str, message: str) -> None:
    found = errors(cloneset(**bad))
    assert path in found and found[path].startswith(message), found
    assert errors(cloneset(**good)) == {}


def test_cloneset_update_rules() -> None:
    """validateCloneSetUpdate: the whitelist with upstream's words; InPlaceOnly names the first change that is not
    an image's (ValidateCloneSetUpdate), and lets the template's metadata change."""
    old = cloneset(updateStrategy={"type": "InPlaceOnly"})
    moved = copy.deepcopy(old)
    moved["spec"]["selector"] = {"matchLabels": {"app": "a", "x": "y"}}
    moved["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    assert errors(moved, old) == {"spec.selector": (
        "Forbidden: updates to cloneset spec for fields other than 'replicas', 'template', 'lifecycle', 'scaleStrategy', "
        "'updateStrategy', 'minReadySeconds', 'progressDeadlineSeconds', 'volumeClaimTemplates' and "
        "'revisionHistoryLimit' are forbidden")}
    with_env = copy.deepcopy(old)
    with_env["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "b"}]
    assert errors(with_env, old) == {"spec.template.spec": "Forbidden: only allowed to update images in spec for "
                                                           "InPlaceOnly, but found add /containers/0/env"}
    relabelled = copy.deepcopy(old)
    relabelled["spec"]["template"]["metadata"]["labels"]["extra"] = "yes"
    assert errors(image(relabelled, "i:2"), old) == {}


def test_fractional_percentages_scale_as_upstream() -> None:
    """util.GetScaledValueFromIntOrPercent: ParseFloat, then ceil or floor of value * total / 100."""
    from controllers.common.intstr import scaled_value
    assert [scaled_value("12.5%", 10, True), scaled_value("12.5%", 10, False), scaled_value(".5%", 1000, False)] == [2, 1, 5]


# ---- StatefulSet claims that grow: their StorageClass (ValidateVolumeClaimTemplateUpdate)

def storage_class(name: str, allow: bool | None, default: bool = False, created: str = "2024-01-01T00:00:00Z") -> dict:
    sc = {"metadata": {"name": name, "creationTimestamp": created,
                       "annotations": {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}}}
    if allow is not None:
        sc["allowVolumeExpansion"] = allow
    return sc


def claim_errors(new: dict, old: dict, classes: list[dict]) -> dict[str, str]:
    return {e.path: e.message for e in schema.validate(new, old, operation="UPDATE", feature_gates=GATES,
                                                       state={"storageClasses": classes})}


def classed(storage: str, class_name: str | None) -> dict:
    obj = with_claim(storage)
    if class_name is not None:
        obj["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] = class_name
    return obj


def test_a_growing_claim_needs_a_storage_class_that_allows_expansion() -> None:
    fixed, growing = storage_class("fixed", False), storage_class("growing", True)
    refused = claim_errors(classed("2Gi", "fixed"), classed("1Gi", "fixed"), [fixed, growing])
    assert refused == {"spec.volumeClaimTemplates[data].spec.resources.requests.storage":
                       "Forbidden: storage class fixed does not support volume expansion"}
    assert claim_errors(classed("2Gi", "growing"), classed("1Gi", "growing"), [fixed, growing]) == {}
    # allowVolumeExpansion unset does not forbid it (upstream checks only an explicit false).
    assert claim_errors(classed("2Gi", "plain"), classed("1Gi", "plain"), [storage_class("plain", None)]) == {}
    # The size unchanged: no StorageClass is read.
    assert claim_errors(classed("1Gi", "fixed"), classed("1Gi", "fixed"), []) == {}
    missing = claim_errors(classed("2Gi", "nope"), classed("1Gi", "nope"), [fixed])
    assert missing == {"spec.volumeClaimTemplates[data].spec.storageClassName": 'Invalid value: "nope": can not get sc'}


def test_an_unnamed_class_is_the_newest_default_one() -> None:
    old_default = storage_class("old", True, default=True, created="2024-01-01T00:00:00Z")
    new_default = storage_class("new", False, default=True, created="2025-01-01T00:00:00Z")
    assert claim_errors(classed("2Gi", None), classed("1Gi", None), [old_default, new_default]) == {
        "spec.volumeClaimTemplates[data].spec.resources.requests.storage":
            "Forbidden: storage class new does not support volume expansion"}
    assert claim_errors(classed("2Gi", None), classed("1Gi", None), [storage_class("fixed", False)]) == {}


def test_the_storage_class_is_judged_only_when_the_other_claim_rules_accept() -> None:
    """Upstream stops at the first problem: a shrink is refused for shrinking, not for its class."""
    assert claim_errors(classed("1Gi", "fixed"), classed("2Gi", "fixed"), [storage_class("fixed", False)]) == {
        "spec.volumeClaimTemplates": "Forbidden: the storage request of 'data' cannot shrink"}


def test_the_webhook_reads_storage_classes_only_with_the_gate() -> None:
    """The chart grants StorageClasses only with StatefulSetAutoResizePVCGate (policies/controllers.yaml `reads`):
    without the gate the webhook must not ask, or every StatefulSet update would fail on RBAC."""
    import asyncio

    from controllers.webhook import admission
    asked = []

    async def storage_classes(_: dict) -> list[dict]:
        asked.append(True)
        return [storage_class("fixed", False)]

    review = {"request": {"uid": "1", "operation": "UPDATE", "object": classed("2Gi", "fixed"),
                          "oldObject": classed("1Gi", "fixed")}}
    answer = asyncio.run(admission.validate(review, feature_gates={}, lookups={"storageClasses": storage_classes}))
    assert answer["response"]["allowed"] and asked == []
    answer = asyncio.run(admission.validate(review, feature_gates=GATES, lookups={"storageClasses": storage_classes}))
    assert asked == [True] and not answer["response"]["allowed"]
    assert "storage class fixed does not support volume expansion" in answer["response"]["status"]["message"]
