"""CloneSet lifecycle hooks, and a controller killed mid-scale-up and mid-rollout, against the real API server."""
from __future__ import annotations

import signal

import pytest

from tests.kube import Cluster

from .helpers import SIM_IMAGE, CloneSets, cloneset, images, wait_for

pytestmark = pytest.mark.usefixtures("kruise")
STATE = "lifecycle.apps.kruise.io/state"


@pytest.fixture
def cs(cluster: Cluster, namespace: str) -> CloneSets:
    return CloneSets(cluster, namespace)


def state_of(cluster: Cluster, ns: str, name: str) -> str | None:
    try:
        return cluster.pod(ns, name)["metadata"]["labels"].get(STATE)
    except Exception:
        return None


def test_pre_delete_hook_holds_a_specified_delete_in_preparing_delete(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("hooked", 2, lifecycle={"preDelete": {"labelsHandler": {"example.io/hold": "true"},
                                                             "markPodNotReady": True}}))
    cs.wait_ready("hooked", 2)
    victim = cs.pods("hooked")[0]["metadata"]["name"]
    wait_for(lambda: state_of(cluster, cs.ns, victim) == "Normal", 30, "the pod in state Normal")
    cluster.kubectl("label", "pod", victim, "example.io/hold=true", namespace=cs.ns)  # an operator's hook
    cluster.kubectl("label", "pod", victim, "apps.kruise.io/specified-delete=true", namespace=cs.ns)
    wait_for(lambda: state_of(cluster, cs.ns, victim) == "PreparingDelete", 30, "PreparingDelete")
    pod = cluster.pod(cs.ns, victim)
    assert not pod["metadata"].get("deletionTimestamp"), "held by the hook"
    conditions = {c["type"]: c for c in pod["status"]["conditions"]}
    assert conditions["KruisePodReady"]["status"] == "False", "markPodNotReady"
    assert "preDeleteHook" in conditions["KruisePodReady"]["message"]
    cluster.kubectl("label", "pod", victim, "example.io/hold-", namespace=cs.ns)  # the operator releases it
    wait_for(lambda: victim not in {p["metadata"]["name"] for p in cs.pods("hooked", True)}, 30, "the pod deleted")
    cs.wait_ready("hooked", 2)


def test_pre_normal_hook_keeps_new_pods_preparing_until_hooked(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("normal", 1, lifecycle={"preNormal": {"labelsHandler": {"example.io/registered": "true"}}}))
    pod = wait_for(lambda: (pods := cs.pods("normal")) and pods[0], 30, "a pod")["metadata"]["name"]
    wait_for(lambda: state_of(cluster, cs.ns, pod) == "PreparingNormal", 30, "PreparingNormal")
    cluster.kubectl("label", "pod", pod, "example.io/registered=true", namespace=cs.ns)
    wait_for(lambda: state_of(cluster, cs.ns, pod) == "Normal", 30, "Normal once the hook is in place")


def test_in_place_update_hook_waits_in_preparing_update(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("upd", 1, update={"type": "InPlaceIfPossible"},
                       lifecycle={"inPlaceUpdate": {"labelsHandler": {"example.io/drain": "true"}}}))
    cs.wait_ready("upd", 1)
    pod = cs.pods("upd")[0]["metadata"]["name"]
    cluster.kubectl("label", "pod", pod, "example.io/drain=true", namespace=cs.ns)
    cs.set_image("upd", f"{SIM_IMAGE}:v2")
    wait_for(lambda: state_of(cluster, cs.ns, pod) == "PreparingUpdate", 30, "PreparingUpdate")
    assert cluster.pod(cs.ns, pod)["spec"]["containers"][0]["image"].endswith(":v1"), "held before the update"
    cluster.kubectl("label", "pod", pod, "example.io/drain-", namespace=cs.ns)
    wait_for(lambda: cluster.pod(cs.ns, pod)["spec"]["containers"][0]["image"].endswith(":v2"), 30, "updated in place")
    wait_for(lambda: state_of(cluster, cs.ns, pod) in ("Updated", "Normal"), 30, "Updated")


def kill_manager(sandbox) -> None:
    record = next(p for p in sandbox.state().processes if p.name == "kruise-manager")
    import os
    os.kill(record.pid, signal.SIGKILL)  # no clean shutdown: as a crashed pod


def test_a_killed_controller_resumes_without_losing_or_duplicating_pods(sandbox, cluster: Cluster, cs: CloneSets):
    """Killed in the middle of a 30-pod scale-up, and again in the middle of a rollout: after a restart the
    CloneSet has exactly 30 pods, all at the latest revision."""
    cs.create(cloneset("crash", 30, update={"type": "ReCreate", "maxUnavailable": "20%"}))
    wait_for(lambda: 3 <= len(cs.pods("crash", True)) < 30, 30, "a scale-up under way", interval=0.02)
    kill_manager(sandbox)
    sandbox.restart_manager()
    cs.wait_ready("crash", 30, timeout=120)
    assert len(cs.pods("crash", True)) == 30, "no duplicates"

    first = cs.status("crash")["updateRevision"]
    cs.set_image("crash", f"{SIM_IMAGE}:v2")
    wait_for(lambda: 0 < cs.status("crash").get("updatedReplicas", 0) < 30, 30, "a rollout under way", interval=0.02)
    kill_manager(sandbox)
    sandbox.restart_manager()
    obj = cs.wait_ready("crash", 30, timeout=180)
    wait_for(lambda: len(cs.pods("crash", True)) == 30, 60, "exactly 30 pods")
    assert images(cs.pods("crash")) == [f"{SIM_IMAGE}:v2"] * 30
    assert obj["status"]["updateRevision"] != first and obj["status"]["currentRevision"] == obj["status"]["updateRevision"]
    revisions = cluster.apps.list_namespaced_controller_revision(cs.ns).items
    assert len(revisions) == 2, "one revision per template, none duplicated"
