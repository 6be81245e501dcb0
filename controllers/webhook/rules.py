"""The admission rules of policies/admission: one check per rule `check`, each returning field errors.
`controllers.schema.Schema.validate` picks the rules that apply to an object and operation and runs them
through `CHECKS`; the generator checks the rules' parameters (generator/policies.py `RULE_CHECKS`)."""
from __future__ import annotations

import copy
import re
from typing import Any, Callable, Iterator, NamedTuple

from apischema.conditions import MISSING, evaluate, get, scaled, values_at
from apischema.values import FieldError, is_int, join, render
from apischema.values import is_number as _is_number  # the name `quantity` uses (another change replaces it)
from controllers.common.selectors import selector_matches

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
    return [FieldError(f"{rule['field']}[{name}]", f"Invalid value: {render(name)}: no such item in {rule['list']}")
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
        elif uid and not any(ref.get("controller") and ref.get("uid") == uid
                             for ref in get("metadata.ownerReferences", pod, []) or []):
            errors.append(FieldError(where, f"Invalid value: pod {name!r} is not owned by this {ctx.kind}"))
    return errors


def _subset_count(value: Any, total: int | None) -> int | None:
    return scaled(value, total, round_up=False) if total is not None or is_int(value) else None


def _check_subset_replicas(rule: dict, ctx: RuleContext) -> list[FieldError]:
    total = get(rule["replicas"], ctx.obj)
    subsets = [s for s in get(rule["subsets"], ctx.obj, []) or [] if isinstance(s, dict)]
    path = rule["subsets"]
    if any("minReplicas" in s or "maxReplicas" in s for s in subsets):
        errors = []
        if total is None:
            errors.append(FieldError(rule["replicas"], "Required value: needed when subsets use minReplicas/maxReplicas"))
        if subsets and all(s.get("maxReplicas") is not None for s in subsets):
            errors.append(FieldError(path, "Invalid value: at least one subset must have no maxReplicas"))
        for index, subset in enumerate(subsets):
            low = _subset_count(subset.get("minReplicas", 0), total)
            high = _subset_count(subset.get("maxReplicas"), total) if subset.get("maxReplicas") is not None else None
            if low is not None and high is not None and low > high:
                errors.append(FieldError(f"{path}[{index}].minReplicas", "Invalid value: minReplicas must not exceed maxReplicas"))
        return errors
    specified = [(i, s["replicas"]) for i, s in enumerate(subsets) if s.get("replicas") is not None]
    if total is None:
        if len(specified) != len(subsets):
            return [FieldError(rule["replicas"], "Required value: needed unless every subset sets replicas")]
        return []
    counts = [_subset_count(value, total) for _, value in specified]
    if any(count is None for count in counts):
        return []
    if sum(counts) > total:
        return [FieldError(path, f"Invalid value: subset replicas add up to {sum(counts)}, more than replicas ({total})")]
    if specified and len(specified) == len(subsets) and sum(counts) != total:
        return [FieldError(path, f"Invalid value: subset replicas add up to {sum(counts)}, not replicas ({total})")]
    return []


DELETE_PROTECTION_LABEL = "policy.kruise.io/delete-protection"


def _check_delete_protection(rule: dict, ctx: RuleContext) -> list[FieldError]:
    policy = (get("metadata.labels", ctx.obj, {}) or {}).get(DELETE_PROTECTION_LABEL)
    if policy == "Always":
        return [FieldError("metadata.labels", f"Forbidden: {DELETE_PROTECTION_LABEL}=Always forbids deletion")]
    if policy == "Cascading" and (get(rule["replicas"], ctx.obj, 0) or 0) > 0:
        return [FieldError("metadata.labels", f"Forbidden: {DELETE_PROTECTION_LABEL}=Cascading forbids deletion while replicas > 0")]
    return []


_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIX = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
           "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}


def quantity(value: Any) -> float | None:
    """A Kubernetes resource quantity ("10Gi", "500m", 3) as a number; None if unparseable."""
    if _is_number(value):
        return float(value)
    match = _QUANTITY.match(str(value))
    if not match or match.group(2) not in _SUFFIX:
        return None
    return float(match.group(1)) * _SUFFIX[match.group(2)]


def _check_claims_only_grow(rule: dict, ctx: RuleContext) -> list[FieldError]:
    if "when" in rule and not evaluate(rule["when"], ctx.obj, ctx.obj, ctx.gates):
        return []
    new = {get("metadata.name", c): c for c in get(rule["field"], ctx.obj, []) or [] if isinstance(c, dict)}
    old = {get("metadata.name", c): c for c in get(rule["field"], ctx.old, []) or [] if isinstance(c, dict)}
    if set(new) != set(old):
        return [FieldError(rule["field"], "Forbidden: volumeClaimTemplates cannot be added, removed or renamed")]
    errors = []
    for name in sorted(new, key=str):
        before = quantity(get("spec.resources.requests.storage", old[name], 0))
        after = quantity(get("spec.resources.requests.storage", new[name], 0))
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
