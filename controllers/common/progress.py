"""The `Progressing` condition of a rollout with a progress deadline, as Deployment has it and OpenKruise v1.9.0
gave CloneSet (`pkg/controller/cloneset/cloneset_status.go calculateProgressingStatus`, `utils/cloneset_utils.go`).

Written once here, for any kind whose spec has `progressDeadlineSeconds`; the kind says what its rollout looks
like now (`Rollout`) and names its reasons after itself (`<Kind>Available`, `<Kind>Paused`, `<Kind>Updated`).

| the rollout (the first that applies)                       | status | reason                     | lastUpdateTime |
|------------------------------------------------------------|--------|----------------------------|----------------|
| available: replicas pods at the update revision, available | True   | <Kind>Available            | its start      |
| paused (updateStrategy.paused)                             | True   | <Kind>Paused               | its start      |
| partition reached: fewer to update than replicas, all up   | True   | ProgressPartitionAvailable | its start      |
| progressing for longer than the deadline                   | False  | ProgressDeadlineExceeded   | the deadline   |
| otherwise                                                  | True   | <Kind>Updated              | progress began |

Upstream's condition setter keeps a condition whose status and reason do not change, so the deadline is
measured from when the rollout started progressing (from available, paused, partition-available, or nothing);
time paused does not count. Two differences, both what upstream's own unit tests expect and what Deployment
does, where upstream's wiring (it carries the old conditions into the new status) does otherwise:
- a rollout that leaves Available, Paused or PartitionAvailable starts its clock then; upstream measures it from
  the old condition's lastUpdateTime, so a CloneSet available for longer than the deadline timed out on the
  first round of its next update;
- a new update revision starts a new clock, also after ProgressDeadlineExceeded; upstream keeps the timed-out
  condition until the CloneSet becomes available or paused.

Without a deadline (unset, or 2147483647 as Deployment's "none"), there is no Progressing condition.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .times import format_time, parse_time, seconds_until

JSON = dict[str, Any]

PROGRESSING = "Progressing"
NO_DEADLINE = 2**31 - 1  # math.MaxInt32: progressDeadlineSeconds that means "no deadline"
DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
PARTITION_AVAILABLE = "ProgressPartitionAvailable"


def available_reason(kind: str) -> str:
    return f"{kind}Available"


def paused_reason(kind: str) -> str:
    return f"{kind}Paused"


def updated_reason(kind: str) -> str:
    return f"{kind}Updated"


@dataclass(frozen=True)
class Rollout:
    """What the kind sees of its rollout this round."""

    kind: str  # names the reasons and messages: CloneSet → CloneSetAvailable, "CloneSet is available"
    deadline_seconds: int | None  # spec.progressDeadlineSeconds
    available: bool
    paused: bool
    partition_available: bool
    update_revision: str
    previous_update_revision: str  # status.updateRevision as the previous round wrote it


@dataclass(frozen=True)
class Progress:
    condition: JSON | None  # the Progressing condition to write; None: there is none
    requeue_after: float | None  # when the deadline passes, for a rollout still progressing


def has_deadline(deadline_seconds: int | None) -> bool:
    return deadline_seconds is not None and deadline_seconds != NO_DEADLINE


def find_condition(conditions: list[JSON] | None, ctype: str) -> JSON | None:
    return next((c for c in conditions or [] if isinstance(c, dict) and c.get("type") == ctype), None)


def _condition(status: str, reason: str, message: str, now: datetime, previous: JSON | None) -> JSON:
    """SetCloneSetCondition: a condition whose status and reason are unchanged stays as it is (times too);
    one whose status is unchanged keeps its lastTransitionTime."""
    if previous and previous.get("status") == status and previous.get("reason") == reason:
        return previous
    stamp = format_time(now)
    transition = previous.get("lastTransitionTime") if previous and previous.get("status") == status else None
    return {"type": PROGRESSING, "status": status, "lastUpdateTime": stamp,
            "lastTransitionTime": transition or stamp, "reason": reason, "message": message}


def _requeue_at(deadline: datetime, now: datetime) -> float:
    """getRequeueSecondsFromCondition: a second more than the wait, against the clock skew of delayed queues
    (kubernetes #39785); a wait under a second as it is."""
    after = seconds_until(deadline, now)
    return max(after, 0.0) if after < 1 else after + 1


def progressing(rollout: Rollout, previous: JSON | None, now: datetime) -> Progress:
    """The Progressing condition for this round, from the previous one (`previous`, or None)."""
    kind = rollout.kind
    if not has_deadline(rollout.deadline_seconds):
        return Progress(None, None)
    if rollout.available:
        return Progress(_condition("True", available_reason(kind), f"{kind} is available", now, previous), None)
    if rollout.paused:
        return Progress(_condition("True", paused_reason(kind), f"{kind} is paused", now, previous), None)
    if rollout.partition_available:
        return Progress(_condition("True", PARTITION_AVAILABLE, f"{kind} has been paused due to partition ready",
                                   now, previous), None)

    same_rollout = rollout.update_revision == rollout.previous_update_revision
    reason = (previous or {}).get("reason")
    timed_out = _condition("False", DEADLINE_EXCEEDED,
                           f"{kind} revision {rollout.update_revision} has timed out progressing", now, previous)
    if same_rollout and reason == DEADLINE_EXCEEDED:
        return Progress(timed_out, None)
    started = parse_time((previous or {}).get("lastUpdateTime"))
    if same_rollout and reason == updated_reason(kind) and started is not None:
        deadline = started + timedelta(seconds=rollout.deadline_seconds or 0)
        if deadline < now:
            return Progress(timed_out, None)
        return Progress(previous, _requeue_at(deadline, now))
    # Progressing begins now (from nothing, available, paused, partition-available, or a new revision).
    fresh = dict(previous, reason=None) if previous else None  # never "unchanged": the clock restarts
    condition = _condition("True", updated_reason(kind), f"{kind} is progressing", now, fresh)
    return Progress(condition, _requeue_at(now + timedelta(seconds=rollout.deadline_seconds or 0), now))


def with_progressing(status: JSON, progress: Progress) -> JSON:
    """The status with its Progressing condition replaced by (or, without one, cleared of) `progress.condition`;
    other conditions keep their place."""
    others = [c for c in status.get("conditions") or [] if not (isinstance(c, dict) and c.get("type") == PROGRESSING)]
    return dict(status, conditions=others + ([progress.condition] if progress.condition else []))
