"""What OpenKruise v1.9.0 added to CloneSet: spec.progressDeadlineSeconds (the Progressing condition, kruise
#2108) and updateStrategy.type OnDelete (kruise #2224), on the fake cluster; and their admission rules."""
from __future__ import annotations

from datetime import timedelta

import pytest

from controllers import schema
from controllers.common import actions as A
from controllers.common.times import parse_time

from .world import World, cloneset

PROGRESS_DEADLINE = 10


def progressing_condition(w: World) -> dict | None:
    return next((c for c in w.status.get("conditions") or [] if c["type"] == "Progressing"), None)


def reason(w: World) -> tuple[str, str] | None:
    c = progressing_condition(w)
    return (c["status"], c["reason"]) if c else None


# ---------------------------------------------------------------------------------------------------------
# progressDeadlineSeconds

def test_a_healthy_rollout_goes_from_updated_to_available():
    w = World(cloneset(replicas=3, progressDeadlineSeconds=PROGRESS_DEADLINE))
    w.step()
    assert reason(w) == ("True", "CloneSetUpdated")
    w.settle()
    assert reason(w) == ("True", "CloneSetAvailable")
    assert progressing_condition(w)["message"] == "CloneSet is available"
    w.set_image("nginx:1.26")
    w.step()
    assert reason(w) == ("True", "CloneSetUpdated")
    w.settle()
    assert reason(w) == ("True", "CloneSetAvailable")


def test_a_rollout_that_cannot_progress_times_out_at_the_deadline():
    w = World(cloneset(replicas=2, progressDeadlineSeconds=PROGRESS_DEADLINE, update={"maxUnavailable": 1}))
    w.settle()
    w.set_image("nginx:broken")
    plan = w.step(0)
    assert reason(w) == ("True", "CloneSetUpdated")
    started = progressing_condition(w)["lastUpdateTime"]
    assert plan.requeue_after is not None and plan.requeue_after <= PROGRESS_DEADLINE + 1
    # The rollout stays stuck at maxUnavailable; the condition keeps its time until the deadline passes.
    while w.now <= parse_time(started) + timedelta(seconds=PROGRESS_DEADLINE):
        assert reason(w) == ("True", "CloneSetUpdated")
        w.step()
    w.step()
    assert reason(w) == ("False", "ProgressDeadlineExceeded")
    assert progressing_condition(w)["message"] == \
        f"CloneSet revision {w.status['updateRevision']} has timed out progressing"
    assert w.reconcile().of_type(A.Patch, A.WORKLOAD, "status") == []  # no rewrite while it stays so
    # A fixed image is a new revision: progressing again, then available.
    w.set_image("nginx:1.26")
    w.step()
    assert reason(w) == ("True", "CloneSetUpdated")
    w.settle()
    assert reason(w) == ("True", "CloneSetAvailable")


def test_paused_and_partition_available():
    w = World(cloneset(replicas=4, progressDeadlineSeconds=PROGRESS_DEADLINE, update={"partition": 2}))
    w.settle()
    w.set_image("nginx:1.26")
    w.settle()
    assert reason(w) == ("True", "ProgressPartitionAvailable")
    w.edit_spec(lambda s: s["updateStrategy"].update(paused=True, partition=0))
    w.step()
    assert reason(w) == ("True", "CloneSetPaused")
    w.now += timedelta(minutes=10)  # time paused does not count
    w.edit_spec(lambda s: s["updateStrategy"].update(paused=False))
    w.step()
    assert reason(w) == ("True", "CloneSetUpdated")
    w.settle()
    assert reason(w) == ("True", "CloneSetAvailable")


@pytest.mark.parametrize("deadline", [None, 2**31 - 1])
def test_without_a_deadline_there_is_no_progressing_condition(deadline):
    spec = {} if deadline is None else {"progressDeadlineSeconds": deadline}
    w = World(cloneset(replicas=2, progressDeadlineSeconds=PROGRESS_DEADLINE))
    w.settle()
    assert reason(w) == ("True", "CloneSetAvailable")
    w.edit_spec(lambda s: (s.pop("progressDeadlineSeconds"), s.update(spec)))
    w.settle()
    assert progressing_condition(w) is None


# ---------------------------------------------------------------------------------------------------------
# OnDelete

def test_on_delete_updates_a_pod_only_when_it_is_deleted():
    """Upstream TestReconcile "CloneSet updateStrategy=OnDelete, replicas=5, pods=5, don't update anyPod"."""
    w = World(cloneset(replicas=3, update={"type": "OnDelete"}))
    w.settle()
    old = sorted(w.pods)
    w.set_image("nginx:1.26")
    w.settle()
    assert sorted(w.pods) == old and set(w.images().values()) == {"nginx:1.25"}
    s = w.status
    assert (s["replicas"], s["updatedReplicas"], s["readyReplicas"], s["expectedUpdatedReplicas"]) == (3, 0, 3, 3)
    assert s["currentRevision"] != s["updateRevision"]
    w.delete_pod(old[0])
    w.settle()
    [new] = set(w.pods) - set(old)
    assert w.images()[new] == "nginx:1.26"
    assert w.pods[new]["metadata"]["labels"]["controller-revision-hash"] == s["updateRevision"]
    s = w.status
    assert (s["replicas"], s["updatedReplicas"], s["updatedReadyReplicas"], s["readyReplicas"]) == (3, 1, 1, 3)


def test_on_delete_ignores_partition_and_max_surge():
    """Replacements and scale-ups are at the update revision whatever the partition, and no surge pod rolls an
    old pod out (upstream drops both for OnDelete from v1beta1 on); scale-in takes old pods first."""
    w = World(cloneset(replicas=3, update={"type": "OnDelete", "partition": 3, "maxSurge": 2}))
    w.settle()
    w.set_image("nginx:1.26")
    w.settle()
    assert len(w.pods) == 3 and set(w.images().values()) == {"nginx:1.25"}
    w.edit_spec(lambda s: s.update(replicas=5))
    w.settle()
    assert sorted(w.images().values()) == ["nginx:1.25"] * 3 + ["nginx:1.26"] * 2
    w.edit_spec(lambda s: s.update(replicas=2))
    w.settle()
    assert sorted(w.images().values()) == ["nginx:1.26"] * 2


def test_on_delete_with_a_deadline_times_out_until_pods_are_deleted():
    w = World(cloneset(replicas=1, progressDeadlineSeconds=PROGRESS_DEADLINE, update={"type": "OnDelete"}))
    w.settle()
    w.set_image("nginx:1.26")
    for _ in range(PROGRESS_DEADLINE + 3):
        w.step()
    assert reason(w) == ("False", "ProgressDeadlineExceeded")
    [pod] = w.pods
    w.delete_pod(pod)
    w.settle()
    assert reason(w) == ("True", "CloneSetAvailable")


# ---------------------------------------------------------------------------------------------------------
# Admission (pkg/webhook/cloneset/validating/validation.go v1.9.0)

def errors(spec: dict) -> dict[str, list[str]]:
    """The errors of a CloneSet with `spec`'s fields, as the webhook sees it (defaults applied first)."""
    update = spec.pop("updateStrategy", {})
    found: dict[str, list[str]] = {}
    for e in schema.validate(cloneset(replicas=2, update=update, **spec)):
        found.setdefault(e.path, []).append(e.message)
    return found


@pytest.mark.parametrize("spec", [
    {"progressDeadlineSeconds": 600},
    {"progressDeadlineSeconds": 11, "minReadySeconds": 10},
    {"progressDeadlineSeconds": 2**31 - 1, "minReadySeconds": 2**31 - 1},  # "no deadline" is always allowed
    {"progressDeadlineSeconds": 1},
    {"updateStrategy": {"type": "OnDelete"}},
])
def test_good_values_are_accepted(spec):
    assert errors(spec) == {}


@pytest.mark.parametrize("spec, message", [
    ({"progressDeadlineSeconds": 10, "minReadySeconds": 10}, "Invalid value: 10: must be greater than minReadySeconds"),
    ({"progressDeadlineSeconds": 0}, "Invalid value: 0: must be greater than minReadySeconds"),
    ({"progressDeadlineSeconds": -1}, "must be greater than or equal to 0"),
])
def test_bad_progress_deadlines_are_refused_naming_the_field(spec, message):
    got = errors(spec)
    assert list(got) == ["spec.progressDeadlineSeconds"]
    assert any(message in m for m in got["spec.progressDeadlineSeconds"])


def test_an_unknown_update_type_is_refused():
    assert "spec.updateStrategy.type" in errors({"updateStrategy": {"type": "RollingUpdate"}})


def test_progress_deadline_may_change_on_update():
    old = cloneset(replicas=2, progressDeadlineSeconds=600)
    new = cloneset(replicas=2, progressDeadlineSeconds=30)
    assert [e for e in schema.validate(new, old)] == []
