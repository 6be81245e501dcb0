"""Conditions: the small declarative language shared by `defaultIf` (schema) and admission rules (policies).

    {field: <path>, equals: v} | {field, in: [..]} | {field, notIn: [..]} | {field, present: bool}
    {field, nonEmpty: bool} | {field, containsItem: {k: v}} | {field, gt|gte|lt|lte: n [, scaledBy: <path|n>, round: up|down]}
    {field, gt|gte|lt|lte: {field: <path>, missing: n}}   (compared with another field; `missing`: its value when unset)
    {all: [cond...]} | {any: [cond...]} | {not: cond} | {featureGate: <name>}

Paths are dotted, `[*]` walks array items, and a leading `$.` starts from the object root instead of the
current base (the parent object for `defaultIf`, the object or the `forEach` item for rules).
"""
from __future__ import annotations

import re
from typing import Any, Iterator

from .errors import SchemaError

FIELD_OPERATORS = ("equals", "in", "notIn", "present", "nonEmpty", "containsItem", "gt", "gte", "lt", "lte")
NUMERIC_OPERATORS = ("gt", "gte", "lt", "lte")
_PATH = re.compile(r"^(\$\.)?[A-Za-z_][A-Za-z0-9_-]*(\[\*\])?(\.[A-Za-z_][A-Za-z0-9_-]*(\[\*\])?)*$")


def check_path(path: Any, file: str, where: str) -> str:
    if not isinstance(path, str) or not _PATH.match(path):
        raise SchemaError(file, where, f"invalid field path {path!r} (expected dotted names, optional [*] and $. prefix)")
    return path


def split_path(path: str) -> tuple[bool, list[str]]:
    """'$.spec.a[*].b' -> (True, ['spec', 'a', '[*]', 'b'])."""
    absolute = path.startswith("$.")
    if absolute:
        path = path[2:]
    segments: list[str] = []
    for part in path.split("."):
        if part.endswith("[*]"):
            segments.extend([part[:-3], "[*]"])
        else:
            segments.append(part)
    return absolute, segments


def parse_condition(raw: Any, file: str, where: str, feature_gates: set[str] | None = None) -> dict:
    """Check a condition's syntax and return it unchanged (it is already plain data)."""
    if not isinstance(raw, dict) or not raw:
        raise SchemaError(file, where, "a condition must be a non-empty mapping")
    if "all" in raw or "any" in raw:
        key = "all" if "all" in raw else "any"
        if set(raw) != {key} or not isinstance(raw[key], list) or not raw[key]:
            raise SchemaError(file, where, f"'{key}' takes a non-empty list of conditions and nothing else")
        for index, item in enumerate(raw[key]):
            parse_condition(item, file, f"{where}.{key}[{index}]", feature_gates)
        return raw
    if "not" in raw:
        if set(raw) != {"not"}:
            raise SchemaError(file, where, "'not' takes one condition and nothing else")
        parse_condition(raw["not"], file, f"{where}.not", feature_gates)
        return raw
    if "featureGate" in raw:
        if set(raw) != {"featureGate"} or not isinstance(raw["featureGate"], str):
            raise SchemaError(file, where, "'featureGate' takes a gate name and nothing else")
        if feature_gates is not None and raw["featureGate"] not in feature_gates:
            raise SchemaError(file, f"{where}.featureGate",
                              f"unknown feature gate {raw['featureGate']!r} (declare it in policies/feature-gates.yaml)")
        return raw
    if "field" not in raw:
        raise SchemaError(file, where, "a condition needs one of: field, all, any, not, featureGate")
    check_path(raw["field"], file, f"{where}.field")
    operators = [key for key in raw if key in FIELD_OPERATORS]
    extra = set(raw) - {"field", "scaledBy", "round"} - set(FIELD_OPERATORS)
    if extra:
        raise SchemaError(file, where, f"unknown condition keys {sorted(extra)}; operators: {', '.join(FIELD_OPERATORS)}")
    if len(operators) != 1:
        raise SchemaError(file, where, f"a field condition needs exactly one operator of {', '.join(FIELD_OPERATORS)}")
    operator = operators[0]
    value = raw[operator]
    if operator in ("in", "notIn") and not isinstance(value, list):
        raise SchemaError(file, f"{where}.{operator}", "expects a list")
    if operator in ("present", "nonEmpty") and not isinstance(value, bool):
        raise SchemaError(file, f"{where}.{operator}", "expects true or false")
    if operator == "containsItem" and not isinstance(value, dict):
        raise SchemaError(file, f"{where}.{operator}", "expects a mapping of item fields")
    if operator in NUMERIC_OPERATORS and isinstance(value, dict):
        if set(value) != {"field", "missing"} or isinstance(value["missing"], bool) \
                or not isinstance(value["missing"], (int, float)):
            raise SchemaError(file, f"{where}.{operator}", "expects a number or {field: <path>, missing: <number>}")
        check_path(value["field"], file, f"{where}.{operator}.field")
    elif operator in NUMERIC_OPERATORS and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise SchemaError(file, f"{where}.{operator}", "expects a number")
    if ("scaledBy" in raw or "round" in raw) and operator not in NUMERIC_OPERATORS:
        raise SchemaError(file, where, "scaledBy/round only go with gt, gte, lt, lte")
    if "scaledBy" in raw and not isinstance(raw["scaledBy"], (int, str)):
        raise SchemaError(file, f"{where}.scaledBy", "expects a field path or a number")
    if isinstance(raw.get("scaledBy"), str):
        check_path(raw["scaledBy"], file, f"{where}.scaledBy")
    if raw.get("round", "up") not in ("up", "down"):
        raise SchemaError(file, f"{where}.round", "expects up or down")
    return raw


def condition_paths(cond: dict) -> Iterator[str]:
    """Every field path a condition reads (for checking them against the schema)."""
    for key in ("all", "any"):
        if key in cond:
            for item in cond[key]:
                yield from condition_paths(item)
            return
    if "not" in cond:
        yield from condition_paths(cond["not"])
        return
    if "field" in cond:
        yield cond["field"]
        if isinstance(cond.get("scaledBy"), str):
            yield cond["scaledBy"]
        for operator in NUMERIC_OPERATORS:
            if isinstance(cond.get(operator), dict):
                yield cond[operator]["field"]


def condition_gates(cond: dict) -> Iterator[str]:
    for key in ("all", "any"):
        if key in cond:
            for item in cond[key]:
                yield from condition_gates(item)
    if "not" in cond:
        yield from condition_gates(cond["not"])
    if "featureGate" in cond:
        yield cond["featureGate"]
