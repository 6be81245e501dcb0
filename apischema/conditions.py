"""Paths and conditions over plain dicts: where a rule or a default applies (`values_at`, `get`) and when
(`evaluate`). The language is documented, and checked when loaded, in generator/conditions.py."""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, NamedTuple

from .values import FRACTIONAL_PERCENT, is_int, join, same

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()


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
                following.append((join(where, segment), value[segment]))
            else:
                following.append((join(where, segment), MISSING))
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
    if is_int(value):
        return value
    if isinstance(value, str) and is_int(base):
        # Fractions only get here where the schema allows them (`fractionalPercent`).
        match = FRACTIONAL_PERCENT.match(value)
        if match:
            exact = Fraction(match.group(1)) * base / 100
            return math.ceil(exact) if round_up else math.floor(exact)
    return None


class _Context(NamedTuple):
    root: Any
    gates: dict[str, bool]


def evaluate(cond: dict, base: Any, root: Any, gates: dict[str, bool]) -> bool:
    """Evaluate a condition (see generator/conditions.py for the language)."""
    return _eval(cond, base, _Context(root, gates))


def _operand(bound: Any, base: Any, ctx: _Context) -> int | float | None:
    """A comparison's right side: a number, or another field's number ({field, missing}); None if that field
    holds something else (the value is refused by its own type check)."""
    if not isinstance(bound, dict):
        return bound
    path = bound["field"]
    value = get(path[2:], ctx.root, MISSING) if path.startswith("$.") else get(path, base, MISSING)
    if value is MISSING:
        return bound["missing"]
    return value if is_int(value) or isinstance(value, float) else None


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
        return any(same(value, cond["equals"]) for value in present)
    if "in" in cond:
        return any(any(same(value, option) for option in cond["in"]) for value in present)
    if "notIn" in cond:
        return all(not any(same(value, option) for option in cond["notIn"]) for value in present)
    if "containsItem" in cond:
        wanted = cond["containsItem"]
        return any(isinstance(value, list) and any(
            isinstance(item, dict) and all(same(item.get(k), v) for k, v in wanted.items()) for item in value)
            for value in present)
    for operator, compare in (("gt", lambda a, b: a > b), ("gte", lambda a, b: a >= b),
                              ("lt", lambda a, b: a < b), ("lte", lambda a, b: a <= b)):
        if operator in cond:
            scale = cond.get("scaledBy")
            if isinstance(scale, str):
                scale = get(scale, base) if not scale.startswith("$.") else get(scale[2:], ctx.root)
            round_up = cond.get("round", "up") == "up"
            numbers = [scaled(value, scale, round_up) if not isinstance(value, float) else value for value in present]
            bound = _operand(cond[operator], base, ctx)
            return bound is not None and any(number is not None and compare(number, bound) for number in numbers)
    raise ValueError(f"unknown condition {cond!r}")
