"""Int-or-percent values (`k8s.io/apimachinery/pkg/util/intstr`), as used by maxUnavailable, maxSurge, partition."""
from __future__ import annotations

import math
import re
from fractions import Fraction

# A fraction ("1.5%") only reaches here where the schema allows it (CloneSet, `fractionalPercent`).
_PERCENT = re.compile(r"^(-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+))%$")


def scaled_value(value: int | str | None, total: int, round_up: bool, default: int | str | None = None) -> int:
    """GetScaledValueFromIntOrPercent: an int as is; "N%" of `total`, rounded up or down.

    Raises ValueError for anything else (a string without a trailing %, a bool, a float), like upstream.
    """
    if value is None:
        value = default
    if value is None:
        raise ValueError("nil value for IntOrString")
    if isinstance(value, bool):
        raise ValueError(f"invalid value for IntOrString: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        m = _PERCENT.match(value.strip())
        if not m:
            raise ValueError(f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}")
        # Exact rational maths: float rounding must not turn 3 * 100 / 100 into 3.0000000004.
        numerator = Fraction(m.group(1)) * total
        return math.ceil(numerator / 100) if round_up else math.floor(numerator / 100)
    raise ValueError(f"invalid value for IntOrString: {value!r}")


def scaled_value_or(value: int | str | None, total: int, round_up: bool, fallback: int) -> int:
    """`scaled_value`, or `fallback` when the value is missing or invalid (upstream logs and ignores the error)."""
    try:
        return scaled_value(value, total, round_up)
    except ValueError:
        return fallback


MAX_INT32 = 2**31 - 1
