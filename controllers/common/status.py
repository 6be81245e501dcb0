"""Workload status helpers shared by the controllers: failure conditions, "did the status change", and when
to look again for availableReplicas.

A workload's status is written whole through the status subresource (`actions.update_status`), and only when
it differs from the observed one, so that a converged workload asks for nothing.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from .pods import seconds_until_available
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


def min_ready_requeue(pods: list[JSON], min_ready_seconds: int, now: datetime, *, ready: Callable[[JSON], bool],
                      available: Callable[[JSON], bool]) -> float | None:
    """When the next pod that is `ready` but not yet `available` becomes available by time alone (upstream
    requeues after minReadySeconds), so that availableReplicas follows; None when no pod waits for that.
    Each kind says what ready and available mean for its pods."""
    if not min_ready_seconds:
        return None
    waits = [seconds_until_available(p, min_ready_seconds, now) for p in pods if ready(p) and not available(p)]
    waits = [w for w in waits if w is not None]
    return min(waits) if waits else None
