"""Sidecar upgrades on the real node (kubelet + containerd), with real containers serving their version on a
port: the in-place upgrade (§5.6) and the hot upgrade (§5.8). Needs the sandbox's real node: run it under the
real-node lock (helper rules).

The sidecar is the test app, which binds its port with SO_REUSEPORT as hot-upgradable proxies do, so that
during a hot upgrade the old and the new version serve side by side. The hot upgrade's empty image is the
sandbox's pause image: a process that only waits for SIGTERM, what upstream's empty image is for (§2.10)."""
from __future__ import annotations

import json

from tests.kube import (GUESTBOOK, ON_REAL_NODE, TESTAPP, PodWatch, container_status, http_get, is_ready,
                        ready_pod, wait_for)

from .conftest import created_pods, deployment
from .test_upgrade import images, update, wait_upgrade

EMPTY = "localhost:5000/ack-kruise/pause:1"
WORKING = "kruise.io/sidecarset-working-hotupgrade-container"
SIDECAR_PORT = 9090


def app_with_sidecar(cluster, namespace, sidecarsets, sidecar: dict) -> tuple[str, dict]:
    """A SidecarSet injecting `sidecar` (the test app v1 on port 9090) into a one-pod Deployment of the guestbook
    on the real node; returns the SidecarSet's name and the pod once Ready with both serving."""
    s = sidecarsets.base(initContainers=[], updateStrategy={"maxUnavailable": 1})
    s["spec"]["containers"] = [{"image": f"{TESTAPP}:v1", "imagePullPolicy": "IfNotPresent",
                                "env": [{"name": "PORT", "value": str(SIDECAR_PORT)}],
                                "podInjectPolicy": "AfterAppContainer", **sidecar}]
    name = sidecarsets.create(s)["metadata"]["name"]
    app = deployment(replicas=1)
    app["spec"]["template"]["spec"] = {**ON_REAL_NODE, "containers": [{"name": "main", "image": f"{GUESTBOOK}:v1"}]}
    cluster.apply(app, namespace)
    wait_upgrade(cluster, name, 1, 1, 1, 1, timeout=180)
    [pod] = created_pods(cluster, namespace, "app=sidecarset")
    pod = ready_pod(cluster, namespace, pod["metadata"]["name"], timeout=120)
    ip = pod["status"]["podIP"]
    assert http_get(f"http://{ip}:{SIDECAR_PORT}/") == "testapp v1\n", "the injected sidecar runs as a real container"
    assert http_get(f"http://{ip}:8080/") == "guestbook v1\n"
    return name, pod


def test_in_place_sidecar_upgrade_on_the_real_node(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] sidecarSet upgrade cold sidecar container image only, on real containers: the sidecar
    gets a new containerID and serves its new image, the app container is left alone (restartCount 0, same
    containerID), and the pod keeps its UID and IP."""
    name, before = app_with_sidecar(cluster, namespace, sidecarsets, {"name": "logger"})
    assert [c["name"] for c in before["spec"]["containers"]] == ["main", "logger"]
    ip = before["status"]["podIP"]

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
    wait_for(lambda: http_get(f"http://{ip}:{SIDECAR_PORT}/") == "testapp v2\n", 30, "the upgraded sidecar serves v2")


def working(pod: dict) -> str:
    return json.loads(pod["metadata"]["annotations"][WORKING])["proxy"]


def test_hot_upgrade_keeps_the_pod_ready_throughout_on_the_real_node(cluster, namespace, sidecarsets):
    """[SidecarSetHotUpgrade] sidecarSet upgrade hot sidecar container image, on real containers: proxy-1 serves
    v1 and proxy-2 holds the empty image; the upgrade starts v2 in proxy-2 next to v1, makes it the working
    container, then resets proxy-1 to the empty image. A watch on the pod from before the change until the end
    sees every state the API server stored, and the pod is Ready in each of them; the app is never restarted."""
    name, before = app_with_sidecar(cluster, namespace, sidecarsets, {
        "name": "proxy", "upgradeStrategy": {"upgradeType": "HotUpgrade", "hotUpgradeEmptyImage": EMPTY}})
    pod_name, ip = before["metadata"]["name"], before["status"]["podIP"]
    assert working(before) == "proxy-1"
    assert (images(before)["proxy-1"], images(before)["proxy-2"]) == (f"{TESTAPP}:v1", EMPTY)

    def settled():
        p = cluster.pod(namespace, pod_name)
        return p if working(p) == "proxy-2" and images(p)["proxy-1"] == EMPTY and is_ready(p) \
            and container_status(p, "proxy-1")["containerID"] != container_status(before, "proxy-1")["containerID"] \
            and container_status(p, "proxy-1").get("state", {}).get("running") else None

    with PodWatch(cluster, namespace, "app=sidecarset") as watch:
        update(cluster, name, lambda spec: spec["containers"][0].update(image=f"{TESTAPP}:v2"))
        wait_upgrade(cluster, name, 1, 1, 1, 1, timeout=180)
        after = wait_for(settled, 120, "proxy-2 working on v2 and proxy-1 restarted on the empty image")

    states = [watch.initial[0], *(p for _, p in watch.events)]
    not_ready = [(p["metadata"]["resourceVersion"], p["status"].get("conditions")) for p in states if not is_ready(p)]
    assert not not_ready, f"the pod went not Ready during the hot upgrade: {not_ready}"
    both_real = [p for p in states if images(p)["proxy-1"] == f"{TESTAPP}:v1" and images(p)["proxy-2"] == f"{TESTAPP}:v2"]
    assert both_real, "the watch saw the step where the old and the new version run side by side"
    assert container_status(after, "proxy-2")["image"].endswith("testapp:v2")
    assert container_status(after, "main")["restartCount"] == 0
    assert container_status(after, "main")["containerID"] == container_status(before, "main")["containerID"]
    assert after["metadata"]["uid"] == before["metadata"]["uid"] and after["status"]["podIP"] == ip
    # v1 is gone from the port: with both listening, the kernel spreads connections over the two.
    assert [http_get(f"http://{ip}:{SIDECAR_PORT}/") for _ in range(6)] == ["testapp v2\n"] * 6
