"""The Adaptive schedule strategy's view of each existing subset (openkruise-1.9/daemonset-uniteddeployment.md
B8): is it unschedulable now, and its `Schedulable` condition. Pure: the subset's status entry, its workload's
status, its pods and the clock in; the new condition, the allocator's `SubsetState`, pod label patches and when
to look again out.

- default (B8.1): a subset whose Schedulable condition is False stays unschedulable for `unschedulableDuration`
  after the condition's transition, then recovers; pods Pending and unschedulable (PodScheduled=False, reason
  Unschedulable) for longer than `rescheduleCriticalSeconds` make it unschedulable (again);
- reservation (B8.2): pods that cannot be scheduled are labelled reserved and kept; the subset is unschedulable
  while it has any, and its pods leave the reserved state once Running, at the expected revision and Ready for
  `unschedulableDuration`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from controllers.common.objects import creation_time, is_terminating, labels_of
from controllers.common.pods import get_condition, node_name_of, phase_of
from controllers.common.times import format_time, parse_time, seconds_until

from .adapters import RESERVED_POD_LABEL, REVISION_LABEL
from .allocator import SubsetState

JSON = dict[str, Any]
SCHEDULABLE = "Schedulable"


def pending_timeout(pod: JSON, critical: float, now: datetime) -> tuple[bool, float | None]:
    """GetTimeBeforePendingTimeout: (timed out, check again after) for a pod the scheduler could not place."""
    if is_terminating(pod) or phase_of(pod) != "Pending" or node_name_of(pod):
        return False, None
    scheduled = get_condition(pod, "PodScheduled")
    if not scheduled or scheduled.get("status") != "False" or scheduled.get("reason") != "Unschedulable":
        return False, None
    created = creation_time(pod)
    if created is None:
        return False, None
    deadline = created + timedelta(seconds=critical)
    if deadline < now:
        return True, None
    return False, seconds_until(deadline, now)


def set_condition(conditions: list[JSON], status: str, reason: str, message: str, now: datetime) -> list[JSON]:
    """SubsetStatus.SetCondition: replaced, with a new transition time, only when status or reason differ."""
    old = next((c for c in conditions if c.get("type") == SCHEDULABLE), None)
    if old is not None and old.get("status") == status and old.get("reason") == reason:
        return conditions
    new = {"type": SCHEDULABLE, "status": status, "lastTransitionTime": format_time(now), "reason": reason,
           "message": message}
    return [c for c in conditions if c.get("type") != SCHEDULABLE] + [new]


def schedulable_condition(conditions: list[JSON]) -> JSON | None:
    return next((c for c in conditions if c.get("type") == SCHEDULABLE), None)


@dataclass
class SubsetAdaptive:
    state: SubsetState
    conditions: list[JSON]
    waits: list[float] = field(default_factory=list)
    reserved_labels: dict[str, bool] = field(default_factory=dict)  # pod name → reserved, for pods to label
    update_timeout_pods: int = 0


def default_adaptive(conditions: list[JSON], workload: JSON, pods: list[JSON], critical: float,
                     unschedulable_duration: float, now: datetime) -> SubsetAdaptive:
    """calculateSubsetsStatusForDefaultAdaptiveStrategy for one existing subset."""
    status = workload.get("status") or {}
    unschedulable = False
    waits: list[float] = []
    condition = schedulable_condition(conditions)
    if condition is not None and condition.get("status") == "False":
        since = parse_time(condition.get("lastTransitionTime")) or now
        recover = since + timedelta(seconds=unschedulable_duration)
        if now < recover:
            unschedulable = True
            waits.append(seconds_until(recover, now))
        else:
            conditions = set_condition(conditions, "True", "recover",
                                       f"unschedulable subset recovered after {unschedulable_duration:f} seconds", now)
    if int(status.get("readyReplicas") or 0) < int(status.get("replicas") or 0):
        pending = 0
        for pod in pods:
            timed_out, after = pending_timeout(pod, critical, now)
            pending += timed_out
            if after is not None:
                waits.append(after)
        if pending:
            unschedulable = True
            conditions = set_condition(conditions, "False", "reschedule", "timeout pending pods found", now)
            waits.append(unschedulable_duration)
    state = SubsetState(exists=True, ready=int(status.get("readyReplicas") or 0),
                        spec_replicas=int((workload.get("spec") or {}).get("replicas") or 0), unschedulable=unschedulable)
    return SubsetAdaptive(state, conditions, waits)


def _reserved_now(pod: JSON, pending: tuple[bool, float | None], expected_revision: str,
                  updated_since: datetime | None, critical: float, duration: float,
                  now: datetime) -> tuple[bool, float | None, bool]:
    """CheckPodReallyInReservedStatus: (reserved, check again after, an old-revision pod that timed out).
    `pending`: the pod's `pending_timeout`, computed once by the caller, which needs it too."""
    revision = labels_of(pod).get(REVISION_LABEL, "")
    if labels_of(pod).get(RESERVED_POD_LABEL) == "true":
        if phase_of(pod) == "Running" and revision == expected_revision:
            ready = get_condition(pod, "Ready")
            if ready and ready.get("status") == "True":
                since = parse_time(ready.get("lastTransitionTime")) or now
                leave = since + timedelta(seconds=duration)
                if leave < now:
                    return False, None, False
                return True, seconds_until(leave, now), False
        return True, duration, False
    if revision == expected_revision:
        timed_out, after = pending
        return (True, duration, False) if timed_out else (False, after, False)
    # An old-revision pod: reserved once the update has run for rescheduleCriticalSeconds (GetTimeBeforeUpdateTimeout).
    if updated_since is None:
        return False, None, False
    deadline = updated_since + timedelta(seconds=critical)
    if deadline < now:
        return True, duration, True
    return False, seconds_until(deadline, now), False


def reservation_adaptive(conditions: list[JSON], workload: JSON, pods: list[JSON], expected_revision: str,
                         updated_since: datetime | None, critical: float, duration: float,
                         now: datetime) -> SubsetAdaptive:
    """calculateSubsetsStatusForReservedAdaptiveStrategy for one existing subset."""
    condition = schedulable_condition(conditions)
    marked = condition is not None and condition.get("status") == "False"
    reserved = 0
    waits: list[float] = []
    labels: dict[str, bool] = {}
    timeouts = 0
    refused: list[tuple[str, str | None, float]] = []
    for pod in pods:
        name = (pod.get("metadata") or {}).get("name", "")
        value = labels_of(pod).get(RESERVED_POD_LABEL)
        if marked and value is None:
            reserved += 1  # born while the subset is marked: reserved from the start
            labels[name] = True
            waits.append(duration)
            continue
        pending = pending_timeout(pod, critical, now)
        is_reserved, after, timed_out = _reserved_now(pod, pending, expected_revision, updated_since, critical,
                                                      duration, now)
        if not is_reserved and after is not None and pending[1] is not None:
            refused.append((name, value, after))  # decided below, once the subset's own state is known
            continue
        reserved += is_reserved
        timeouts += timed_out
        if after is not None and after > 0:
            waits.append(after)
        if value is None or (value == "true") != is_reserved:
            labels[name] = is_reserved
    # A pod the scheduler refuses in a subset that already has reserved pods is reserved now, not when its own
    # pending time reaches rescheduleCriticalSeconds (upstream): it is refused for the subset's reason, and
    # waiting for it made the allocation hang on the second each pod was created in (creationTimestamp's
    # resolution). A subset whose pods timed out one round apart handed the next subset part of its replicas
    # first and the rest a round later, and by then that subset, refused too, did not grow.
    reserve_refused = reserved > 0
    for name, value, after in refused:
        if reserve_refused:
            reserved += 1
            labels[name] = True
            waits.append(duration)
        else:
            if after > 0:
                waits.append(after)
            if value is None:
                labels[name] = False
    if marked:
        # Pods the workload has yet to create (a recreate-update deleted the old ones first) are born reserved in
        # a marked subset: counted as such now, the subset does not look healthy for the moment in between, which
        # would hand its replicas to it for good (an unschedulable subset keeps its replicas).
        spec_replicas = int((workload.get("spec") or {}).get("replicas") or 0)
        reserved += max(0, spec_replicas - len(pods))
    if reserved:
        conditions = set_condition(conditions, "False", "reschedule", "reserved pods found", now)
    else:
        conditions = set_condition(conditions, "True", "reschedule", "no reserved pods", now)
    status = workload.get("status") or {}
    state = SubsetState(exists=True, ready=int(status.get("readyReplicas") or 0),
                        spec_replicas=int((workload.get("spec") or {}).get("replicas") or 0),
                        unschedulable=reserved > 0, marked=marked, reserved=reserved,
                        refused=0 if reserve_refused else len(refused))
    return SubsetAdaptive(state, conditions, waits, labels, timeouts)
