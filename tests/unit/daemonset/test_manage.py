"""manage (A8) and syncNodes' preDelete filter and burst cap (A9.1, A13)."""
from datetime import timedelta

from controllers.daemonset import decisions as why
from controllers.daemonset.manage import (BACKOFF_MAX, BackoffEntry, gc_backoff, in_backoff, manage, next_backoff,
                                          nodes_needing_pods, sync_nodes)
from controllers.daemonset.decisions import NodeCreation
from controllers.daemonset.pods import nodes_to_daemon_pods

from .world import NOW, daemonset, node, nodes, pod

SURGE = {"maxSurge": 1, "maxUnavailable": 0}


def run(ds, node_list, pods, now=NOW, backoff=None):
    return manage(ds, node_list, nodes_to_daemon_pods(pods), "v2", now, backoff)


def created(decision):
    return [c.node for c in decision.create]


def deleted(decision):
    return {(d.name, d.reason) for d in decision.delete}


def test_upstream_e2e_1_simple_daemon_creates_everywhere_and_replaces_a_deleted_pod():
    """A17 test 1: a pod on every node; a deleted pod is replaced on its node."""
    ns = nodes("n1", "n2", "n3")
    assert created(run(daemonset(), ns, [])) == ["n1", "n2", "n3"]  # cache order without a partition
    d = run(daemonset(), ns, [pod("n1"), pod("n3")])
    assert created(d) == ["n2"] and not d.delete


def test_misscheduled_pods_are_deleted_and_noschedule_keeps_them():
    p = pod("n1")
    tainted_exec = node("n1", taints=[{"key": "x", "effect": "NoExecute"}])
    assert deleted(run(daemonset(), [tainted_exec], [p, pod("n1", terminating=True)])) == {
        (p["metadata"]["name"], why.MISSCHEDULED)}
    tainted_sched = node("n1", taints=[{"key": "x", "effect": "NoSchedule"}])
    d = run(daemonset(), [tainted_sched], [p])
    assert not d.delete and not d.create
    assert not run(daemonset(), [tainted_sched], []).create  # a pod deleted by hand is not recreated


def test_excess_pods_keep_the_oldest_without_surge():
    old, young = pod("n1", name="old", age=100), pod("n1", name="young", age=10)
    assert deleted(run(daemonset(), nodes("n1"), [young, old])) == {("young", why.EXCESS)}


def test_all_terminating_no_create_without_surge_but_create_with_surge():
    gone = pod("n1", terminating=True)
    assert not run(daemonset(), nodes("n1"), [gone]).create
    assert created(run(daemonset(rolling_update=SURGE), nodes("n1"), [gone])) == ["n1"]


def test_surge_keeps_oldest_new_and_oldest_old_then_replaces():
    ds = daemonset(rolling_update=SURGE, min_ready=10)
    old = pod("n1", "v1", name="old", age=100)
    new = pod("n1", "v2", name="new", age=50, ready_for=5)
    extra = pod("n1", "v1", name="extra", age=10)
    d = run(ds, nodes("n1"), [extra, new, old])
    assert deleted(d) == {("extra", why.SURGE_EXCESS)}
    assert d.requeue_after == 5  # the new pod becomes available in 5 s
    new_available = pod("n1", "v2", name="new", age=50, ready_for=11)
    assert deleted(run(ds, nodes("n1"), [new_available, old])) == {("old", why.SURGE_NEW_AVAILABLE)}
    old_not_ready = pod("n1", "v1", name="old", ready=False)
    assert deleted(run(ds, nodes("n1"), [new, old_not_ready])) == {("old", why.SURGE_OLD_NOT_READY)}


def test_unscheduled_pods_on_vanished_nodes_are_deleted_bound_ones_left_to_pod_gc():
    pending, bound = pod("gone", bound=False, name="pending"), pod("gone", name="bound")
    assert deleted(run(daemonset(), nodes("n1"), [pending, bound, pod("n1")])) == {("pending", why.NODE_GONE)}


def test_upstream_e2e_3_failed_pod_is_deleted_with_backoff():
    """A17 test 3 ("should retry creating failed daemon pods"): the failed pod is deleted (then manage recreates
    the node's pod); a pod failing again on the same node waits 1 s, 2 s, 4 s, ... (A8.1)."""
    ds = daemonset(status={"observedGeneration": 2})
    failed = pod("n1", phase="Failed", name="f")
    first = run(ds, nodes("n1"), [failed])
    assert deleted(first) == {("f", why.FAILED)} and not first.create
    assert first.events[0].reason == "FailedDaemonPod"
    assert first.events[0].message == "Found failed daemon pod ns/f on node n1, will try to kill it"
    assert first.backoff == {"ds-uid/2/n1": BackoffEntry(timedelta(seconds=1), NOW)}
    # half a second later it fails again: held back, requeued after the backoff delay
    held = run(ds, nodes("n1"), [failed], NOW + timedelta(seconds=0.5), first.backoff)
    assert not held.delete and held.requeue_after == 1
    later = run(ds, nodes("n1"), [failed], NOW + timedelta(seconds=2), first.backoff)
    assert deleted(later) == {("f", why.FAILED)}
    assert later.backoff["ds-uid/2/n1"].delay == timedelta(seconds=2)


def test_backoff_maths():
    e = next_backoff(None, NOW)
    for _ in range(20):
        e = next_backoff(e, e.last_update + timedelta(seconds=1))
    assert e.delay == BACKOFF_MAX
    assert in_backoff(e, e.last_update + timedelta(minutes=14)) and not in_backoff(e, e.last_update + BACKOFF_MAX)
    # after more than twice the maximum without failures the backoff starts over, and GC drops it
    assert next_backoff(e, e.last_update + 2 * BACKOFF_MAX + timedelta(seconds=1)).delay == timedelta(seconds=1)
    assert gc_backoff({"k": e}, e.last_update + 2 * BACKOFF_MAX + timedelta(seconds=1)) == {}


def test_preparing_delete_pods_are_deleted_again():
    hooked = pod("n1", name="h", labels={"lifecycle.apps.kruise.io/state": "PreparingDelete"})
    assert deleted(run(daemonset(), nodes("n1"), [hooked])) == {("h", why.PREPARING_DELETE)}


def test_partitioned_scaling_and_node_name_order():
    """A8.3: with partitionedScaling, only desire - newPods - partition nodes get a pod, in node-name order."""
    status = {"desiredNumberScheduled": 4}
    ns = nodes("n4", "n2", "n3", "n1")
    plain = daemonset(rolling_update={"partition": 2}, status=status)
    assert created(run(plain, ns, [])) == ["n1", "n2", "n3", "n4"]  # partition set: node-name order, no limit
    progressive = daemonset(rolling_update={"partition": 2}, status=status,
                            scale_strategy={"partitionedScaling": True})
    assert created(run(progressive, ns, [])) == ["n1", "n2"]
    assert created(run(progressive, ns, [pod("n1")])) == ["n2"]
    legacy = daemonset(rolling_update={"partition": 2}, status=status,
                       annotations={"daemonset.kruise.io/progressive-create-pod": "true"})
    assert created(run(legacy, ns, [])) == ["n1", "n2"]
    # a percent partition scales on the STORED desired count: 0 on a brand-new DaemonSet, so no limit
    fresh = daemonset(rolling_update={"partition": "50%"}, scale_strategy={"partitionedScaling": True})
    assert created(run(fresh, ns, [])) == ["n4", "n2", "n3", "n1"]
    assert nodes_needing_pods(3, 2, 5, True, [NodeCreation("a", "")]) == []


def test_sync_nodes_burst_cap_and_percent_burst():
    creates = [NodeCreation(f"n{i}", why.MISSING) for i in range(5)]
    assert len(sync_nodes(daemonset(burst=2), [], creates, {}).create) == 2
    # A16 example 3: burstReplicas "10%" of 5 nodes floors to 0: nothing is ever created
    ds = daemonset(burst="10%", status={"desiredNumberScheduled": 5})
    assert sync_nodes(ds, [], creates, {}).create == []
    assert len(sync_nodes(daemonset(burst="40%", status={"desiredNumberScheduled": 5}), [], creates, {}).create) == 2


def test_sync_nodes_pre_delete_hook_holds_hooked_pods():
    """A13: hooked pods move to PreparingDelete instead of being deleted; others are deleted."""
    hook = {"preDelete": {"labelsHandler": {"my-pre-delete": "true"}, "markPodNotReady": True}}
    hooked = pod("n1", name="h", labels={"my-pre-delete": "true"})
    held_before = pod("n2", name="w", labels={"my-pre-delete": "true",
                                             "lifecycle.apps.kruise.io/state": "PreparingDelete"})
    free = pod("n3", name="f")
    ds = daemonset(lifecycle=hook)
    d = run(ds, nodes("n1", "n2", "n3"), [hooked, held_before, free])
    assert deleted(d) == {("w", why.PREPARING_DELETE)}
    by_name = {p["metadata"]["name"]: p for p in (hooked, held_before, free)}
    from controllers.daemonset.decisions import PodDeletion
    sync = sync_nodes(ds, [PodDeletion("h", "n1", why.UPDATE), PodDeletion("w", "n2", why.PREPARING_DELETE),
                           PodDeletion("f", "n3", why.UPDATE), PodDeletion("gone", "n4", why.UPDATE)], [], by_name)
    assert [x.name for x in sync.delete] == ["f"]
    assert [(h.name, h.state, h.mark_not_ready, h.needs_write) for h in sync.hold] == [
        ("h", "PreparingDelete", True, True), ("w", "PreparingDelete", True, False)]
    finalizer_hook = daemonset(lifecycle={"preDelete": {"finalizersHandler": ["x/y"]}})
    fin = pod("n1", name="fin", finalizers=["x/y"])
    assert sync_nodes(finalizer_hook, [PodDeletion("fin", "n1", why.UPDATE)], [], {"fin": fin}).hold[0].name == "fin"
