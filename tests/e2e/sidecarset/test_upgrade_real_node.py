"""The in-place sidecar upgrade on the real node (kubelet + containerd): the sidecar gets a new containerID and
serves its new image, the app container is left alone (restartCount 0, same containerID), and the pod keeps its
UID and IP. Follows [SidecarSetUpgrade] "upgrade cold sidecar container image only" (§7.2) with real
containers. Needs the sandbox's real node: run it under the real-node lock (helper rules)."""
from __future__ import annotations

import urllib.request

from tests.kube import ON_REAL_NODE, container_status, is_ready, wait_for

from .conftest import created_pods, deployment
from .test_upgrade import images, update, wait_upgrade

GUESTBOOK = "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook"
TESTAPP = "localhost:5000/ack-kruise/testapp"


def http_get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def test_in_place_sidecar_upgrade_on_the_real_node(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] sidecarSet upgrade cold sidecar container image only, on real containers."""
    s = sidecarsets.base(initContainers=[], updateStrategy={"maxUnavailable": 1})
    s["spec"]["containers"] = [{"name": "logger", "image": f"{TESTAPP}:v1", "imagePullPolicy": "IfNotPresent",
                                "env": [{"name": "PORT", "value": "9090"}], "podInjectPolicy": "AfterAppContainer"}]
    name = sidecarsets.create(s)["metadata"]["name"]
    app = deployment(replicas=1)
    app["spec"]["template"]["spec"] = {**ON_REAL_NODE, "containers": [{"name": "main", "image": f"{GUESTBOOK}:v1"}]}
    cluster.apply(app, namespace)
    wait_upgrade(cluster, name, 1, 1, 1, 1, timeout=180)
    [before] = created_pods(cluster, namespace, "app=sidecarset")
    before = wait_for(lambda: (p := cluster.pod(namespace, before["metadata"]["name"])) and is_ready(p) and p,
                      120, "pod ready on the real node")
    assert [c["name"] for c in before["spec"]["containers"]] == ["main", "logger"]
    ip = before["status"]["podIP"]
    assert http_get(f"http://{ip}:9090/") == "testapp v1\n", "the injected sidecar runs as a real container"

    update(cluster, name, lambda spec: spec["containers"][0].update(image=f"{TESTAPP}:v2"))
    wait_upgrade(cluster, name, 1, 1, 1, 1, timeout=180)
    after = cluster.pod(namespace, before["metadata"]["name"])
    assert images(after)["logger"] == f"{TESTAPP}:v2"
    old, new = container_status(before, "logger"), container_status(after, "logger")
    assert new["containerID"].startswith("containerd://") and new["containerID"] != old["containerID"]
    assert container_status(after, "main")["restartCount"] == 0
    assert container_status(after, "main")["containerID"] == container_status(before, "main")["containerID"]
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["status"]["podIP"] == ip
    assert http_get(f"http://{ip}:8080/") == "guestbook v1\n", "the app kept serving its own image"
    wait_for(lambda: http_get(f"http://{ip}:9090/") == "testapp v2\n", 30, "the upgraded sidecar serves v2")
