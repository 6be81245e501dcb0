"""CloneSet adopting orphans and releasing pods (Kubernetes' ControllerRefManager, which the runtime applies to
every workload's pods; Advanced StatefulSet's side is in tests/e2e/statefulset/test_adoption.py)."""
from __future__ import annotations

import pytest

from tests.kube import Cluster, PodWatch, controller_of, wait_for

from .helpers import CloneSets, cloneset

pytestmark = pytest.mark.usefixtures("kruise")



def owned_by(pod: dict, uid: str) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and any(
        r.get("controller") and r["uid"] == uid for r in pod["metadata"].get("ownerReferences") or [])


def controlled(cluster: Cluster, namespace: str, uid: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in cluster.pods(namespace) if owned_by(p, uid))


def test_cloneset_adopts_an_orphan_instead_of_replacing_it(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("web", 2))
    uid = cs.wait_ready("web", 2)["metadata"]["uid"]
    pod = cs.pods("web")[0]["metadata"]["name"]
    with PodWatch(cluster, cs.ns) as watch:
        cluster.kubectl("patch", "pod", pod, "--type=json", "-p",
                        '[{"op":"remove","path":"/metadata/ownerReferences"}]', namespace=cs.ns)
        wait_for(lambda: controller_of(cluster, cs.ns, pod) == uid, 30, f"{pod} adopted")
        cs.wait_ready("web", 2)
    assert watch.created() == [] and watch.deleted() == []
    [ref] = cluster.pod(cs.ns, pod)["metadata"]["ownerReferences"]
    assert ref == {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "name": "web", "uid": uid,
                   "controller": True, "blockOwnerDeletion": True}


def test_cloneset_releases_a_pod_that_no_longer_matches_and_adopts_it_back(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("web", 2))
    uid = cs.wait_ready("web", 2)["metadata"]["uid"]
    pod = cs.pods("web")[0]["metadata"]["name"]
    with PodWatch(cluster, cs.ns) as watch:
        cluster.kubectl("label", "pod", pod, "app=elsewhere", "--overwrite", namespace=cs.ns)
        wait_for(lambda: controller_of(cluster, cs.ns, pod) is None, 30, f"{pod} released")
        # a replacement for the released pod (the status may still say 2 ready from before: wait for the pod)
        wait_for(lambda: len(watch.created()) == 1, 30, "a replacement pod")
        cs.wait_ready("web", 2)
        assert pod not in controlled(cluster, cs.ns, uid)
        # Matching again: adopted back, one pod too many, so the CloneSet scales in by one.
        cluster.kubectl("label", "pod", pod, "app=web", "--overwrite", namespace=cs.ns)
        wait_for(lambda: any(kind == "DELETED" for kind, _ in watch.events), 30, "one pod scaled in")
        cs.wait_ready("web", 2)
    assert len(watch.created()) == 1, "one replacement, and none after the released pod came back"
    assert watch.largest(lambda pods: len([p for p in pods if owned_by(p, uid)])) == 3, "the released pod came back"
    assert len(controlled(cluster, cs.ns, uid)) == 2


def test_a_cloneset_deleted_with_orphan_cascade_leaves_its_pods_for_the_next_one(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("web", 3))
    old_uid = cs.wait_ready("web", 3)["metadata"]["uid"]
    pods = sorted(p["metadata"]["uid"] for p in cs.pods("web"))
    with PodWatch(cluster, cs.ns) as watch:
        cluster.kubectl("delete", "clone", "web", "--cascade=orphan", namespace=cs.ns)
        assert all(controller_of(cluster, cs.ns, p["metadata"]["name"]) is None for p in cs.pods("web"))
        cs.create(cloneset("web", 3))
        new_uid = cs.wait_ready("web", 3)["metadata"]["uid"]
    assert new_uid != old_uid
    assert sorted(p["metadata"]["uid"] for p in cs.pods("web")) == pods
    assert len(controlled(cluster, cs.ns, new_uid)) == 3
    assert watch.created() == [] and watch.deleted() == []
