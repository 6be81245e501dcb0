"""OpenKruise's own CloneSet e2e cases (openkruise.md §12) that need no kruise-daemon, against the real API server."""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.kube import Cluster, PodWatch

from .helpers import SIM_IMAGE, CloneSets, cloneset, container_status, is_ready, wait_for

pytestmark = pytest.mark.usefixtures("kruise")



def ts(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def test_min_ready_seconds_with_scale_max_unavailable_creates_pods_one_by_one(cs: CloneSets):
    cs.create(cloneset("spaced", 3, minReadySeconds=2, scaleStrategy={"maxUnavailable": 1}))
    wait_for(lambda: cs.status("spaced").get("availableReplicas") == 3, 60, "3 available pods")
    created = sorted(ts(p["metadata"]["creationTimestamp"]) for p in cs.pods("spaced"))
    gaps = [(b - a).total_seconds() for a, b in zip(created, created[1:])]
    assert all(g >= 2 for g in gaps), f"creations {gaps} s apart; minReadySeconds is 2"


def lifecycle_state(pod: dict) -> str | None:
    return pod["metadata"]["labels"].get("lifecycle.apps.kruise.io/state")


def test_specified_delete_with_pre_delete_hook_creates_no_extra_pod_until_released(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("held", 3, lifecycle={"preDelete": {"labelsHandler": {"example.io/hold": "true"}}}))
    cs.wait_ready("held", 3)
    victim = cs.pods("held")[0]["metadata"]["name"]
    cluster.kubectl("label", "pod", victim, "example.io/hold=true", namespace=cs.ns)
    with PodWatch(cluster, cs.ns, "app=held") as held:
        cluster.kubectl("label", "pod", victim, "apps.kruise.io/specified-delete=true", namespace=cs.ns)
        wait_for(lambda: lifecycle_state(cluster.pod(cs.ns, victim)) == "PreparingDelete", 30, "PreparingDelete")
        cs.wait_for_a_round("held")  # one that saw the pod in PreparingDelete and still has 3 pods
    assert held.created() == [] and held.most_pods(include_terminating=True) == 3, \
        "no replacement while the hook holds the pod"
    with PodWatch(cluster, cs.ns, "app=held") as released:
        cluster.kubectl("label", "pod", victim, "example.io/hold-", namespace=cs.ns)
        wait_for(lambda: victim not in {p["metadata"]["name"] for p in cs.pods("held", True)}, 30, "deleted")
        wait_for(lambda: released.created(), 30, "a replacement")  # the status may still count the victim
        cs.wait_ready("held", 3)
    assert [p["metadata"]["name"] for p in released.deleted()] == [victim] and len(released.created()) == 1
    assert released.fewest_ready() == 2, "the others keep running"


def test_scale_down_with_lifecycle_then_scale_up_excluding_preparing_delete(cluster: Cluster, cs: CloneSets):
    """§12: with apps.kruise.io/cloneset-scaling-exclude-preparing-delete, a pod held in PreparingDelete does not
    count: scaling 3 → 2 (podsToDelete) and back to 3 creates a new pod, 4 in all until the hook lets go."""
    obj = cloneset("excl", 3, lifecycle={"preDelete": {"labelsHandler": {"example.io/hold": "true"}}})
    obj["metadata"]["labels"] = {"apps.kruise.io/cloneset-scaling-exclude-preparing-delete": "true"}
    cs.create(obj)
    cs.wait_ready("excl", 3)
    victim = cs.pods("excl")[0]["metadata"]["name"]
    cluster.kubectl("label", "pod", victim, "example.io/hold=true", namespace=cs.ns)
    cs.patch("excl", {"spec": {"replicas": 2, "scaleStrategy": {"podsToDelete": [victim]}}})
    wait_for(lambda: lifecycle_state(cluster.pod(cs.ns, victim)) == "PreparingDelete", 30, "PreparingDelete")
    wait_for(lambda: cs.status("excl").get("replicas") == 3, 30, "3 pods, one held")
    cs.patch("excl", {"spec": {"replicas": 3}})
    # Without markPodNotReady the held pod still counts as ready.
    wait_for(lambda: (s := cs.status("excl")).get("replicas") == 4 and s.get("readyReplicas") == 4, 30,
             "a new pod next to the held one", describe=lambda: cs.status("excl"))
    assert lifecycle_state(cluster.pod(cs.ns, victim)) == "PreparingDelete", "still held, not brought back"
    assert len(cs.pods("excl", True)) == 4
    cluster.kubectl("label", "pod", victim, "example.io/hold-", namespace=cs.ns)
    cs.wait_ready("excl", 3)
    wait_for(lambda: len(cs.pods("excl", True)) == 3, 30, "the held pod deleted")
    assert victim not in {p["metadata"]["name"] for p in cs.pods("excl", True)}


def test_container_priorities_update_in_batches_high_first(cluster: Cluster, cs: CloneSets):
    obj = cloneset("batches", 1, update={"type": "InPlaceIfPossible"})
    obj["spec"]["template"]["spec"]["containers"] = [
        {"name": "high", "image": f"{SIM_IMAGE}:v1", "env": [{"name": "KRUISE_CONTAINER_PRIORITY", "value": "10"}]},
        {"name": "low", "image": f"{SIM_IMAGE}:v1", "env": [{"name": "KRUISE_CONTAINER_PRIORITY", "value": "1"}]},
    ]
    cs.create(obj)
    cs.wait_ready("batches", 1)
    pod = cs.pods("batches")[0]["metadata"]["name"]
    cs.patch("batches", [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": f"{SIM_IMAGE}:v2"},
                         {"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": f"{SIM_IMAGE}:v2"}],
             "json")
    cs.wait_ready("batches", 1)
    state = json.loads(cluster.pod(cs.ns, pod)["metadata"]["annotations"]["apps.kruise.io/inplace-update-state"])
    batches = [b["containers"] for b in state["containerBatchesRecord"]]
    assert batches == [["high"], ["low"]], batches
    statuses = {s["name"]: s for s in cluster.pod(cs.ns, pod)["status"]["containerStatuses"]}
    started = {n: ts(s["state"]["running"]["startedAt"]) for n, s in statuses.items()}
    assert started["high"] <= started["low"]


def test_a_failed_first_batch_never_starts_the_second(cluster: Cluster, cs: CloneSets):
    obj = cloneset("stuck", 1, update={"type": "InPlaceIfPossible"})
    obj["spec"]["template"]["spec"]["containers"] = [
        {"name": "high", "image": f"{SIM_IMAGE}:v1", "env": [{"name": "KRUISE_CONTAINER_PRIORITY", "value": "10"}]},
        {"name": "low", "image": f"{SIM_IMAGE}:v1", "env": [{"name": "KRUISE_CONTAINER_PRIORITY", "value": "1"}]},
    ]
    cs.create(obj)
    cs.wait_ready("stuck", 1)
    pod = cs.pods("stuck")[0]["metadata"]["name"]
    cs.patch("stuck", [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": f"{SIM_IMAGE}:broken"},
                       {"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": f"{SIM_IMAGE}:v2"}],
             "json")
    wait_for(lambda: container_status(cluster.pod(cs.ns, pod), "high").get("state", {}).get("waiting"), 30,
             "the first batch failing to pull")
    wait_for(lambda: cs.status("stuck").get("observedGeneration") == 2, 10, "observed")
    live = cluster.pod(cs.ns, pod)
    images = {c["name"]: c["image"] for c in live["spec"]["containers"]}
    assert images["low"] == f"{SIM_IMAGE}:v1", "the second batch waits for the first"
    state = json.loads(live["metadata"]["annotations"]["apps.kruise.io/inplace-update-state"])
    assert state.get("nextContainerImages") == {"low": f"{SIM_IMAGE}:v2"}


def test_disable_pvc_reuse_gives_a_replacement_a_new_claim(cluster: Cluster, cs: CloneSets):
    vct = cluster.static_volumes(cs.ns, 3)
    cs.create(cloneset("fresh", 1, volumeClaimTemplates=vct, scaleStrategy={"disablePVCReuse": True}))
    try:
        cs.wait_ready("fresh", 1, timeout=90)
        gone = cs.pods("fresh")[0]["metadata"]["name"]
        cluster.kubectl("delete", "pod", gone, "--wait=false", namespace=cs.ns)
        wait_for(lambda: (pods := cs.pods("fresh")) and pods[0]["metadata"]["name"] != gone and is_ready(pods[0]), 90,
                 "a replacement with a new name")
        claims = {c.metadata.name for c in cluster.core.list_namespaced_persistent_volume_claim(cs.ns).items
                  if not c.metadata.deletion_timestamp}
        new_id = cs.pods("fresh")[0]["metadata"]["labels"]["apps.kruise.io/cloneset-instance-id"]
        assert f"data-fresh-{new_id}" in claims and f"data-{gone}" not in claims
    finally:
        cluster.kubectl("delete", "pv", "-l", f"test={cs.ns}", "--wait=false")
