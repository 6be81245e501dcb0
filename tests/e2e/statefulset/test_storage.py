"""Advanced StatefulSet storage against the real API server: persistentVolumeClaimRetentionPolicy whenDeleted
(Delete and Retain), whenScaled with reserveOrdinals, and a missing claim recreated for a pending pod. The
claims bind to statically provisioned volumes (`Cluster.static_volumes`), so the pods run."""
from __future__ import annotations

import pytest

from tests.kube import Cluster, wait_for

from .helpers import Sets, asts

pytestmark = pytest.mark.usefixtures("kruise")


@pytest.fixture
def volumes(cluster: Cluster, namespace: str):
    """static_volumes(count) for this namespace; the volumes are removed afterwards."""
    yield lambda count: cluster.static_volumes(namespace, count)
    cluster.kubectl("delete", "pv", "-l", f"test={namespace}", "--wait=false")


def owner_kinds(cluster: Cluster, namespace: str, claim: str) -> list[str]:
    pvc = cluster.core.read_namespaced_persistent_volume_claim(claim, namespace)
    return [r.kind for r in pvc.metadata.owner_references or []]


def test_when_deleted_delete_removes_the_claims_with_the_statefulset(cluster: Cluster, sets: Sets, volumes):
    policy = {"whenDeleted": "Delete", "whenScaled": "Retain"}
    sets.create(asts("gone", 2, volumeClaimTemplates=volumes(2), persistentVolumeClaimRetentionPolicy=policy))
    sets.wait_ready("gone", 2)
    assert sets.claims() == ["data-gone-0", "data-gone-1"]
    assert owner_kinds(cluster, sets.ns, "data-gone-0") == ["StatefulSet"]
    sets.delete("gone", "--wait=false")
    wait_for(lambda: sets.claims() == [] and not sets.pods("gone", include_terminating=True), 60,
             "the pods and their claims gone with the StatefulSet")


def test_when_deleted_retain_keeps_the_claims(cluster: Cluster, sets: Sets, volumes):
    sets.create(asts("kept", 2, volumeClaimTemplates=volumes(2)))
    sets.wait_ready("kept", 2)
    sets.delete("kept", "--wait=false")
    wait_for(lambda: not sets.pods("kept", include_terminating=True), 60, "the pods gone")
    assert sets.claims() == ["data-kept-0", "data-kept-1"]
    assert owner_kinds(cluster, sets.ns, "data-kept-0") == []


def test_when_scaled_delete_with_reserve_ordinals(cluster: Cluster, sets: Sets, volumes):
    """OpenKruise's "PVC retention with reserveOrdinals [0, "2-5"]": replicas 3 run ordinals 1, 6 and 7; scaled
    to 1, the claims of 6 and 7 go with their pods."""
    policy = {"whenDeleted": "Retain", "whenScaled": "Delete"}
    sets.create(asts("gaps", 3, volumeClaimTemplates=volumes(3), reserveOrdinals=[0, "2-5"],
                     persistentVolumeClaimRetentionPolicy=policy))
    sets.wait_ready("gaps", 3)
    assert sets.names("gaps") == ["gaps-1", "gaps-6", "gaps-7"]
    assert sets.claims() == ["data-gaps-1", "data-gaps-6", "data-gaps-7"]
    sets.patch("gaps", {"spec": {"replicas": 1}})
    sets.wait_ready("gaps", 1)
    wait_for(lambda: sets.claims() == ["data-gaps-1"], 60, "the claims of the scaled-away ordinals deleted")
    assert sets.names("gaps") == ["gaps-1"]


def test_a_missing_claim_is_recreated_for_a_pending_pod(cluster: Cluster, sets: Sets):
    # A storage class with no volumes: the claim stays unbound and the pod Pending (unschedulable).
    vct = [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "nothing",
                                                   "resources": {"requests": {"storage": "1Gi"}}}}]
    sets.create(asts("pending", 1, volumeClaimTemplates=vct))
    wait_for(lambda: sets.claims() == ["data-pending-0"] and sets.names("pending") == ["pending-0"], 30,
             "the claim and the pod")
    old = cluster.core.read_namespaced_persistent_volume_claim("data-pending-0", sets.ns).metadata.uid
    # The pvc-protection finalizer does not hold a claim of an unscheduled pod: it goes at once.
    cluster.kubectl("delete", "pvc", "data-pending-0", "--wait=true", namespace=sets.ns)
    claim = wait_for(lambda: next((c for c in cluster.core.list_namespaced_persistent_volume_claim(sets.ns).items
                                   if c.metadata.uid != old), None), 30, "data-pending-0 recreated")
    assert claim.metadata.name == "data-pending-0" and claim.metadata.labels == {"app": "pending"}
    pod = cluster.pod(sets.ns, "pending-0")
    assert pod["status"]["phase"] == "Pending"
