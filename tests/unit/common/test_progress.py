"""The Progressing condition of progressDeadlineSeconds (controllers/common/progress.py), case by case as
upstream's TestCalculateProgressingStatus (v1.9.0 pkg/controller/cloneset/cloneset_status_test.go)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from controllers.common.progress import NO_DEADLINE, PROGRESSING, Progress, Rollout, progressing, with_progressing
from controllers.common.times import format_time

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def rollout(**changes) -> Rollout:
    fields = dict(kind="CloneSet", deadline_seconds=10, available=False, paused=False, partition_available=False,
                  update_revision="r2", previous_update_revision="r2")
    fields.update(changes)
    return Rollout(**fields)


def condition(status: str, reason: str, at: datetime, message: str = "", transition: datetime | None = None) -> dict:
    return {"type": PROGRESSING, "status": status, "reason": reason, "message": message,
            "lastUpdateTime": format_time(at), "lastTransitionTime": format_time(transition or at)}


@pytest.mark.parametrize("deadline", [None, NO_DEADLINE])
def test_no_deadline_means_no_condition(deadline):
    previous = condition("True", "CloneSetUpdated", T0)
    assert progressing(rollout(deadline_seconds=deadline), previous, T0) == Progress(None, None)
    status = with_progressing({"conditions": [previous, {"type": "FailedScale", "status": "True"}]},
                              Progress(None, None))
    assert status["conditions"] == [{"type": "FailedScale", "status": "True"}]


@pytest.mark.parametrize("changes, reason, message", [
    (dict(available=True), "CloneSetAvailable", "CloneSet is available"),
    (dict(paused=True), "CloneSetPaused", "CloneSet is paused"),
    (dict(partition_available=True), "ProgressPartitionAvailable", "CloneSet has been paused due to partition ready"),
    (dict(available=True, paused=True), "CloneSetAvailable", "CloneSet is available"),  # available comes first
    (dict(paused=True, partition_available=True), "CloneSetPaused", "CloneSet is paused"),
])
def test_settled_states_are_true_with_upstream_reasons_and_no_requeue(changes, reason, message):
    got = progressing(rollout(**changes), None, T0)
    assert got.requeue_after is None
    assert got.condition == condition("True", reason, T0, message)


def test_a_settled_condition_that_holds_is_kept_as_it_was():
    previous = condition("True", "CloneSetAvailable", T0, "CloneSet is available")
    assert progressing(rollout(available=True), previous, T0 + timedelta(hours=1)).condition is previous


def test_progressing_starts_the_clock_and_asks_to_look_again_after_the_deadline():
    got = progressing(rollout(), None, T0)
    assert got.condition == condition("True", "CloneSetUpdated", T0, "CloneSet is progressing")
    assert got.requeue_after == 11  # the deadline plus a second, as getRequeueSecondsFromCondition


def test_while_progressing_the_condition_stays_and_the_requeue_counts_down():
    previous = condition("True", "CloneSetUpdated", T0, "CloneSet is progressing")
    got = progressing(rollout(), previous, T0 + timedelta(seconds=4))
    assert got.condition is previous and got.requeue_after == 7
    got = progressing(rollout(), previous, T0 + timedelta(seconds=9.5))
    assert got.condition is previous and got.requeue_after == pytest.approx(0.5)  # under a second: as it is


def test_past_the_deadline_it_turns_false_and_stays_so():
    previous = condition("True", "CloneSetUpdated", T0, "CloneSet is progressing")
    later = T0 + timedelta(seconds=10, milliseconds=1)
    got = progressing(rollout(), previous, later)
    assert got.requeue_after is None
    assert got.condition == condition("False", "ProgressDeadlineExceeded", later,
                                      "CloneSet revision r2 has timed out progressing")
    # Still not available: it stays timed out, unchanged.
    assert progressing(rollout(), got.condition, later + timedelta(minutes=5)).condition is got.condition
    # Becoming available ends it (a new transition to True).
    done = progressing(rollout(available=True), got.condition, later + timedelta(minutes=6))
    assert (done.condition["status"], done.condition["reason"]) == ("True", "CloneSetAvailable")
    assert done.condition["lastTransitionTime"] == format_time(later + timedelta(minutes=6))


def test_exactly_at_the_deadline_is_not_yet_past_it():
    previous = condition("True", "CloneSetUpdated", T0)
    assert progressing(rollout(), previous, T0 + timedelta(seconds=10)).condition is previous


def test_time_paused_does_not_count():
    """Paused, then resumed: the clock starts again at the resume (upstream "startup with Paused condition, and
    CloneSet is resumed")."""
    paused = condition("True", "CloneSetPaused", T0, "CloneSet is paused")
    resumed_at = T0 + timedelta(minutes=30)
    got = progressing(rollout(), paused, resumed_at)
    assert got.condition["reason"] == "CloneSetUpdated"
    assert got.condition["lastUpdateTime"] == format_time(resumed_at)
    assert got.condition["lastTransitionTime"] == format_time(T0)  # True all along
    assert got.requeue_after == 11


def test_leaving_available_long_after_starts_a_fresh_clock():
    """Upstream's wiring measures from the Available condition's lastUpdateTime and times out at once; its unit
    test ("startup with CloneSetAvailable condition, and CloneSet reconciles with a new revision") expects this."""
    available = condition("True", "CloneSetAvailable", T0, "CloneSet is available")
    update_at = T0 + timedelta(days=2)
    got = progressing(rollout(previous_update_revision="r1"), available, update_at)
    assert got.condition["reason"] == "CloneSetUpdated"
    assert got.condition["lastUpdateTime"] == format_time(update_at)


def test_a_new_revision_restarts_the_clock_even_after_a_timeout():
    """As Deployment (a new ReplicaSet) and upstream's "startup with DeadlineExceeded condition, and CloneSet
    starts a new revision"."""
    timed_out = condition("False", "ProgressDeadlineExceeded", T0, "CloneSet revision r1 has timed out progressing")
    got = progressing(rollout(update_revision="r2", previous_update_revision="r1"), timed_out,
                      T0 + timedelta(seconds=40))
    assert (got.condition["status"], got.condition["reason"]) == ("True", "CloneSetUpdated")
    assert got.condition["lastUpdateTime"] == got.condition["lastTransitionTime"] == format_time(
        T0 + timedelta(seconds=40))
    progressing_r1 = condition("True", "CloneSetUpdated", T0)
    got = progressing(rollout(update_revision="r2", previous_update_revision="r1"), progressing_r1,
                      T0 + timedelta(seconds=8))
    assert got.condition["lastUpdateTime"] == format_time(T0 + timedelta(seconds=8))
    assert got.condition["lastTransitionTime"] == format_time(T0)
    assert got.requeue_after == 11


def test_with_progressing_replaces_only_its_own_condition():
    failed = {"type": "FailedScale", "status": "True", "message": "quota"}
    old = condition("True", "CloneSetUpdated", T0)
    new = condition("False", "ProgressDeadlineExceeded", T0)
    status = with_progressing({"replicas": 1, "conditions": [old, failed]}, Progress(new, None))
    assert status == {"replicas": 1, "conditions": [failed, new]}
