"""Advanced StatefulSet scaling and pod identity against the real API server, pods on the simulated nodes:
hostname, subdomain and identity labels; OrderedReady order and halts; Parallel bursts and
scaleStrategy.maxUnavailable; failed pods (ordinals.start, behind its feature gate: test_feature_gates.py).

Pod health is in the test's hands where it matters: the pods of `gated` sets carry an extra readiness gate,
`example.io/healthy`, which the simulated kubelet honours, so a pod is Ready only once the test says so."""
from __future__ import annotations

import pytest

from tests.kube import Cluster, PodWatch, is_ready, wait_for

from .helpers import Sets, asts, names, ordinal, revision_of

pytestmark = pytest.mark.usefixtures("kruise")
HEALTHY = "example.io/healthy"


def gated(obj: dict) -> dict:
    obj["spec"]["template"]["spec"]["readinessGates"].append({"conditionType": HEALTHY})
    return obj


def set_healthy(cluster: Cluster, namespace: str, pod: str, healthy: bool = True) -> None:
    condition = {"type": HEALTHY, "status": "True" if healthy else "False"}
    cluster.core.patch_namespaced_pod_status(pod, namespace, {"status": {"conditions": [condition]}})


def heal_in_order(cluster: Cluster, sets: Sets, name: str, ordinals: list[int]) -> None:
    """Make each pod healthy as soon as it exists, in order (for OrderedReady, the next one then follows)."""
    for i in ordinals:
        pod = f"{name}-{i}"
        wait_for(lambda: pod in sets.names(name, include_terminating=False), 30, f"{pod} created",
                 describe=sets.describe(name))
        set_healthy(cluster, sets.ns, pod)


def not_ready(pods: list[dict]) -> int:
    return sum(1 for p in pods if not is_ready(p) and not p["metadata"].get("deletionTimestamp"))


def test_pods_get_hostname_subdomain_and_identity_labels(sets: Sets):
    sets.create(asts("ident", 3))
    obj = sets.wait_ready("ident", 3)
    for pod in sets.pods("ident"):
        name = pod["metadata"]["name"]
        assert pod["spec"]["hostname"] == name and pod["spec"]["subdomain"] == "ident"
        labels = pod["metadata"]["labels"]
        assert labels["statefulset.kubernetes.io/pod-name"] == name
        assert labels["apps.kubernetes.io/pod-index"] == str(ordinal(name))
        assert revision_of(pod) == obj["status"]["updateRevision"]
        [owner] = pod["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == \
            ("StatefulSet", "ident", obj["metadata"]["uid"], True)
        assert pod["spec"]["nodeName"].startswith("sim-node-")


def test_ordered_ready_creates_after_the_predecessor_is_ready_and_deletes_in_reverse(cluster: Cluster, sets: Sets):
    with PodWatch(cluster, sets.ns, "app=ordered") as watch:
        sets.create(asts("ordered", 3, parallel=False))
        sets.wait_ready("ordered", 3)
    assert names(watch.created()) == ["ordered-0", "ordered-1", "ordered-2"]
    for i in (1, 2):
        predecessor_ready = watch.first(lambda _, p: p["metadata"]["name"] == f"ordered-{i - 1}" and is_ready(p))
        added = watch.first(lambda _, p: p["metadata"]["name"] == f"ordered-{i}")
        assert predecessor_ready[0] < added[0], f"ordered-{i} created only once ordered-{i - 1} was Ready"

    with PodWatch(cluster, sets.ns, "app=ordered") as watch:
        sets.patch("ordered", {"spec": {"replicas": 0}})
        wait_for(lambda: not sets.pods("ordered", include_terminating=True), 60, "every pod gone")
    assert names(watch.deleted()) == ["ordered-2", "ordered-1", "ordered-0"]
    for higher, lower in (("ordered-2", "ordered-1"), ("ordered-1", "ordered-0")):
        gone = watch.first(lambda kind, p: kind == "DELETED" and p["metadata"]["name"] == higher)
        deleting = watch.first(lambda _, p: p["metadata"]["name"] == lower and p["metadata"].get("deletionTimestamp"))
        assert gone[0] < deleting[0], f"{lower} deleted only once {higher} was gone"


def test_ordered_ready_scale_up_halts_on_an_unhealthy_pod(cluster: Cluster, sets: Sets):
    sets.create(gated(asts("halt", 2, parallel=False)))
    # Not Ready, so OrderedReady creates nothing after halt-0.
    wait_for(lambda: sets.names("halt") == ["halt-0"], 30, "halt-0")
    sets.wait_status("halt", replicas=1, readyReplicas=0)
    assert sets.names("halt") == ["halt-0"]
    heal_in_order(cluster, sets, "halt", [0, 1])
    sets.wait_ready("halt", 2)

    set_healthy(cluster, sets.ns, "halt-0", False)
    sets.wait_status("halt", readyReplicas=1)
    with PodWatch(cluster, sets.ns, "app=halt") as watch:
        sets.patch("halt", {"spec": {"replicas": 4}})
        sets.wait_status("halt", replicas=2, readyReplicas=1)  # this generation's round saw halt-0 unhealthy
        assert watch.created() == []
        set_healthy(cluster, sets.ns, "halt-0")
        heal_in_order(cluster, sets, "halt", [2, 3])
        sets.wait_ready("halt", 4)
    assert names(watch.created()) == ["halt-2", "halt-3"]


def test_ordered_ready_scale_down_halts_on_an_unhealthy_pod(cluster: Cluster, sets: Sets):
    sets.create(gated(asts("down", 4, parallel=False)))
    heal_in_order(cluster, sets, "down", [0, 1, 2, 3])
    sets.wait_ready("down", 4)
    set_healthy(cluster, sets.ns, "down-0", False)
    sets.wait_status("down", readyReplicas=3)
    with PodWatch(cluster, sets.ns, "app=down") as watch:
        sets.patch("down", {"spec": {"replicas": 1}})
        sets.wait_status("down", replicas=4, readyReplicas=3)
        assert watch.deleted() == []
        set_healthy(cluster, sets.ns, "down-0")
        sets.wait_ready("down", 1)
    assert names(watch.deleted()) == ["down-3", "down-2", "down-1"]


def test_parallel_burst_scaling_completes_with_unhealthy_pods(cluster: Cluster, sets: Sets):
    with PodWatch(cluster, sets.ns, "app=burst") as watch:
        sets.create(gated(asts("burst", 3)))
        sets.wait_status("burst", replicas=3, readyReplicas=0)
        sets.patch("burst", {"spec": {"replicas": 0}})
        wait_for(lambda: not sets.pods("burst", include_terminating=True), 60, "every pod gone")
        sets.wait_status("burst", replicas=0)
    assert sorted(names(watch.created())) == ["burst-0", "burst-1", "burst-2"]
    assert watch.largest(lambda pods: sum(map(is_ready, pods))) == 0, "none of them was ever Ready"


def test_parallel_scale_strategy_max_unavailable_bounds_not_ready_pods(cluster: Cluster, sets: Sets):
    with PodWatch(cluster, sets.ns, "app=limited") as watch:
        sets.create(gated(asts("limited", 6, scaleStrategy={"maxUnavailable": 2})))
        sets.wait_status("limited", replicas=2, readyReplicas=0)
        assert len(sets.pods("limited", include_terminating=True)) == 2
        healed: set[str] = set()
        while len(healed) < 6:
            new = wait_for(lambda: [n for n in sets.names("limited") if n not in healed], 30, "more pods",
                           describe=sets.describe("limited"))
            for pod in new:
                set_healthy(cluster, sets.ns, pod)
                healed.add(pod)
        sets.wait_ready("limited", 6)
    assert watch.largest(not_ready) == 2


def test_no_deadlock_when_a_predecessor_fails(cluster: Cluster, sets: Sets):
    """Kubernetes' "should not deadlock when a pod's predecessor fails": with ordered-1 unhealthy, a deleted
    ordered-0 is still recreated (it is the first missing ordinal), and both then become Ready."""
    sets.create(gated(asts("pred", 2, parallel=False)))
    heal_in_order(cluster, sets, "pred", [0])
    wait_for(lambda: "pred-1" in sets.names("pred"), 30, "pred-1 created")
    old = cluster.pod(sets.ns, "pred-0")["metadata"]["uid"]
    cluster.kubectl("delete", "pod", "pred-0", "--wait=false", namespace=sets.ns)
    wait_for(lambda: cluster.pod(sets.ns, "pred-0")["metadata"]["uid"] != old, 30, "pred-0 recreated")
    set_healthy(cluster, sets.ns, "pred-0")
    set_healthy(cluster, sets.ns, "pred-1")
    sets.wait_ready("pred", 2)


def test_a_failed_pod_is_recreated(cluster: Cluster, sets: Sets):
    sets.create(asts("evicted", 2))
    sets.wait_ready("evicted", 2)
    old = cluster.pod(sets.ns, "evicted-1")["metadata"]["uid"]
    cluster.core.patch_namespaced_pod_status("evicted-1", sets.ns, {"status": {
        "phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}})
    wait_for(lambda: (p := cluster.pod(sets.ns, "evicted-1"))["metadata"]["uid"] != old and is_ready(p), 60,
             "evicted-1 recreated", describe=sets.describe("evicted"))
    sets.wait_ready("evicted", 2)
    assert any(e["reason"] == "RecreatingFailedPod" for e in sets.events("evicted"))
