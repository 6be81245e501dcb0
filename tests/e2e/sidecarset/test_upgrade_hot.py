"""Hot upgrade against the real API server (sidecarset.md §5.8): upstream's [SidecarSetHotUpgrade] upgrade cases
(§7.3; the injection case is in test_inject.py), on simulated nodes. Pods get their hot pair from the pod
webhook (real injection): `<c>-1` working with the image, `<c>-2` holding the empty image."""
from __future__ import annotations

import json

from tests.kube import wait_for

from .conftest import created_pods, deployment
from .test_upgrade import events, images, read, update, wait_upgrade

WORKING = "kruise.io/sidecarset-working-hotupgrade-container"
EMPTY = "busybox:empty"


def hot_sidecarset(sidecarsets, **spec) -> dict:
    s = sidecarsets.base(initContainers=[], **spec)
    s["spec"]["containers"] = s["spec"]["containers"][:1]
    s["spec"]["containers"][0]["upgradeStrategy"] = {"upgradeType": "HotUpgrade", "hotUpgradeEmptyImage": EMPTY}
    return s


def versions(pod: dict) -> dict[str, str]:
    a = pod["metadata"]["annotations"]
    return {k: a[k] for k in a if k.startswith(("version.sidecarset", "versionalt.sidecarset"))}


def working(pod: dict) -> str:
    return json.loads(pod["metadata"]["annotations"][WORKING])["nginx-sidecar"]


def settled(cluster, namespace, working_container: str, image: str, count: int = 1) -> list[dict]:
    """The pods once the working container runs `image` and the other one holds the empty image."""
    other = {"nginx-sidecar-1": "nginx-sidecar-2", "nginx-sidecar-2": "nginx-sidecar-1"}[working_container]

    def check():
        pods = cluster.pods(namespace, "app=sidecarset")
        ok = [p for p in pods if working(p) == working_container and images(p)[working_container] == image
              and images(p)[other] == EMPTY]
        return pods if len(ok) == count == len(pods) else None
    return wait_for(check, 120, f"{count} pod(s) working on {working_container} {image}")


def test_upgrade_hot_sidecar_container_image(cluster, namespace, sidecarsets):
    """[SidecarSetHotUpgrade] sidecarSet upgrade hot sidecar container image: new-nginx goes to the empty -2,
    which becomes the working one, then -1 is reset to the empty image (ResetContainerSucceed on the pod);
    back to nginx: -1 works again; an env change is not upgraded (1/0/0/1)."""
    name = sidecarsets.create(hot_sidecarset(sidecarsets))["metadata"]["name"]
    cluster.apply(deployment(replicas=1), namespace)
    wait_upgrade(cluster, name, 1, 1, 1, 1)
    [pod] = created_pods(cluster, namespace, "app=sidecarset")
    assert working(pod) == "nginx-sidecar-1" and images(pod)["nginx-sidecar-2"] == EMPTY
    uid = pod["metadata"]["uid"]

    update(cluster, name, lambda s: s["containers"][0].update(image="nginx:new"))
    wait_upgrade(cluster, name, 1, 1, 1, 1)
    [pod] = settled(cluster, namespace, "nginx-sidecar-2", "nginx:new")
    rv = read(cluster, name)["metadata"]["resourceVersion"]
    v = versions(pod)
    assert v["version.sidecarset.kruise.io/nginx-sidecar-2"] != "0"
    assert v["version.sidecarset.kruise.io/nginx-sidecar-1"] == "0"
    assert v["versionalt.sidecarset.kruise.io/nginx-sidecar-2"] == "0"
    assert int(v["version.sidecarset.kruise.io/nginx-sidecar-2"]) <= int(rv)
    assert pod["metadata"]["uid"] == uid
    main = next(s for s in pod["status"]["containerStatuses"] if s["name"] == "main")
    assert main["restartCount"] == 0
    wait_for(lambda: any(e["reason"] == "ResetContainerSucceed" for e in
                         events(cluster, namespace, pod["metadata"]["name"])), 60, "ResetContainerSucceed")

    update(cluster, name, lambda s: s["containers"][0].update(image="nginx"))
    wait_upgrade(cluster, name, 1, 1, 1, 1)
    settled(cluster, namespace, "nginx-sidecar-1", "nginx")

    update(cluster, name, lambda s: s["containers"][0].update(env=[{"name": "test", "value": "v1"}]))
    wait_upgrade(cluster, name, 1, 0, 0, 1)


def test_upgrade_hot_sidecar_container_failed_image(cluster, namespace, sidecarsets):
    """[SidecarSetHotUpgrade] sidecarSet upgrade hot sidecar container failed image: 2 pods, a broken image →
    2/1/0/1 (the old container keeps serving, no flip); new-nginx → 2/2/2/2 and both pods work on -2 new-nginx
    with -1 empty (the broken -2 is upgraded again, the healthy -1 kept until then)."""
    name = sidecarsets.create(hot_sidecarset(sidecarsets))["metadata"]["name"]
    cluster.apply(deployment(replicas=2), namespace)
    wait_upgrade(cluster, name, 2, 2, 2, 2)
    update(cluster, name, lambda s: s["containers"][0].update(image="nginx:broken"))
    wait_upgrade(cluster, name, 2, 1, 0, 1)
    pods = cluster.pods(namespace, "app=sidecarset")
    broken = [p for p in pods if images(p)["nginx-sidecar-2"] == "nginx:broken"]
    assert len(broken) == 1 and images(broken[0])["nginx-sidecar-1"] == "nginx"
    update(cluster, name, lambda s: s["containers"][0].update(image="nginx:new"))
    wait_upgrade(cluster, name, 2, 2, 2, 2)
    settled(cluster, namespace, "nginx-sidecar-2", "nginx:new", count=2)
