"""The field format of schema/ (see schema/README.md): parsing and syntax checks, one node at a time.

A field is a mapping with either `type` or `ref`. Every problem is reported with the file and the field path
(`spec.updateStrategy.type`, `definitions.Lifecycle.preDelete`, `spec.containers[*].name`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field as dataclass_field
from typing import Any

from .conditions import parse_condition
from .errors import SchemaError

FIELD_TYPES = ("string", "boolean", "int32", "int64", "number", "int-or-string", "int-or-percent",
               "date-time", "object", "array", "map", "schemaless")
# Types only chart values may use: a Kubernetes resource quantity is a number (`cpu: 0.5`) or a string
# (`"500m"`, `1.5Gi`); the API schema has no use for one yet (it would need the CRD's int-or-string form).
CHART_VALUE_TYPES = ("quantity",)

# Attributes every field may carry, whatever its type.
COMMON_KEYS = {"description", "required", "default", "defaultIf", "crdDefault", "fallback", "versions",
               "defaultCases", "rewrite"}
# Extra attributes of a `ref` field: the version to resolve the referenced type in, whether its defaults
# apply here, and per-use overrides of its properties' defaults.
REF_KEYS = {"ref", "refVersion", "applyDefaults", "defaults"}
TYPE_KEYS: dict[str, set[str]] = {
    "string": {"enum", "pattern", "minLength", "maxLength"},
    "boolean": set(),
    "int32": {"enum", "minimum", "maximum"},
    "int64": {"enum", "minimum", "maximum"},
    "number": {"enum", "minimum", "maximum"},
    "int-or-string": {"enum", "pattern", "minimum", "maximum"},
    "int-or-percent": {"fractionalPercent"},
    "date-time": set(),
    "object": {"properties", "preserveUnknownFields", "mutuallyExclusive", "exactlyOne"},
    "array": {"items", "minItems", "maxItems", "unique", "uniqueBy"},
    "map": {"values"},
    "schemaless": set(),
    "quantity": set(),
}


@dataclass
class Field:
    """One parsed field node. `attrs` holds everything but the children."""

    file: str
    path: str
    attrs: dict[str, Any]
    properties: dict[str, "Field"] = dataclass_field(default_factory=dict)
    items: "Field | None" = None
    values: "Field | None" = None

    @property
    def type(self) -> str | None:
        return self.attrs.get("type")

    @property
    def ref(self) -> str | None:
        return self.attrs.get("ref")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _expect(condition: bool, file: str, path: str, message: str) -> None:
    if not condition:
        raise SchemaError(file, path, message)


def parse_field(raw: Any, file: str, path: str, feature_gates: set[str],
                types: tuple[str, ...] = FIELD_TYPES) -> Field:
    """Parse one field (recursively) and check its syntax. Semantic checks happen when resolving. `types`:
    the types allowed here (chart values add CHART_VALUE_TYPES)."""
    _expect(isinstance(raw, dict), file, path, f"a field must be a mapping with `type` or `ref`, got {raw!r}")
    has_type, has_ref = "type" in raw, "ref" in raw
    if has_type == has_ref:
        raise SchemaError(file, path, "a field needs exactly one of `type` and `ref`")
    if has_type:
        kind = raw["type"]
        hint = " (a chart-values type)" if kind in CHART_VALUE_TYPES else ""
        _expect(kind in types, file, f"{path}.type", f"unknown type {kind!r}{hint}; known types: {', '.join(types)}")
        allowed = COMMON_KEYS | {"type"} | TYPE_KEYS[kind]
    else:
        _expect(isinstance(raw["ref"], str) and raw["ref"], file, f"{path}.ref", "ref must name a definition")
        allowed = COMMON_KEYS | REF_KEYS
    unknown = sorted(set(raw) - allowed)
    if unknown:
        what = "a ref field" if has_ref else f"a {raw['type']} field"
        raise SchemaError(file, f"{path}.{unknown[0]}",
                          f"unknown key {unknown[0]!r} for {what}; allowed: {', '.join(sorted(allowed))}")
    _check_common(raw, file, path, feature_gates)
    attrs = {key: value for key, value in raw.items() if key not in ("properties", "items", "values")}
    node = Field(file=file, path=path, attrs=attrs)
    if has_ref:
        _check_ref(raw, file, path)
        return node
    kind = raw["type"]
    _check_constraints(raw, kind, file, path)
    if kind == "object":
        properties = raw.get("properties", {})
        _expect(isinstance(properties, dict), file, f"{path}.properties", "properties must be a mapping")
        for name, child in properties.items():
            _expect(isinstance(name, str) and re.match(r"^[A-Za-z_$][A-Za-z0-9_-]*$", name) is not None,
                    file, f"{path}.properties", f"invalid property name {name!r}")
            node.properties[name] = parse_field(child, file, f"{path}.{name}", feature_gates, types)
        _check_groups(raw, node, file, path)
    elif kind == "array":
        _expect("items" in raw, file, path, "an array field needs `items`")
        node.items = parse_field(raw["items"], file, f"{path}[*]", feature_gates, types)
    elif kind == "map":
        _expect("values" in raw, file, path, "a map field needs `values`")
        node.values = parse_field(raw["values"], file, f"{path}{{*}}", feature_gates, types)
    return node


def _check_common(raw: dict, file: str, path: str, feature_gates: set[str]) -> None:
    if "description" in raw:
        _expect(isinstance(raw["description"], str), file, f"{path}.description", "description must be a string")
    for key in ("required", "crdDefault", "applyDefaults", "preserveUnknownFields", "unique"):
        if key in raw:
            _expect(isinstance(raw[key], bool), file, f"{path}.{key}", f"{key} must be true or false")
    if "versions" in raw:
        versions = raw["versions"]
        _expect(isinstance(versions, list) and versions and all(isinstance(v, str) for v in versions),
                file, f"{path}.versions", "versions must be a non-empty list of version names")
    if "defaultIf" in raw:
        _expect("default" in raw, file, f"{path}.defaultIf", "defaultIf needs a default")
        parse_condition(raw["defaultIf"], file, f"{path}.defaultIf", feature_gates)
    for index, case in enumerate(raw.get("defaultCases", None) or []):
        at = f"{path}.defaultCases[{index}]"
        _expect(isinstance(case, dict) and set(case) == {"value", "when"}, file, at,
                "a default case is {value, when}")
        parse_condition(case["when"], file, f"{at}.when", feature_gates)
    if "defaultCases" in raw:
        _expect(isinstance(raw["defaultCases"], list) and raw["defaultCases"], file, f"{path}.defaultCases",
                "defaultCases must be a non-empty list of {value, when}")
    if "rewrite" in raw:
        rewrite = raw["rewrite"]
        _expect(isinstance(rewrite, dict) and rewrite and all(
            isinstance(v, str) and isinstance(m, dict) and m for v, m in rewrite.items()), file, f"{path}.rewrite",
            "rewrite maps a version to {old value: new value}")
    if "crdDefault" in raw:
        _expect("default" in raw, file, f"{path}.crdDefault", "crdDefault needs a default")
        _expect("defaultIf" not in raw, file, f"{path}.crdDefault",
                "a conditional default cannot go into the CRD (the API server has no conditions)")


def _check_ref(raw: dict, file: str, path: str) -> None:
    if "refVersion" in raw:
        _expect(isinstance(raw["refVersion"], str), file, f"{path}.refVersion", "refVersion must be a version name")
    if "defaults" in raw:
        _expect(isinstance(raw["defaults"], dict) and raw["defaults"], file, f"{path}.defaults",
                "defaults must map property names of the referenced type to default values")


def _check_constraints(raw: dict, kind: str, file: str, path: str) -> None:
    for key in ("minimum", "maximum"):
        if key in raw:
            _expect(_is_number(raw[key]), file, f"{path}.{key}", f"{key} must be a number")
    for key in ("minLength", "maxLength", "minItems", "maxItems"):
        if key in raw:
            _expect(isinstance(raw[key], int) and not isinstance(raw[key], bool) and raw[key] >= 0,
                    file, f"{path}.{key}", f"{key} must be a non-negative integer")
    if "minimum" in raw and "maximum" in raw:
        _expect(raw["minimum"] <= raw["maximum"], file, f"{path}.maximum", "maximum is below minimum")
    if "pattern" in raw:
        _expect(isinstance(raw["pattern"], str), file, f"{path}.pattern", "pattern must be a string")
        try:
            re.compile(raw["pattern"])
        except re.error as err:
            raise SchemaError(file, f"{path}.pattern", f"invalid regular expression: {err}") from None
    if "enum" in raw:
        _expect(isinstance(raw["enum"], list) and raw["enum"], file, f"{path}.enum", "enum must be a non-empty list")
        for index, value in enumerate(raw["enum"]):
            ok = {"string": isinstance(value, str),
                  "int-or-string": isinstance(value, (int, str)) and not isinstance(value, bool)}.get(
                kind, _is_number(value))
            _expect(ok, file, f"{path}.enum[{index}]", f"{value!r} is not a valid {kind}")
    if "uniqueBy" in raw:
        _expect(isinstance(raw["uniqueBy"], list) and raw["uniqueBy"]
                and all(isinstance(k, str) for k in raw["uniqueBy"]),
                file, f"{path}.uniqueBy", "uniqueBy must list item property names")


def _check_groups(raw: dict, node: Field, file: str, path: str) -> None:
    """mutuallyExclusive: names or lists of names (at most one group set); exactlyOne: names (one set)."""
    for key in ("mutuallyExclusive", "exactlyOne"):
        if key not in raw:
            continue
        groups = raw[key]
        _expect(isinstance(groups, list) and len(groups) >= 2, file, f"{path}.{key}",
                f"{key} needs at least two property names")
        for index, group in enumerate(groups):
            names = group if isinstance(group, list) and key == "mutuallyExclusive" else [group]
            for name in names:
                _expect(isinstance(name, str) and name in node.properties, file, f"{path}.{key}[{index}]",
                        f"{name!r} is not a property of this object")
