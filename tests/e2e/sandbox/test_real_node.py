"""The real node: kubelet + containerd + runc run real containers from the locally built images."""
from __future__ import annotations

import time

import pytest

from sandbox import realnode
from tests.kube import (GUESTBOOK, ON_REAL_NODE, TESTAPP, Cluster, PodWatch, container_status, http_get, is_ready,
                        ready_pod, wait_for)


@pytest.fixture
def node_paths(sandbox) -> realnode.NodePaths:
    return realnode.NodePaths(sandbox.state_dir / "node")


def running_tasks(paths: realnode.NodePaths) -> set[str]:
    listing = realnode.ctr(paths, "tasks", "ls").stdout.splitlines()[1:]
    return {line.split()[0] for line in listing if "RUNNING" in line}


def test_deployment_of_the_seed_image_runs_five_real_containers(cluster: Cluster, namespace: str):
    cluster.apply({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "guestbook"},
        "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "guestbook"}},
                 "template": {"metadata": {"labels": {"app": "guestbook"}},
                              "spec": {**ON_REAL_NODE, "containers": [{"name": "guestbook", "image": f"{GUESTBOOK}:v1"}]}}},
    }, namespace)
    wait_for(lambda: cluster.apps.read_namespaced_deployment("guestbook", namespace).status.ready_replicas == 5,
             90, "5 ready replicas on the real node")
    pods = cluster.pods(namespace, "app=guestbook")
    assert len(pods) == 5
    for p in pods:
        assert p["spec"]["nodeName"] == realnode.NODE_NAME
        assert container_status(p)["containerID"].startswith("containerd://")
        assert http_get(f"http://{p['status']['podIP']}:8080/") == "guestbook v1\n"


def test_image_patch_restarts_only_that_container_keeping_pod_and_ip(cluster: Cluster, namespace: str):
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {**ON_REAL_NODE, "containers": [
        {"name": "main", "image": f"{GUESTBOOK}:v1"},
        {"name": "side", "image": f"{TESTAPP}:v1", "env": [{"name": "PORT", "value": "9090"}]},
    ]}}, namespace)
    before = ready_pod(cluster, namespace, "p")
    cluster.kubectl("patch", "pod", "p", "-p", f'{{"spec":{{"containers":[{{"name":"main","image":"{GUESTBOOK}:v2"}}]}}}}',
                    namespace=namespace)
    after = wait_for(lambda: (p := cluster.pod(namespace, "p")) and container_status(p, "main")["restartCount"] == 1
                     and is_ready(p) and p, 60, "main restarted by the kubelet and ready")
    old, new = container_status(before, "main"), container_status(after, "main")
    assert new["containerID"] != old["containerID"] and new["imageID"] != old["imageID"]
    assert container_status(after, "side")["containerID"] == container_status(before, "side")["containerID"]
    assert container_status(after, "side")["restartCount"] == 0
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["status"]["podIP"] == before["status"]["podIP"]
    assert http_get(f"http://{after['status']['podIP']}:8080/") == "guestbook v2\n", "the new image serves"


def test_image_pull_policy_always_pulls_from_the_local_registry(cluster: Cluster, namespace: str):
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pull"}, "spec": {**ON_REAL_NODE,
                   "containers": [{"name": "app", "image": f"{TESTAPP}:v3",
                                   "imagePullPolicy": "Always"}]}}, namespace)
    ready_pod(cluster, namespace, "pull")

    def pulled() -> list[str]:
        events = cluster.core.list_namespaced_event(namespace, field_selector="involvedObject.name=pull").items
        return [e.message for e in events
                if e.message.startswith(f'Successfully pulled image "{TESTAPP}:v3"')]

    wait_for(pulled, 30, "the kubelet's Pulled event")


def test_the_seed_image_with_pull_policy_always_is_pulled_from_the_local_registry(cluster: Cluster, namespace: str):
    """OpenKruise gives workload containers imagePullPolicy Always: the seed's registry.cn-hangzhou.aliyuncs.com
    images then come from the local registry through containerd's mirror, with no network."""
    image = "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook:v1-retag"
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "seed-pull"}, "spec": {**ON_REAL_NODE,
                   "containers": [{"name": "app", "image": image, "imagePullPolicy": "Always"}]}}, namespace)
    ready_pod(cluster, namespace, "seed-pull")

    def pulled() -> list[str]:
        events = cluster.core.list_namespaced_event(namespace, field_selector="involvedObject.name=seed-pull").items
        return [e.message for e in events if e.message.startswith(f'Successfully pulled image "{image}"')]

    wait_for(pulled, 30, "the kubelet's Pulled event")


def test_missing_image_fails_to_pull(cluster: Cluster, namespace: str):
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nope"}, "spec": {**ON_REAL_NODE,
                   "containers": [{"name": "app", "image": f"{TESTAPP}:broken"}]}}, namespace)
    wait_for(lambda: container_status(cluster.pod(namespace, "nope")).get("state", {}).get("waiting", {}).get("reason")
             in ("ErrImagePull", "ImagePullBackOff"), 60, "a failed pull")


def test_never_ready_image_stays_not_ready(cluster: Cluster, namespace: str):
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nr"}, "spec": {**ON_REAL_NODE,
                   "containers": [{"name": "app", "image": "localhost:5000/ack-kruise/never-ready:v1",
                                   "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                                      "periodSeconds": 1}}]}}, namespace)
    wait_for(lambda: (p := cluster.pod(namespace, "nr")) and p["status"].get("phase") == "Running"
             and container_status(p).get("started") and p, 60, "running")
    # Several probe periods pass, and it is still not ready.
    events = wait_for(lambda: [e for e in cluster.core.list_namespaced_event(
        namespace, field_selector="involvedObject.name=nr").items if e.reason == "Unhealthy" and e.count >= 3],
        30, "three failed readiness probes")
    assert "503" in events[0].message
    assert not is_ready(cluster.pod(namespace, "nr"))


def test_service_cluster_ip_routes_to_the_pod(cluster: Cluster, namespace: str):
    cluster.apply([
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
         "spec": {**ON_REAL_NODE, "containers": [{"name": "web", "image": f"{GUESTBOOK}:v1"}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
    ], namespace)
    ready_pod(cluster, namespace, "web")
    ip = cluster.core.read_namespaced_service("web", namespace).spec.cluster_ip
    assert wait_for(lambda: http_get(f"http://{ip}/"), 30, f"an answer through ClusterIP {ip}") == "guestbook v1\n"


def test_pods_reach_the_api_server_through_the_kubernetes_service(cluster: Cluster, namespace: str):
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"}, "spec": {**ON_REAL_NODE,
                   "restartPolicy": "Never", "containers": [{
                       "name": "wget", "image": f"{TESTAPP}:v1",
                       "command": ["/bin/sh", "-c",
                                   "wget -q -O - --no-check-certificate https://10.0.0.1/healthz 2>&1 || "
                                   "nc -z -w 3 10.0.0.1 443 && echo reachable"]}]}}, namespace)
    wait_for(lambda: cluster.pod(namespace, "client")["status"].get("phase") in ("Succeeded", "Failed"), 60, "done")
    log = cluster.kubectl("logs", "client", namespace=namespace).stdout
    assert "ok" in log or "reachable" in log, log


def test_deleting_a_namespace_removes_the_containers(cluster: Cluster, node_paths: realnode.NodePaths):
    cluster.create_namespace("real-doomed")
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {**ON_REAL_NODE,
                   "containers": [{"name": "app", "image": f"{GUESTBOOK}:v1"}]}}, "real-doomed")
    p = ready_pod(cluster, "real-doomed", "p")
    cid = container_status(p)["containerID"].split("://", 1)[1]
    assert cid in running_tasks(node_paths)
    cluster.delete_namespace("real-doomed", wait=True, timeout=90)
    wait_for(lambda: cid not in running_tasks(node_paths), 30, "the container to be gone from containerd")


def last_seen_before_removal(watch: PodWatch, name: str) -> dict:
    """The pod as the API server last stored it before removing it: the kubelet writes the container's final
    state, then deletes the pod."""
    states = [pod for _, pod in watch.events if pod["metadata"]["name"] == name]
    assert watch.events and watch.events[-1][0] == "DELETED", "the pod was removed"
    return states[-1]


def delete_and_time_removal(cluster: Cluster, namespace: str, name: str, timeout: float) -> tuple[float, dict]:
    """Deletes the pod (its own grace period) and returns the seconds until the API server removed it, and the
    pod's last stored state. After the containers stop, the kubelet removes the pod once its volumes are
    unmounted, at the latest on its status manager's next 10 s sync, hence the timeouts."""
    with PodWatch(cluster, namespace) as watch:
        t0 = time.monotonic()
        cluster.kubectl("delete", "pod", name, "--wait=false", namespace=namespace)
        wait_for(lambda: not cluster.pods(namespace), timeout, f"pod {name} removed")
        elapsed = time.monotonic() - t0
    return elapsed, last_seen_before_removal(watch, name)


def test_graceful_deletion_ends_when_the_container_exits_on_sigterm(cluster: Cluster, namespace: str):
    # testapp exits at once on SIGTERM, so a 60 s grace period is not waited for.
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "prompt"}, "spec": {
        **ON_REAL_NODE, "terminationGracePeriodSeconds": 60,
        "containers": [{"name": "app", "image": f"{TESTAPP}:v1"}]}}, namespace)
    ready_pod(cluster, namespace, "prompt")
    elapsed, last = delete_and_time_removal(cluster, namespace, "prompt", timeout=30)
    assert elapsed < 30, f"removed after {elapsed:.1f}s of a 60s grace period"
    terminated = container_status(last)["state"]["terminated"]
    assert terminated["exitCode"] == 0, f"testapp exited by itself on SIGTERM: {terminated}"


def test_container_ignoring_sigterm_is_killed_when_its_grace_period_ends(cluster: Cluster, namespace: str):
    # A shell as PID 1 has no SIGTERM handler, so the kernel drops the signal: only SIGKILL ends it.
    grace = 3
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stubborn"}, "spec": {
        **ON_REAL_NODE, "terminationGracePeriodSeconds": grace,
        "containers": [{"name": "app", "image": f"{TESTAPP}:v1",
                        "command": ["/bin/sh", "-c", "while true; do sleep 1; done"]}]}}, namespace)
    ready_pod(cluster, namespace, "stubborn")
    elapsed, last = delete_and_time_removal(cluster, namespace, "stubborn", timeout=grace + 20)
    assert elapsed >= grace, f"removed after {elapsed:.1f}s, before its {grace}s grace period ended"
    terminated = container_status(last)["state"]["terminated"]
    assert terminated["exitCode"] == 137, f"killed by SIGKILL (128 + 9): {terminated}"


def test_readiness_gate_holds_ready_false_until_its_condition_is_true(cluster: Cluster, namespace: str):
    gate = "example.com/feature-ready"
    with PodWatch(cluster, namespace) as watch:
        cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "gated"}, "spec": {
            **ON_REAL_NODE, "readinessGates": [{"conditionType": gate}],
            "containers": [{"name": "app", "image": f"{TESTAPP}:v1",
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}}]}},
            namespace)
        wait_for(lambda: conditions(cluster.pod(namespace, "gated")).get("ContainersReady", {}).get("status") == "True",
                 60, "the kubelet to report the container ready")
        ready = conditions(cluster.pod(namespace, "gated"))["Ready"]
        assert (ready["status"], ready["reason"]) == ("False", "ReadinessGatesNotReady"), ready

        set_condition(cluster, namespace, "gated", gate, "False")
        wait_for(lambda: 'is not "True", but False' in conditions(cluster.pod(namespace, "gated"))["Ready"]["message"],
                 30, "the kubelet to see the gate's condition False")
        assert not is_ready(cluster.pod(namespace, "gated"))
        gate_opened_at = len(watch.events)

        set_condition(cluster, namespace, "gated", gate, "True")
        wait_for(lambda: is_ready(cluster.pod(namespace, "gated")), 30, "Ready once the gate's condition is True")
    before_gate = [pod for _, pod in watch.events[:gate_opened_at]]
    assert before_gate and not any(is_ready(p) for p in before_gate), "never Ready while the gate was not True"
    assert conditions(cluster.pod(namespace, "gated"))[gate]["status"] == "True", "the kubelet kept our condition"


def conditions(pod: dict) -> dict[str, dict]:
    return {c["type"]: c for c in pod.get("status", {}).get("conditions") or []}


def set_condition(cluster: Cluster, namespace: str, name: str, type_: str, status: str) -> None:
    """What a controller owning a readiness gate does: patch the pod's status conditions (merged by type)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    cluster.core.patch_namespaced_pod_status(name, namespace, {"status": {"conditions": [
        {"type": type_, "status": status, "lastTransitionTime": now}]}})
