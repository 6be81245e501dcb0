"""The admission rules of policies/admission: one check per rule `check`, each returning field errors.
`controllers.schema.Schema.validate` picks the rules that apply to an object and operation and runs them
through `CHECKS`; the generator checks the rules' parameters (generator/policies.py `RULE_CHECKS`)."""
from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterator, NamedTuple

from apischema.conditions import MISSING, evaluate, get, values_at
from apischema.values import FieldError, is_int, join, render
from controllers.common import images, quantity
from controllers.common.ownership import controller_uid
from controllers.common.selectors import selector_matches, selectors_overlap
from controllers.uniteddeployment.allocator import parse_subset_replicas

from .label_syntax import _QUALIFIED_NAME, label_selector_errors


class RuleContext(NamedTuple):
    kind: str
    obj: dict
    old: dict | None
    operation: str
    pods: dict[str, dict] | None
    gates: dict[str, bool]
    # Cluster state the rules' `needs` name, fetched by the webhook at admission time (controllers/webhook/
    # admission.py): "sidecarsets" (every SidecarSet, v1beta1), "kruiseConfiguration" (the data of ConfigMap
    # kruise-configuration in the install namespace, None when it does not exist), "revisions" (the
    # ControllerRevisions of the install namespace), "storageClasses" (every StorageClass).
    state: dict[str, Any] = {}


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
            # `showValue`: Kubernetes' `<field>: Invalid value: <value>: <message>`, as upstream's field.Invalid
            # and field.NotSupported print the value they were given.
            value = f"{render(get(rule['field'], base))}: " if rule.get("showValue") else ""
            errors.append(FieldError(join(where, rule["field"]), f"{word}: {value}{rule['message']}"))
    return errors


def _check_selector_not_empty(rule: dict, ctx: RuleContext) -> list[FieldError]:
    if "when" in rule and not evaluate(rule["when"], ctx.obj, ctx.obj, ctx.gates):
        return []
    errors = []
    for where, base in _bases(rule, ctx.obj):
        selector = get(rule["field"], base)
        if isinstance(selector, dict) and not (selector.get("matchLabels") or selector.get("matchExpressions")):
            errors.append(FieldError(join(where, rule["field"]),
                                     f"Invalid value: {rule.get('message', 'empty selector is invalid')}"))
    return errors


def _check_label_selector_syntax(rule: dict, ctx: RuleContext) -> list[FieldError]:
    if "when" in rule and not evaluate(rule["when"], ctx.obj, ctx.obj, ctx.gates):
        return []
    errors = []
    for where, base in _bases(rule, ctx.obj):
        selector = get(rule["field"], base)
        if isinstance(selector, dict):
            errors += label_selector_errors(selector, join(where, rule["field"]))
    return errors


_INT_RANGE = re.compile(r"^(\d+)-(\d+)$")


def _check_int_or_range_items(rule: dict, ctx: RuleContext) -> list[FieldError]:
    """Each item of the list at `field` is a non-negative integer or a string range `"<first>-<last>"` of
    them with first <= last (an Advanced StatefulSet's reserveOrdinals: validateReserveOrdinals, ParseRange);
    a string of one number is not a range, as upstream decodes it as a string."""
    errors = []
    for index, item in enumerate(get(rule["field"], ctx.obj, []) or []):
        where = f"{rule['field']}[{index}]"
        if is_int(item) and item < 0:
            errors.append(FieldError(where, f"Invalid value: {item}: {index} th {rule['noun']} is negative: {item}"))
        elif isinstance(item, str):
            match = _INT_RANGE.match(item)
            if match is None:
                errors.append(FieldError(where, f"Invalid value: {render(item)}: {index} th {rule['noun']} is not a "
                                                f"valid range: {item}"))
            elif int(match.group(1)) > int(match.group(2)):
                errors.append(FieldError(where, f"Invalid value: {render(item)}: {index} th {rule['noun']} is "
                                                f"invalid: {item}, err = invalid range {item}"))
    return errors


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
        # Name what changed, then OpenKruise's own wording of what may change (`message`, as upstream words it).
        names = ", ".join(f"'{name}'" for name in rule["allowed"])
        message = rule.get("message") or f"updates to {ctx.kind} {rule['field']} for fields other than {names} are forbidden"
        return [FieldError(f"{rule['field']}.{field}", f"Forbidden: {message}") for field in changed]
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
    new_spec, old_spec = (new or {}).get("spec") or {}, (old or {}).get("spec") or {}
    for operation, pointer in _json_patch_operations(old_spec, new_spec):
        if operation != "replace" or not _CONTAINER_IMAGE.match(pointer):
            # `{found}`: the first change that is not an image's, as upstream's message names it.
            return [FieldError(f"{rule['field']}.spec", "Forbidden: " + rule["message"].replace(
                "{found}", f"{operation} {pointer}"))]
    return []


_CONTAINER_IMAGE = re.compile(r"^/containers/[0-9]+/image$")


def _json_patch_operations(old: Any, new: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """The operations (`add`, `remove`, `replace`) and JSON pointers of a patch from `old` to `new`, keys in
    sorted order, list items by index (what jsonpatch.CreatePatch gives, which upstream reads; its order of
    keys is Go's map order, so with several changes upstream names any one of them)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            escaped = f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if key not in old:
                yield "add", escaped
            elif key not in new:
                yield "remove", escaped
            else:
                yield from _json_patch_operations(old[key], new[key], escaped)
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            if index >= len(old):
                yield "add", f"{pointer}/{index}"
            elif index >= len(new):
                yield "remove", f"{pointer}/{index}"
            else:
                yield from _json_patch_operations(old[index], new[index], f"{pointer}/{index}")
    elif old != new or type(old) is not type(new):
        yield "replace", pointer


def _check_keys_refer_to(rule: dict, ctx: RuleContext) -> list[FieldError]:
    mapping = get(rule["field"], ctx.obj) or {}
    known = {item.get(rule["key"]) for item in get(rule["list"], ctx.obj, []) or [] if isinstance(item, dict)}
    message = rule.get("message", f"no such item in {rule['list']}")
    return [FieldError(f"{rule['field']}[{name}]", f"Invalid value: {render(name)}: {message}")
            for name in sorted(mapping) if name not in known]


def _newly_named(rule: dict, obj: dict, old: dict | None) -> Iterator[tuple[int, str]]:
    """The items of an ownedPods rule's list that the old object did not name, with their index: only these
    are checked, and looked up (validateScaleStrategy)."""
    names = get(rule["field"], obj, []) or []
    already = get(rule["field"], old, []) or [] if old else []
    if not isinstance(names, list):
        return
    already = set(already) if isinstance(already, list) else set()
    for index, name in enumerate(names):
        if isinstance(name, str) and name not in already:
            yield index, name


def pods_to_look_up(rules: list[dict], obj: dict, old: dict | None, operation: str) -> set[str]:
    """The pods the webhook reads for these rules: the names an ownedPods rule newly sees, by name. A CloneSet's
    update that names no new pod (a scale, a template change) reads none. Listing the namespace instead, on every
    CloneSet update, raised kruise-manager's peak RSS from 174 MB to 264-283 MB while a CloneSet of 5,000 pods
    was scaled to 10,000 (`python -m bench.scale`)."""
    return {name for rule in rules if rule["check"] == "ownedPods" and operation in rule["operations"]
            for _, name in _newly_named(rule, obj, old)}


def _check_owned_pods(rule: dict, ctx: RuleContext) -> list[FieldError]:
    uid = get("metadata.uid", ctx.obj)
    errors = []
    for index, name in _newly_named(rule, ctx.obj, ctx.old):
        # validateScaleStrategy's words; the item is named (upstream names the list).
        where, value = f"{rule['field']}[{index}]", f"Invalid value: {render(name)}: find pod {name}"
        pod = (ctx.pods or {}).get(name)
        if pod is None:
            errors.append(FieldError(where, f'{value} failed: pods "{name}" not found'))
        elif get("metadata.deletionTimestamp", pod) is not None:
            errors.append(FieldError(where, f"{value} already terminating"))
        elif uid and controller_uid(pod) != uid:
            errors.append(FieldError(where, f"{value} owner is not this {ctx.kind}"))
    return errors


def _check_no_duplicate_items(rule: dict, ctx: RuleContext) -> list[FieldError]:
    """util.CheckDuplicate: the list at `field` names each item once; upstream's words, `[a b]` as Go prints
    the duplicated items."""
    items = get(rule["field"], ctx.obj, []) or []
    if not isinstance(items, list):
        return []
    seen: set[str] = set()
    duplicated: list[str] = []
    for item in items:
        key = render(item)
        if key in seen and item not in duplicated:
            duplicated.append(item)
        seen.add(key)
    if not duplicated:
        return []
    return [FieldError(rule["field"], f"Invalid value: {render(items)}: duplicated items "
                                      f"[{' '.join(str(i) for i in duplicated)}]")]


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
    # deletionprotection.ValidateWorkloadDeletion's words (an object being deleted already is not judged again).
    if get("metadata.deletionTimestamp", ctx.obj) is not None:
        return []
    forbidden = f"Forbidden: forbidden by ResourcesProtectionDeletion for {DELETE_PROTECTION_LABEL}={policy}"
    if policy == "Always":
        return [FieldError("metadata.labels", forbidden)]
    replicas = get(rule["replicas"], ctx.obj, 0) or 0
    if policy == "Cascading" and replicas > 0:
        return [FieldError("metadata.labels", f"{forbidden} and replicas {replicas}>0")]
    return []


def _check_claims_only_grow(rule: dict, ctx: RuleContext) -> list[FieldError]:
    """ValidateVolumeClaimTemplateUpdate, with its words; like upstream, the first problem only: no claim added or
    removed, none renamed, storage class (when both name one) and access modes kept. Beyond upstream: a storage
    request does not shrink. The StorageClass of a resized claim is rule check volumeClaimExpansionAllowed's."""
    if "when" in rule and not evaluate(rule["when"], ctx.obj, ctx.obj, ctx.gates):
        return []
    field = rule["field"]
    claims = [c for c in get(field, ctx.obj, []) or [] if isinstance(c, dict)]
    old = {get("metadata.name", c): c for c in get(field, ctx.old, []) or [] if isinstance(c, dict)}
    if len(claims) != len(old):
        return [FieldError(field, "Invalid value: volumeClaimTemplate can not be added or deleted when OnRollingUpdate")]
    for claim in claims:
        name = get("metadata.name", claim)
        where = f"{field}[{name}]"
        if name not in old:
            return [FieldError(f"{where}.name", "Forbidden: volumeClaimTemplate name can not be modified")]
        before = old[name]
        # IsClaimCompatibleWithoutSize: a storage class (when both name one) and the access modes stay.
        classes = [get("spec.storageClassName", c) for c in (before, claim)]
        if (None not in classes and classes[0] != classes[1]) or \
                (get("spec.accessModes", before) or []) != (get("spec.accessModes", claim) or []):
            return [FieldError(where, "Invalid value: volumeClaimTemplate can not be modified when OnRollingUpdate")]
        request_before, request_after = _storage_sizes(before, claim)[0]
        if request_before is not None and request_after is not None and request_after < request_before:
            return [FieldError(field, f"Forbidden: the storage request of {name!r} cannot shrink")]
    return []


def _storage_sizes(before: dict, after: dict) -> list[list]:
    """[[request before, after], [limit before, after]] of storage (isPVCResize compares both)."""
    return [[quantity.value_of(get(f"spec.resources.{kind}.storage", c, 0)) for c in (before, after)]
            for kind in ("requests", "limits")]


def _check_claim_expansion_allowed(rule: dict, ctx: RuleContext) -> list[FieldError]:
    """ValidateVolumeClaimTemplateUpdate's last step: a claim whose storage request or limit changes (and that
    rule check volumeClaimTemplatesOnlyGrow accepts) needs a StorageClass that does not forbid expansion
    (`allowVolumeExpansion: false`); an unnamed class is the default one, and with no default nothing is checked.
    Needs every StorageClass (state "storageClasses")."""
    if "when" in rule and not evaluate(rule["when"], ctx.obj, ctx.obj, ctx.gates):
        return []
    old = {get("metadata.name", c): c for c in get(rule["field"], ctx.old, []) or [] if isinstance(c, dict)}
    for claim in get(rule["field"], ctx.obj, []) or []:
        before = old.get(get("metadata.name", claim)) if isinstance(claim, dict) else None
        if before is None or all(a == b for a, b in _storage_sizes(before, claim)):
            continue
        error = _expansion_refused(claim, f"{rule['field']}[{get('metadata.name', claim)}]",
                                   ctx.state.get("storageClasses"))
        if error is not None:
            return [error]
    return []


_DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def _expansion_refused(claim: dict, where: str, classes: list[dict] | None) -> FieldError | None:
    """Why the claim's StorageClass cannot grow it, or None. `classes`: every StorageClass (None: not read)."""
    if classes is None:
        return None
    name = get("spec.storageClassName", claim)
    if name is None:
        # GetDefaultStorageClass: the newest of those annotated default.
        defaults = [c for c in classes if (get("metadata.annotations", c) or {}).get(_DEFAULT_CLASS_ANNOTATION) == "true"]
        if not defaults:
            return None
        found = max(defaults, key=lambda c: get("metadata.creationTimestamp", c) or "")
    else:
        found = next((c for c in classes if get("metadata.name", c) == name), None)
        if found is None:
            return FieldError(f"{where}.spec.storageClassName", f"Invalid value: {render(name)}: can not get sc")
    if found.get("allowVolumeExpansion") is False:
        return FieldError(f"{where}.spec.resources.requests.storage",
                          f"Forbidden: storage class {get('metadata.name', found)} does not support volume expansion")
    return None


def _check_name_pattern(rule: dict, ctx: RuleContext) -> list[FieldError]:
    """A metadata.name rule beyond the API server's DNS-subdomain check (SidecarSet: `^[a-zA-Z0-9-]+$`, <= 63)."""
    name = get("metadata.name", ctx.obj)
    if not isinstance(name, str):
        return []
    errors = []
    if not re.fullmatch(rule["pattern"], name):
        errors.append(FieldError("metadata.name", f"Invalid value: {render(name)}: {rule['message']} (regex used "
                                                  f"for validation is '{rule['pattern']}')"))
    if "maxLength" in rule and len(name) > rule["maxLength"]:
        errors.append(FieldError("metadata.name", f"Invalid value: {render(name)}: must be no more than "
                                                  f"{rule['maxLength']} characters"))
    return errors


def _check_no_new_keys(rule: dict, ctx: RuleContext) -> list[FieldError]:
    """UPDATE: list items whose key the old object does not have are refused (a SidecarSet container cannot be
    added or renamed, PR #937; removing one is allowed)."""
    before = {item.get(rule["key"]) for item in get(rule["list"], ctx.old, []) or [] if isinstance(item, dict)}
    return [FieldError(f"{rule['list']}[{index}].{rule['key']}",
                       f"Invalid value: {render(item.get(rule['key']))}: {rule['message'] % item.get(rule['key'])}")
            for index, item in enumerate(get(rule["list"], ctx.obj, []) or [])
            if isinstance(item, dict) and item.get(rule["key"]) not in before]


# ---- SidecarSet (sidecarset.md §1.4, pkg/webhook/sidecarset/validating)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_FIELD_REF = re.compile(r"^(metadata\.(?:labels|annotations))\['(.*)'\]$")
_CALCULATOR_TOKEN = re.compile(r"\s*(?:(max|min)\s*\(|([A-Za-z_]\w*)|(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
                               r"(?:%|Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE])?)|([-+*/(),]))")


def _expression_errors(text: str, variable: str) -> str | None:
    """A parse of the resourcesPolicy calculator grammar (numbers with units or %, the one variable, + - * /,
    parentheses, max() and min()); the reason it fails, or None."""
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = _CALCULATOR_TOKEN.match(text, position)
        if match is None:
            return f"unexpected character at {position}"
        func, name, number, op = match.groups()
        if name is not None and name != variable:
            return f"unknown variable {name!r} (only {variable!r})"
        tokens.append(("func", func) if func else ("value", name or number) if (name or number) else ("op", op))
        position = match.end()
    depth, expect_value, calls = 0, True, []
    for kind, value in tokens:
        if kind == "func":
            if not expect_value:
                return "a value is missing an operator"
            depth += 1
            calls.append(depth)
        elif kind == "value":
            if not expect_value:
                return "two values without an operator"
            expect_value = False
        elif value == "(":
            if not expect_value:
                return "a value is missing an operator"
            depth += 1
        elif value == ")":
            if expect_value or depth == 0:
                return "unbalanced parentheses"
            if calls and calls[-1] == depth:
                calls.pop()
            depth -= 1
        elif value == ",":
            if expect_value or not calls or calls[-1] != depth:
                return "a comma outside max() or min()"
            expect_value = True
        elif value in "+-" and expect_value:
            continue                                # a sign
        else:
            if expect_value:
                return f"operator {value!r} without a left operand"
            expect_value = True
    if expect_value or depth:
        return "the expression is incomplete"
    return None


def _resources_policy_errors(container: dict, where: str) -> list[FieldError]:
    policy = container.get("resourcesPolicy")
    if not isinstance(policy, dict):
        return []
    path = f"{where}.resourcesPolicy"
    resources = container.get("resources") or {}
    if isinstance(resources, dict) and (resources.get("limits") or resources.get("requests")):
        return [FieldError(path, "Invalid value: resourcesPolicy and resources cannot be configured together")]
    errors = []
    regex = policy.get("targetContainersNameRegex")
    if not regex:
        errors.append(FieldError(f"{path}.targetContainersNameRegex", "Required value: targetContainersNameRegex "
                                                                      "cannot be empty"))
    else:
        try:
            re.compile(regex)
        except re.error as e:
            errors.append(FieldError(f"{path}.targetContainersNameRegex",
                                     f"Invalid value: {render(regex)}: invalid regex: {e}"))
    expressions = policy.get("resourcesExpr") or {}
    if not (expressions.get("limits") or expressions.get("requests")):
        errors.append(FieldError(f"{path}.resourcesExpr", "Required value: at least one of limits or requests "
                                                          "must be configured"))
    for section in ("limits", "requests"):
        for resource in ("cpu", "memory"):
            text = (expressions.get(section) or {}).get(resource)
            if text:
                reason = _expression_errors(text, resource)
                if reason:
                    errors.append(FieldError(f"{path}.resourcesExpr.{section}.{resource}",
                                             f"Invalid value: {render(text)}: invalid expression: {reason}"))
    return errors


def _field_ref_errors(transfer: dict, where: str) -> list[FieldError]:
    ref = (transfer.get("sourceContainerNameFrom") or {}).get("fieldRef")
    if not isinstance(ref, dict):
        return []
    path = f"{where}.sourceContainerNameFrom.fieldRef"
    if not ref.get("apiVersion"):
        return [FieldError(f"{path}.apiVersion", "Required value")]
    field_path = ref.get("fieldPath")
    if not field_path:
        return [FieldError(f"{path}.fieldPath", "Required value")]
    match = _FIELD_REF.match(field_path) if isinstance(field_path, str) else None
    if match is None:
        # ConvertDownwardAPIFieldLabel knows only labels and annotations with a subscript (C10).
        return [FieldError(f"{path}.fieldPath", f"Invalid value: {render(field_path)}: error converting fieldPath: "
                                                "field label not supported")]
    key = match.group(2).lower() if match.group(1).endswith("annotations") else match.group(2)
    prefix, _, name = key.rpartition("/")
    if not _QUALIFIED_NAME.match(key) or len(name) > 63 or len(prefix) > 253:
        return [FieldError(path, f"Invalid value: {render(match.group(2))}: a qualified name must consist of "
                                 "alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix")]
    return []


def _items(value: Any) -> list:
    return value if isinstance(value, list) else []


def _ported_pod_container_errors(container: dict, where: str, volumes: set, seen: set) -> list[FieldError]:
    """A port of the Pod checks that matter most for one SidecarSet container (name, image, mounts, ports)."""
    errors = []
    name = container.get("name")
    if isinstance(name, str) and name and not (_DNS_LABEL.match(name) and len(name) <= 63):
        errors.append(FieldError(f"{where}.name", f"Invalid value: {render(name)}: a lowercase RFC 1123 label "
                                                  "must consist of lower case alphanumeric characters or '-'"))
    elif isinstance(name, str) and name in seen:
        errors.append(FieldError(f"{where}.name", f"Duplicate value: {render(name)}"))
    if isinstance(name, str):
        seen.add(name)
    if not container.get("image"):
        errors.append(FieldError(f"{where}.image", "Required value"))
    # A SidecarSet container keeps unknown fields (the API server judges them): only lists are read as lists.
    for position, mount in enumerate(_items(container.get("volumeMounts"))):
        if not isinstance(mount, dict):
            continue
        if not isinstance(mount.get("name"), str) or mount["name"] not in volumes:
            errors.append(FieldError(f"{where}.volumeMounts[{position}].name", f"Not found: {render(mount.get('name'))}"))
        if not mount.get("mountPath"):
            errors.append(FieldError(f"{where}.volumeMounts[{position}].mountPath", "Required value"))
    for position, port in enumerate(_items(container.get("ports"))):
        number = port.get("containerPort") if isinstance(port, dict) else None
        if not is_int(number) or not 1 <= number <= 65535:
            errors.append(FieldError(f"{where}.ports[{position}].containerPort",
                                     f"Invalid value: {render(number)}: must be between 1 and 65535, inclusive"))
    return errors


def _check_sidecar_containers(rule: dict, ctx: RuleContext) -> list[FieldError]:
    """validateContainersForSidecarSet: what upstream checks by validating a fake Pod made of the SidecarSet's
    containers and volumes, plus transferEnv field references and resourcesPolicy. The fake Pod is judged by
    the API server itself (rule check kubernetesValidation); only when it could not be are the checks that
    matter most ported here (names unique DNS labels across both lists, an image, mounts of declared volumes,
    ports)."""
    init = [c for c in get(rule["initContainers"], ctx.obj, []) or [] if isinstance(c, dict)]
    containers = [c for c in get(rule["containers"], ctx.obj, []) or [] if isinstance(c, dict)]
    # Volumes are schemaless here (the API server judges them): only names that are strings name a volume.
    volumes = {v["name"] for v in get(rule["volumes"], ctx.obj, []) or [] if isinstance(v, dict)
               and isinstance(v.get("name"), str)}
    ported_pod_checks = not _judged_by_api_server(ctx)
    errors: list[FieldError] = []
    seen: set[str] = set()
    for path, items in ((rule["initContainers"], init), (rule["containers"], containers)):
        for index, container in enumerate(items):
            where = f"{path}[{index}]"
            if ported_pod_checks:
                errors += _ported_pod_container_errors(container, where, volumes, seen)
            if path == rule["initContainers"]:
                if "resourcesPolicy" in container and container.get("restartPolicy") != "Always":
                    errors.append(FieldError(f"{where}.resourcesPolicy", "Invalid value: resourcesPolicy is only "
                                                                         "supported for containers with RestartPolicy Always"))
            else:
                for position, transfer in enumerate(_items(container.get("transferEnv"))):
                    if isinstance(transfer, dict):
                        errors += _field_ref_errors(transfer, f"{where}.transferEnv[{position}]")
            errors += _resources_policy_errors(container, where)
    return errors


def _check_kubernetes_validation(rule: dict, ctx: RuleContext) -> list[FieldError]:
    """What the API server said of the rule's templates (controllers/webhook/kubernetes_validation.py, run by
    the webhook before the rules: ctx.state["kubernetesValidation"], by rule id)."""
    judgement = (ctx.state.get("kubernetesValidation") or {}).get(rule["id"])
    return list(judgement.errors) if judgement is not None else []


def _judged_by_api_server(ctx: RuleContext) -> bool:
    return any(j.complete for j in (ctx.state.get("kubernetesValidation") or {}).values())


def _check_patch_pod_metadata(rule: dict, ctx: RuleContext) -> list[FieldError]:
    """Each patchPodMetadata entry: annotations, their keys qualified names, a key in one entry only."""
    errors, seen = [], set()
    for index, patch in enumerate(get(rule["field"], ctx.obj, []) or []):
        if not isinstance(patch, dict):
            continue
        where = f"{rule['field']}[{index}]"
        annotations = patch.get("annotations") or {}
        if not annotations:
            errors.append(FieldError(f"{where}.annotations", "Required value: no annotations defined for SidecarSet"))
        for key in sorted(annotations):
            prefix, _, name = key.rpartition("/")
            if not _QUALIFIED_NAME.match(key) or len(name) > 63 or len(prefix) > 253:
                errors.append(FieldError(f"{where}.annotations", f"Invalid value: {render(key)}: name part must "
                                         "consist of alphanumeric characters, '-', '_' or '.'"))
            if key in seen:
                errors.append(FieldError(f"{where}.annotations", f"Required value: patch annotation[{key}] already exist"))
            seen.add(key)
        if sum(len(k) + len(str(v)) for k, v in annotations.items()) > 256 * 1024:
            errors.append(FieldError(f"{where}.annotations", "Too long: must have at most 262144 bytes"))
    return errors


WHITELIST_KEY = "SidecarSet_PatchPodMetadata_WhiteList"


def _whitelist_error(sidecarset: dict, data: dict | None, defaults_allowed: bool) -> str | None:
    """ValidateSidecarSetPatchMetadataWhitelist (sidecarset.md §1.5): why the patched annotation keys are not
    allowed by the whitelist of ConfigMap kruise-configuration, or None."""
    raw = (data or {}).get(WHITELIST_KEY)
    if not raw:
        return None if defaults_allowed else "SidecarSet patch metadata whitelist not found"
    try:
        whitelist = json.loads(raw)
    except ValueError as e:
        return f"the {WHITELIST_KEY} of ConfigMap kruise-configuration is not JSON: {e}"
    labels = get("metadata.labels", sidecarset) or {}
    expressions = []
    for entry in (whitelist or {}).get("rules") or []:
        if entry.get("selector") is not None and not selector_matches(entry["selector"], labels):
            continue
        for expression in entry.get("allowedAnnotationKeyExprs") or []:
            try:
                expressions.append(re.compile(expression))
            except re.error as e:
                return f"invalid allowedAnnotationKeyExprs {expression!r}: {e}"
    if not expressions:
        return None if defaults_allowed else "sidecarSet patch metadata annotation is not allowed"
    for patch in get("spec.patchPodMetadata", sidecarset) or []:
        for key in sorted((patch or {}).get("annotations") or {}):
            if not any(expression.search(key) for expression in expressions):      # Go MatchString: unanchored
                return f"sidecarSet patch metadata annotation({key}) is not allowed"
    return None


def _check_patch_pod_metadata_whitelist(rule: dict, ctx: RuleContext) -> list[FieldError]:
    if not get(rule["field"], ctx.obj):
        return []
    reason = _whitelist_error(ctx.obj, ctx.state.get("kruiseConfiguration"),
                              ctx.gates.get("SidecarSetPatchPodMetadataDefaultsAllowed", False))
    return [FieldError(rule["field"], f"Required value: {reason}")] if reason else []


def _check_sidecarset_revision(rule: dict, ctx: RuleContext) -> list[FieldError]:
    """injectionStrategy.revision names a ControllerRevision that exists already (GetHistorySidecarSet)."""
    revision = get(rule["field"], ctx.obj)
    if not isinstance(revision, dict) or (revision.get("revisionName") is None and revision.get("customVersion") is None):
        return []
    revisions = [r for r in ctx.state.get("revisions") or [] if isinstance(r, dict)]
    if revision.get("revisionName") is not None:
        found = any(get("metadata.name", r) == revision["revisionName"] for r in revisions)
        wanted = f"ControllerRevision {revision['revisionName']!r}"
    else:
        labels = {"kruise.io/sidecarset-name": get("metadata.name", ctx.obj),
                  "apps.kruise.io/sidecarset-custom-version": revision["customVersion"]}
        found = any(all((get("metadata.labels", r) or {}).get(k) == v for k, v in labels.items()) for r in revisions)
        wanted = f"a ControllerRevision with customVersion {revision['customVersion']!r}"
    if found:
        return []
    return [FieldError(rule["field"], f"Invalid value: Cannot find specific ControllerRevision: no {wanted} "
                                      "of this SidecarSet in the install namespace")]


def _namespaces_overlap(first: dict, second: dict) -> bool:
    a, b = get("spec.namespaceSelector", first), get("spec.namespaceSelector", second)
    return a is None or b is None or selectors_overlap(a, b)


def _name_of(item: Any) -> str | None:
    """An item's name where it is a string (volumes are schemaless: the API server judges them)."""
    name = item.get("name") if isinstance(item, dict) else None
    return name if isinstance(name, str) else None


def _check_sidecarset_conflicts(rule: dict, ctx: RuleContext) -> list[FieldError]:
    """validateSidecarConflict: against every other SidecarSet whose namespace and pod selectors may overlap
    with this one's, no shared container or initContainer name, no volume of the same name defined
    differently, no annotation both patch unless both merge JSON (Retain never conflicts)."""
    me = ctx.obj
    name = get("metadata.name", me)
    others = [s for s in ctx.state.get("sidecarsets") or []
              if isinstance(s, dict) and get("metadata.name", s) != name and _namespaces_overlap(me, s)
              and selectors_overlap(get("spec.selector", me), get("spec.selector", s))]
    in_others: dict[str, dict[str, tuple[str, Any]]] = {"initContainers": {}, "containers": {}, "volumes": {},
                                                        "annotations": {}}
    for other in sorted(others, key=lambda s: get("metadata.name", s) or ""):
        other_name = get("metadata.name", other)
        for key in ("initContainers", "containers", "volumes"):
            for item in get(f"spec.{key}", other) or []:
                if _name_of(item) is not None:
                    in_others[key][_name_of(item)] = (other_name, item)
        for patch in get("spec.patchPodMetadata", other) or []:
            if isinstance(patch, dict) and patch.get("patchPolicy") != "Retain":
                for key in patch.get("annotations") or {}:
                    in_others["annotations"][key] = (other_name, patch.get("patchPolicy"))
    errors = []
    for key in ("initContainers", "containers"):
        for index, item in enumerate(get(f"spec.{key}", me) or []):
            other = in_others[key].get(_name_of(item))
            if other:
                errors.append(FieldError(f"spec.{key}[{index}].name", f"Invalid value: {render(item['name'])}: "
                                         f"container {item['name']} already exist in {other[0]}"))
    for index, volume in enumerate(get("spec.volumes", me) or []):
        other = in_others["volumes"].get(_name_of(volume))
        if other and other[1] != volume:
            errors.append(FieldError(f"spec.volumes[{index}]", f"Invalid value: {render(volume['name'])}: volume "
                                     f"{volume['name']} is in conflict with sidecarset {other[0]}"))
    for index, patch in enumerate(get("spec.patchPodMetadata", me) or []):
        if not isinstance(patch, dict) or patch.get("patchPolicy") == "Retain":
            continue
        for key in sorted(patch.get("annotations") or {}):
            other = in_others["annotations"].get(key)
            if other and "Overwrite" in (patch.get("patchPolicy"), other[1]):
                errors.append(FieldError(f"spec.patchPodMetadata[{index}].annotations", f"Invalid value: "
                                         f"{render(key)}: annotation {key} is in conflict with sidecarset {other[0]}"))
    return errors


def _check_image_reference(rule: dict, ctx: RuleContext) -> list[FieldError]:
    """Every image at `field` (a string, or each item of a list) parses as a docker reference (ParseDockerRef,
    as the ImagePullJob and ImageListPullJob webhooks check)."""
    errors = []
    for where, value in values_at(rule["field"], ctx.obj, ctx.obj):
        if not isinstance(value, str) or not value:
            continue  # required and type are the schema's
        try:
            images.parse(value)
        except images.InvalidReference as e:
            errors.append(FieldError(where, f"Invalid value: {render(value)}: invalid image {value}: {e}"))
    return errors


def _check_not_below(rule: dict, ctx: RuleContext) -> list[FieldError]:
    """`field`, when set, is at least `other` (or `otherDefault` when that is unset): an ImagePullJob's
    activeDeadlineSeconds may not end before one pull attempt's timeout."""
    if "when" in rule and not evaluate(rule["when"], ctx.obj, ctx.obj, ctx.gates):
        return []
    value = get(rule["field"], ctx.obj)
    if not is_int(value):
        return []
    other = get(rule["other"], ctx.obj)
    floor = other if is_int(other) else rule["otherDefault"]
    if value < floor:
        return [FieldError(rule["field"], f"Invalid value: {value}: {rule['message']}")]
    return []


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
    "noDuplicateItems": _check_no_duplicate_items,
    "subsetReplicas": _check_subset_replicas,
    "deleteProtection": _check_delete_protection,
    "volumeClaimTemplatesOnlyGrow": _check_claims_only_grow,
    "volumeClaimExpansionAllowed": _check_claim_expansion_allowed,
    "namePattern": _check_name_pattern,
    "intOrRangeItems": _check_int_or_range_items,
    "noNewKeys": _check_no_new_keys,
    "sidecarContainers": _check_sidecar_containers,
    "patchPodMetadata": _check_patch_pod_metadata,
    "patchPodMetadataWhitelist": _check_patch_pod_metadata_whitelist,
    "sidecarSetRevision": _check_sidecarset_revision,
    "sidecarSetConflicts": _check_sidecarset_conflicts,
    "imageReference": _check_image_reference,
    "notBelow": _check_not_below,
    "kubernetesValidation": _check_kubernetes_validation,
}
