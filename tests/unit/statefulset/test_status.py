"""Every status field of §4.2, and when the status is (not) written."""
from datetime import timedelta

from controllers.common import actions as A
from controllers.common.quantity import value_of
from controllers.statefulset.claims import compatible_and_ready
from controllers.statefulset.reconcile import reconcile

from ..world import owned_objects
from .world import T0, VCT, World, statefulset

FIELDS = {"observedGeneration", "replicas", "readyReplicas", "availableReplicas", "currentReplicas",
          "updatedReplicas", "updatedReadyReplicas", "updatedAvailableReplicas", "currentRevision",
          "updateRevision", "collisionCount", "conditions", "labelSelector", "volumeClaims"}


def test_every_field_is_written():
    w = World(statefulset(replicas=2, volumeClaimTemplates=VCT,
                          selector={"matchLabels": {"app": "web"},
                                    "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["b", "a"]}]}))
    w.settle()
    s = w.status
    assert set(s) == FIELDS
    assert s == {**s, "observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "availableReplicas": 2,
                 "currentReplicas": 2, "updatedReplicas": 2, "updatedReadyReplicas": 2, "updatedAvailableReplicas": 2,
                 "collisionCount": 0, "conditions": [], "labelSelector": "app=web,tier notin (a,b)",
                 "volumeClaims": [{"volumeClaimName": "data", "compatibleReplicas": 2, "compatibleReadyReplicas": 2}]}
    assert s["currentRevision"] == s["updateRevision"] == w.revision_of("web-0")
    assert s["updateRevision"].startswith("web-")


def test_converged_set_writes_nothing():
    w = World(statefulset(replicas=2))
    w.settle()
    for _ in range(3):
        w.now += timedelta(minutes=5)
        w.kubelet()
        assert w.reconcile() == A.Plan([], None)


def test_revisions_during_a_canary():
    w = World(statefulset(replicas=3, rolling={"partition": 2}))
    w.settle()
    old = w.status["currentRevision"]
    w.set_image("nginx:1.26")
    w.settle()
    s = w.status
    assert s["currentRevision"] == old != s["updateRevision"]
    assert (s["replicas"], s["currentReplicas"], s["updatedReplicas"], s["updatedReadyReplicas"]) == (3, 2, 1, 1)
    assert s["observedGeneration"] == 2


def test_current_revision_moves_once_all_pods_are_updated_and_ready():
    w = World(statefulset(replicas=1))
    w.settle()
    old = w.status["currentRevision"]
    w.set_image("nginx:broken")
    for _ in range(5):
        w.step()
    s = w.status
    assert s["updatedReplicas"] == 1 and s["readyReplicas"] == 0 and s["currentRevision"] == old
    w.delete_pod("web-0")
    w.set_image("nginx:1.26")
    w.settle()
    assert w.status["currentRevision"] == w.status["updateRevision"] != old


def test_available_follows_min_ready_seconds():
    w = World(statefulset(replicas=1, policy="Parallel", rolling={"minReadySeconds": 5}))
    w.step()
    plan = w.step()
    s = w.status
    assert s["readyReplicas"] == 1 and s["availableReplicas"] == 0 and s["updatedAvailableReplicas"] == 0
    assert plan.requeue_after is not None and plan.requeue_after <= 6
    w.settle()
    assert w.status["availableReplicas"] == 1


def test_terminating_pods_count_in_replicas_not_in_current_or_updated():
    w = World(statefulset(replicas=2), grace_seconds=10)
    w.settle()
    w.delete_pod("web-1")
    [status] = w.reconcile().of_type(A.Patch, A.WORKLOAD, "status")
    assert status.body["status"]["replicas"] == 2 and status.body["status"]["updatedReplicas"] == 1


def test_a_set_being_deleted_only_reports_status():
    w = World(statefulset(replicas=2))
    w.settle()
    w.sts["metadata"]["deletionTimestamp"] = "2024-05-01T13:00:00Z"
    w.set_replicas(5)
    assert [a.what for a in w.reconcile().actions] == ["patch workload/status"]


def test_status_is_written_before_the_pod_actions():
    plan = reconcile(statefulset(replicas=1), owned_objects(), A.Context(T0))
    kinds = [a.what for a in plan.actions]
    assert kinds.index("patch workload/status") < kinds.index("create pods")


def test_other_conditions_are_kept():
    w = World(statefulset(replicas=1))
    w.settle()
    w.sts["status"]["conditions"] = [{"type": "Custom", "status": "True"}]
    assert w.reconcile().actions == []


def test_a_failed_create_shows_as_failed_create_pod_while_creates_fail():
    sts = statefulset(replicas=1)
    quota = A.ActionFailure("create pods", 'pods "web-0" is forbidden: exceeded quota: pods')
    plan = reconcile(sts, owned_objects(), A.Context(T0, last_failure=quota))
    [status] = plan.of_type(A.Patch, A.WORKLOAD, "status")
    [condition] = status.body["status"]["conditions"]
    assert condition == {"type": "FailedCreatePod", "status": "True", "lastTransitionTime": "2024-05-01T12:00:00Z",
                         "message": f"StatefulPodControl failed to create Pod error: {quota.message}"}
    assert plan.of_type(A.Create, A.PODS), "and it tries again"
    # Nothing to create any more (scaled to 0), or another kind of failure: no condition.
    assert reconcile(statefulset(replicas=0), owned_objects(), A.Context(T0, last_failure=quota)) \
        .of_type(A.Patch, A.WORKLOAD, "status")[0] \
        .body["status"]["conditions"] == []
    other = A.ActionFailure("patch pods", "conflict")
    [status] = reconcile(sts, owned_objects(), A.Context(T0, last_failure=other)).of_type(A.Patch, A.WORKLOAD, "status")
    assert status.body["status"]["conditions"] == []


def parse_quantity(text):
    """How the claims read a storage size: 0 when malformed."""
    return value_of(text, 0)


def test_volume_claims_compare_sizes():
    assert parse_quantity("1Gi") == 2**30 and parse_quantity("1500m") == parse_quantity("1.5")
    assert parse_quantity("2e3") == 2000 and parse_quantity("junk") == 0
    vct = {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}
    small = {"spec": {"resources": {"requests": {"storage": "1Gi"}}}, "status": {"capacity": {"storage": "1Gi"}}}
    resizing = {"spec": {"resources": {"requests": {"storage": "2048Mi"}}}, "status": {"capacity": {"storage": "1Gi"}}}
    done = {"spec": {"resources": {"requests": {"storage": "3Gi"}}}, "status": {"capacity": {"storage": "3Gi"}}}
    assert compatible_and_ready(small, vct) == (False, False)
    assert compatible_and_ready(resizing, vct) == (True, False)
    assert compatible_and_ready(done, vct) == (True, True)


def test_sparse_objects_do_not_crash():
    assert reconcile({"metadata": {"name": "x"}}, owned_objects(), A.Context(T0)) == A.Plan([], None)
    sparse = {"metadata": {"name": "x"}, "spec": {"selector": {"matchLabels": {"a": "b"}}}}
    plan = reconcile(sparse, owned_objects(), A.Context(T0))
    assert [a.body["metadata"]["name"] for a in plan.of_type(A.Create, A.PODS)] == ["x-0"]  # replicas defaults to 1
    weird = statefulset(replicas=2, policy="Parallel", reserveOrdinals=["x", None, -1],
                        rolling={"partition": "lots", "maxUnavailable": "x%", "minReadySeconds": None},
                        scaleStrategy={"maxUnavailable": True}, ordinals={"start": "two"})
    # a bad scale budget counts as 1
    assert len(reconcile(weird, owned_objects(), A.Context(T0)).of_type(A.Create, A.PODS)) == 1


def test_a_failed_create_with_pods_still_to_mark_ready_reports_failed_create_pod():
    """The e2e quota case: two pods exist and wait for their readiness condition (refresh's ready patch, held in
    the round as an `Undrain` marker) while the third pod's create failed. The round must still report it."""
    w = World(statefulset(replicas=3, policy="Parallel"))
    w.sts["spec"]["template"]["spec"]["readinessGates"] = [{"conditionType": "InPlaceUpdateReady"}]
    plan = w.reconcile()
    first_two = [a for a in plan.actions if not (isinstance(a, A.Create) and a.name == "web-2")]
    w.apply(A.Plan(first_two))
    w.kubelet()
    quota = A.ActionFailure("create pods", 'pods "web-2" is forbidden: exceeded quota: pods')
    w.last_failure = quota
    plan = w.reconcile()
    [status] = plan.of_type(A.Patch, A.WORKLOAD, "status")
    assert [c["type"] for c in status.body["status"]["conditions"]] == ["FailedCreatePod"]
