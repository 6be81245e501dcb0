"""The admission rules of policies/admission: one check per rule `check`, each returning field errors.
`controllers.schema.Schema.validate` picks the rules that apply to an object and operation and runs them
through `CHECKS`; the generator checks the rules' parameters (generator/policies.py `RULE_CHECKS`)."""
from __future__ import annotations

import copy
from typing import Any, Callable, Iterator, NamedTuple

from apischema.conditions import MISSING, evaluate, get, values_at
from apischema.values import FieldError, is_int, join, render
from controllers.common import quantity
from controllers.common.ownership import controller_uid
from controllers.common.selectors import selector_matches
from controllers.uniteddeployment.allocator import parse_subset_replicas

from .label_syntax import label_selector_errors


class RuleContext(NamedTuple):
    kind: str
    obj: dict
    old: dict | None
    operation: str
    pods: dict[str, dict] | None
    gates: dict[str, bool]


def _bases(rule: dict, obj: dict) -> Iterator[tuple[str, Any]]:
    """The objects a rule applies to: the object itself, or every item of `forEach`."""
    if "forEach" not in rule:
        yield "", obj
        return
    for where, item in values_at(rule["forEach"] + "[*]", obj, obj):
        if item is not MISSING:
            yield where, item


# Kubernetes' wording of each field.ErrorType (`spec.x: Forbidden: ...`).
_ERROR_WORDS = {"Invalid": "Invalid value", "Required": "Required value", "Forbidden": "Forbidden",
                "NotSupported": "Unsupported value"}


def _check_assert(rule: dict, ctx: RuleContext) -> list[FieldError]:
    errors = []
    word = _ERROR_WORDS[rule.get("errorType", "Invalid")]
    for where, base in _bases(rule, ctx.obj):
        if "when" in rule and not evaluate(rule["when"], base, ctx.obj, ctx.gates):
            continue
        if not evaluate(rule["require"], base, ctx.obj, ctx.gates):
            errors.append(FieldError(join(where, rule["field"]), f"{word}: {rule['message']}"))
    return errors


def _check_selector_not_empty(rule: dict, ctx: RuleContext) -> list[FieldError]:
    selector = get(rule["field"], ctx.obj)
    if isinstance(selector, dict) and not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return [FieldError(rule["field"], f"Invalid value: {rule.get('message', 'empty selector is invalid')}")]
    return []


def _check_label_selector_syntax(rule: dict, ctx: RuleContext) -> list[FieldError]:
    selector = get(rule["field"], ctx.obj)
    return label_selector_errors(selector, rule["field"]) if isinstance(selector, dict) else []


def _check_selector_matches_labels(rule: dict, ctx: RuleContext) -> list[FieldError]:
    selector = get(rule["selector"], ctx.obj)
    if not isinstance(selector, dict):
        return []
    for path in rule["labels"]:
        # With alternatives (one per template kind), use the first whose template is set.
        owner = path[:-len(".metadata.labels")] if path.endswith(".metadata.labels") else path.rpartition(".")[0]
        if len(rule["labels"]) > 1 and get(owner, ctx.obj) is None:
            continue
        labels = get(path, ctx.obj)
        if not selector_matches(selector, labels if isinstance(labels, dict) else {}):
            return [FieldError(path, "Invalid value: `selector` does not match template `labels`")]
        return []
    return []


def _check_update_whitelist(rule: dict, ctx: RuleContext) -> list[FieldError]:
    new, old = get(rule["field"], ctx.obj), get(rule["field"], ctx.old)
    if not isinstance(new, dict) or not isinstance(old, dict):
        return []
    allowed = set(rule["allowed"])
    changed = sorted(k for k in set(new) | set(old) if k not in allowed and new.get(k) != old.get(k))
    if changed:
        # Name what changed, then OpenKruise's own wording of what may change.
        names = ", ".join(f"'{name}'" for name in rule["allowed"])
        return [FieldError(f"{rule['field']}.{field}",
                           f"Forbidden: updates to {ctx.kind} {rule['field']} for fields other than {names} are forbidden")
                for field in changed]
    return []


def _check_immutable(rule: dict, ctx: RuleContext) -> list[FieldError]:
    if get(rule["field"], ctx.obj) != get(rule["field"], ctx.old):
        return [FieldError(rule["field"], "Invalid value: field is immutable")]
    return []


def _check_immutable_by_key(rule: dict, ctx: RuleContext) -> list[FieldError]:
    key = rule["key"]
    before = {item.get(key): item for item in get(rule["list"], ctx.old, []) or [] if isinstance(item, dict)}
    errors = []
    for index, item in enumerate(get(rule["list"], ctx.obj, []) or []):
        if not isinstance(item, dict) or item.get(key) not in before:
            continue
        for name in rule["fields"]:
            if get(name, item) != get(name, before[item.get(key)]):
                if "message" in rule:
                    errors.append(FieldError(f"{rule['list']}[{index}].{name}", f"Forbidden: {rule['message']}"))
                else:
                    errors.append(FieldError(f"{rule['list']}[{index}].{name}", "Invalid value: field is immutable"))
    return errors


def _check_only_images_change(rule: dict, ctx: RuleContext) -> list[FieldError]:
    if "when" in rule and not evaluate(rule["when"], ctx.obj, ctx.obj, ctx.gates):
        return []
    new, old = get(rule["field"], ctx.obj, {}), get(rule["field"], ctx.old, {})
    new_spec, old_spec = copy.deepcopy((new or {}).get("spec") or {}), copy.deepcopy((old or {}).get("spec") or {})
    for spec in (new_spec, old_spec):
        for container in spec.get("containers") or []:
            if isinstance(container, dict):
                container.pop("image", None)
    if new_spec != old_spec:
        return [FieldError(f"{rule['field']}.spec", f"Forbidden: {rule['message']}")]
    return []


def _check_keys_refer_to(rule: dict, ctx: RuleContext) -> list[FieldError]:
    mapping = get(rule["field"], ctx.obj) or {}
    known = {item.get(rule["key"]) for item in get(rule["list"], ctx.obj, []) or [] if isinstance(item, dict)}
    message = rule.get("message", f"no such item in {rule['list']}")
    return [FieldError(f"{rule['field']}[{name}]", f"Invalid value: {render(name)}: {message}")
            for name in sorted(mapping) if name not in known]


def _check_owned_pods(rule: dict, ctx: RuleContext) -> list[FieldError]:
    names = get(rule["field"], ctx.obj, []) or []
    already = set(get(rule["field"], ctx.old, []) or []) if ctx.old else set()
    uid = get("metadata.uid", ctx.obj)
    errors = []
    for index, name in enumerate(names):
        if name in already:
            continue
        where = f"{rule['field']}[{index}]"
        pod = (ctx.pods or {}).get(name)
        if pod is None:
            errors.append(FieldError(where, f"Not found: pod {name!r}"))
        elif get("metadata.deletionTimestamp", pod) is not None:
            errors.append(FieldError(where, f"Invalid value: pod {name!r} is already terminating"))
        elif uid and controller_uid(pod) != uid:
            errors.append(FieldError(where, f"Invalid value: pod {name!r} is not owned by this {ctx.kind}"))
    return errors


# validateSubsetReplicas: an unset maxReplicas counts as this many in the sums.
_UNSET_MAX_REPLICAS = 1_000_000


def _check_subset_replicas(rule: dict, ctx: RuleContext) -> list[FieldError]:
    """validateSubsetReplicas (B7.4), with upstream's messages; a maxReplicas error names maxReplicas (upstream
    reports it under minReplicas)."""
    total = get(rule["replicas"], ctx.obj)
    expected = total if is_int(total) else -1
    subsets = [s for s in get(rule["subsets"], ctx.obj, []) or [] if isinstance(s, dict)]
    path = rule["subsets"]
    errors: list[FieldError] = []
    sums = {"replicas": 0, "minReplicas": 0, "maxReplicas": 0}
    counts = {"replicas": 0, "maxReplicas": 0}
    for index, subset in enumerate(subsets):
        parsed = {"replicas": 0, "minReplicas": 0, "maxReplicas": _UNSET_MAX_REPLICAS}
        for name in parsed:
            value = subset.get(name)
            if value is None:
                continue
            counts[name] = counts.get(name, 0) + 1
            try:
                parsed[name] = parse_subset_replicas(expected, value)
            except ValueError as error:
                parsed[name] = 0 if name != "maxReplicas" else _UNSET_MAX_REPLICAS
                errors.append(FieldError(f"{path}[{index}].{name}", f"Invalid value: {render(value)}: {error}"))
        for name, value in parsed.items():
            sums[name] += value
        if parsed["minReplicas"] > parsed["maxReplicas"]:
            errors.append(FieldError(f"{path}[{index}].minReplicas", f"Invalid value: {render(subset.get('minReplicas'))}: "
                                     f"subset[{index}].minReplicas must be more than or equal to maxReplicas"))
    has_replicas = counts["replicas"] > 0
    has_capacity = any(s.get("minReplicas") is not None or s.get("maxReplicas") is not None for s in subsets)
    if has_replicas and has_capacity:
        errors.append(FieldError(path, "Invalid value: subset.Replicas and subset.MinReplicas/subset.MaxReplicas are "
                                       "mutually exclusive in a UnitedDeployment"))
        return errors
    if has_capacity:
        if expected == -1:
            errors.append(FieldError(rule["replicas"], "Required value: spec.replicas must be not empty if you set "
                                                       "subset.minReplicas/maxReplicas"))
        if counts["maxReplicas"] >= len(subsets):
            errors.append(FieldError(path, f"Invalid value: {counts['maxReplicas']}: at least one subset.maxReplicas "
                                           "must be empty"))
        if sums["minReplicas"] > sums["maxReplicas"]:
            errors.append(FieldError(path, f"Invalid value: {sums['minReplicas']}: sum of indicated subset.minReplicas "
                                           "should not be greater than sum of indicated subset.maxReplicas"))
    elif expected != -1:
        if sums["replicas"] > expected:
            errors.append(FieldError(path, f"Invalid value: {sums['replicas']}: sum of indicated subset replicas "
                                           f"{sums['replicas']} should not be greater than UnitedDeployment replicas {expected}"))
        if 0 < counts["replicas"] == len(subsets) and sums["replicas"] != expected:
            errors.append(FieldError(path, f"Invalid value: {sums['replicas']}: if replicas of all subsets are provided, "
                                           f"the sum of indicated subset replicas {sums['replicas']} should equal "
                                           f"UnitedDeployment replicas {expected}"))
    elif counts["replicas"] != len(subsets):
        errors.append(FieldError(rule["replicas"], "Required value: if UnitedDeployment replicas is not provided, "
                                                   "replicas of all subsets should be provided"))
    return errors


DELETE_PROTECTION_LABEL = "policy.kruise.io/delete-protection"


def _check_delete_protection(rule: dict, ctx: RuleContext) -> list[FieldError]:
    policy = (get("metadata.labels", ctx.obj, {}) or {}).get(DELETE_PROTECTION_LABEL)
    if policy == "Always":
        return [FieldError("metadata.labels", f"Forbidden: {DELETE_PROTECTION_LABEL}=Always forbids deletion")]
    if policy == "Cascading" and (get(rule["replicas"], ctx.obj, 0) or 0) > 0:
        return [FieldError("metadata.labels", f"Forbidden: {DELETE_PROTECTION_LABEL}=Cascading forbids deletion while replicas > 0")]
    return []


def _check_claims_only_grow(rule: dict, ctx: RuleContext) -> list[FieldError]:
    if "when" in rule and not evaluate(rule["when"], ctx.obj, ctx.obj, ctx.gates):
        return []
    new = {get("metadata.name", c): c for c in get(rule["field"], ctx.obj, []) or [] if isinstance(c, dict)}
    old = {get("metadata.name", c): c for c in get(rule["field"], ctx.old, []) or [] if isinstance(c, dict)}
    if set(new) != set(old):
        return [FieldError(rule["field"], "Forbidden: volumeClaimTemplates cannot be added, removed or renamed")]
    errors = []
    for name in sorted(new, key=str):
        before = quantity.value_of(get("spec.resources.requests.storage", old[name], 0))
        after = quantity.value_of(get("spec.resources.requests.storage", new[name], 0))
        if before is not None and after is not None and after < before:
            errors.append(FieldError(rule["field"], f"Forbidden: the storage request of {name!r} cannot shrink"))
    return errors


CHECKS: dict[str, Callable[[dict, RuleContext], list[FieldError]]] = {
    "assert": _check_assert,
    "selectorNotEmpty": _check_selector_not_empty,
    "selectorMatchesLabels": _check_selector_matches_labels,
    "labelSelectorSyntax": _check_label_selector_syntax,
    "updateWhitelist": _check_update_whitelist,
    "immutable": _check_immutable,
    "immutableByKey": _check_immutable_by_key,
    "onlyContainerImagesChange": _check_only_images_change,
    "keysReferTo": _check_keys_refer_to,
    "ownedPods": _check_owned_pods,
    "subsetReplicas": _check_subset_replicas,
    "deleteProtection": _check_delete_protection,
    "volumeClaimTemplatesOnlyGrow": _check_claims_only_grow,
}
