"""resourcesPolicy (sidecarset.md §2.9, v1.9.0 sidecarset_resources.go and pkg/util/calculator): a sidecar's
resources computed at pod creation from the pod's own containers.

Targets: the pod's native sidecar init containers, then its containers, minus every container any matched
SidecarSet injects, whose names match the regex (unanchored). None is an error that denies the pod. `sum`
adds (a limit only when every target has it, else unlimited; requests with missing ones as 0, a zero total
as absent); `max` takes the largest. Each expression is evaluated with `cpu` or `memory` (whichever word it
contains) bound to the aggregate: `+ - * /`, parentheses, `max(a, b)`, `min(a, b)`, percentages (`50%` is
0.5) and quantities (`50m`, `100Mi`), with Go's resource.Quantity arithmetic (milli precision, truncated;
the left operand's format, a zero's taking the other's), so `125Mi` comes out as `125Mi`. A limit expression
applies only when the aggregate limit exists. The result replaces the sidecar's `resources`.
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable

from controllers.common import quantity as q

from .containers import is_native_sidecar


class ResourcesPolicyError(ValueError):
    pass


@dataclass(frozen=True)
class Qty:
    """A resource.Quantity: its exact value and the format Go writes it in."""
    value: Fraction
    format: str

    def text(self) -> str:
        return q.format_quantity(q.Quantity(self.value, self.format, None, None))


Value = Qty | float


def _parse_quantity(text: str) -> Qty:
    parsed = q.parse(text)
    if parsed is None:
        raise ResourcesPolicyError(f"invalid quantity {text!r}")
    return Qty(parsed.value, parsed.format)


def _milli_value(value: Fraction) -> int:
    """Quantity.MilliValue: rounded up (away from zero)."""
    scaled = value * 1000
    return math.ceil(scaled) if scaled >= 0 else math.floor(scaled)


def _as_qty(v: Value) -> Qty:
    """NewMilliQuantity(int64(n * 1000), DecimalSI)."""
    return v if isinstance(v, Qty) else Qty(Fraction(int(v * 1000), 1000), q.DECIMAL_SI)


def _add(a: Value, b: Value, sign: int = 1) -> Value:
    if isinstance(a, Qty) or isinstance(b, Qty):
        left, right = _as_qty(a), _as_qty(b)
        form = right.format if left.value == 0 else left.format
        return Qty(left.value + sign * right.value, form)
    return a + sign * b


def _scale(a: Value, b: Value, divide: bool) -> Value:
    if isinstance(b, Qty) and (divide or isinstance(a, Qty)):
        raise ResourcesPolicyError("division by quantity" if divide else "multiplication of two quantities")
    if not divide and isinstance(b, Qty):
        a, b = b, a
    if divide and b == 0:
        raise ResourcesPolicyError("division by zero")
    if isinstance(a, Qty):
        millis = float(_milli_value(a.value))
        return Qty(Fraction(int(millis / b if divide else millis * b), 1000), a.format)
    return a / b if divide else a * b


def _extreme(a: Value, b: Value, want_max: bool) -> Value:
    if not isinstance(a, Qty) and not isinstance(b, Qty):
        return (a if a >= b else b) if want_max else (a if a <= b else b)
    left, right = _as_qty(a), _as_qty(b)
    if want_max:
        return left if left.value >= right.value else right
    return left if left.value <= right.value else right


_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?P<suffix>%|[A-Za-z]+)?"
                    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/(),]))")


def _tokens(expression: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expression.rstrip()):
        m = _TOKEN.match(expression, pos)
        if not m or m.end() == pos:
            raise ResourcesPolicyError(f"unexpected character at {pos} in {expression!r}")
        pos = m.end()
        if m.group("num"):
            suffix = m.group("suffix") or ""
            kind = "quantity" if suffix and suffix != "%" else "number"
            out.append((kind, m.group("num") + suffix))
        elif m.group("ident"):
            out.append(("ident", m.group("ident")))
        else:
            out.append(("op", m.group("op")))
    return out


class _Parser:
    def __init__(self, expression: str, variables: dict[str, Value]):
        self.tokens, self.pos, self.variables = _tokens(expression), 0, variables
        self.expression = expression

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, op: str) -> bool:
        if self.peek() == ("op", op):
            self.pos += 1
            return True
        return False

    def parse(self) -> Value:
        value = self.expr()
        if self.peek() is not None:
            raise ResourcesPolicyError(f"parse error in {self.expression!r}")
        return value

    def expr(self) -> Value:
        value = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            sign = 1 if self.tokens[self.pos][1] == "+" else -1
            self.pos += 1
            value = _add(value, self.term(), sign)
        return value

    def term(self) -> Value:
        value = self.factor()
        while self.peek() in (("op", "*"), ("op", "/")):
            divide = self.tokens[self.pos][1] == "/"
            self.pos += 1
            value = _scale(value, self.factor(), divide)
        return value

    def factor(self) -> Value:
        token = self.peek()
        if token is None:
            raise ResourcesPolicyError(f"parse error in {self.expression!r}")
        self.pos += 1
        kind, text = token
        if kind == "number":
            return float(text[:-1]) / 100 if text.endswith("%") else float(text)
        if kind == "quantity":
            return _parse_quantity(text)
        if token == ("op", "-"):
            operand = self.factor()
            return Qty(-operand.value, operand.format) if isinstance(operand, Qty) else -operand
        if token == ("op", "("):
            value = self.expr()
            if not self.take(")"):
                raise ResourcesPolicyError(f"parse error in {self.expression!r}: missing )")
            return value
        if kind == "ident":
            if self.take("("):
                args = [self.expr()]
                while self.take(","):
                    args.append(self.expr())
                if not self.take(")"):
                    raise ResourcesPolicyError(f"parse error in {self.expression!r}: missing )")
                if text.lower() not in ("max", "min"):
                    raise ResourcesPolicyError(f"unknown function: {text}")
                if len(args) != 2:
                    raise ResourcesPolicyError(f"{text.lower()} function requires exactly 2 arguments, got {len(args)}")
                return _extreme(args[0], args[1], text.lower() == "max")
            if text.lower() not in self.variables:
                raise ResourcesPolicyError(f"undefined variable: {text}")
            return self.variables[text.lower()]
        raise ResourcesPolicyError(f"parse error in {self.expression!r}")


def evaluate(expression: str, aggregate: Qty, is_limit: bool) -> Qty | None:
    """evaluateResourceExpression: the quantity, None for an unlimited (empty) limit expression."""
    if not expression:
        return None if is_limit else Qty(Fraction(0), q.DECIMAL_SI)
    variable = "memory" if re.search(r"\bmemory\b", expression) else "cpu"
    result = _Parser(expression, {variable: aggregate}).parse()
    if (result.value if isinstance(result, Qty) else result) < 0:
        raise ResourcesPolicyError(f"calculation result is negative: {expression!r}")
    if isinstance(result, Qty):
        return result
    if variable == "cpu":
        return Qty(Fraction(int(result * 1000), 1000), q.DECIMAL_SI)
    return Qty(Fraction(int(result)), q.DECIMAL_SI)


def _targets(pod: dict, regex: str, sidecarsets: Iterable[dict]) -> list[dict]:
    try:
        pattern = re.compile(regex)
    except re.error as e:
        raise ResourcesPolicyError(f"failed to get target containers: invalid regex pattern {regex!r}: {e}") from None
    injected = {c.get("name") for s in sidecarsets for key in ("initContainers", "containers")
                for c in (s.get("spec") or {}).get(key) or []}
    spec = pod.get("spec") or {}
    candidates = [c for c in spec.get("initContainers") or [] if is_native_sidecar(c)]
    candidates += list(spec.get("containers") or [])
    return [c for c in candidates if c.get("name") not in injected and pattern.search(c.get("name") or "")]


def _aggregate(targets: list[dict], mode: str) -> tuple[dict[str, Qty], dict[str, Qty]]:
    limits: dict[str, Qty] = {}
    requests: dict[str, Qty] = {}
    if mode not in ("sum", "max"):
        return limits, requests
    for resource in ("cpu", "memory"):
        own_limits = [((c.get("resources") or {}).get("limits") or {}).get(resource) for c in targets]
        own_requests = [((c.get("resources") or {}).get("requests") or {}).get(resource) for c in targets]
        parsed_limits = [_parse_quantity(str(v)) for v in own_limits if v is not None]
        parsed_requests = [_parse_quantity(str(v)) for v in own_requests if v is not None]
        if mode == "sum":
            if len(parsed_limits) == len(targets):
                total: Value = Qty(Fraction(0), q.DECIMAL_SI)
                for v in parsed_limits:
                    total = _add(total, v)
                limits[resource] = total
            total = Qty(Fraction(0), q.DECIMAL_SI)
            for v in parsed_requests:
                total = _add(total, v)
            if total.value:
                requests[resource] = total
        else:
            if parsed_limits and len(parsed_limits) == len(targets):
                limits[resource] = max(parsed_limits, key=lambda v: v.value)
            if parsed_requests:
                requests[resource] = max(parsed_requests, key=lambda v: v.value)
    return limits, requests


def apply_resources_policy(pod: dict, sidecar: dict, sidecarsets: list[dict]) -> dict:
    """The sidecar with its resources computed (a copy); ResourcesPolicyError denies the pod."""
    policy = sidecar.get("resourcesPolicy")
    if not policy:
        return sidecar
    regex = policy.get("targetContainersNameRegex", ".*")
    targets = _targets(pod, regex, sidecarsets)
    if not targets:
        raise ResourcesPolicyError(f"no containers match the regex pattern {regex!r}")
    limits, requests = _aggregate(targets, policy.get("targetContainersMode") or "")
    expressions = policy.get("resourcesExpr") or {}
    resources: dict[str, dict[str, str]] = {}
    for kind, aggregates, is_limit in (("limits", limits, True), ("requests", requests, False)):
        if expressions.get(kind) is None:
            continue
        computed = {}
        for resource in ("cpu", "memory"):
            expression = expressions[kind].get(resource) or ""
            if not expression or (is_limit and resource not in aggregates):
                continue
            try:
                value = evaluate(expression, aggregates.get(resource) or Qty(Fraction(0), q.DECIMAL_SI), is_limit)
            except ResourcesPolicyError as e:
                raise ResourcesPolicyError(f"failed to evaluate {'CPU' if resource == 'cpu' else 'memory'} {kind} "
                                           f"expression: {e}") from None
            if value is not None:
                computed[resource] = value.text()
        if computed:
            resources[kind] = computed
    out = copy.deepcopy(sidecar)
    out["resources"] = resources
    return out
