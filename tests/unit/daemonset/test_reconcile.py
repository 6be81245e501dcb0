"""The Advanced DaemonSet reconcile on the fake cluster: nodes, scaling with node changes, the rolling update
(maxUnavailable, surge, partition, node-label canary, in place), OnDelete, the preDelete hook, revisions and
rollback, the failed-pod backoff, the shouldIgnoreNodeUpdate filter."""
from __future__ import annotations

from datetime import timedelta

from controllers.common import actions as A
from controllers.daemonset.eligibility import node_change_matters
from controllers.daemonset.handlers import KIND

from .cluster import SIM_TAINT, daemonset, node, world


def _ready(w, name):
    return name in w.ready_pods()


def test_runs_one_pod_per_eligible_node_pinned_and_owned():
    w = world(daemonset(tolerate_simulated=False))
    w.edit_spec(lambda s: s["template"]["spec"].__setitem__("nodeSelector", {"role": "worker"}))
    w.settle()
    # node-c: untolerated NoSchedule taint; node-d: nodeSelector mismatch.
    assert sorted(w.by_node()) == ["node-a", "node-b"]
    pod = w.pods[w.by_node()["node-a"][0]]
    assert pod["metadata"]["generateName"] == "ds-"
    assert pod["metadata"]["ownerReferences"] == [{"apiVersion": "apps.kruise.io/v1beta1", "kind": "DaemonSet",
                                                   "name": "ds", "uid": "ds-uid", "controller": True,
                                                   "blockOwnerDeletion": True}]
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"] == [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                            "values": ["node-a"]}]}]
    assert {t["key"] for t in pod["spec"]["tolerations"]} >= {"node.kubernetes.io/not-ready",
                                                              "node.kubernetes.io/unreachable"}
    assert "lifecycle.apps.kruise.io/state" not in pod["metadata"]["labels"]
    s = w.status
    assert (s["desiredNumberScheduled"], s["currentNumberScheduled"], s["numberReady"], s["numberAvailable"],
            s["updatedNumberScheduled"], s["numberMisscheduled"]) == (2, 2, 2, 2, 2, 0)
    assert s["observedGeneration"] == w.ds["metadata"]["generation"]
    assert w.event_reasons().count("SuccessfulCreate") == 2


def test_tolerating_the_taint_runs_on_all_four():
    w = world(daemonset())
    w.settle()
    assert sorted(w.by_node()) == ["node-a", "node-b", "node-c", "node-d"]
    assert all(len(p) == 1 for p in w.by_node().values())


def test_nodes_added_removed_relabelled_and_tainted():
    w = world(daemonset(tolerate_simulated=False))
    w.edit_spec(lambda s: s["template"]["spec"].__setitem__("nodeSelector", {"role": "worker"}))
    w.settle()
    w.add_node(node("node-e", {"role": "worker"}))
    w.settle()
    assert sorted(w.by_node()) == ["node-a", "node-b", "node-e"]
    w.remove_node("node-a")
    w.settle()
    assert sorted(w.by_node()) == ["node-b", "node-e"]
    assert w.status["desiredNumberScheduled"] == 2
    w.label_node("node-b", role="other")  # no longer matches: its pod goes
    w.label_node("node-d", role="worker")  # now matches: it gets one
    w.settle()
    assert sorted(w.by_node()) == ["node-d", "node-e"]
    # A new untolerated NoSchedule taint: the pod stays (misscheduled), none is created after it is deleted.
    w.taint_node("node-e", dict(SIM_TAINT))
    w.settle()
    assert sorted(w.by_node()) == ["node-d", "node-e"]
    assert w.status["numberMisscheduled"] == 1 and w.status["desiredNumberScheduled"] == 1
    w.delete_pod(w.by_node()["node-e"][0])
    w.settle()
    assert sorted(w.by_node()) == ["node-d"]
    # A NoExecute taint: the running pod is deleted.
    w.taint_node("node-d", {"key": "x", "value": "y", "effect": "NoExecute"})
    w.settle()
    assert w.by_node() == {}


def test_pending_pod_pinned_to_a_vanished_node_is_deleted():
    w = world(daemonset())
    w.kubelet_on = w.scheduler_on = False
    w.step()
    pending = w.by_node()["node-a"][0]
    w.remove_node("node-a")
    plan = w.reconcile()
    assert [a.name for a in plan.of_type(A.Delete, A.PODS)] == [pending]


def _rollout(w, check):
    for _ in range(200):
        plan = w.step()
        check(w)
        if not plan.actions and plan.requeue_after is None:
            return
    raise AssertionError("no convergence")


def test_rolling_update_respects_max_unavailable():
    w = world(daemonset(rolling={"maxUnavailable": 1}))
    w.settle()
    old = set(w.pods)
    w.set_image("nginx:1.26")
    seen = []

    def check(w):
        ready = [n for n in w.ready_pods() if not w.pods[n]["metadata"].get("deletionTimestamp")]
        seen.append(len(ready))
    _rollout(w, check)
    w.settle()
    assert min(seen) >= 3, seen
    assert set(w.image_by_node().values()) == {"nginx:1.26"} and not old & set(w.pods)
    assert w.status["updatedNumberScheduled"] == 4


def test_surge_never_leaves_a_node_without_a_ready_pod():
    w = world(daemonset(rolling={"maxSurge": 1, "maxUnavailable": 0}))
    w.settle()
    w.set_image("nginx:1.26")
    most, fewest = [0], [4]

    def check(w):
        by_node = w.by_node()
        most[0] = max(most[0], max(len(p) for p in by_node.values()))
        ready_nodes = {n for n, ps in by_node.items() if any(_ready(w, p) for p in ps)}
        fewest[0] = min(fewest[0], len(ready_nodes))
    _rollout(w, check)
    w.settle()
    assert most[0] == 2 and fewest[0] == 4
    assert set(w.image_by_node().values()) == {"nginx:1.26"}
    assert all(len(p) == 1 for p in w.by_node().values())


def test_partition_keeps_nodes_at_the_old_revision_highest_names_first():
    w = world(daemonset(rolling={"partition": 2}))
    w.settle()
    w.set_image("nginx:1.26")
    w.settle()
    assert w.image_by_node() == {"node-a": "nginx:1.25", "node-b": "nginx:1.25", "node-c": "nginx:1.26",
                                 "node-d": "nginx:1.26"}
    assert w.status["updatedNumberScheduled"] == 2
    w.set_rolling(partition=0)
    w.settle()
    assert set(w.image_by_node().values()) == {"nginx:1.26"}


def test_paused_updates_nothing_but_still_creates_at_the_new_revision():
    w = world(daemonset(rolling={"paused": True}))
    w.settle()
    w.set_image("nginx:1.26")
    w.add_node(node("node-e"))
    w.settle()
    images = w.image_by_node()
    assert images.pop("node-e") == "nginx:1.26"
    assert set(images.values()) == {"nginx:1.25"}


def test_node_label_canary_updates_only_selected_nodes_and_widens_with_the_label():
    w = world(daemonset(rolling={"selector": {"matchLabels": {"canary": "true"}}}))
    w.label_node("node-b", canary="true")
    w.settle()
    w.set_image("nginx:1.26")
    w.settle()
    assert [n for n, i in sorted(w.image_by_node().items()) if i == "nginx:1.26"] == ["node-b"]
    w.label_node("node-d", canary="true")
    w.settle()
    assert [n for n, i in sorted(w.image_by_node().items()) if i == "nginx:1.26"] == ["node-b", "node-d"]
    w.label_node("node-b", canary=None)  # unlabelling does not roll back
    w.settle()
    assert w.image_by_node()["node-b"] == "nginx:1.26"


def test_in_place_if_possible_keeps_pods_and_restarts_the_container():
    w = world(daemonset(rolling={"rollingUpdateType": "InPlaceIfPossible", "maxUnavailable": 2}))
    w.settle()
    before = {n: p["metadata"]["uid"] for n, p in w.pods.items()}
    assert all({"conditionType": "InPlaceUpdateReady"} in p["spec"]["readinessGates"] for p in w.pods.values())
    w.set_image("nginx:1.26")
    w.settle()
    assert {n: p["metadata"]["uid"] for n, p in w.pods.items()} == before
    for pod in w.pods.values():
        assert pod["spec"]["containers"][0]["image"] == "nginx:1.26"
        assert pod["status"]["containerStatuses"][0]["restartCount"] == 1
        conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert conditions["InPlaceUpdateReady"] == "True" and conditions["Ready"] == "True"
    assert w.event_reasons().count("SuccessfulUpdatePodInPlace") == 4
    assert w.status["updatedNumberScheduled"] == 4 and w.status["numberAvailable"] == 4
    # An env change cannot go in place: the pods are recreated.
    w.edit_spec(lambda s: s["template"]["spec"]["containers"][0].__setitem__("env", [{"name": "A", "value": "1"}]))
    w.settle()
    assert not set(before) & set(w.pods) and len(w.pods) == 4


def test_on_delete_updates_only_pods_the_user_deletes():
    w = world(daemonset(strategy="OnDelete"))
    w.settle()
    w.set_image("nginx:1.26")
    w.settle()
    assert set(w.image_by_node().values()) == {"nginx:1.25"}
    assert w.status["updatedNumberScheduled"] == 0
    w.delete_pod(w.by_node()["node-c"][0])
    w.settle()
    assert w.image_by_node()["node-c"] == "nginx:1.26" and w.status["updatedNumberScheduled"] == 1


def test_pre_delete_hook_holds_the_pod_until_its_label_is_removed():
    ds = daemonset(rolling={"maxUnavailable": 1}, lifecycle={"preDelete": {"labelsHandler": {"hold": "true"}}})
    ds["spec"]["template"]["metadata"]["labels"]["hold"] = "true"
    w = world(ds)
    w.settle()
    names = set(w.pods)
    w.edit_spec(lambda s: s["template"]["spec"]["containers"][0].__setitem__("env", [{"name": "A", "value": "1"}]))
    for _ in range(5):
        w.step()
    held = [n for n, p in w.pods.items() if p["metadata"]["labels"].get("lifecycle.apps.kruise.io/state")
            == "PreparingDelete"]
    assert len(held) == 1 and set(w.pods) == names  # nothing deleted
    w.pods[held[0]]["metadata"]["labels"].pop("hold")
    for _ in range(5):
        w.step()
    assert held[0] not in w.pods
    held2 = [n for n, p in w.pods.items() if p["metadata"]["labels"].get("lifecycle.apps.kruise.io/state")
             == "PreparingDelete"]
    assert len(held2) == 1  # the next one waits for its hook in turn


def test_revisions_history_limit_and_rollback():
    w = world(daemonset(revisionHistoryLimit=1))
    w.settle()
    first = set(w.revisions)
    for tag in ("1.26", "1.27", "1.28"):
        w.set_image(f"nginx:{tag}")
        w.settle()
    assert len(w.revisions) == 2  # the update revision and one more
    w.set_image("nginx:1.27")  # a rollback to a revision still kept: reused, its number bumped
    kept = {n: r["revision"] for n, r in w.revisions.items()}
    w.settle()
    assert set(w.revisions) <= set(kept) | set()
    update = w.status["updateRevision"]
    assert f"ds-{update}" in w.revisions and w.revisions[f"ds-{update}"]["revision"] == max(kept.values()) + 1
    assert all(w.hash_of(n) == update for n in w.pods)
    assert not first & set(w.revisions)


def test_failed_pod_is_replaced_with_a_backoff():
    w = world(daemonset(), nodes=[node("node-a")])
    w.settle()
    name = w.by_node()["node-a"][0]
    w.pods[name]["status"]["phase"] = "Failed"
    plan = w.step(0.1)
    assert [a.name for a in plan.of_type(A.Delete, A.PODS)] == [name]
    assert "FailedDaemonPod" in w.event_reasons()
    assert w.memory and w.memory["backoff"]
    w.step(0.1)  # the replacement
    again = w.by_node()["node-a"][0]
    w.pods[again]["status"]["phase"] = "Failed"
    plan = w.reconcile()  # within the 1 s backoff: waits
    assert plan.of_type(A.Delete, A.PODS) == [] and plan.requeue_after is not None
    w.now += timedelta(seconds=1)
    plan = w.reconcile()
    assert [a.name for a in plan.of_type(A.Delete, A.PODS)] == [again]


def test_empty_selector_warns_selecting_all():
    ds = daemonset()
    ds["spec"]["selector"] = {}
    w = world(ds)
    plan = w.reconcile()
    assert [(e.type, e.reason) for e in plan.actions] == [("Warning", "SelectingAll")]


def test_being_deleted_does_nothing():
    ds = daemonset()
    ds["metadata"]["deletionTimestamp"] = "2024-05-01T12:00:00Z"
    assert world(ds).reconcile().actions == []


def test_heartbeats_do_not_wake_daemonsets():
    old = node("n")
    beat = node("n")
    beat["metadata"]["resourceVersion"] = "99"
    beat["status"]["conditions"][0]["lastHeartbeatTime"] = "2024-05-01T12:00:10Z"
    assert not node_change_matters(old, beat)
    relabelled = node("n", {"x": "y"})
    assert node_change_matters(old, relabelled)
    not_ready = node("n")
    not_ready["status"]["conditions"][0]["status"] = "False"
    assert node_change_matters(old, not_ready)
    assert node_change_matters(None, old) and node_change_matters(old, None)
    watch = next(w for w in KIND.watches if w.resource == A.NODES)
    assert watch.sort == "cluster" and watch.relevant is node_change_matters
