"""The real node: kubelet + containerd + runc run real containers from the locally built images."""
from __future__ import annotations

import urllib.request

import pytest

from sandbox import realnode
from tests.kube import ON_REAL_NODE, Cluster, container_status, is_ready, wait_for

GUESTBOOK = "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook"


def http_get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


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
        {"name": "side", "image": "localhost:5000/ack-kruise/testapp:v1", "env": [{"name": "PORT", "value": "9090"}]},
    ]}}, namespace)
    before = wait_for(lambda: (p := cluster.pod(namespace, "p")) and is_ready(p) and p, 60, "pod ready")
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
                   "containers": [{"name": "app", "image": "localhost:5000/ack-kruise/testapp:v3",
                                   "imagePullPolicy": "Always"}]}}, namespace)
    wait_for(lambda: is_ready(cluster.pod(namespace, "pull")), 60, "pod ready")

    def pulled() -> list[str]:
        events = cluster.core.list_namespaced_event(namespace, field_selector="involvedObject.name=pull").items
        return [e.message for e in events
                if e.message.startswith('Successfully pulled image "localhost:5000/ack-kruise/testapp:v3"')]

    wait_for(pulled, 30, "the kubelet's Pulled event")


def test_missing_image_fails_to_pull(cluster: Cluster, namespace: str):
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nope"}, "spec": {**ON_REAL_NODE,
                   "containers": [{"name": "app", "image": "localhost:5000/ack-kruise/testapp:broken"}]}}, namespace)
    wait_for(lambda: container_status(cluster.pod(namespace, "nope")).get("state", {}).get("waiting", {}).get("reason")
             in ("ErrImagePull", "ImagePullBackOff"), 60, "a failed pull")


def test_never_ready_image_stays_not_ready(cluster: Cluster, namespace: str):
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nr"}, "spec": {**ON_REAL_NODE,
                   "containers": [{"name": "app", "image": "localhost:5000/ack-kruise/never-ready:v1",
                                   "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                                      "periodSeconds": 1}}]}}, namespace)
    p = wait_for(lambda: (p := cluster.pod(namespace, "nr")) and p["status"].get("phase") == "Running"
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
    wait_for(lambda: is_ready(cluster.pod(namespace, "web")), 60, "pod ready")
    ip = cluster.core.read_namespaced_service("web", namespace).spec.cluster_ip
    assert wait_for(lambda: http_get(f"http://{ip}/"), 30, f"an answer through ClusterIP {ip}") == "guestbook v1\n"


def test_pods_reach_the_api_server_through_the_kubernetes_service(cluster: Cluster, namespace: str):
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"}, "spec": {**ON_REAL_NODE,
                   "restartPolicy": "Never", "containers": [{
                       "name": "wget", "image": "localhost:5000/ack-kruise/testapp:v1",
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
    p = wait_for(lambda: (p := cluster.pod("real-doomed", "p")) and is_ready(p) and p, 60, "pod ready")
    cid = container_status(p)["containerID"].split("://", 1)[1]
    assert cid in running_tasks(node_paths)
    cluster.delete_namespace("real-doomed", wait=True, timeout=90)
    wait_for(lambda: cid not in running_tasks(node_paths), 30, "the container to be gone from containerd")
