"""Advanced StatefulSet adopting orphans and releasing pods (Kubernetes' ControllerRefManager, OpenKruise's
"adopt matching orphans / release non-matching pods"), and PVC retention after an adoption."""
from __future__ import annotations

import pytest

from tests.kube import Cluster, PodWatch, controller_of, wait_for

from .helpers import SIM, Sets, asts

pytestmark = pytest.mark.usefixtures("kruise")


def orphan(cluster: Cluster, namespace: str, pod: str) -> None:
    cluster.kubectl("patch", "pod", pod, "--type=json", "-p", '[{"op":"remove","path":"/metadata/ownerReferences"}]',
                    namespace=namespace)


def test_adopts_matching_orphans_and_releases_pods_that_no_longer_match(cluster: Cluster, sets: Sets):
    sets.create(asts("adopt", 2))
    uid = sets.wait_ready("adopt", 2)["metadata"]["uid"]
    with PodWatch(cluster, sets.ns) as watch:  # the whole namespace: a relabelled pod leaves a selector's watch
        orphan(cluster, sets.ns, "adopt-1")
        wait_for(lambda: controller_of(cluster, sets.ns, "adopt-1") == uid, 30, "adopt-1 adopted again")

        cluster.kubectl("label", "pod", "adopt-1", "app-", namespace=sets.ns)
        wait_for(lambda: controller_of(cluster, sets.ns, "adopt-1") is None, 30, "adopt-1 released")
        # Its name is taken, so the set cannot create adopt-1 while the released pod is there.
        wait_for(lambda: sets.condition("adopt", "FailedCreatePod"), 30, "a FailedCreatePod condition")

        cluster.kubectl("label", "pod", "adopt-1", "app=adopt", namespace=sets.ns)
        wait_for(lambda: controller_of(cluster, sets.ns, "adopt-1") == uid, 30, "adopt-1 adopted again")
        sets.wait_ready("adopt", 2)
        wait_for(lambda: sets.condition("adopt", "FailedCreatePod") is None, 30, "the condition cleared")
    assert watch.created() == [] and watch.deleted() == [], "the same two pods all along"
    [ref] = cluster.pod(sets.ns, "adopt-1")["metadata"]["ownerReferences"]
    assert ref == {"apiVersion": "apps.kruise.io/v1beta1", "kind": "StatefulSet", "name": "adopt", "uid": uid,
                   "controller": True, "blockOwnerDeletion": True}


def test_a_set_deleted_with_orphan_cascade_leaves_its_pods_and_a_new_one_adopts_them(cluster: Cluster, sets: Sets):
    sets.create(asts("again", 2))
    old_uid = sets.wait_ready("again", 2)["metadata"]["uid"]
    pods = {p["metadata"]["name"]: p["metadata"]["uid"] for p in sets.pods("again")}
    with PodWatch(cluster, sets.ns) as watch:
        # The garbage collector removes the references while the set is being deleted: the set must not take
        # its pods back meanwhile (they would then go with it).
        sets.delete("again", "--cascade=orphan")
        wait_for(lambda: all(controller_of(cluster, sets.ns, n) is None for n in pods), 30, "orphans")
        sets.create(asts("again", 2, f"{SIM}:v1"))
        new_uid = sets.wait_ready("again", 2)["metadata"]["uid"]
    assert new_uid != old_uid
    assert {n: controller_of(cluster, sets.ns, n) for n in pods} == {n: new_uid for n in pods}
    assert {p["metadata"]["name"]: p["metadata"]["uid"] for p in sets.pods("again")} == pods
    assert watch.created() == [] and watch.deleted() == []
    # The revision the old set left behind is the new set's too: adopted, not a hash collision.
    assert [[r["uid"] for r in rev["metadata"]["ownerReferences"]] for rev in sets.revisions()] == [[new_uid]]
    # Not every orphan: a pod not named <set>-<ordinal> is left alone even when the selector matches it.
    stray = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "again-x", "labels": {"app": "again"}},
             "spec": asts("again", 1)["spec"]["template"]["spec"]}
    cluster.apply(stray, sets.ns)
    sets.patch("again", {"spec": {"replicas": 3}})
    sets.wait_ready("again", 3)
    assert controller_of(cluster, sets.ns, "again-x") is None


def test_claims_follow_the_retention_policy_after_an_adoption(cluster: Cluster, sets: Sets):
    """OpenKruise's and Kubernetes' "should delete PVCs after adopting pod" (WhenScaled, then WhenDeleted): the
    claims of an adopted pod get the references the policy asks for."""
    vct = cluster.static_volumes(sets.ns, 3)
    try:
        policy = {"whenDeleted": "Delete", "whenScaled": "Delete"}
        sets.create(asts("kept", 3, volumeClaimTemplates=vct, persistentVolumeClaimRetentionPolicy=policy))
        uid = sets.wait_ready("kept", 3)["metadata"]["uid"]
        orphan(cluster, sets.ns, "kept-2")
        wait_for(lambda: controller_of(cluster, sets.ns, "kept-2") == uid, 30, "kept-2 adopted again")
        sets.patch("kept", {"spec": {"replicas": 1}})
        sets.wait_ready("kept", 1)
        wait_for(lambda: sets.claims() == ["data-kept-0"], 60, "the claims of kept-1 and kept-2 deleted")

        # Deleted with orphan cascade, the claim loses its reference too; the new set adopts the pod and puts
        # its own reference on the claim, so that the claim goes with it.
        sets.delete("kept", "--cascade=orphan")
        sets.create(asts("kept", 1, volumeClaimTemplates=vct, persistentVolumeClaimRetentionPolicy=policy))
        new_uid = sets.wait_ready("kept", 1)["metadata"]["uid"]
        wait_for(lambda: [r.uid for r in cluster.core.read_namespaced_persistent_volume_claim(
            "data-kept-0", sets.ns).metadata.owner_references or []] == [new_uid], 30, "the claim owned by the new set")
        sets.delete("kept", "--wait=false")
        wait_for(lambda: sets.claims() == [] and not sets.pods("kept", include_terminating=True), 60,
                 "the pod and its claim gone with the set")
    finally:
        cluster.kubectl("delete", "pv", "-l", f"test={sets.ns}", "--wait=false")
