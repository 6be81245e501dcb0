"""Checking a value against a node of the runtime schema: type, enum, bounds, pattern, required and
unknown fields, one-of groups, unique items. The generator checks declared defaults and examples with it;
the manager's admission webhook checks whole objects (controllers/schema.py)."""
from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

INT32 = (-(2 ** 31), 2 ** 31 - 1)
INT64 = (-(2 ** 63), 2 ** 63 - 1)
PERCENT = re.compile(r"^([0-9]+)%$")
# An int-or-percent with `fractionalPercent`: OpenKruise's util.GetScaledValueFromIntOrPercent parses the number
# with strconv.ParseFloat (CloneSet partition, maxUnavailable, maxSurge), so "1.5%" is a percentage there.
FRACTIONAL_PERCENT = re.compile(r"^([0-9]+(?:\.[0-9]+)?|\.[0-9]+)%$")
# A non-negative Kubernetes resource quantity in string form (k8s.io/apimachinery resource.Quantity):
# a decimal number, then a binary-SI (Ki..Ei), decimal-SI (n, u, m, k, M..E) or exponent (e3, E-2) suffix.
QUANTITY = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][-+]?[0-9]+)?$"


class FieldError(NamedTuple):
    """One problem: `path` like `spec.topology.subsets[1].name`, `message` in Kubernetes style."""

    path: str
    message: str


def render(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_value(node: dict, value: Any, path: str, *, check_required: bool = True) -> list[FieldError]:
    """Check `value` against a schema node (type, enum, bounds, pattern, required, unknown fields...)."""
    errors: list[FieldError] = []
    _check(node, value, path, errors, check_required)
    return errors


# The JSON types each schema type accepts, for `shape_errors`: what code may assume of a value before it reads it.
_SHAPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "date-time": (str,), "boolean": (bool,), "int32": (int,), "int64": (int,),
    "number": (int, float), "int-or-string": (int, str), "int-or-percent": (int, str), "quantity": (int, float, str),
    "object": (dict,), "schemaless": (dict,), "map": (dict,), "array": (list,)}


def shape_errors(node: dict, value: Any, path: str) -> list[FieldError]:
    """Only the values whose JSON type is not the one the schema says (an object where a list goes, a string
    where a number goes, a null list item...): the errors after which code that follows the schema, such as
    the admission rules, cannot read the object. Enums, bounds, patterns and required fields are not checked."""
    errors: list[FieldError] = []
    stack = [(node, value, path)]
    while stack:
        node, value, path = stack.pop()
        kind = node.get("type")
        accepted = _SHAPES.get(kind)
        if accepted is None:
            continue
        if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted):
            errors.append(FieldError(path, f"Invalid value: {render(value)[:80]}: must be {_SHAPE_WORDS[kind]}"))
        elif kind == "object":
            stack += [(child, value[name], join(path, name)) for name, child in node.get("properties", {}).items()
                      if value.get(name) is not None]
        elif kind == "map":
            stack += [(node["values"], item, f"{path}[{key}]") for key, item in value.items() if item is not None]
        elif kind == "array":
            stack += [(node["items"], item, f"{path}[{index}]") for index, item in enumerate(value)]
    return sorted(errors)


_SHAPE_WORDS = {"string": "a string", "date-time": "a string", "boolean": "a boolean", "int32": "an integer",
                "int64": "an integer", "number": "a number", "int-or-string": "an integer or a string",
                "int-or-percent": "an integer or a string", "quantity": "a number or a string",
                "object": "an object", "schemaless": "an object", "map": "an object", "array": "a list"}


def _type_error(errors: list[FieldError], path: str, value: Any, expected: str) -> None:
    errors.append(FieldError(path, f"Invalid value: {render(value)}: must be {expected}"))


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
        if not is_int(value) or not low <= value <= high:
            return _type_error(errors, path, value, f"an integer ({kind})")
        _check_number(node, value, path, errors)
    elif kind == "number":
        if not is_number(value):
            return _type_error(errors, path, value, "a number")
        _check_number(node, value, path, errors)
    elif kind == "int-or-string":
        if is_int(value):
            _check_number(node, value, path, errors)
        elif isinstance(value, str):
            _check_string(node, value, path, errors)
        else:
            _type_error(errors, path, value, "an integer or a string")
    elif kind == "int-or-percent":
        if is_int(value):
            if value < 0:
                errors.append(FieldError(path, f"Invalid value: {value}: must be greater than or equal to 0"))
        elif not (isinstance(value, str) and (FRACTIONAL_PERCENT if node.get("fractionalPercent") else PERCENT).match(value)):
            _type_error(errors, path, value, 'a non-negative integer or a percentage ("10%")')
    elif kind == "quantity":
        if is_number(value):
            if value < 0:
                errors.append(FieldError(path, f"Invalid value: {render(value)}: a quantity must not be negative"))
        elif not (isinstance(value, str) and re.match(QUANTITY, value)):
            _type_error(errors, path, value, 'a quantity (a number, or a string such as "500m", "0.5", "1.5Gi")')
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
    if "enum" in node and not any(same(value, allowed) for allowed in node["enum"]):
        supported = ", ".join(render(v) for v in node["enum"])
        errors.append(FieldError(path, f"Unsupported value: {render(value)}: supported values: {supported}"))


def _check_string(node: dict, value: str, path: str, errors: list[FieldError]) -> None:
    if "pattern" in node and not re.search(node["pattern"], value):
        errors.append(FieldError(path, f"Invalid value: {render(value)}: must match the pattern {node['pattern']}"))
    if "minLength" in node and len(value) < node["minLength"]:
        errors.append(FieldError(path, f"Invalid value: {render(value)}: must be at least {node['minLength']} characters"))
    if "maxLength" in node and len(value) > node["maxLength"]:
        errors.append(FieldError(path, f"Invalid value: {render(value)}: must be at most {node['maxLength']} characters"))


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
            _check(child, value[name], join(path, name), errors, check_required)
        elif check_required and child.get("required"):
            errors.append(FieldError(join(path, name), "Required value"))
    if not node.get("preserveUnknownFields"):
        for name in sorted(set(value) - set(properties)):
            errors.append(FieldError(join(path, name), "Forbidden: unknown field"))
    for group_key in ("mutuallyExclusive", "exactlyOne"):
        if group_key not in node:
            continue
        groups = [g if isinstance(g, list) else [g] for g in node[group_key]]
        used = [g for g in groups if any(value.get(name) is not None for name in g)]
        names = ", ".join("/".join(g) for g in groups)
        if len(used) > 1:
            second = next(name for name in used[1] if value.get(name) is not None)
            errors.append(FieldError(join(path, second), f"Forbidden: only one of {names} may be set"))
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
            identity = render(item) if not keys else render(
                [item.get(k) for k in keys] if isinstance(item, dict) else item)
            if identity in seen:
                where = item_path if not keys or len(keys) > 1 else f"{item_path}.{keys[0]}"
                shown = item if not keys else (item.get(keys[0]) if len(keys) == 1 and isinstance(item, dict) else identity)
                errors.append(FieldError(where, f"Duplicate value: {render(shown)}"))
            seen.add(identity)


def same(left: Any, right: Any) -> bool:
    """Equality that keeps true != 1 and 1 != "1" (as JSON does)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, str) != isinstance(right, str):
        return False
    return left == right
