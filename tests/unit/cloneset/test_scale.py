from controllers.common import actions as A
from controllers.common.keys import (CLONESET_INSTANCE_ID_LABEL, CLONESET_SCALING_EXCLUDE_PREPARING_DELETE_LABEL,
                                     LIFECYCLE_STATE_LABEL, SPECIFIED_DELETE_LABEL)

from .world import World, cloneset

VCT = [{"metadata": {"name": "data", "labels": {"kind": "data"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]


def test_scale_up_returns_every_create_at_once_revision_first():
    w = World(cloneset(replicas=10))
    plan = w.reconcile()
    kinds = [a.what for a in plan.actions]
    assert kinds[0] == "create controllerrevisions.apps"
    assert kinds.count("create pods") == 10
    assert plan.of_type(A.Event)[0] == A.Event("Normal", "SuccessfulCreate", "succeed to create pod demo-bbbbb")


def test_new_pod_shape():
    w = World(cloneset(replicas=1, volumeClaimTemplates=VCT))
    plan = w.reconcile()
    [pvc] = [a.body for a in plan.of_type(A.Create, A.PVCS)]
    [pod] = [a.body for a in plan.of_type(A.Create, A.PODS)]
    rev = plan.of_type(A.Create, A.REVISIONS)[0].body["metadata"]["name"]
    assert plan.actions.index(plan.of_type(A.Create, A.PVCS)[0]) < plan.actions.index(plan.of_type(A.Create, A.PODS)[0])
    meta = pod["metadata"]
    assert meta["name"] == "demo-bbbbb" and meta["generateName"] == "demo-" and meta["namespace"] == "default"
    assert meta["labels"] == {"app": "demo", "controller-revision-hash": rev, "pod-template-hash": rev.split("-")[-1],
                              CLONESET_INSTANCE_ID_LABEL: "bbbbb", LIFECYCLE_STATE_LABEL: "PreparingNormal"}
    assert meta["annotations"] == {"lifecycle.apps.kruise.io/timestamp": "2024-05-01T12:00:00Z"}
    assert meta["ownerReferences"] == [{"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "name": "demo",
                                        "uid": "cs-uid", "controller": True, "blockOwnerDeletion": True}]
    assert pod["spec"]["readinessGates"] == [{"conditionType": "InPlaceUpdateReady"}]
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-demo-bbbbb"}}]
    assert pvc["metadata"]["name"] == "data-demo-bbbbb"
    assert pvc["metadata"]["labels"] == {"kind": "data", "app": "demo", CLONESET_INSTANCE_ID_LABEL: "bbbbb"}
    assert pvc["metadata"]["ownerReferences"][0]["uid"] == "cs-uid"
    assert pvc["spec"] == VCT[0]["spec"]


def test_new_pods_become_ready_through_the_controller():
    w = World(cloneset(replicas=2))
    w.apply(w.reconcile())
    w.kubelet()
    assert w.ready_pods() == []  # InPlaceUpdateReady is not set yet
    plan = w.reconcile()
    assert len(plan.of_type(A.Patch, A.PODS, "status")) == 2  # InPlaceUpdateReady=True
    assert len(plan.of_type(A.Patch, A.PODS)) == 2  # PreparingNormal -> Normal
    w.apply(plan)
    w.kubelet()
    assert len(w.ready_pods()) == 2


def test_scale_strategy_max_unavailable_creates_one_by_one():
    w = World(cloneset(replicas=3, scaleStrategy={"maxUnavailable": 1}))
    created_per_round = []
    for _ in range(30):
        plan = w.step()
        created_per_round.append(len(plan.of_type(A.Create, A.PODS)))
        if not plan.actions and plan.requeue_after is None:
            break
    assert max(created_per_round) == 1 and sum(created_per_round) == 3
    assert "ScaleUpLimited" in w.event_reasons()
    assert len(w.ready_pods()) == 3


def test_scale_in_deletes_not_ready_pods_first_with_their_pvcs():
    w = World(cloneset(replicas=4, volumeClaimTemplates=VCT))
    w.settle()
    sick = "demo-bbbbd"
    w.pods[sick]["spec"]["containers"][0]["image"] = "nginx:broken"  # the pod breaks (a test shortcut)
    w.kubelet()
    w.edit_spec(lambda s: s.__setitem__("replicas", 3))
    plan = w.reconcile()
    assert plan.of_type(A.Delete, A.PODS) == [A.delete_pod(sick, w.pods[sick]["metadata"]["uid"], "scale in")]
    [pvc] = plan.of_type(A.Delete, A.PVCS)
    assert (pvc.name, pvc.ignore) == (f"data-{sick}", (404, 409)) and pvc.uid, "the PVC as seen: its uid"
    w.apply(plan)
    w.settle()
    assert len(w.pods) == 3 and len(w.pvcs) == 3


def test_scale_in_prefers_old_revision_pods():
    w = World(cloneset(replicas=4, update={"partition": 2}))
    w.settle()
    w.set_image("nginx:1.26")
    w.settle()
    assert w.status["updatedReplicas"] == 2
    old = {n for n, p in w.pods.items() if p["spec"]["containers"][0]["image"] == "nginx:1.25"}
    w.edit_spec(lambda s: (s.__setitem__("replicas", 3), s["updateStrategy"].__setitem__("partition", 0)))
    plan = w.reconcile()
    [deleted] = plan.of_type(A.Delete, A.PODS)
    assert deleted.name in old


def test_pods_to_delete_replaces_the_pod_and_is_truncated():
    w = World(cloneset(replicas=3))
    w.settle()
    victim = sorted(w.pods)[1]
    w.edit_spec(lambda s: s["scaleStrategy"].__setitem__("podsToDelete", [victim, "no-such-pod"]))
    plan = w.reconcile()
    assert [a.name for a in plan.of_type(A.Delete, A.PODS)] == [victim]
    assert plan.of_type(A.Patch, A.WORKLOAD)[0].body["spec"] == {"scaleStrategy": {"podsToDelete": [victim]}}
    w.apply(plan)
    w.settle()
    assert victim not in w.pods and len(w.ready_pods()) == 3
    assert w.cloneset["spec"]["scaleStrategy"].get("podsToDelete") is None  # truncated once the pod is gone


def test_specified_delete_label_respects_max_unavailable():
    w = World(cloneset(replicas=5, update={"maxUnavailable": 1}))
    w.settle()
    for name in sorted(w.pods)[:3]:
        w.pods[name]["metadata"]["labels"][SPECIFIED_DELETE_LABEL] = "true"
    plan = w.reconcile()
    assert len(plan.of_type(A.Delete, A.PODS)) == 1  # one ready pod at a time
    w.apply(plan)
    w.settle()
    assert len(w.pods) == 5 and not any(SPECIFIED_DELETE_LABEL in p["metadata"]["labels"] for p in w.pods.values())


HOOK = {"preDelete": {"labelsHandler": {"example.com/hold": "true"}}}


def test_specified_delete_with_pre_delete_hook_waits_in_preparing_delete():
    """e2e: specific delete a Pod (scalingExcludePreparingDelete disabled)."""
    w = World(cloneset(replicas=3, lifecycle=HOOK))
    w.settle()
    victim = sorted(w.pods)[0]
    w.pods[victim]["metadata"]["labels"]["example.com/hold"] = "true"
    w.pods[victim]["metadata"]["labels"][SPECIFIED_DELETE_LABEL] = "true"
    for _ in range(5):
        w.step()
    assert w.pods[victim]["metadata"]["labels"][LIFECYCLE_STATE_LABEL] == "PreparingDelete"
    assert len(w.pods) == 3  # no replacement while the hook holds the pod
    assert w.status["replicas"] == 3 and w.status["readyReplicas"] == 2 + 1  # still Running and Ready
    del w.pods[victim]["metadata"]["labels"]["example.com/hold"]  # the hook owner releases it
    w.settle()
    assert victim not in w.pods and len(w.pods) == 3 and len(w.ready_pods()) == 3


def test_mark_pod_not_ready_on_pre_delete():
    hook = {"preDelete": {"labelsHandler": {"example.com/hold": "true"}, "markPodNotReady": True}}
    w = World(cloneset(replicas=2, lifecycle=hook))
    w.settle()
    victim = sorted(w.pods)[0]
    pod = w.pods[victim]
    pod["spec"]["readinessGates"].append({"conditionType": "KruisePodReady"})  # what the pod webhook injects
    pod["status"]["conditions"].append({"type": "KruisePodReady", "status": "True"})
    pod["metadata"]["labels"]["example.com/hold"] = "true"
    w.edit_spec(lambda s: s["scaleStrategy"].__setitem__("podsToDelete", [victim]))
    w.step()
    kpr = next(c for c in w.pods[victim]["status"]["conditions"] if c["type"] == "KruisePodReady")
    assert kpr["status"] == "False" and "preDeleteHook" in kpr["message"]
    assert victim not in w.ready_pods()


def test_scale_down_with_hook_then_up_creates_a_new_pod_when_excluding_preparing_delete():
    """e2e: specific scale down with lifecycle and then scale up (exclude label enabled)."""
    cs = cloneset(replicas=3, lifecycle=HOOK)
    cs["metadata"]["labels"] = {CLONESET_SCALING_EXCLUDE_PREPARING_DELETE_LABEL: "true"}
    w = World(cs)
    w.settle()
    victim = sorted(w.pods)[0]
    w.pods[victim]["metadata"]["labels"]["example.com/hold"] = "true"
    w.edit_spec(lambda s: (s.__setitem__("replicas", 2), s["scaleStrategy"].__setitem__("podsToDelete", [victim])))
    for _ in range(4):
        w.step()
    assert w.pods[victim]["metadata"]["labels"][LIFECYCLE_STATE_LABEL] == "PreparingDelete" and len(w.pods) == 3
    w.edit_spec(lambda s: s.__setitem__("replicas", 3))
    for _ in range(6):
        w.step()
    assert len(w.pods) == 4 and w.status["replicas"] == 4
    del w.pods[victim]["metadata"]["labels"]["example.com/hold"]
    w.settle()
    assert len(w.pods) == 3 and victim not in w.pods


def test_scale_out_cancels_a_pending_scale_in():
    w = World(cloneset(replicas=3, lifecycle=HOOK))
    w.settle()
    names = sorted(w.pods)
    for n in names:
        w.pods[n]["metadata"]["labels"]["example.com/hold"] = "true"
    w.edit_spec(lambda s: s.__setitem__("replicas", 2))
    w.step()
    [held] = [n for n, p in w.pods.items() if p["metadata"]["labels"][LIFECYCLE_STATE_LABEL] == "PreparingDelete"]
    w.edit_spec(lambda s: s.__setitem__("replicas", 3))
    plan = w.step()
    assert [a.name for a in plan.of_type(A.Patch, A.PODS)] == [held] and not plan.of_type(A.Create, A.PODS)
    assert w.pods[held]["metadata"]["labels"][LIFECYCLE_STATE_LABEL] == "PreparingNormal"
    w.settle()
    assert sorted(w.pods) == names


def test_a_deleted_pod_comes_back_with_its_name_and_pvc():
    w = World(cloneset(replicas=2, volumeClaimTemplates=VCT))
    w.settle()
    victim = sorted(w.pods)[0]
    pvc_uid = w.pvcs[f"data-{victim}"]["metadata"]["uid"]
    del w.pods[victim]  # deleted outside the controller
    plan = w.reconcile()
    assert [a.body["metadata"]["name"] for a in plan.of_type(A.Create, A.PODS)] == [victim]
    assert plan.of_type(A.Create, A.PVCS) == []  # reused
    w.apply(plan)
    w.settle()
    assert w.pvcs[f"data-{victim}"]["metadata"]["uid"] == pvc_uid


def test_disable_pvc_reuse_deletes_the_orphan_and_uses_a_new_id():
    w = World(cloneset(replicas=2, volumeClaimTemplates=VCT, scaleStrategy={"disablePVCReuse": True}))
    w.settle()
    victim = sorted(w.pods)[0]
    del w.pods[victim]
    plan = w.reconcile()
    assert (plan.actions[0].name, plan.actions[0].uid) == (f"data-{victim}", "uid-2"), "the PVC as seen: its uid"
    [created] = plan.of_type(A.Create, A.PODS)
    assert created.body["metadata"]["name"] != victim
    w.apply(plan)
    w.settle()
    assert f"data-{victim}" not in w.pvcs and len(w.pvcs) == 2


def test_a_replacement_waits_for_the_terminating_pod_that_holds_its_name():
    w = World(cloneset(replicas=2, volumeClaimTemplates=VCT))
    w.settle()
    w.grace_seconds = 5
    victim = sorted(w.pods)[0]
    w.pods[victim]["metadata"]["deletionTimestamp"] = "2024-05-01T12:10:00Z"  # deleted by someone, terminating
    plan = w.reconcile()
    assert plan.of_type(A.Create, A.PODS) == [] and plan.requeue_after == 1.0
    del w.pods[victim]  # gone
    plan = w.reconcile()
    assert [a.body["metadata"]["name"] for a in plan.of_type(A.Create, A.PODS)] == [victim]


def test_a_failed_pod_keeps_its_name_and_a_new_one_is_created():
    w = World(cloneset(replicas=1, volumeClaimTemplates=VCT))
    w.settle()
    [evicted] = list(w.pods)
    w.pods[evicted]["status"]["phase"] = "Failed"  # evicted: the object stays until pod GC
    plan = w.reconcile()
    [created] = plan.of_type(A.Create, A.PODS)
    assert created.body["metadata"]["name"] != evicted  # its name (and PVC) stay with the failed pod
    assert plan.of_type(A.Create, A.PVCS) and plan.requeue_after is None


def test_a_scaling_round_refreshes_the_pods_earlier_rounds_created():
    """Issue 21 item 4: the runtime creates about a second's worth of pods a round, so a scale-up spans many
    rounds; each also refreshes the fresh pods (InPlaceUpdateReady=True, PreparingNormal → Normal) instead of
    leaving them unready until the last create, as upstream's skipped update step would."""
    w = World(cloneset(replicas=3))
    w.step()
    first = {n for n, p in w.pods.items() if p["metadata"]["labels"][LIFECYCLE_STATE_LABEL] == "PreparingNormal"}
    assert len(first) == 3 and not w.ready_pods()
    w.cloneset["spec"]["replicas"] = 6
    plan = w.step()
    assert len(plan.of_type(A.Create, A.PODS)) == 3, "the round scales"
    refreshed = {a.name for a in plan.of_type(A.Patch, A.PODS, "status")}
    assert refreshed == first, "and refreshes the pods the previous round created, not the new ones"
    assert set(w.ready_pods()) >= first
    assert {w.pods[n]["metadata"]["labels"][LIFECYCLE_STATE_LABEL] for n in first} == {"Normal"}


def test_only_fresh_pods_are_refreshed_while_scaling():
    from controllers.cloneset.update import is_fresh
    fresh = {"metadata": {"labels": {LIFECYCLE_STATE_LABEL: "PreparingNormal"}}, "status": {}}
    assert is_fresh(fresh)
    assert not is_fresh({"metadata": {"labels": {LIFECYCLE_STATE_LABEL: "Normal"}}})
    assert not is_fresh({**fresh, "status": {"conditions": [{"type": "InPlaceUpdateReady", "status": "False"}]}})
    assert not is_fresh({"metadata": {**fresh["metadata"],
                                      "annotations": {"apps.kruise.io/inplace-update-state": "{}"}}})


def test_pvc_cleanup_is_one_pass_over_many_pvcs():
    """cleanupPVCs with thousands of PVCs: each is judged once (it was O(PVCs²), 0.7 s at 4,000)."""
    from controllers.cloneset.reconcile import _cleanup_pvcs
    from controllers.common.keys import CLONESET_INSTANCE_ID_LABEL as ID

    pods = [{"metadata": {"name": f"p-{i}", "labels": {ID: f"id-{i}"}}} for i in range(0, 4000, 2)]
    pvcs = [{"metadata": {"name": f"data-{i}", "uid": f"u-{i}", "labels": {ID: f"id-{i}"}}} for i in range(4000)]
    twin = {"metadata": {"name": "twin", "labels": {ID: "gone"}}}
    drop, keep = _cleanup_pvcs(pods, pvcs + [twin, dict(twin)])
    assert [c["metadata"]["name"] for c in keep] == [f"data-{i}" for i in range(0, 4000, 2)]
    assert [a.name for a in drop] == [f"data-{i}" for i in range(1, 4000, 2)] + ["twin", "twin"]
