"""Workload status helpers shared by the controllers: failure conditions and "did the status change".

A workload's status is written whole through the status subresource (`actions.update_status`), and only when
it differs from the observed one, so that a converged workload asks for nothing.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .times import format_time

JSON = dict[str, Any]


def with_conditions(status: JSON, old_status: JSON, failures: dict[str, str], owned_types: tuple[str, ...],
                    now: datetime) -> JSON:
    """Conditions of `owned_types` for this round's failures (type → message); a failure already reported keeps
    its condition as it is (its first message and time: a quota refusal names a new pod each round, and
    rewriting it would make every failing retry a status write and a watch event that skips the error backoff),
    and conditions of other types (written by others) are kept.

    `conditions` is always present, empty when there is nothing to report, so that a status written as a
    merge patch also clears a failure that went away."""
    old = {c.get("type"): c for c in old_status.get("conditions") or [] if isinstance(c, dict)}
    conditions = [c for t, c in old.items() if t not in owned_types]
    for ctype in owned_types:
        if ctype not in failures:
            continue
        previous = old.get(ctype)
        if previous and previous.get("status") == "True":
            conditions.append(previous)
        else:
            conditions.append({"type": ctype, "status": "True", "lastTransitionTime": format_time(now),
                               "message": failures[ctype]})
    return dict(status, conditions=conditions)


def _normalized(status: JSON | None) -> JSON:
    return {k: v for k, v in (status or {}).items() if v not in (None, [], {}, "")}


def status_changed(old: JSON | None, new: JSON) -> bool:
    """Semantic inequality: a missing field, null, empty list and empty string are the same thing."""
    return _normalized(old) != _normalized(new)
