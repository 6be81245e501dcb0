"""The runtime-containers-meta annotation on the real node (kruise-daemon.md §4; not an upstream e2e case):
kruise-daemon writes, for each container of a kruise pod, the ID and the kubelet's hash that containerd
records; the hash computed here from the pod spec as the API server serves it equals containerd's (the golden
check §4.4 asks for), a recreated container gets a new entry, and an in-place image update completes with the
new spec's hash recorded."""
from __future__ import annotations

import json

from controllers.common.containerhash import RUNTIME_CONTAINERS_META_ANNOTATION, hash_container
from tests.kube import container_status, wait_for

from .helpers import IMAGE, Recreations, container_id


def _raw_pod(crr: Recreations, name: str) -> dict:
    """The pod as the API server serialises it: Go's field order, which the kubelet's hash depends on."""
    return json.loads(crr.cluster.kubectl("get", "--raw", f"/api/v1/namespaces/{crr.ns}/pods/{name}").stdout)


def _meta_matches(crr: Recreations, name: str):
    pod = _raw_pod(crr, name)
    text = pod["metadata"].get("annotations", {}).get(RUNTIME_CONTAINERS_META_ANNOTATION)
    if not text:
        return None
    meta = {m["name"]: m for m in json.loads(text)["containers"]}
    for container in pod["spec"]["containers"]:
        entry = meta.get(container["name"])
        if not entry or entry["containerID"] != container_id(pod, container["name"]):
            return None
        assert entry["hashes"]["plainHash"] == hash_container(container), (container["name"], entry)
    return meta


def test_runtime_containers_meta_carries_the_kubelets_hashes(crr: Recreations):
    name = crr.cloneset(1)[0]["metadata"]["name"]
    meta = wait_for(lambda: _meta_matches(crr, name), 30, "runtime-containers-meta with containerd's hashes")
    assert {m["restartCount"] for m in meta.values()} == {0}

    crr.create("again", name, ["app"])
    crr.completed("again", 60)
    meta = wait_for(lambda: (m := _meta_matches(crr, name)) and m["app"]["restartCount"] == 1 and m, 30,
                    "a new entry for the recreated container")

    patch = [{"op": "add", "path": "/spec/updateStrategy/type", "value": "InPlaceIfPossible"},
             {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": IMAGE.replace(":v1", ":v2")}]
    crr.cluster.kubectl("patch", "cloneset", "clone", "--type=json", "-p", json.dumps(patch), namespace=crr.ns)

    def updated():
        pod = crr.pod(name)
        ready = any(c["type"] == "InPlaceUpdateReady" and c["status"] == "True" for c in pod["status"]["conditions"])
        return ready and container_status(pod, "app").get("image", "").endswith(":v2") and _meta_matches(crr, name)
    meta = wait_for(updated, 90, "the in-place update complete, with the v2 container's hash")
    assert meta["app"]["restartCount"] == 2
