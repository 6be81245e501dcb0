"""Kubernetes resource quantities as the API server writes them back (k8s.io/apimachinery resource.Quantity,
the version Kubernetes v1.20 vendors: quantity.go, amount.go, suffix.go).

A quantity sent as "1000m" comes back from the API server as "1", "1.5Gi" as "1536Mi" and "100u" in a pod's
resources as "1m". The pod-template defaulter needs the same text, so that a stored template equals what
Kubernetes stores for a pod or PodTemplate made from it:

    canonical("1.5Gi") == "1536Mi"; canonical("100u", round_to_milli=True) == "1m"; canonical("1e") is None

Go keeps the text it parsed when it was already canonical ("007", "+5", "1." survive), and so do we: that
rule is in `parse` (ParseQuantity's fast path). Values are exact (Fraction), never floats.
"""
from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, NamedTuple

DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT = "DecimalSI", "BinarySI", "DecimalExponent"
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIX_OF = {exponent: suffix for suffix, exponent in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIX_OF = {exponent: suffix for suffix, exponent in _BINARY_SUFFIXES.items()}
_MAX_INT64_FACTORS = 18   # decimal digits an int64 always holds (quantity.go maxInt64Factors)
_NANO, _MILLI = -9, -3
_INT64_MAX = 2 ** 63 - 1
_SUFFIX_CHARS = set("eEinumkKMGTP")


class Quantity(NamedTuple):
    value: Fraction
    format: str
    text: str | None
    """The parsed text when Go keeps it (already canonical); None when it writes the canonical form."""
    scale: int | None
    """The decimal scale of Go's int64 representation (fast path); None for its inf.Dec one (slow path)."""


def _split(text: str) -> tuple[bool, str, str, str, str] | None:
    """parseQuantityString: sign, the number as written (with sign), numerator without leading zeros,
    denominator digits, suffix; None when the text is not a number followed by a suffix."""
    positive, pos, end = True, 0, len(text)
    if pos < end and text[0] in "+-":
        positive, pos = text[0] == "+", 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, text, "0", "", ""
    start = pos
    while pos < end and text[pos].isdigit():
        pos += 1
    numerator = text[start:pos] or "0"
    denominator = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos].isdigit():
            pos += 1
        denominator = text[start:pos]
    number, suffix = text[:pos], text[pos:]
    index = 0
    while index < len(suffix) and suffix[index] in _SUFFIX_CHARS:
        index += 1
    if index < len(suffix) and suffix[index] in "+-":
        index += 1
    if any(not c.isdigit() for c in suffix[index:]):
        return None
    return positive, number, numerator, denominator, suffix


def _interpret(suffix: str) -> tuple[int, int, str] | None:
    """(base, exponent, format) of a suffix (suffix.go interpret)."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        try:
            return 10, int(suffix[1:]), DECIMAL_EXPONENT
        except ValueError:
            return None
    return None


def _go_number_text(value: Any) -> str | None:
    """A JSON number as Go's encoding/json writes it (plain digits between 1e-6 and 1e21), which is the
    text resource.Quantity parses when a quantity is sent as a number rather than a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        exact = Decimal(repr(value))
        if value == 0 or 1e-6 <= abs(value) < 1e21:
            text = format(exact, "f")
            return text.rstrip("0").rstrip(".") if "." in text else text
        return repr(value).replace("e-0", "e-")
    return None


def _round_away(value: Fraction, scale: int) -> Fraction:
    """`value` rounded away from zero to a multiple of 10**scale (inf.RoundUp)."""
    unit = Fraction(10) ** scale
    steps = math.ceil(abs(value) / unit)
    return (steps if value >= 0 else -steps) * unit


def parse(raw: Any) -> Quantity | None:
    """ParseQuantity; None for what the API server would refuse."""
    text = raw.strip() if isinstance(raw, str) else _go_number_text(raw)
    if not text:
        return None
    if text == "0":
        return Quantity(Fraction(0), DECIMAL_SI, "0", 0)
    split = _split(text)
    if split is None:
        return None
    positive, number, numerator, denominator, suffix = split
    interpreted = _interpret(suffix)
    if interpreted is None:
        return None
    base, exponent, form = interpreted
    # Fast path: the value fits an int64 with a scale of at least nano; Go then keeps canonical-looking text.
    scale, multiplier = exponent, 1
    if form == BINARY_SI:
        scale = 0
        precision = (15 - len(numerator) - int(exponent * 3 / 10) - 1) if not denominator else -1
        multiplier = 2 ** exponent
    else:
        precision = _MAX_INT64_FACTORS - (len(numerator) + len(denominator))
    if precision >= 0 and scale - len(denominator) >= _NANO:
        scale -= len(denominator)
        shifted = numerator + denominator
        digits = int(shifted)
        result = digits * multiplier
        if result <= _INT64_MAX:
            value = Fraction(result if positive else -result) * Fraction(10) ** scale
            if form == BINARY_SI:
                canonical_text = exponent % 10 == 0 and digits & 7 != 0
            else:
                canonical_text = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
            return Quantity(value, form, text if canonical_text else None, scale)
    # Slow path (inf.Dec): exact value, rounded away from zero to nano, binary capped at int64.
    try:
        amount = Fraction(Decimal(number))
    except (InvalidOperation, ValueError):
        return None
    amount = abs(amount) * (Fraction(10) ** exponent if base == 10 else 2 ** exponent)
    if amount:
        amount = _round_away(amount, _NANO)
    if form == BINARY_SI and amount > _INT64_MAX:
        amount = Fraction(_INT64_MAX)
    if form == BINARY_SI and 0 < amount < 1:
        form = DECIMAL_SI
    return Quantity(amount if positive else -amount, form, None, None)


def value_of(raw: Any, default: Fraction | int | None = None) -> Fraction | int | None:
    """The exact value of a quantity, for comparing sizes ("1Gi" < "1500Mi"); `default` for what the API
    server would refuse."""
    q = parse(raw)
    return default if q is None else q.value


def round_up_to_milli(q: Quantity) -> Quantity:
    """Quantity.RoundUp(-3), as SetDefaults_ResourceList calls it: the text survives only when Go's value
    already had a scale of milli or coarser."""
    if q.scale is not None and q.scale >= _MILLI:
        return q
    return Quantity(_round_away(q.value, _MILLI), q.format, None, _MILLI)


def _decimal_parts(value: Fraction) -> tuple[int, int]:
    """|value| as mantissa * 10**exponent with the exponent a multiple of 3 and the mantissa as small as
    that allows (AsCanonicalBytes). The value has at most nine decimals."""
    mantissa, exponent = abs(value) * 10 ** 9, -9
    mantissa = int(mantissa)
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3
    return mantissa * 10 ** shift, exponent - shift


def format_quantity(q: Quantity) -> str:
    """Quantity.String (CanonicalizeBytes), or the kept text."""
    if q.text is not None:
        return q.text
    if q.value == 0:
        return "0"
    sign = "-" if q.value < 0 else ""
    form = q.format
    if form == BINARY_SI and (abs(q.value) < 1024 or q.value.denominator != 1):
        form = DECIMAL_SI
    if form == BINARY_SI:
        mantissa, exponent = abs(int(q.value)), 0
        while mantissa >= 1024 and mantissa % 1024 == 0:
            mantissa //= 1024
            exponent += 10
        return f"{sign}{mantissa}{_BINARY_SUFFIX_OF[exponent]}"
    mantissa, exponent = _decimal_parts(q.value)
    if form == DECIMAL_EXPONENT:
        return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
    # Go finds no decimal suffix above E (10**18) and writes the bare mantissa ("10000E" comes back as "10").
    return f"{sign}{mantissa}{_DECIMAL_SUFFIX_OF.get(exponent, '')}"


def canonical(raw: Any, *, round_to_milli: bool = False) -> str | None:
    """The text the API server writes for `raw`, rounded up to milli as SetDefaults_ResourceList does when
    asked; None when `raw` is not a quantity."""
    q = parse(raw)
    if q is None:
        return None
    return format_quantity(round_up_to_milli(q) if round_to_milli else q)


__all__ = ["Quantity", "canonical", "format_quantity", "parse", "round_up_to_milli", "value_of"]
