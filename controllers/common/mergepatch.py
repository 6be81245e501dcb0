"""JSON merge patches (RFC 7386): applying one to an object, or combining several into one request."""
from __future__ import annotations

from typing import Any


def merge_patch(target: Any, patch: Any, *, keep_nulls: bool = False) -> Any:
    """`patch` applied to `target`, as a new value (neither is modified): objects merge key by key, a null
    removes the key, anything else replaces what was there.

    `keep_nulls=True` combines two patches into one instead (the later wins): a null stays, as the deletion it
    asks of the object the combined patch is sent to."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None and not keep_nulls:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value, keep_nulls=keep_nulls)
    return out
