"""The simulated nodes play the kubelet faithfully enough for the native controllers (and ours) to run."""
from __future__ import annotations

import time

import kubernetes

from tests.kube import Cluster, ON_SIMULATED_NODES, PodWatch, container_status, is_ready, wait_for


def deployment(name: str, replicas: int, image: str = "registry.example/app:v1") -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {
            "replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "app", "image": image}], **ON_SIMULATED_NODES}},
        },
    }


def single_pod(name: str, image: str, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": image}], **ON_SIMULATED_NODES, **spec}}


def test_nodes_are_ready_across_three_zones(cluster: Cluster):
    nodes = [cluster.api.sanitize_for_serialization(n) for n in cluster.core.list_node().items]
    simulated = [n for n in nodes if n["metadata"]["labels"].get("node.ack-kruise.io/simulated") == "true"]
    assert len(simulated) == 3
    zones = {n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in simulated}
    assert zones == {"zone-a", "zone-b", "zone-c"}
    for n in simulated:
        assert n["metadata"]["labels"]["kubernetes.io/hostname"] == n["metadata"]["name"]
        ready = {c["type"]: c["status"] for c in n["status"]["conditions"]}["Ready"]
        assert ready == "True"
        taints = {t["key"] for t in n["spec"].get("taints") or []}
        assert taints == {"node.ack-kruise.io/simulated"}, "opt-in: only pods that tolerate it land here"


def test_simulated_nodes_renew_their_leases(cluster: Cluster):
    leases = kubernetes.client.CoordinationV1Api(cluster.api)
    names = [n.metadata.name for n in cluster.core.list_node(label_selector="node.ack-kruise.io/simulated=true").items]

    def renew_times() -> dict[str, object]:
        return {name: leases.read_namespaced_lease(name, "kube-node-lease").spec.renew_time for name in names}

    assert len(names) == 3
    for name in names:
        assert leases.read_namespaced_lease(name, "kube-node-lease").spec.holder_identity == name
    first = renew_times()
    # Every 10 s, as a kubelet renews its 40 s Lease.
    wait_for(lambda: all(t > first[n] for n, t in renew_times().items()), 25, "every Lease renewed again",
             describe=renew_times)


def test_deployment_scaled_to_ten_reaches_ten_ready_pods(cluster: Cluster, namespace: str):
    cluster.apply(deployment("web", 3), namespace)
    wait_for(lambda: cluster.apps.read_namespaced_deployment("web", namespace).status.ready_replicas == 3,
             60, "3 ready replicas")
    cluster.kubectl("scale", "deployment/web", "--replicas=10", namespace=namespace)
    wait_for(lambda: cluster.apps.read_namespaced_deployment("web", namespace).status.ready_replicas == 10,
             60, "10 ready replicas",
             describe=lambda: cluster.apps.read_namespaced_deployment("web", namespace).status)
    pods = cluster.pods(namespace, "app=web")
    assert len(pods) == 10 and all(is_ready(p) for p in pods)
    assert len({p["status"]["podIP"] for p in pods}) == 10, "every pod has its own IP"
    assert len({p["spec"]["nodeName"] for p in pods}) == 3, "the scheduler spreads pods over the 3 nodes"
    for p in pods:
        s = container_status(p)
        assert s["imageID"].startswith("registry.example/app@sha256:")
        assert s["containerID"].startswith("containerd://") and s["restartCount"] == 0
        assert s["state"]["running"]["startedAt"]


def test_in_place_image_patch_restarts_only_that_container(cluster: Cluster, namespace: str):
    pod = single_pod("p", "registry.example/app:v1")
    pod["spec"]["containers"].append({"name": "sidecar", "image": "registry.example/side:v1"})
    cluster.apply(pod, namespace)
    before = wait_for(lambda: (p := cluster.pod(namespace, "p")) and is_ready(p) and p, 30, "pod p ready")
    cluster.kubectl("patch", "pod", "p", "-p",
                    '{"spec":{"containers":[{"name":"app","image":"registry.example/app:v2"}]}}',
                    namespace=namespace)
    after = wait_for(lambda: (p := cluster.pod(namespace, "p")) and container_status(p, "app")["restartCount"] == 1
                     and is_ready(p) and p, 30, "app restarted and ready again")
    old_app, new_app = container_status(before, "app"), container_status(after, "app")
    assert new_app["containerID"] != old_app["containerID"]
    assert new_app["imageID"] != old_app["imageID"] and new_app["image"] == "registry.example/app:v2"
    assert new_app["lastState"]["terminated"]["containerID"] == old_app["containerID"]
    assert container_status(after, "sidecar") == container_status(before, "sidecar"), "the sidecar kept running"
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["status"]["podIP"] == before["status"]["podIP"]


def test_restarted_container_is_briefly_not_ready(cluster: Cluster, namespace: str):
    cluster.apply(single_pod("p", "registry.example/app:v1"), namespace)
    wait_for(lambda: is_ready(cluster.pod(namespace, "p")), 30, "pod ready")
    cluster.kubectl("patch", "pod", "p", "-p",
                    '{"spec":{"containers":[{"name":"app","image":"registry.example/app:v2"}]}}',
                    namespace=namespace)
    wait_for(lambda: (p := cluster.pod(namespace, "p")) and container_status(p)["image"].endswith(":v2")
             and not is_ready(p), 10, "the restarted container to report not ready")
    wait_for(lambda: is_ready(cluster.pod(namespace, "p")), 10, "ready again")


def waiting_reasons(events: list[tuple[str, dict]]) -> list[str | None]:
    return [container_status(pod).get("state", {}).get("waiting", {}).get("reason") for _, pod in events]


def failed_pulls(events: list[tuple[str, dict]]) -> int:
    """Pull attempts seen failing: each turn of the container's waiting reason to ErrImagePull."""
    reasons = waiting_reasons(events)
    return sum(1 for before, now in zip([None, *reasons], reasons) if now == "ErrImagePull" and before != now)


def test_broken_image_is_pulled_again_and_again_and_never_becomes_ready(cluster: Cluster, namespace: str):
    with PodWatch(cluster, namespace) as watch:
        cluster.apply(single_pod("bad", "registry.example/app:broken"), namespace)
        wait_for(lambda: failed_pulls(list(watch.events)) >= 2, 20, "a second failed pull after the back-off",
                 describe=lambda: waiting_reasons(list(watch.events)))
    assert "ImagePullBackOff" in waiting_reasons(watch.events), "backed off between the attempts"
    seen = [pod for _, pod in watch.events]
    assert not any(is_ready(p) for p in seen), "never Ready, at any moment"
    assert {p["status"].get("phase") for p in seen} <= {None, "Pending"}
    out = cluster.kubectl("get", "pod", "bad", namespace=namespace).stdout
    assert "0/1" in out and ("ImagePullBackOff" in out or "ErrImagePull" in out), out


def test_in_place_update_to_broken_image_keeps_pod_running_but_not_ready(cluster: Cluster, namespace: str):
    cluster.apply(single_pod("p", "registry.example/app:v1"), namespace)
    wait_for(lambda: is_ready(cluster.pod(namespace, "p")), 30, "pod ready")
    cluster.kubectl("patch", "pod", "p", "-p",
                    '{"spec":{"containers":[{"name":"app","image":"registry.example/app:broken"}]}}',
                    namespace=namespace)
    p = wait_for(lambda: (p := cluster.pod(namespace, "p")) and
                 container_status(p).get("state", {}).get("waiting", {}).get("reason") == "ImagePullBackOff" and p,
                 30, "ImagePullBackOff after the in-place update")
    assert p["status"]["phase"] == "Running" and not is_ready(p)


def test_readiness_gates_hold_ready_until_their_condition_is_true(cluster: Cluster, namespace: str):
    cluster.apply(single_pod("gated", "registry.example/app:v1",
                             readinessGates=[{"conditionType": "InPlaceUpdateReady"}]), namespace)
    p = wait_for(lambda: (p := cluster.pod(namespace, "gated")) and container_status(p).get("ready") and p,
                 30, "container ready")
    assert not is_ready(p)
    ready = {c["type"]: c for c in p["status"]["conditions"]}["Ready"]
    assert ready["reason"] == "ReadinessGatesNotReady"
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    cluster.core.patch_namespaced_pod_status("gated", namespace, {"status": {"conditions": [
        {"type": "InPlaceUpdateReady", "status": "True", "lastTransitionTime": now}]}})
    p = wait_for(lambda: (p := cluster.pod(namespace, "gated")) and is_ready(p) and p, 30, "pod Ready")
    conds = {c["type"]: c for c in p["status"]["conditions"]}
    assert conds["InPlaceUpdateReady"]["status"] == "True", "the simulator kept the controller's condition"


def test_readiness_probe_delay_is_honoured(cluster: Cluster, namespace: str):
    pod = single_pod("slow", "registry.example/app:v1")
    pod["spec"]["containers"][0]["readinessProbe"] = {"exec": {"command": ["true"]}, "initialDelaySeconds": 2}
    cluster.apply(pod, namespace)
    p = wait_for(lambda: (p := cluster.pod(namespace, "slow")) and p["status"].get("phase") == "Running" and p,
                 30, "Running")
    started = time.monotonic()
    assert not is_ready(p)
    wait_for(lambda: is_ready(cluster.pod(namespace, "slow")), 15, "ready after the probe delay")
    assert time.monotonic() - started >= 0.5


def test_graceful_deletion_waits_for_the_process_to_exit(cluster: Cluster, namespace: str):
    pod = single_pod("slowstop", "registry.example/app:v1", terminationGracePeriodSeconds=30)
    pod["metadata"]["annotations"] = {"sim.ack-kruise.io/shutdown-seconds": "2"}
    cluster.apply(pod, namespace)
    wait_for(lambda: is_ready(cluster.pod(namespace, "slowstop")), 30, "ready")
    t0 = time.monotonic()
    cluster.kubectl("delete", "pod", "slowstop", "--wait=false", namespace=namespace)
    assert cluster.pod(namespace, "slowstop")["metadata"]["deletionTimestamp"]
    wait_for(lambda: not cluster.pods(namespace), 20, "pod removed")
    elapsed = time.monotonic() - t0
    assert 1.5 <= elapsed < 10, f"removed after {elapsed:.1f}s; the simulated process needs 2s to exit"


def test_grace_period_caps_a_slow_shutdown(cluster: Cluster, namespace: str):
    pod = single_pod("capped", "registry.example/app:v1", terminationGracePeriodSeconds=1)
    pod["metadata"]["annotations"] = {"sim.ack-kruise.io/shutdown-seconds": "60"}
    cluster.apply(pod, namespace)
    wait_for(lambda: is_ready(cluster.pod(namespace, "capped")), 30, "ready")
    t0 = time.monotonic()
    cluster.kubectl("delete", "pod", "capped", "--wait=false", namespace=namespace)
    wait_for(lambda: not cluster.pods(namespace), 20, "pod removed when its 1s grace period ends")
    assert time.monotonic() - t0 < 8


def test_deleting_a_namespace_completes(cluster: Cluster):
    cluster.create_namespace("doomed-ns")
    cluster.apply(deployment("web", 4), "doomed-ns")
    wait_for(lambda: cluster.apps.read_namespaced_deployment("web", "doomed-ns").status.ready_replicas == 4,
             60, "4 ready replicas")
    cluster.delete_namespace("doomed-ns", wait=True, timeout=60)
