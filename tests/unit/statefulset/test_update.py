"""Rolling updates: ReCreate from the highest ordinal, partition, maxUnavailable, in place, OnDelete, specified
delete, lifecycle hooks, unorderedUpdate."""
from datetime import timedelta

from controllers.common import actions as A

from .world import IN_PLACE_GATE, VCT, World, statefulset

IN_PLACE = {"podUpdatePolicy": "InPlaceIfPossible", "inPlaceUpdateStrategy": {"gracePeriodSeconds": 0}}


def with_gate(sts):
    sts["spec"]["template"]["spec"]["readinessGates"] = list(IN_PLACE_GATE)
    return sts


def deleted(plan):
    return [a.name for a in plan.of_type(A.Delete, A.PODS)]


def run(w, rounds=200):
    """Step until converged; the order of pod deletions."""
    order = []
    for _ in range(rounds):
        plan = w.step()
        order += deleted(plan)
        if not plan.actions and plan.requeue_after is None:
            return order
    raise AssertionError("no convergence")


def test_recreate_update_goes_from_the_highest_ordinal_one_at_a_time():
    w = World(statefulset(replicas=3, volumeClaimTemplates=VCT))
    w.settle()
    pvcs = {n: c["metadata"]["uid"] for n, c in w.pvcs.items()}
    w.set_image("nginx:1.26")
    assert run(w) == ["web-2", "web-1", "web-0"]
    assert set(w.images().values()) == {"nginx:1.26"}
    assert {n: c["metadata"]["uid"] for n, c in w.pvcs.items()} == pvcs  # the data stays
    s = w.status
    assert s["currentRevision"] == s["updateRevision"] and s["updatedReplicas"] == s["currentReplicas"] == 3


def test_recreate_update_waits_for_each_pod_to_be_healthy():
    w = World(statefulset(replicas=3))
    w.settle()
    w.set_image("nginx:broken")
    for _ in range(10):
        w.step()
    assert w.images() == {"web-0": "nginx:1.25", "web-1": "nginx:1.25", "web-2": "nginx:broken"}
    w.set_image("nginx:1.27")  # fixing forward is not enough with OrderedReady, as upstream ("forced
    for _ in range(10):        # rollback"): the broken pod halts the set until someone deletes it
        w.step()
    assert w.images()["web-2"] == "nginx:broken"
    w.delete_pod("web-2")
    run(w)
    assert set(w.images().values()) == {"nginx:1.27"}


def test_parallel_update_fixes_forward():
    w = World(statefulset(replicas=3, policy="Parallel"))
    w.settle()
    w.set_image("nginx:broken")
    for _ in range(10):
        w.step()
    assert sorted(w.images().values()) == ["nginx:1.25", "nginx:1.25", "nginx:broken"]
    w.set_image("nginx:1.27")
    run(w)
    assert set(w.images().values()) == {"nginx:1.27"}


def test_partition_canary_then_full_rollout():
    w = World(statefulset(replicas=4, rolling={"partition": 3}))
    w.settle()
    old = w.status["currentRevision"]
    w.set_image("nginx:1.26")
    run(w)
    assert w.images() == {"web-0": "nginx:1.25", "web-1": "nginx:1.25", "web-2": "nginx:1.25", "web-3": "nginx:1.26"}
    s = w.status
    assert s["updatedReplicas"] == 1 and s["currentReplicas"] == 3 and s["currentRevision"] == old
    w.rolling(partition=1)
    assert run(w) == ["web-2", "web-1"]
    w.rolling(partition=0)
    run(w)
    assert w.status["currentRevision"] == w.status["updateRevision"]


def test_partition_keeps_new_pods_of_low_ordinals_at_the_current_revision():
    w = World(statefulset(replicas=3, rolling={"partition": 2}))
    w.settle()
    w.set_image("nginx:1.26")
    run(w)
    w.delete_pod("web-0")
    w.set_replicas(4)
    run(w)
    assert w.images() == {"web-0": "nginx:1.25", "web-1": "nginx:1.25", "web-2": "nginx:1.26", "web-3": "nginx:1.26"}


def test_paused_stops_updates_but_not_scaling():
    w = World(statefulset(replicas=2, rolling={"paused": True}))
    w.settle()
    w.set_image("nginx:1.26")
    w.set_replicas(3)
    run(w)
    assert w.images() == {"web-0": "nginx:1.25", "web-1": "nginx:1.25", "web-2": "nginx:1.26"}
    w.rolling(paused=False)
    run(w)
    assert set(w.images().values()) == {"nginx:1.26"}


def test_parallel_max_unavailable_updates_several_at_once():
    w = World(statefulset(replicas=5, policy="Parallel", rolling={"maxUnavailable": "40%"}))
    w.settle()
    w.set_image("nginx:1.26")
    assert deleted(w.reconcile()) == ["web-4", "web-3"]  # 40% of 5 = 2, from the highest ordinal
    run(w)
    assert set(w.images().values()) == {"nginx:1.26"}


def test_max_unavailable_percent_rounds_down_but_not_below_one():
    w = World(statefulset(replicas=3, policy="Parallel", rolling={"maxUnavailable": "20%"}))
    w.settle()
    w.set_image("nginx:1.26")
    assert deleted(w.reconcile()) == ["web-2"]


def test_an_already_unavailable_pod_does_not_stop_the_update_of_itself():
    w = World(statefulset(replicas=3, policy="Parallel"))
    w.settle()
    w.pods["web-2"]["spec"]["containers"][0]["image"] = "nginx:broken"
    w.kubelet()
    w.set_image("nginx:1.26")
    assert deleted(w.reconcile()) == ["web-2"]  # unavailable already: it may go
    run(w)
    assert set(w.images().values()) == {"nginx:1.26"}


def test_unordered_update_follows_the_priority_strategy_within_the_partition():
    sts = statefulset(replicas=4, policy="Parallel", rolling={
        "partition": 2, "unorderedUpdate": {"priorityStrategy": {"weightPriority": [
            {"weight": 50, "matchSelector": {"matchLabels": {"tier": "canary"}}}]}}})
    w = World(sts)
    w.settle()
    w.pods["web-0"]["metadata"]["labels"]["tier"] = "canary"
    w.pods["web-1"]["metadata"]["labels"]["tier"] = "canary"
    w.set_image("nginx:1.26")
    assert run(w) == ["web-1", "web-0"]  # the canaries, highest ordinal first among equals; 2 = 4 - partition
    assert w.images() == {"web-0": "nginx:1.26", "web-1": "nginx:1.26", "web-2": "nginx:1.25", "web-3": "nginx:1.25"}
    w.delete_pod("web-3")
    run(w)
    assert w.images()["web-3"] == "nginx:1.25"  # partition 2 pods stay old, whichever they are


def test_rollback_reuses_the_old_revision():
    w = World(statefulset(replicas=2))
    w.settle()
    first = w.status["updateRevision"]
    w.set_image("nginx:1.26")
    run(w)
    w.set_image("nginx:1.25")
    plan = w.reconcile()
    assert not plan.of_type(A.Create, A.REVISIONS) and [p.name for p in plan.of_type(A.Patch, A.REVISIONS)] == [first]
    run(w)
    assert w.status["updateRevision"] == first == w.revision_of("web-0")


def test_revision_history_is_truncated():
    w = World(statefulset(replicas=1, revisionHistoryLimit=2))
    for tag in range(6):
        w.set_image(f"nginx:1.{tag}")
        run(w)
    assert len(w.revisions) == 3  # the live one plus two


# ---------------------------------------------------------------------------------------------------------
# In place

def test_in_place_update_keeps_pods_and_volumes():
    w = World(with_gate(statefulset(replicas=3, rolling=IN_PLACE, volumeClaimTemplates=VCT)))
    w.settle()
    uids = w.uids()
    w.set_image("nginx:1.26")
    worst = 3
    for _ in range(100):
        plan = w.step()
        assert not plan.of_type(A.Delete, A.PODS)
        worst = min(worst, len(w.ready_pods()))
        if not plan.actions and plan.requeue_after is None:
            break
    assert w.uids() == uids and set(w.images().values()) == {"nginx:1.26"}
    assert worst == 2  # maxUnavailable 1
    assert w.event_reasons().count("SuccessfulUpdatePodInPlace") == 3
    for pod in w.pods.values():
        assert pod["status"]["containerStatuses"][0]["restartCount"] == 1
        assert pod["metadata"]["labels"]["controller-revision-hash"] == w.status["updateRevision"]
        assert "pod-template-hash" not in pod["metadata"]["labels"]
        assert pod["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] == "Normal"


def test_in_place_update_goes_from_the_highest_ordinal_and_honours_the_grace_period():
    w = World(with_gate(statefulset(replicas=2, rolling={**IN_PLACE, "inPlaceUpdateStrategy": {"gracePeriodSeconds": 5}})))
    w.settle()
    w.set_image("nginx:1.26")
    plan = w.reconcile()
    assert plan.requeue_after == 5.0
    drain = plan.of_type(A.Patch, A.PODS, "status")[0]
    assert drain.name == "web-1" and drain.body["status"]["conditions"][0]["status"] == "False"
    w.apply(plan)
    start = w.now + timedelta(seconds=1)  # the round that sees the drain stored starts the grace (issue 19)
    for s in range(0, 5):
        w.now = start + timedelta(seconds=s)
        w.apply(w.reconcile())
        assert w.images()["web-1"] == "nginx:1.25"
    w.now = start + timedelta(seconds=5)
    w.apply(w.reconcile())
    assert w.images() == {"web-0": "nginx:1.25", "web-1": "nginx:1.26"}


def test_in_place_if_possible_recreates_when_more_than_images_change():
    w = World(with_gate(statefulset(replicas=2, rolling=IN_PLACE)))
    w.settle()
    uids = w.uids()
    w.edit_spec(lambda s: s["template"]["spec"]["containers"][0].__setitem__("env", [{"name": "A", "value": "1"}]))
    assert run(w) == ["web-1", "web-0"]
    assert not set(w.uids().values()) & set(uids.values())


def test_in_place_only_refuses_other_changes():
    w = World(with_gate(statefulset(replicas=2, rolling={**IN_PLACE, "podUpdatePolicy": "InPlaceOnly"})))
    w.settle()
    w.edit_spec(lambda s: s["template"]["spec"]["containers"][0].__setitem__("env", [{"name": "A", "value": "1"}]))
    plan = w.reconcile()
    assert not plan.of_type(A.Delete, A.PODS)
    message = "find strategy is InPlaceOnly but Pod web-1 can not update in-place"
    assert A.Event("Warning", "FailedUpdatePodInPlace", message) in plan.actions
    [status] = plan.of_type(A.Patch, A.WORKLOAD, "status")
    assert status.body["status"]["conditions"][0]["type"] == "FailedUpdatePod"
    assert status.body["status"]["conditions"][0]["message"] == message


def test_template_metadata_is_updated_in_place():
    w = World(with_gate(statefulset(replicas=1, rolling=IN_PLACE)))
    w.settle()
    uid = w.uids()["web-0"]
    w.edit_spec(lambda s: s["template"]["metadata"].setdefault("annotations", {}).__setitem__("team", "b"))
    run(w)
    assert w.uids()["web-0"] == uid and w.pods["web-0"]["metadata"]["annotations"]["team"] == "b"


def test_in_place_update_hook_waits_for_the_hook_owner():
    hook = {"inPlaceUpdate": {"labelsHandler": {"example.com/serving": "true"}}}
    sts = with_gate(statefulset(replicas=1, rolling=IN_PLACE, lifecycle=hook))
    sts["spec"]["template"]["metadata"]["labels"]["example.com/serving"] = "true"
    w = World(sts)
    w.settle()
    w.set_image("nginx:1.26")
    for _ in range(5):
        w.step()
    pod = w.pods["web-0"]
    assert pod["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] == "PreparingUpdate"
    assert w.images()["web-0"] == "nginx:1.25"
    pod["metadata"]["labels"].pop("example.com/serving")  # the owner lets go
    for _ in range(10):
        w.step()
    assert w.images()["web-0"] == "nginx:1.26"
    assert w.pods["web-0"]["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] == "Updated"
    w.pods["web-0"]["metadata"]["labels"]["example.com/serving"] = "true"  # and takes it back
    run(w)
    assert w.pods["web-0"]["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] == "Normal"


# ---------------------------------------------------------------------------------------------------------
# OnDelete, specified delete, preDelete

def test_on_delete_updates_only_deleted_pods():
    w = World(statefulset(replicas=3, updateStrategy={"type": "OnDelete"}))
    w.settle()
    w.set_image("nginx:1.26")
    assert run(w) == []
    assert set(w.images().values()) == {"nginx:1.25"}
    w.delete_pod("web-1")
    run(w)
    assert w.images() == {"web-0": "nginx:1.25", "web-1": "nginx:1.26", "web-2": "nginx:1.25"}
    assert w.status["updatedReplicas"] == 1


def test_specified_delete_ignores_the_partition_but_respects_max_unavailable():
    w = World(statefulset(replicas=4, policy="Parallel", rolling={"partition": 4, "maxUnavailable": 1}))
    w.settle()
    uids = w.uids()
    for name in ("web-0", "web-2"):
        w.pods[name]["metadata"]["labels"]["apps.kruise.io/specified-delete"] = "true"
    assert deleted(w.reconcile()) == ["web-2"]  # highest first, one at a time
    run(w)
    assert w.names() == ["web-0", "web-1", "web-2", "web-3"]
    assert w.uids()["web-0"] != uids["web-0"] and w.uids()["web-2"] != uids["web-2"]
    assert w.uids()["web-1"] == uids["web-1"]
    assert all("apps.kruise.io/specified-delete" not in p["metadata"]["labels"] for p in w.pods.values())


def test_specified_delete_takes_unavailable_pods_beyond_max_unavailable():
    w = World(statefulset(replicas=3, policy="Parallel"))
    w.settle()
    for name in ("web-0", "web-1", "web-2"):
        w.pods[name]["metadata"]["labels"]["apps.kruise.io/specified-delete"] = "true"
    w.pods["web-0"]["spec"]["containers"][0]["image"] = "nginx:broken"
    w.kubelet()
    assert deleted(w.reconcile()) == ["web-0"]  # web-0 is unavailable already, which uses up the budget


PRE_DELETE = {"preDelete": {"labelsHandler": {"example.com/hold": "true"}}}


def test_pre_delete_hook_holds_a_scale_down():
    sts = statefulset(replicas=2, lifecycle=PRE_DELETE)
    sts["spec"]["template"]["metadata"]["labels"]["example.com/hold"] = "true"
    w = World(sts)
    w.settle()
    w.set_replicas(1)
    run(w)
    assert w.names() == ["web-0", "web-1"]
    assert w.pods["web-1"]["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] == "PreparingDelete"
    assert w.status["availableReplicas"] == 1
    w.pods["web-1"]["metadata"]["labels"].pop("example.com/hold")
    run(w)
    assert w.names() == ["web-0"]


def test_pre_delete_hook_holds_a_recreate_update_in_both_policies():
    for policy in ("OrderedReady", "Parallel"):
        sts = statefulset(replicas=2, policy=policy, lifecycle=PRE_DELETE)
        sts["spec"]["template"]["metadata"]["labels"]["example.com/hold"] = "true"
        w = World(sts)
        w.settle()
        old = w.uids()
        w.set_image("nginx:1.26")
        run(w)
        assert w.uids() == old
        assert w.pods["web-1"]["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] == "PreparingDelete"
        assert w.pods["web-0"]["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] == "Normal"
        w.pods["web-1"]["metadata"]["labels"].pop("example.com/hold")
        run(w)
        assert w.pods["web-1"]["metadata"]["uid"] != old["web-1"] and w.images()["web-1"] == "nginx:1.26"
        assert w.pods["web-0"]["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] == "PreparingDelete"
        w.pods["web-0"]["metadata"]["labels"].pop("example.com/hold")
        run(w)
        assert set(w.images().values()) == {"nginx:1.26"}, policy


def test_pre_delete_mark_pod_not_ready():
    hook = {"preDelete": {"labelsHandler": {"example.com/hold": "true"}, "markPodNotReady": True}}
    sts = statefulset(replicas=2, lifecycle=hook)
    sts["spec"]["template"]["metadata"]["labels"]["example.com/hold"] = "true"
    sts["spec"]["template"]["spec"]["readinessGates"] = [{"conditionType": "KruisePodReady"}]
    w = World(sts)
    for pod in range(2):  # the podreadiness controller's part
        w.step()
        for p in w.pods.values():
            if not any(c["type"] == "KruisePodReady" for c in p["status"]["conditions"]):
                p["status"]["conditions"].append({"type": "KruisePodReady", "status": "True"})
        w.kubelet()
    w.settle()
    assert len(w.ready_pods()) == 2
    w.set_replicas(1)
    run(w)
    assert w.ready_pods() == ["web-0"]  # web-1 drained while it waits


def _in_place_ready(pod):
    return next(c for c in pod["status"]["conditions"] if c["type"] == "InPlaceUpdateReady")["status"]


def test_issue_2276_a_drain_without_its_patch_is_not_undone():
    w = World(with_gate(statefulset(replicas=2, policy="Parallel", rolling=IN_PLACE)))
    w.settle()
    w.set_image("nginx:1.26")
    w.fail_when = lambda a: a.what == "patch pods"  # the pod patch fails after the drain
    w.step()
    w.fail_when = None
    assert _in_place_ready(w.pods["web-1"]) == "False" and w.images()["web-1"] == "nginx:1.25"
    plan = w.reconcile()
    assert all(c["status"] != "True" for a in plan.of_type(A.Patch, A.PODS, "status") if a.name == "web-1"
               for c in a.body["status"]["conditions"])
    assert [a.name for a in plan.of_type(A.Patch, A.PODS)] == ["web-1"]  # the patch is retried
    w.apply(plan)
    run(w)
    assert set(w.images().values()) == {"nginx:1.26"}


def test_a_drain_without_its_patch_recovers_with_ordered_ready():
    w = World(with_gate(statefulset(replicas=2, rolling=IN_PLACE)))
    w.settle()
    w.set_image("nginx:1.26")
    w.fail_when = lambda a: a.what == "patch pods"
    w.step()
    w.fail_when = None
    run(w)
    assert set(w.images().values()) == {"nginx:1.26"} and len(w.ready_pods()) == 2


def test_a_drained_pod_no_longer_to_update_gets_ready_again():
    w = World(with_gate(statefulset(replicas=2, policy="Parallel", rolling=IN_PLACE)))
    w.settle()
    w.set_image("nginx:1.26")
    w.fail_when = lambda a: a.what == "patch pods"
    w.step()
    w.fail_when = None
    w.rolling(partition=2)
    run(w)
    assert len(w.ready_pods()) == 2 and set(w.images().values()) == {"nginx:1.25"}


def test_parallel_with_a_scale_budget_still_updates():
    w = World(statefulset(replicas=4, policy="Parallel", scaleStrategy={"maxUnavailable": 1},
                          rolling={"maxUnavailable": 2}))
    w.settle()
    w.set_image("nginx:1.26")
    assert deleted(w.reconcile()) == ["web-3", "web-2"]
    run(w)
    assert set(w.images().values()) == {"nginx:1.26"} and len(w.ready_pods()) == 4


def test_pre_normal_hook_holds_ordered_creation():
    sts = statefulset(replicas=2, lifecycle={"preNormal": {"labelsHandler": {"example.com/registered": "true"}}})
    w = World(sts)
    for _ in range(5):
        w.step()
    assert w.names() == ["web-0"]
    assert w.pods["web-0"]["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] == "PreparingNormal"
    w.pods["web-0"]["metadata"]["labels"]["example.com/registered"] = "true"  # e.g. a service registry is done
    for _ in range(5):
        w.step()
    assert w.names() == ["web-0", "web-1"]
    assert w.pods["web-0"]["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] == "Normal"
