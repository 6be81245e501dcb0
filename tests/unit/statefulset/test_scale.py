"""Scaling: OrderedReady (monotonic) vs Parallel (burst), scaleStrategy.maxUnavailable, failed pods, PVCs."""
from controllers.common import actions as A

from .world import VCT, World, statefulset


def created(plan):
    return [a.body["metadata"]["name"] for a in plan.of_type(A.Create, A.PODS)]


def deleted(plan):
    return [a.name for a in plan.of_type(A.Delete, A.PODS)]


def break_pod(w, name):
    """The pod's image cannot be pulled (as if its node lost the registry): it never becomes ready."""
    w.pods[name]["spec"]["containers"][0]["image"] = "nginx:broken"
    w.kubelet()


def test_ordered_scale_up_creates_one_pod_at_a_time_in_order():
    w = World(statefulset(replicas=3))
    order = []
    for _ in range(20):
        plan = w.step()
        order += created(plan)
        assert len(created(plan)) <= 1
    assert order == ["web-0", "web-1", "web-2"]


def test_ordered_scale_up_waits_for_running_and_ready():
    w = World(statefulset(replicas=3), kubelet_on=False)
    assert created(w.step()) == ["web-0"]
    for _ in range(3):
        assert created(w.step()) == []  # web-0 is not running yet
    w.kubelet_on = True
    w.kubelet()
    assert created(w.step()) == ["web-1"]


def test_ordered_scale_up_halts_on_an_unhealthy_pod_and_resumes():
    w = World(statefulset(replicas=4))
    while len(w.pods) < 2:
        w.step()
    break_pod(w, "web-1")
    for _ in range(10):
        w.step()
    assert w.names() == ["web-0", "web-1"]  # no web-2 while web-1 is unhealthy
    w.pods["web-1"]["spec"]["containers"][0]["image"] = "nginx:1.25"
    w.kubelet()
    w.settle()
    assert w.names() == ["web-0", "web-1", "web-2", "web-3"]


def test_ordered_scale_up_honours_min_ready_seconds():
    w = World(statefulset(replicas=2, rolling={"minReadySeconds": 10}))
    w.step()
    plans = [w.step() for _ in range(15)]
    web1_round = next(i for i, p in enumerate(plans) if created(p))
    assert web1_round >= 9  # web-0 ready since round 0, available 10 s later
    assert plans[0].requeue_after is not None and plans[0].requeue_after <= 11


def test_ordered_scale_down_in_reverse_one_at_a_time():
    w = World(statefulset(replicas=5))
    w.settle()
    w.grace_seconds = 2
    w.set_replicas(2)
    order = []
    for _ in range(30):
        plan = w.step()
        assert len(deleted(plan)) <= 1
        order += deleted(plan)
    assert order == ["web-4", "web-3", "web-2"]
    assert w.names() == ["web-0", "web-1"]


def test_ordered_scale_down_halts_on_an_unhealthy_pod():
    w = World(statefulset(replicas=4))
    w.settle()
    break_pod(w, "web-1")
    w.set_replicas(2)
    for _ in range(5):
        assert deleted(w.step()) == []  # web-1 (a replica that stays) is unhealthy
    w.pods["web-1"]["spec"]["containers"][0]["image"] = "nginx:1.25"
    w.kubelet()
    w.settle()
    assert w.names() == ["web-0", "web-1"]


def test_ordered_scale_down_deletes_the_first_unhealthy_condemned_pod():
    w = World(statefulset(replicas=4))
    w.settle()
    break_pod(w, "web-2")
    w.set_replicas(2)
    plan = w.reconcile()
    assert deleted(plan) == ["web-3"]  # the highest first; web-2 being the first unhealthy does not block it
    w.apply(plan)
    assert deleted(w.reconcile()) == ["web-2"]


def test_parallel_creates_and_deletes_all_at_once():
    w = World(statefulset(replicas=4, policy="Parallel"))
    assert created(w.reconcile()) == ["web-0", "web-1", "web-2", "web-3"]
    w.settle()
    w.set_replicas(1)
    assert sorted(deleted(w.reconcile())) == ["web-1", "web-2", "web-3"]


def test_parallel_completes_with_unhealthy_pods():
    w = World(statefulset(replicas=3, policy="Parallel", image="nginx:broken"))
    for _ in range(5):
        w.step()
    assert w.names() == ["web-0", "web-1", "web-2"] and w.ready_pods() == []


def test_parallel_scale_strategy_max_unavailable_limits_concurrency():
    w = World(statefulset(replicas=5, policy="Parallel", scaleStrategy={"maxUnavailable": 2}), kubelet_on=False)
    assert created(w.step()) == ["web-0", "web-1"]
    assert created(w.step()) == []  # both still unavailable
    w.kubelet_on = True
    w.kubelet()
    assert created(w.step()) == ["web-2", "web-3"]
    w.settle()
    assert w.names() == ["web-0", "web-1", "web-2", "web-3", "web-4"]


def test_parallel_scale_strategy_max_unavailable_percent():
    w = World(statefulset(replicas=10, policy="Parallel", scaleStrategy={"maxUnavailable": "30%"}), kubelet_on=False)
    assert len(created(w.step())) == 3


def test_failed_pod_is_deleted_then_recreated():
    w = World(statefulset(replicas=2))
    w.settle()
    old = w.pods["web-0"]["metadata"]["uid"]
    w.kubelet_on = False
    w.pods["web-0"]["status"]["phase"] = "Failed"
    plan = w.reconcile()
    assert deleted(plan) == ["web-0"] and created(plan) == []
    assert A.Event("Warning", "RecreatingFailedPod", "StatefulSet default/web is recreating failed Pod web-0") in plan.actions
    w.apply(plan)
    assert created(w.reconcile()) == ["web-0"]
    w.kubelet_on = True
    w.settle()
    assert w.pods["web-0"]["metadata"]["uid"] != old and len(w.ready_pods()) == 2


def test_terminating_pod_blocks_ordered_progress_until_gone():
    w = World(statefulset(replicas=2), grace_seconds=3)
    w.settle()
    w.delete_pod("web-0")
    assert [a.what for a in w.reconcile().actions] == ["patch workload/status"]  # waits for the old web-0 to go
    w.settle()
    assert w.names() == ["web-0", "web-1"] and len(w.ready_pods()) == 2


# ---------------------------------------------------------------------------------------------------------
# PVCs

def test_missing_pvc_is_recreated_for_a_pending_pod():
    w = World(statefulset(replicas=2, volumeClaimTemplates=VCT, policy="Parallel"), kubelet_on=False)
    w.apply(w.reconcile())
    assert sorted(w.pvcs) == ["data-web-0", "data-web-1"]
    del w.pvcs["data-web-1"]  # e.g. deleted by hand before the pod could start
    plan = w.reconcile()
    assert [a.body["metadata"]["name"] for a in plan.of_type(A.Create, A.PVCS)] == ["data-web-1"]
    assert not plan.of_type(A.Create, A.PODS)


def test_missing_pvc_of_a_running_pod_is_not_recreated():
    w = World(statefulset(replicas=1, volumeClaimTemplates=VCT))
    w.settle()
    del w.pvcs["data-web-0"]  # a running pod keeps it in use; what is missing here is our view of it
    assert not w.reconcile().of_type(A.Create, A.PVCS)


def test_retain_keeps_pvcs_on_scale_down_and_reuses_them():
    w = World(statefulset(replicas=3, volumeClaimTemplates=VCT))
    w.settle()
    uids = {n: c["metadata"]["uid"] for n, c in w.pvcs.items()}
    w.set_replicas(1)
    w.settle()
    assert w.names() == ["web-0"] and sorted(w.pvcs) == ["data-web-0", "data-web-1", "data-web-2"]
    assert all(not c["metadata"].get("ownerReferences") for c in w.pvcs.values())
    w.set_replicas(3)
    w.settle()
    assert {n: c["metadata"]["uid"] for n, c in w.pvcs.items()} == uids


def test_when_scaled_delete_removes_the_pvcs_of_scaled_away_pods():
    w = World(statefulset(replicas=3, volumeClaimTemplates=VCT,
                          persistentVolumeClaimRetentionPolicy={"whenDeleted": "Retain", "whenScaled": "Delete"}))
    w.settle()
    w.set_replicas(1)
    plan = w.reconcile()
    patches = plan.of_type(A.Patch, A.PVCS)
    assert [p.name for p in patches] == ["data-web-2", "data-web-1"]
    assert plan.actions.index(patches[0]) < plan.actions.index(plan.of_type(A.Delete, A.PODS)[0])  # owner first
    refs = patches[0].body["metadata"]["ownerReferences"]
    assert refs == [{"apiVersion": "v1", "kind": "Pod", "name": "web-2", "uid": w.pods["web-2"]["metadata"]["uid"]}]
    w.settle()
    assert w.names() == ["web-0"] and sorted(w.pvcs) == ["data-web-0"]  # the garbage collector did the rest
    w.set_replicas(2)
    w.settle()
    assert sorted(w.pvcs) == ["data-web-0", "data-web-1"]


def test_when_scaled_delete_waits_for_a_doomed_pvc_before_recreating_the_pod():
    w = World(statefulset(replicas=2, volumeClaimTemplates=VCT, policy="Parallel",
                          persistentVolumeClaimRetentionPolicy={"whenDeleted": "Retain", "whenScaled": "Delete"}))
    w.settle()
    w.gc_on = False  # the garbage collector has not got to it yet
    w.set_replicas(1)
    w.apply(w.reconcile())
    assert w.names() == ["web-0"] and w.pvcs["data-web-1"]["metadata"]["ownerReferences"][0]["kind"] == "Pod"
    w.set_replicas(2)
    plan = w.reconcile()
    assert not plan.of_type(A.Create, A.PODS) and plan.requeue_after == 1.0  # a new web-1 would get a doomed PVC
    w.gc_on = True
    w.collect_garbage()
    w.settle()
    assert w.names() == ["web-0", "web-1"] and sorted(w.pvcs) == ["data-web-0", "data-web-1"]
    assert not w.pvcs["data-web-1"]["metadata"].get("ownerReferences")


def test_a_pvc_being_deleted_holds_back_its_pod():
    w = World(statefulset(replicas=1, volumeClaimTemplates=VCT))
    w.settle()
    w.pvcs["data-web-0"]["metadata"]["deletionTimestamp"] = "2024-05-01T12:00:00Z"  # pvc-protection holds it
    w.delete_pod("web-0")
    plan = w.reconcile()
    assert not plan.of_type(A.Create, A.PODS) and not plan.of_type(A.Create, A.PVCS) and plan.requeue_after == 1.0
    del w.pvcs["data-web-0"]
    w.settle()
    assert w.names() == ["web-0"] and "data-web-0" in w.pvcs


def test_when_deleted_delete_gives_pvcs_to_the_statefulset():
    policy = {"whenDeleted": "Delete", "whenScaled": "Retain"}
    w = World(statefulset(replicas=2, volumeClaimTemplates=VCT, persistentVolumeClaimRetentionPolicy=policy))
    w.settle()
    for c in w.pvcs.values():
        assert c["metadata"]["ownerReferences"] == [
            {"apiVersion": "apps.kruise.io/v1beta1", "kind": "StatefulSet", "name": "web", "uid": "sts-uid"}]
    w.set_replicas(1)
    w.settle()
    assert sorted(w.pvcs) == ["data-web-0", "data-web-1"]  # scaling retains them
    w.workload_deleted = True
    w.collect_garbage()
    assert w.pvcs == {}


def test_changing_the_retention_policy_patches_existing_pvcs():
    w = World(statefulset(replicas=2, volumeClaimTemplates=VCT))
    w.settle()
    w.edit_spec(lambda s: s.__setitem__("persistentVolumeClaimRetentionPolicy",
                                        {"whenDeleted": "Delete", "whenScaled": "Retain"}))
    plan = w.reconcile()
    patches = plan.of_type(A.Patch, A.PVCS)
    assert sorted(p.name for p in patches) == ["data-web-0", "data-web-1"]
    meta = patches[0].body["metadata"]
    assert meta["uid"] == w.pvcs[patches[0].name]["metadata"]["uid"] and meta["resourceVersion"]
    w.settle()
    w.edit_spec(lambda s: s.__setitem__("persistentVolumeClaimRetentionPolicy",
                                        {"whenDeleted": "Retain", "whenScaled": "Retain"}))
    w.settle()
    assert all(c["metadata"].get("ownerReferences") is None for c in w.pvcs.values())
    assert w.reconcile().actions == []


def test_a_pvc_patched_meanwhile_is_not_overwritten():
    w = World(statefulset(replicas=1, volumeClaimTemplates=VCT,
                          persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Retain"}))
    w.settle()
    w.edit_spec(lambda s: s["persistentVolumeClaimRetentionPolicy"].__setitem__("whenDeleted", "Retain"))
    plan = w.reconcile()
    w.pvcs["data-web-0"]["metadata"]["resourceVersion"] = "changed"
    w.apply(plan)
    assert w.pvcs["data-web-0"]["metadata"]["ownerReferences"]  # the conflict stopped the patch
    w.settle()
    assert not w.pvcs["data-web-0"]["metadata"].get("ownerReferences")


def test_scale_to_zero_and_back():
    w = World(statefulset(replicas=2, volumeClaimTemplates=VCT))
    w.settle()
    w.set_replicas(0)
    w.settle()
    assert w.pods == {} and w.status["replicas"] == 0
    w.set_replicas(2)
    w.settle(seconds=2)
    assert w.names() == ["web-0", "web-1"]
    assert w.settle() == 1
