"""Adaptive's per-subset view (openkruise-1.9/daemonset-uniteddeployment.md B8) on plain dicts: the pending-pod
timeout, the Schedulable condition's transitions, recovery, and reservation's pod labels."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from controllers.uniteddeployment.adapters import RESERVED_POD_LABEL, REVISION_LABEL
from controllers.uniteddeployment.adaptive import (default_adaptive, pending_timeout, reservation_adaptive,
                                                   set_condition)

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=timezone.utc)


def stamp(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, age: float, *, phase: str = "Pending", unschedulable: bool = True, revision: str = "r2",
        reserved: str | None = None, ready_for: float | None = None) -> dict:
    labels = {REVISION_LABEL: revision}
    if reserved is not None:
        labels[RESERVED_POD_LABEL] = reserved
    conditions = []
    if unschedulable:
        conditions.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable"})
    if ready_for is not None:
        conditions.append({"type": "Ready", "status": "True", "lastTransitionTime": stamp(ready_for)})
    return {"metadata": {"name": name, "labels": labels, "creationTimestamp": stamp(age)},
            "spec": {"nodeName": "n1"} if phase == "Running" else {}, "status": {"phase": phase, "conditions": conditions}}


def test_pending_timeout() -> None:
    assert pending_timeout(pod("p", 31), 30, NOW) == (True, None)
    assert pending_timeout(pod("p", 10), 30, NOW) == (False, 20)
    assert pending_timeout(pod("p", 31, unschedulable=False), 30, NOW) == (False, None)  # not yet tried
    assert pending_timeout(pod("p", 31, phase="Running", unschedulable=False), 30, NOW) == (False, None)


def test_set_condition_keeps_the_transition_time_while_status_and_reason_hold() -> None:
    first = set_condition([], "False", "reschedule", "timeout pending pods found", NOW)
    again = set_condition(first, "False", "reschedule", "another message", NOW + timedelta(seconds=5))
    assert again == first
    recovered = set_condition(first, "True", "recover", "recovered", NOW + timedelta(seconds=5))
    assert recovered[0]["status"] == "True" and recovered[0]["lastTransitionTime"] == "2026-12-03T12:00:05Z"


WORKLOAD = {"spec": {"replicas": 2}, "status": {"replicas": 2, "readyReplicas": 0}}


def test_default_adaptive_marks_then_recovers() -> None:
    result = default_adaptive([], WORKLOAD, [pod("a", 40), pod("b", 5)], 30, 300, NOW)
    assert result.state.unschedulable and result.conditions[0]["reason"] == "reschedule"
    assert sorted(result.waits) == [25, 300]  # b times out in 25 s; the mark lasts 300 s
    # still marked 100 s later, with the pods gone
    later = default_adaptive(result.conditions, {"spec": {"replicas": 0}, "status": {}}, [], 30, 300,
                             NOW + timedelta(seconds=100))
    assert later.state.unschedulable and later.waits == [200]
    done = default_adaptive(result.conditions, {"spec": {"replicas": 0}, "status": {}}, [], 30, 300,
                            NOW + timedelta(seconds=301))
    assert not done.state.unschedulable and done.conditions[0]["reason"] == "recover"


def test_reservation_labels_pods_and_counts_the_missing_ones_of_a_marked_subset() -> None:
    pods = [pod("timed-out", 40), pod("fresh", 5), pod("healthy", 400, phase="Running", unschedulable=False,
                                                         reserved="true", ready_for=100)]
    result = reservation_adaptive([], {"spec": {"replicas": 3}, "status": {}}, pods, "r2", NOW, 30, 60, NOW)
    # "fresh" is refused too: reserved with the one that timed out, not 25 s later
    assert result.reserved_labels == {"timed-out": True, "fresh": True, "healthy": False}
    assert result.state.reserved == 2 and result.state.unschedulable and not result.state.marked
    marked = result.conditions
    # the subset is marked now: a pod without the label is reserved from birth, and so is one not created yet
    again = reservation_adaptive(marked, {"spec": {"replicas": 4}, "status": {}}, [pod("new", 1, reserved=None)],
                                 "r2", NOW, 30, 60, NOW)
    assert again.state.marked and again.state.reserved == 4 and again.reserved_labels == {"new": True}


def test_reservation_counts_the_pods_the_scheduler_refuses_that_have_not_timed_out() -> None:
    pods = [pod("fresh", 5), pod("older", 29), pod("not-tried-yet", 5, unschedulable=False),
            pod("running", 400, phase="Running", unschedulable=False)]
    result = reservation_adaptive([], {"spec": {"replicas": 4}, "status": {}}, pods, "r2", NOW, 30, 60, NOW)
    assert result.state.reserved == 0 and result.state.refused == 2 and not result.state.unschedulable
    assert result.reserved_labels == {"fresh": False, "older": False, "not-tried-yet": False, "running": False}
    assert sorted(result.waits) == [1, 25]  # each is looked at again when it times out


def test_reservation_reserves_a_subsets_refused_pods_together() -> None:
    """B12 #5 with s0's two pending pods created in different seconds: when the first times out, the second,
    refused too, is reserved with it, so the next subset gets both replicas in one round, not one now and one a
    second later (by which time its own pod was refused and it would not grow)."""
    pods = [pod("first", 31), pod("second", 30 - 0.4), pod("not-tried-yet", 1, unschedulable=False)]
    result = reservation_adaptive([], {"spec": {"replicas": 3}, "status": {}}, pods, "r2", NOW, 30, 60, NOW)
    assert result.reserved_labels == {"first": True, "second": True, "not-tried-yet": False}
    assert result.state.reserved == 2 and result.state.refused == 0 and result.state.unschedulable
