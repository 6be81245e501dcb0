"""The runtime schema of the apps.kruise.io API: defaulting and validation on plain dicts.

Everything here is driven by `controllers/_generated/schema.json`, which `make generate` writes from
schema/ (fields, defaults, constraints) and policies/ (admission rules, feature-gate defaults). Nothing in
this module names a field of a workload.

    from controllers import schema
    obj = schema.apply_defaults(obj)             # what the mutating webhook does (returns a new dict)
    view = schema.as_read(obj, gates)            # what a controller reads: refused values dropped, defaults
                                                 # and fallbacks applied (controllers/<kind>/spec.py)
    obj = schema.apply_template_defaults(obj, old)   # and Kubernetes' defaults in its pod/PVC templates
    errors = schema.validate(obj, old=old)       # what the validating webhook does: [FieldError(path, message)]

Rules that need cluster state declare it (`needs`, e.g. ["pods"]); they run only when the caller passes that
state (`validate(obj, pods={name: pod})`). Conditions are documented in generator/conditions.py.
"""
from __future__ import annotations

import copy
import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

from controllers.common.selectors import selector_matches
from controllers.common.template_defaults import DEFAULTERS as TEMPLATE_DEFAULTERS

SCHEMA_FILE = Path(__file__).resolve().parent / "_generated" / "schema.json"
INT32 = (-(2 ** 31), 2 ** 31 - 1)
INT64 = (-(2 ** 63), 2 ** 63 - 1)
_PERCENT = re.compile(r"^([0-9]+)%$")
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()


class FieldError(NamedTuple):
    """One problem: `path` like `spec.topology.subsets[1].name`, `message` in Kubernetes style."""

    path: str
    message: str


class SchemaLookupError(KeyError):
    """The object's kind or apiVersion is not part of the schema."""


# --------------------------------------------------------------------------------------------------------
# Value checks (also used by the generator to check declared defaults and examples)

def _render(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_value(node: dict, value: Any, path: str, *, check_required: bool = True) -> list[FieldError]:
    """Check `value` against a schema node (type, enum, bounds, pattern, required, unknown fields...)."""
    errors: list[FieldError] = []
    _check(node, value, path, errors, check_required)
    return errors


def _type_error(errors: list[FieldError], path: str, value: Any, expected: str) -> None:
    errors.append(FieldError(path, f"Invalid value: {_render(value)}: must be {expected}"))


def _check(node: dict, value: Any, path: str, errors: list[FieldError], check_required: bool) -> None:
    kind = node.get("type")
    if kind in ("string", "date-time"):
        if not isinstance(value, str):
            return _type_error(errors, path, value, "a string")
        _check_string(node, value, path, errors)
    elif kind == "boolean":
        if not isinstance(value, bool):
            _type_error(errors, path, value, "a boolean")
    elif kind in ("int32", "int64"):
        low, high = INT32 if kind == "int32" else INT64
        if not _is_int(value) or not low <= value <= high:
            return _type_error(errors, path, value, f"an integer ({kind})")
        _check_number(node, value, path, errors)
    elif kind == "number":
        if not _is_number(value):
            return _type_error(errors, path, value, "a number")
        _check_number(node, value, path, errors)
    elif kind == "int-or-string":
        if _is_int(value):
            _check_number(node, value, path, errors)
        elif isinstance(value, str):
            _check_string(node, value, path, errors)
        else:
            _type_error(errors, path, value, "an integer or a string")
    elif kind == "int-or-percent":
        if _is_int(value):
            if value < 0:
                errors.append(FieldError(path, f"Invalid value: {value}: must be greater than or equal to 0"))
        elif not (isinstance(value, str) and _PERCENT.match(value)):
            _type_error(errors, path, value, 'a non-negative integer or a percentage ("10%")')
    elif kind == "object":
        if not isinstance(value, dict):
            return _type_error(errors, path, value, "an object")
        _check_object(node, value, path, errors, check_required)
    elif kind == "schemaless":
        if not isinstance(value, dict):
            _type_error(errors, path, value, "an object")
    elif kind == "array":
        if not isinstance(value, list):
            return _type_error(errors, path, value, "a list")
        _check_array(node, value, path, errors, check_required)
    elif kind == "map":
        if not isinstance(value, dict):
            return _type_error(errors, path, value, "an object")
        for key in sorted(value):
            if value[key] is not None:
                _check(node["values"], value[key], f"{path}[{key}]", errors, check_required)
    if "enum" in node and not any(_same(value, allowed) for allowed in node["enum"]):
        supported = ", ".join(_render(v) for v in node["enum"])
        errors.append(FieldError(path, f"Unsupported value: {_render(value)}: supported values: {supported}"))


def _check_string(node: dict, value: str, path: str, errors: list[FieldError]) -> None:
    if "pattern" in node and not re.search(node["pattern"], value):
        errors.append(FieldError(path, f"Invalid value: {_render(value)}: must match the pattern {node['pattern']}"))
    if "minLength" in node and len(value) < node["minLength"]:
        errors.append(FieldError(path, f"Invalid value: {_render(value)}: must be at least {node['minLength']} characters"))
    if "maxLength" in node and len(value) > node["maxLength"]:
        errors.append(FieldError(path, f"Invalid value: {_render(value)}: must be at most {node['maxLength']} characters"))


def _check_number(node: dict, value: float, path: str, errors: list[FieldError]) -> None:
    if "minimum" in node and value < node["minimum"]:
        errors.append(FieldError(path, f"Invalid value: {value}: must be greater than or equal to {node['minimum']}"))
    if "maximum" in node and value > node["maximum"]:
        errors.append(FieldError(path, f"Invalid value: {value}: must be less than or equal to {node['maximum']}"))


def _check_object(node: dict, value: dict, path: str, errors: list[FieldError], check_required: bool) -> None:
    properties = node.get("properties", {})
    for name, child in properties.items():
        present = value.get(name) is not None
        if present:
            _check(child, value[name], _join(path, name), errors, check_required)
        elif check_required and child.get("required"):
            errors.append(FieldError(_join(path, name), "Required value"))
    if not node.get("preserveUnknownFields"):
        for name in sorted(set(value) - set(properties)):
            errors.append(FieldError(_join(path, name), "Forbidden: unknown field"))
    for group_key in ("mutuallyExclusive", "exactlyOne"):
        if group_key not in node:
            continue
        groups = [g if isinstance(g, list) else [g] for g in node[group_key]]
        used = [g for g in groups if any(value.get(name) is not None for name in g)]
        names = ", ".join("/".join(g) for g in groups)
        if len(used) > 1:
            second = next(name for name in used[1] if value.get(name) is not None)
            errors.append(FieldError(_join(path, second), f"Forbidden: only one of {names} may be set"))
        elif group_key == "exactlyOne" and not used:
            errors.append(FieldError(path, f"Required value: exactly one of {names} must be set"))


def _check_array(node: dict, value: list, path: str, errors: list[FieldError], check_required: bool) -> None:
    if "minItems" in node and len(value) < node["minItems"]:
        errors.append(FieldError(path, f"Invalid value: must have at least {node['minItems']} items"))
    if "maxItems" in node and len(value) > node["maxItems"]:
        errors.append(FieldError(path, f"Invalid value: must have at most {node['maxItems']} items"))
    seen: set[str] = set()
    keys = node.get("uniqueBy")
    for index, item in enumerate(value):
        item_path = f"{path}[{index}]"
        _check(node["items"], item, item_path, errors, check_required)
        if node.get("unique") or keys:
            identity = _render(item) if not keys else _render(
                [item.get(k) for k in keys] if isinstance(item, dict) else item)
            if identity in seen:
                where = item_path if not keys or len(keys) > 1 else f"{item_path}.{keys[0]}"
                shown = item if not keys else (item.get(keys[0]) if len(keys) == 1 and isinstance(item, dict) else identity)
                errors.append(FieldError(where, f"Duplicate value: {_render(shown)}"))
            seen.add(identity)


def _same(left: Any, right: Any) -> bool:
    """Equality that keeps true != 1 and 1 != "1" (as JSON does)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, str) != isinstance(right, str):
        return False
    return left == right


# --------------------------------------------------------------------------------------------------------
# Paths and conditions

def _segments(path: str) -> tuple[bool, list[str]]:
    absolute = path.startswith("$.")
    if absolute:
        path = path[2:]
    result: list[str] = []
    for part in path.split(".") if path else []:
        if part.endswith("[*]"):
            result.extend([part[:-3], "[*]"])
        elif part.endswith("{*}"):
            result.extend([part[:-3], "{*}"])
        else:
            result.append(part)
    return absolute, result


def values_at(path: str, base: Any, root: Any = None) -> list[tuple[str, Any]]:
    """(concrete path, value) for every match of `path`; the value is MISSING where a field is absent.
    Wildcards fan out; a wildcard over a missing or empty list yields nothing."""
    absolute, segments = _segments(path)
    current: list[tuple[str, Any]] = [("", root if absolute else base)]
    for segment in segments:
        following: list[tuple[str, Any]] = []
        for where, value in current:
            if segment == "[*]":
                if isinstance(value, list):
                    following.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
            elif segment == "{*}":
                if isinstance(value, dict):
                    following.extend((f"{where}[{k}]", v) for k, v in sorted(value.items()))
            elif isinstance(value, dict) and value.get(segment) is not None:
                following.append((_join(where, segment), value[segment]))
            else:
                following.append((_join(where, segment), MISSING))
        current = following
    return current


def get(path: str, base: Any, default: Any = None) -> Any:
    """The value at a plain dotted path, or `default`."""
    found = values_at(path, base, base)
    if len(found) == 1 and found[0][1] is not MISSING:
        return found[0][1]
    return default


def scaled(value: Any, base: Any, round_up: bool = True) -> int | None:
    """An int, or a percentage of `base` rounded up or down; None if it is neither."""
    if _is_int(value):
        return value
    if isinstance(value, str) and _is_int(base):
        match = _PERCENT.match(value)
        if match:
            exact = int(match.group(1)) * base / 100
            return math.ceil(exact) if round_up else math.floor(exact)
    return None


class _Context(NamedTuple):
    root: Any
    gates: dict[str, bool]


def evaluate(cond: dict, base: Any, root: Any, gates: dict[str, bool]) -> bool:
    """Evaluate a condition (see generator/conditions.py for the language)."""
    return _eval(cond, base, _Context(root, gates))


def _eval(cond: dict, base: Any, ctx: _Context) -> bool:
    if "all" in cond:
        return all(_eval(c, base, ctx) for c in cond["all"])
    if "any" in cond:
        return any(_eval(c, base, ctx) for c in cond["any"])
    if "not" in cond:
        return not _eval(cond["not"], base, ctx)
    if "featureGate" in cond:
        return bool(ctx.gates.get(cond["featureGate"], False))
    values = [value for _, value in values_at(cond["field"], base, ctx.root)]
    present = [value for value in values if value is not MISSING]
    if "present" in cond:
        return bool(present) == cond["present"]
    if "nonEmpty" in cond:
        return any(value not in ("", [], {}) for value in present) == cond["nonEmpty"]
    if "equals" in cond:
        return any(_same(value, cond["equals"]) for value in present)
    if "in" in cond:
        return any(any(_same(value, option) for option in cond["in"]) for value in present)
    if "notIn" in cond:
        return all(not any(_same(value, option) for option in cond["notIn"]) for value in present)
    if "containsItem" in cond:
        wanted = cond["containsItem"]
        return any(isinstance(value, list) and any(
            isinstance(item, dict) and all(_same(item.get(k), v) for k, v in wanted.items()) for item in value)
            for value in present)
    for operator, compare in (("gt", lambda a, b: a > b), ("gte", lambda a, b: a >= b),
                              ("lt", lambda a, b: a < b), ("lte", lambda a, b: a <= b)):
        if operator in cond:
            scale = cond.get("scaledBy")
            if isinstance(scale, str):
                scale = get(scale, base) if not scale.startswith("$.") else get(scale[2:], ctx.root)
            round_up = cond.get("round", "up") == "up"
            numbers = [scaled(value, scale, round_up) if not isinstance(value, float) else value for value in present]
            return any(number is not None and compare(number, cond[operator]) for number in numbers)
    raise ValueError(f"unknown condition {cond!r}")


# --------------------------------------------------------------------------------------------------------
# The schema

class Schema:
    """One loaded runtime schema (the generated file, or any dict with the same shape)."""

    def __init__(self, data: dict):
        self.data = data
        self.gate_defaults: dict[str, bool] = {
            name: bool(gate["default"]) for name, gate in data.get("featureGates", {}).items()}

    # -- lookups
    def kinds(self) -> list[str]:
        return sorted(self.data["kinds"])

    def version(self, kind: str, version: str) -> dict:
        try:
            return self.data["kinds"][kind]["versions"][version]
        except KeyError:
            raise SchemaLookupError(f"{kind} {version} is not part of the schema") from None

    def of(self, obj: dict) -> tuple[str, str, dict]:
        kind = obj.get("kind")
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        info = self.data["kinds"].get(kind)
        if info is None or info["group"] != group:
            raise SchemaLookupError(f"{obj.get('apiVersion')} {kind} is not part of the schema")
        return kind, version, self.version(kind, version)

    def gates(self, feature_gates: dict[str, bool] | None) -> dict[str, bool]:
        return {**self.gate_defaults, **(feature_gates or {})}

    # -- defaults
    def defaults_for(self, kind: str, version: str) -> list[dict]:
        """The defaults in the order they apply: [{parent, field, value[, when]}], `parent` a path pattern
        (`spec.containers[*]`), `when` a condition on the parent as it was before its own defaults."""
        return copy.deepcopy(self.version(kind, version)["defaults"])

    def default_value(self, kind: str, version: str, path: str) -> Any:
        """The unconditional webhook default of `path` (e.g. "spec.updateStrategy.maxUnavailable"), for a
        controller that must assume it when an object was stored without the webhook (or before it ran)."""
        parent, _, name = path.rpartition(".")
        for d in self.version(kind, version)["defaults"]:
            if d["parent"] == parent and d["field"] == name and "when" not in d:
                return copy.deepcopy(d["value"])
        raise SchemaLookupError(f"{kind} {version} has no unconditional default for {path}")

    def fallback(self, kind: str, version: str, path: str) -> Any:
        """The value a controller assumes for an unset field that has no default (e.g. timeouts)."""
        return self.version(kind, version)["fallbacks"].get(path)

    def apply_defaults(self, obj: dict, feature_gates: dict[str, bool] | None = None) -> dict:
        """A copy of `obj` with the mutating-webhook defaults applied (idempotent)."""
        _, _, info = self.of(obj)
        result = copy.deepcopy(obj)
        self._default(info, result, self.gates(feature_gates))
        return result

    def as_read(self, obj: dict, feature_gates: dict[str, bool] | None = None) -> dict:
        """A copy of `obj` as a controller reads it, so that every field with a default or a fallback is there:
        1. a value the schema refuses (type, enum, bounds, pattern) is dropped, so it reads as unset: a
           controller must not trip over an object stored without the webhook (items of lists and maps are
           left to their readers, so that one bad item does not hide the others);
        2. the webhook's defaults apply, with these feature gates;
        3. the fallbacks apply, creating the objects on their path (an OnDelete StatefulSet has no
           rollingUpdate, yet its controller assumes its minReadySeconds)."""
        _, _, info = self.of(obj)
        result = copy.deepcopy(obj)
        _drop_refused(info["schema"], result)
        self._default(info, result, self.gates(feature_gates))
        for path, value in info["fallbacks"].items():
            _fill(result, _segments(path)[1], value)
        return result

    @staticmethod
    def _default(info: dict, result: dict, gates: dict[str, bool]) -> None:
        entries = info["defaults"]
        index = 0
        while index < len(entries):
            parent = entries[index]["parent"]
            end = index
            while end < len(entries) and entries[end]["parent"] == parent:
                end += 1
            for _, target in values_at(parent, result, result) if parent else [("", result)]:
                if not isinstance(target, dict):
                    continue
                # A shallow copy is enough: this group only adds keys to `target` itself.
                before = dict(target)
                for entry in entries[index:end]:
                    if target.get(entry["field"]) is not None:
                        continue
                    if "when" in entry and not evaluate(entry["when"], before, result, gates):
                        continue
                    target[entry["field"]] = copy.deepcopy(entry["value"])
            index = end

    def apply_template_defaults(self, obj: dict, old: dict | None = None,
                                feature_gates: dict[str, bool] | None = None) -> dict:
        """A copy of `obj` whose pod and PVC templates (`templateDefaults` of policies/admission) carry
        Kubernetes' defaults. With `old` (an UPDATE) only templates that differ from the old ones are
        defaulted, as OpenKruise does; the `unlessFeatureGate` gate turns it off."""
        _, _, info = self.of(obj)
        spec = info.get("templateDefaults")
        if not spec or self.gates(feature_gates).get(spec["unlessFeatureGate"], False):
            return copy.deepcopy(obj)
        result = copy.deepcopy(obj)
        for key, defaulter in TEMPLATE_DEFAULTERS.items():
            for path in spec.get(key, []):
                value = get(path, result)
                if value is None or (old is not None and get(path, old) == value):
                    continue
                parent_path, _, field = path.rpartition(".")
                get(parent_path, result)[field] = defaulter(value)
        return result

    # -- validation
    def validate(self, obj: dict, old: dict | None = None, *, operation: str | None = None,
                 pods: dict[str, dict] | None = None,
                 feature_gates: dict[str, bool] | None = None) -> list[FieldError]:
        """Field errors of `obj` for `operation` (CREATE, UPDATE with `old`, DELETE). Rules needing cluster
        state run only if it is passed (`pods`: the pods of the object's namespace by name)."""
        kind, version, info = self.of(obj)
        operation = operation or ("UPDATE" if old is not None else "CREATE")
        errors: list[FieldError] = []
        if operation != "DELETE":
            for name in ("spec", "status"):
                node = info["schema"]["properties"].get(name)
                if node is None:
                    continue
                if obj.get(name) is None:
                    if node.get("required"):
                        errors.append(FieldError(name, "Required value"))
                    continue
                errors.extend(check_value(node, obj[name], name))
        context = _RuleContext(kind=kind, obj=obj, old=old, operation=operation, pods=pods,
                               gates=self.gates(feature_gates))
        available = {"pods": pods is not None}
        for rule in info["rules"]:
            if operation not in rule["operations"]:
                continue
            if any(not available.get(need, False) for need in rule.get("needs", [])):
                continue
            if "featureGate" in rule and not context.gates.get(rule["featureGate"], False):
                continue
            errors.extend(CHECKS[rule["check"]](rule, context))
        return errors


def _drop_refused(node: dict, value: dict) -> None:
    """Remove from `value` (an object of `node`) every property value the schema refuses, through nested
    objects; arrays, maps and schemaless values are only checked to be lists and objects."""
    for name, child in node.get("properties", {}).items():
        item = value.get(name)
        if item is None:
            continue
        kind = child.get("type")
        if kind == "object" and isinstance(item, dict):
            _drop_refused(child, item)
            continue
        if kind == "array":
            refused = not isinstance(item, list)
        elif kind in ("object", "map", "schemaless"):
            refused = not isinstance(item, dict)
        else:
            refused = bool(check_value(child, item, name, check_required=False))
        if refused:
            del value[name]


def _fill(target: Any, segments: list[str], value: Any) -> None:
    """Set the field at `segments` to `value` where it is unset, creating the objects on the way (items of
    lists and maps only where they exist)."""
    if not segments:
        return
    head, rest = segments[0], segments[1:]
    if head in ("[*]", "{*}"):
        items = target if head == "[*]" and isinstance(target, list) else (
            target.values() if head == "{*}" and isinstance(target, dict) else [])
        for item in items:
            _fill(item, rest, value)
        return
    if not isinstance(target, dict):
        return
    if not rest:
        if target.get(head) is None:
            target[head] = copy.deepcopy(value)
        return
    if target.get(head) is None:
        if rest[0] in ("[*]", "{*}"):
            return
        target[head] = {}
    _fill(target[head], rest, value)


class _RuleContext(NamedTuple):
    kind: str
    obj: dict
    old: dict | None
    operation: str
    pods: dict[str, dict] | None
    gates: dict[str, bool]


# --------------------------------------------------------------------------------------------------------
# Admission checks (the `check` of a rule). Each returns field errors.

def _bases(rule: dict, obj: dict) -> Iterator[tuple[str, Any]]:
    """The objects a rule applies to: the object itself, or every item of `forEach`."""
    if "forEach" not in rule:
        yield "", obj
        return
    for where, item in values_at(rule["forEach"] + "[*]", obj, obj):
        if item is not MISSING:
            yield where, item


def _check_assert(rule: dict, ctx: _RuleContext) -> list[FieldError]:
    errors = []
    for where, base in _bases(rule, ctx.obj):
        if "when" in rule and not evaluate(rule["when"], base, ctx.obj, ctx.gates):
            continue
        if not evaluate(rule["require"], base, ctx.obj, ctx.gates):
            errors.append(FieldError(_join(where, rule["field"]), f"Invalid value: {rule['message']}"))
    return errors


def _selector_matches(selector: dict, labels: dict) -> bool:
    return selector_matches(selector, labels)


def _check_selector_not_empty(rule: dict, ctx: _RuleContext) -> list[FieldError]:
    selector = get(rule["field"], ctx.obj)
    if isinstance(selector, dict) and not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return [FieldError(rule["field"], "Invalid value: empty selector is invalid")]
    return []


def _check_selector_matches_labels(rule: dict, ctx: _RuleContext) -> list[FieldError]:
    selector = get(rule["selector"], ctx.obj)
    if not isinstance(selector, dict):
        return []
    for path in rule["labels"]:
        # With alternatives (one per template kind), use the first whose template is set.
        owner = path[:-len(".metadata.labels")] if path.endswith(".metadata.labels") else path.rpartition(".")[0]
        if len(rule["labels"]) > 1 and get(owner, ctx.obj) is None:
            continue
        labels = get(path, ctx.obj)
        if not _selector_matches(selector, labels if isinstance(labels, dict) else {}):
            return [FieldError(path, "Invalid value: `selector` does not match template `labels`")]
        return []
    return []


def _check_update_whitelist(rule: dict, ctx: _RuleContext) -> list[FieldError]:
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


def _check_immutable(rule: dict, ctx: _RuleContext) -> list[FieldError]:
    if get(rule["field"], ctx.obj) != get(rule["field"], ctx.old):
        return [FieldError(rule["field"], "Invalid value: field is immutable")]
    return []


def _check_immutable_by_key(rule: dict, ctx: _RuleContext) -> list[FieldError]:
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


def _check_only_images_change(rule: dict, ctx: _RuleContext) -> list[FieldError]:
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


def _check_keys_refer_to(rule: dict, ctx: _RuleContext) -> list[FieldError]:
    mapping = get(rule["field"], ctx.obj) or {}
    known = {item.get(rule["key"]) for item in get(rule["list"], ctx.obj, []) or [] if isinstance(item, dict)}
    return [FieldError(f"{rule['field']}[{name}]", f"Invalid value: {_render(name)}: no such item in {rule['list']}")
            for name in sorted(mapping) if name not in known]


def _check_owned_pods(rule: dict, ctx: _RuleContext) -> list[FieldError]:
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
    return scaled(value, total, round_up=False) if total is not None or _is_int(value) else None


def _check_subset_replicas(rule: dict, ctx: _RuleContext) -> list[FieldError]:
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


def _check_delete_protection(rule: dict, ctx: _RuleContext) -> list[FieldError]:
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


def _check_claims_only_grow(rule: dict, ctx: _RuleContext) -> list[FieldError]:
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


CHECKS: dict[str, Callable[[dict, _RuleContext], list[FieldError]]] = {
    "assert": _check_assert,
    "selectorNotEmpty": _check_selector_not_empty,
    "selectorMatchesLabels": _check_selector_matches_labels,
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


# --------------------------------------------------------------------------------------------------------
# The generated schema, loaded once

@lru_cache(maxsize=1)
def default_schema() -> Schema:
    with open(SCHEMA_FILE, encoding="utf-8") as handle:
        return Schema(json.load(handle))


def defaults_for(kind: str, version: str) -> list[dict]:
    return default_schema().defaults_for(kind, version)


def apply_defaults(obj: dict, feature_gates: dict[str, bool] | None = None) -> dict:
    return default_schema().apply_defaults(obj, feature_gates)


def as_read(obj: dict, feature_gates: dict[str, bool] | None = None) -> dict:
    return default_schema().as_read(obj, feature_gates)


def apply_template_defaults(obj: dict, old: dict | None = None,
                            feature_gates: dict[str, bool] | None = None) -> dict:
    return default_schema().apply_template_defaults(obj, old, feature_gates)


def validate(obj: dict, old: dict | None = None, **kwargs: Any) -> list[FieldError]:
    return default_schema().validate(obj, old, **kwargs)


def fallback(kind: str, version: str, path: str) -> Any:
    return default_schema().fallback(kind, version, path)


def default_value(kind: str, version: str, path: str) -> Any:
    return default_schema().default_value(kind, version, path)


def kinds() -> list[str]:
    return default_schema().kinds()


def compatibility() -> dict:
    """policies/compatibility.yaml as `ack-kruise preflight` needs it: `variants` (oldest first: since, profile,
    API versions, the kube-apiserver gates they need on) and `apiServerFeatureGates` (when on by default, and the
    chart value that confirms one)."""
    return default_schema().data["compatibility"]


def chart_objects() -> dict:
    """The chart's cluster-wide objects with fixed names: `customResourceDefinitions`, `conversionWebhookCRDs`,
    `webhookConfigurations` ({mutating, validating})."""
    return default_schema().data["chartObjects"]


def feature_gates(overrides: dict[str, bool] | None = None) -> dict[str, bool]:
    """Every gate of policies/feature-gates.yaml with its value: the policy's default unless `overrides` says."""
    return default_schema().gates(overrides)


__all__ = ["FieldError", "Schema", "SchemaLookupError", "apply_defaults", "apply_template_defaults", "as_read",
           "chart_objects", "check_value", "compatibility", "default_value", "defaults_for", "evaluate", "fallback",
           "feature_gates", "kinds", "validate", "values_at"]
