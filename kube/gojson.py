"""JSON exactly as Go's encoding/json writes a decoded document (`json.Marshal` of an `interface{}`).

Why it matters: a ControllerRevision's `data` is a RawExtension, stored as the bytes the client sent and
compared byte for byte on every update (`data` is immutable). A PATCH, including the garbage collector's when
it orphans a revision (`kubectl delete --cascade=orphan`), re-encodes `data` the Go way: keys sorted, no spaces,
`<`, `>` and `&` escaped. Bytes written any other way are then "changed" and the update is refused (422 field
is immutable), so a revision is created with its bytes already in that form, as client-go's are.
"""
from __future__ import annotations

import math
from typing import Any

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        elif "\ud800" <= ch <= "\udfff":
            out.append("\ufffd")  # a lone surrogate is not valid UTF-8; Go writes the replacement character
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _number(value: int | float) -> str:
    """A JSON number decoded by Go is a float64, written back with strconv.FormatFloat ('f', or 'e' outside
    [1e-6, 1e21), exponents without a leading zero)."""
    f = float(value)
    if not math.isfinite(f):
        raise ValueError(f"{value!r} is not representable in JSON")
    if f == 0:
        return "0"
    if 1e-6 <= abs(f) < 1e21:
        if f == int(f):
            return str(int(f))
        return repr(f)
    mantissa, _, exponent = f"{f!r}".replace("E", "e").partition("e")
    if not exponent:  # repr chose fixed notation
        mantissa, _, exponent = f"{f:e}".partition("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"


def dumps(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{_string(k)}:{dumps(v)}" for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
