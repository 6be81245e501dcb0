from datetime import timedelta

from controllers.common import actions as A
from controllers.common.names import SequenceNames
from controllers.cloneset.reconcile import reconcile

from ..world import owned_objects
from .world import T0, World, cloneset


def test_status_fields_during_a_partitioned_rollout():
    w = World(cloneset(replicas=4, update={"type": "InPlaceIfPossible", "partition": 2}))
    w.settle()
    old_rev = w.status["updateRevision"]
    w.set_image("nginx:1.26")
    w.settle()
    s = w.status
    assert s["observedGeneration"] == 2
    assert (s["replicas"], s["readyReplicas"], s["availableReplicas"]) == (4, 4, 4)
    assert (s["updatedReplicas"], s["updatedReadyReplicas"], s["updatedAvailableReplicas"]) == (2, 2, 2)
    assert s["expectedUpdatedReplicas"] == 2
    assert s["currentRevision"] == old_rev != s["updateRevision"]
    assert s["collisionCount"] == 0 and s["labelSelector"] == "app=demo"


def test_current_revision_follows_once_every_pod_is_updated_even_if_not_ready():
    w = World(cloneset(replicas=1, update={"type": "InPlaceIfPossible", "maxUnavailable": 1}))
    w.settle()
    w.set_image("nginx:broken")
    for _ in range(10):
        w.step()
    assert w.status["updatedReplicas"] == 1 and w.status["readyReplicas"] == 0
    assert w.status["currentRevision"] == w.status["updateRevision"]


def test_min_ready_seconds_counts_available_later_and_requeues():
    w = World(cloneset(replicas=2, minReadySeconds=10))
    for _ in range(4):
        w.step()
    assert w.status["readyReplicas"] == 2 and w.status["availableReplicas"] == 0
    plan = w.reconcile()
    assert 0 < plan.requeue_after <= 10
    w.now += timedelta(seconds=plan.requeue_after)
    w.apply(w.reconcile())
    assert w.status["availableReplicas"] == 2


def test_label_selector_string_with_expressions():
    cs = cloneset(replicas=0)
    cs["spec"]["selector"] = {"matchLabels": {"app": "demo"},
                              "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]}
    plan = reconcile(cs, owned_objects(), A.Context(T0, names=SequenceNames()))
    [status] = plan.of_type(A.Patch, A.WORKLOAD, "status")
    assert status.body["status"]["labelSelector"] == "app=demo,tier in (api,web)"


def test_status_is_only_written_when_it_changes():
    w = World(cloneset(replicas=2))
    w.settle()
    assert w.reconcile().of_type(A.Patch, A.WORKLOAD, "status") == []
    w.cloneset["status"]["readyReplicas"] = 7  # stale
    assert len(w.reconcile().of_type(A.Patch, A.WORKLOAD, "status")) == 1


def test_conditions_written_by_others_are_kept():
    w = World(cloneset(replicas=1))
    w.settle()
    w.cloneset["status"]["conditions"] = [{"type": "Custom", "status": "True"}]
    assert w.reconcile().of_type(A.Patch, A.WORKLOAD, "status") == []


def failed_scale(w: World) -> list[dict]:
    return [c for c in w.status.get("conditions") or [] if c["type"] == "FailedScale"]


def test_a_refused_create_sets_failed_scale_until_a_round_scales_without_error():
    w = World(cloneset(replicas=2))
    w.fail_when = lambda action: action.what == "create pods"
    w.step()
    assert w.last_failure == A.ActionFailure("create pods", "injected failure") and failed_scale(w) == []
    w.step()  # the retry reports the refusal it learnt of, before trying again
    [first] = failed_scale(w)
    assert (first["status"], first["message"]) == ("True", "injected failure")
    w.step()
    assert failed_scale(w) == [first], "a failure already reported keeps its condition (and its time)"
    w.fail_when = None
    w.settle()
    assert w.status["readyReplicas"] == 2 and w.status["conditions"] == []
