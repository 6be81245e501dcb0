"""Status (A4): every counter from nodes and pods, the write-skip rule, the minReadySeconds requeue."""
from controllers.daemonset.pods import nodes_to_daemon_pods
from controllers.daemonset.status import compute_status, counters, status_needs_write, status_requeue_after

from .world import NOW, daemonset, node, nodes, pod


def count(ds, ns, pods):
    return counters(ds, ns, nodes_to_daemon_pods(pods), "v2", NOW)


def test_counters():
    ns = nodes("n1", "n2", "n3", "n4") + [node("n5", taints=[{"key": "x", "effect": "NoSchedule"}]), node("n6")]
    pods = [pod("n1", "v2"), pod("n2", "v1"), pod("n3", "v2", ready=False), pod("n5", "v1"),
            pod("gone", "v2")]  # n4, n6 empty; n5 misscheduled; "gone" is not a node: ignored
    assert count(daemonset(), ns, pods) == {
        "desiredNumberScheduled": 5, "currentNumberScheduled": 3, "numberMisscheduled": 1, "numberReady": 2,
        "updatedNumberScheduled": 2, "numberAvailable": 2, "numberUnavailable": 3}


def test_only_the_oldest_pod_of_a_node_counts_during_a_surge():
    old = pod("n1", "v1", age=100)
    new = pod("n1", "v2", age=10)
    c = count(daemonset(), nodes("n1"), [new, old])
    assert c["updatedNumberScheduled"] == 0 and c["currentNumberScheduled"] == 1
    # terminating pods count too (A4: nodeToDaemonPods includes them)
    c = count(daemonset(), nodes("n1"), [pod("n1", "v2", terminating=True)])
    assert c["currentNumberScheduled"] == 1 and c["updatedNumberScheduled"] == 1


def test_availability_min_ready_seconds_and_in_place_gate():
    ds = daemonset(min_ready=10)
    c = count(ds, nodes("n1", "n2"), [pod("n1", ready_for=5), pod("n2", ready_for=20)])
    assert (c["numberReady"], c["numberAvailable"], c["numberUnavailable"]) == (2, 1, 1)
    updating = pod("n1", gates=["InPlaceUpdateReady"],
                   conditions=[{"type": "InPlaceUpdateReady", "status": "False"}])
    c = count(daemonset(), nodes("n1"), [updating])
    assert (c["numberReady"], c["numberAvailable"]) == (1, 0)


def test_compute_status_fields_and_passthrough():
    ds = daemonset(generation=3, status={"observedGeneration": 2, "collisionCount": 1,
                                         "conditions": [{"type": "X", "status": "True"}]})
    early = compute_status(ds, nodes("n1"), nodes_to_daemon_pods([pod("n1")]), "v2", NOW, full_sync=False)
    assert early["observedGeneration"] == 2  # the early writes leave it
    full = compute_status(ds, nodes("n1"), nodes_to_daemon_pods([pod("n1")]), "v2", NOW, full_sync=True)
    assert full["observedGeneration"] == 3 and full["updateRevision"] == "v2" and "daemonSetHash" not in full
    assert full["collisionCount"] == 1 and full["conditions"] == [{"type": "X", "status": "True"}]
    assert full["desiredNumberScheduled"] == 1 and full["numberAvailable"] == 1
    assert status_needs_write(ds, full)
    stored = daemonset(generation=3, status=full)
    assert not status_needs_write(stored, compute_status(stored, nodes("n1"), nodes_to_daemon_pods([pod("n1")]),
                                                         "v2", NOW, full_sync=True))


def test_requeue_when_the_first_ready_pod_becomes_available():
    def requeue(ds, pods, ns=("n1", "n2")):
        return status_requeue_after(ds, nodes(*ns), nodes_to_daemon_pods(pods), NOW)
    ds = daemonset(min_ready=10)
    # Ready for 3 s and 6 s: the second is due in 4 s (just past the deadline: "strictly after", whole seconds).
    assert requeue(ds, [pod("n1", ready_for=3), pod("n2", ready_for=6)]) == 5
    assert requeue(ds, [pod("n1", ready_for=20), pod("n2", ready_for=30)]) is None  # all available
    assert requeue(ds, [pod("n1", ready=False)]) is None  # nothing waits on time alone
    assert requeue(daemonset(), [pod("n1", ready_for=0)]) is None  # no minReadySeconds
    # Only counted pods: the surge's newer pod on n1 does not count, the older one (available) does.
    assert requeue(ds, [pod("n1", ready_for=30, age=100), pod("n1", "v2", ready_for=1, age=5)], ("n1",)) is None


def test_a_status_that_moves_only_counts_is_paced():
    """The runtime paces a status write that only moves counters (controllers/runtime/pacing.py): the stored
    v1beta1 status against the next one while pods turn Ready."""
    from controllers.runtime.pacing import counters_only
    ds = daemonset(generation=3, status={"observedGeneration": 3, "updateRevision": "v2", "numberReady": 0,
                                         "desiredNumberScheduled": 1})
    new = compute_status(ds, nodes("n1"), nodes_to_daemon_pods([pod("n1")]), "v2", NOW, full_sync=True)
    assert new["numberReady"] == 1 and counters_only(ds["status"], new)
