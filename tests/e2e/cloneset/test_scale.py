"""CloneSet scaling against the real API server: names, instance ids, PVCs, limits, scale-in order,
selective deletion."""
from __future__ import annotations

import re

import pytest

from tests.admission import PodCreateRecorder
from tests.kube import Cluster, PodWatch

from .helpers import SIM_IMAGE, CloneSets, cloneset, is_ready, wait_for

pytestmark = pytest.mark.usefixtures("kruise")
ID = r"[bcdfghjklmnpqrstvwxz2456789]{5}"



def test_pods_are_named_with_instance_ids_and_scale_both_ways(cs: CloneSets):
    cs.create(cloneset("web", 4))
    cs.wait_ready("web", 4)
    pods = cs.pods("web")
    for p in pods:
        suffix = p["metadata"]["name"].rsplit("-", 1)[1]
        assert re.fullmatch(ID, suffix)
        assert p["metadata"]["labels"]["apps.kruise.io/cloneset-instance-id"] == suffix
        owner = p["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "CloneSet" and owner["controller"] and owner["blockOwnerDeletion"]
    cs.patch("web", {"spec": {"replicas": 10}})
    cs.wait_ready("web", 10)
    cs.patch("web", {"spec": {"replicas": 2}})
    cs.wait_ready("web", 2)
    wait_for(lambda: len(cs.pods("web", include_terminating=True)) == 2, 30, "scaled-in pods gone")


def test_scale_subresource_works_for_kubectl_scale(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("scalable", 1))
    cs.wait_ready("scalable", 1)
    cluster.kubectl("scale", "clone/scalable", "--replicas=3", namespace=cs.ns)
    cs.wait_ready("scalable", 3)
    scale = cluster.custom.get_namespaced_custom_object_scale("apps.kruise.io", "v1alpha1", cs.ns, "clonesets",
                                                              "scalable")
    assert scale["spec"]["replicas"] == 3 and scale["status"]["replicas"] == 3
    assert scale["status"]["selector"] == "app=scalable", "the HPA reads status.labelSelector"


def test_scale_strategy_max_unavailable_limits_scale_up(cs: CloneSets):
    """Pods of a broken image never become available: with scaleStrategy.maxUnavailable 2, only 2 exist."""
    cs.create(cloneset("limited", 5, f"{SIM_IMAGE}:broken", scaleStrategy={"maxUnavailable": 2}))
    wait_for(lambda: len(cs.pods("limited")) == 2, 30, "2 pods")
    wait_for(lambda: any(e["reason"] == "ScaleUpLimited" for e in cs.events("limited")), 30, "a ScaleUpLimited event")
    assert len(cs.pods("limited")) == 2, "no more than maxUnavailable unavailable pods"
    cs.set_image("limited", f"{SIM_IMAGE}:v1")  # pods become available: the rest follow
    cs.wait_ready("limited", 5, timeout=60)


def test_scale_in_removes_not_ready_pods_first(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("trim", 4))
    cs.wait_ready("trim", 4)
    victim = sorted(p["metadata"]["name"] for p in cs.pods("trim"))[1]
    # Break one pod in place (as a crash would): it stays but is not ready.
    cluster.kubectl("patch", "pod", victim, "-p",
                    '{"spec":{"containers":[{"name":"main","image":"registry.example/app:broken"}]}}', namespace=cs.ns)
    wait_for(lambda: not is_ready(cluster.pod(cs.ns, victim)), 30, f"{victim} not ready")
    cs.patch("trim", {"spec": {"replicas": 3}})
    wait_for(lambda: victim not in {p["metadata"]["name"] for p in cs.pods("trim", include_terminating=True)}, 30,
             f"{victim} deleted first")
    assert len(cs.pods("trim")) == 3 and all(is_ready(p) for p in cs.pods("trim"))


def test_scale_in_removes_old_revision_pods_first(cluster: Cluster, cs: CloneSets):
    """Three v1 pods, then (update paused) two v2 pods: scaling to 2 deletes the three v1 pods, although the
    newest pods would go first by the default ranking (ready for the shortest time)."""
    cs.create(cloneset("oldfirst", 3, update={"type": "ReCreate", "paused": True}))
    cs.wait_ready("oldfirst", 3)
    old = {p["metadata"]["uid"] for p in cs.pods("oldfirst")}
    cs.set_image("oldfirst", f"{SIM_IMAGE}:v2")
    cs.patch("oldfirst", {"spec": {"replicas": 5}})
    cs.wait_ready("oldfirst", 5, updated=False)
    new = {p["metadata"]["uid"] for p in cs.pods("oldfirst")} - old
    assert len(new) == 2 and cs.status("oldfirst")["updatedReplicas"] == 2
    with PodWatch(cluster, cs.ns, "app=oldfirst") as watch:
        cs.patch("oldfirst", {"spec": {"replicas": 2}})
        wait_for(lambda: len(cs.pods("oldfirst", True)) == 2, 30, "scaled in to 2")
    assert {p["metadata"]["uid"] for p in watch.deleted()} == old
    assert {p["metadata"]["uid"] for p in cs.pods("oldfirst")} == new


def test_pods_are_created_in_slow_start_batches_that_stop_at_the_first_failure(cluster: Cluster, cs: CloneSets):
    """The API server's own view of the creates (a webhook of the test's) shows the batches: 1, 2, then 4 of
    which the first is refused, so no further batch in that round; the next round creates the 4 still missing
    in batches of 1, 2 and 1. Without slow start: one group of 10; without the stop: 1, 2, 4, 3, then 1."""
    with PodCreateRecorder(cluster, cs.ns, {"app": "slow"}, deny=lambda n: n == 3) as recorder:
        cs.create(cloneset("slow", 10))
        cs.wait_ready("slow", 10)
    assert recorder.sizes == [1, 2, 4, 1, 2, 1] and recorder.denied == [3], recorder.groups
    assert sum(e["reason"] == "FailedCreate" for e in cs.events("slow")) == 1


def test_pods_to_delete_replaces_the_named_pod_and_is_truncated(cs: CloneSets):
    cs.create(cloneset("pick", 3))
    cs.wait_ready("pick", 3)
    victim = cs.pods("pick")[0]["metadata"]["name"]
    cs.patch("pick", {"spec": {"scaleStrategy": {"podsToDelete": [victim]}}})
    wait_for(lambda: victim not in {p["metadata"]["name"] for p in cs.pods("pick", True)}, 30, f"{victim} deleted")
    cs.wait_ready("pick", 3)
    wait_for(lambda: not cs.get("pick")["spec"].get("scaleStrategy", {}).get("podsToDelete"), 30,
             "podsToDelete truncated once the pod is gone")


def test_specified_delete_label_replaces_the_pod(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("label", 3))
    cs.wait_ready("label", 3)
    victim = cs.pods("label")[0]["metadata"]["name"]
    cluster.kubectl("label", "pod", victim, "apps.kruise.io/specified-delete=true", namespace=cs.ns)
    wait_for(lambda: victim not in {p["metadata"]["name"] for p in cs.pods("label", True)}, 30, f"{victim} deleted")
    cs.wait_ready("label", 3)
    assert any(e["reason"] == "SuccessfulDelete" for e in cs.events("label"))


def failed_scale(cs: CloneSets, name: str) -> dict | None:
    return next((c for c in cs.status(name).get("conditions") or [] if c["type"] == "FailedScale"), None)


def test_failed_creates_are_reported_and_retried(cluster: Cluster, cs: CloneSets):
    """A ResourceQuota refuses pods beyond 2: the CloneSet reports FailedCreate events and the FailedScale
    condition, and catches up once the quota allows it, which clears the condition."""
    cluster.apply({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "pods"},
                   "spec": {"hard": {"pods": "2"}}}, cs.ns)
    wait_for(lambda: cluster.core.read_namespaced_resource_quota("pods", cs.ns).status.hard, 30, "the quota in force")
    cs.create(cloneset("quota", 5))
    wait_for(lambda: any(e["reason"] == "FailedCreate" and "exceeded quota" in e["message"]
                         for e in cs.events("quota")), 30, "a FailedCreate event naming the quota")
    condition = wait_for(lambda: failed_scale(cs, "quota"), 30, "condition FailedScale")
    assert condition["status"] == "True" and "exceeded quota" in condition["message"], condition
    assert condition["lastTransitionTime"]
    assert len(cs.pods("quota")) == 2
    cluster.kubectl("patch", "resourcequota", "pods", "-p", '{"spec":{"hard":{"pods":"10"}}}', namespace=cs.ns)
    status = cs.wait_ready("quota", 5, timeout=90)["status"]
    assert status["conditions"] == [], "scaling without error drops FailedScale"


def test_volume_claim_templates_give_each_pod_its_pvc_and_reuse_orphans(cluster: Cluster, cs: CloneSets):
    vct = cluster.static_volumes(cs.ns, 4)
    cs.create(cloneset("vol", 2, volumeClaimTemplates=vct))
    try:
        cs.wait_ready("vol", 2, timeout=90)
        pvcs = {c.metadata.name: c for c in cluster.core.list_namespaced_persistent_volume_claim(cs.ns).items}
        for pod in cs.pods("vol"):
            iid = pod["metadata"]["labels"]["apps.kruise.io/cloneset-instance-id"]
            claim = f"data-vol-{iid}"
            assert claim in pvcs and pvcs[claim].metadata.labels["apps.kruise.io/cloneset-instance-id"] == iid
            assert {"name": "data", "persistentVolumeClaim": {"claimName": claim}} in pod["spec"]["volumes"]
        # Delete a pod: its replacement reuses the orphaned claim (and so the instance id and name).
        gone = cs.pods("vol")[0]
        cluster.kubectl("delete", "pod", gone["metadata"]["name"], "--wait=false", namespace=cs.ns)
        wait_for(lambda: gone["metadata"]["uid"] not in {p["metadata"]["uid"] for p in cs.pods("vol", True)}, 30,
                 "the pod replaced")
        cs.wait_ready("vol", 2, timeout=60)
        names = {p["metadata"]["name"] for p in cs.pods("vol")}
        assert gone["metadata"]["name"] in names, "the replacement reuses the orphaned PVC's instance id"
    finally:
        cluster.kubectl("delete", "pv", "-l", f"test={cs.ns}", "--wait=false")
