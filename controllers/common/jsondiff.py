"""A minimal RFC 6902 diff (in the spirit of `github.com/appscode/jsonpatch`): it classifies template changes
(`inplace.calculate_update_spec`) and is the JSON patch of the admission webhooks' responses.

Objects are compared key by key and lists of equal length element by element; a list that changes length is
reported as one `replace` of the whole list (upstream reports add/remove operations there; either way the
change is not an image replacement, which is all the classification needs, and the patch stays correct).
"""
from __future__ import annotations

from typing import Any


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Operations turning `old` into `new`, in a deterministic order."""
    if isinstance(old, dict) and isinstance(new, dict):
        ops: list[dict[str, Any]] = []
        for key in sorted(set(old) | set(new)):
            child = f"{path}/{_escape(str(key))}"
            if key not in new:
                ops.append({"op": "remove", "path": child})
            elif key not in old:
                ops.append({"op": "add", "path": child, "value": new[key]})
            else:
                ops.extend(diff(old[key], new[key], child))
        return ops
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        ops = []
        for i, (a, b) in enumerate(zip(old, new)):
            ops.extend(diff(a, b, f"{path}/{i}"))
        return ops
    if old == new and type(old) is type(new):
        return []
    return [{"op": "replace", "path": path, "value": new}]
