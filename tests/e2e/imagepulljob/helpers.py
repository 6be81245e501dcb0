"""ImagePullJobs, ImageListPullJobs and NodeImages for the image pre-download e2e tests (upstream
`test/e2e/apps/v1beta1/pullimages.go`, `imagelistpulljobs.go`, `test/e2e/framework/nodeimage_util.go`).

Images: a fresh tag of the sandbox's test app in its local registry (127.0.0.1:5000, named localhost:5000), made
through the registry's HTTP API for each test, so the real node's containerd does not have it yet and a pull is
a real pull (the layers are shared, so it is quick).
"""
from __future__ import annotations

import json
import re
import urllib.request
import uuid

from sandbox import realnode
from tests.kube import Cluster, wait_for

GROUP, VERSION = "apps.kruise.io", "v1beta1"
REAL_NODE = "real-node-0"
REGISTRY = "127.0.0.1:5000"
REPOSITORY = "ack-kruise/testapp"
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json")


def fresh_image(prefix: str = "pull") -> str:
    """localhost:5000/ack-kruise/testapp:<prefix>-<random>: testapp:v1's manifest under a new tag."""
    accept = ", ".join(MANIFEST_TYPES)
    request = urllib.request.Request(f"http://{REGISTRY}/v2/{REPOSITORY}/manifests/v1", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as r:
        body, content_type = r.read(), r.headers["Content-Type"]
    tag = f"{prefix}-{uuid.uuid4().hex[:8]}"
    put = urllib.request.Request(f"http://{REGISTRY}/v2/{REPOSITORY}/manifests/{tag}", data=body, method="PUT",
                                 headers={"Content-Type": content_type})
    with urllib.request.urlopen(put, timeout=10):
        pass
    return f"localhost:5000/{REPOSITORY}:{tag}"


def node_has_image(paths: realnode.NodePaths, image: str) -> bool:
    """`ctr -n k8s.io images ls` on the real node's containerd lists it."""
    listing = realnode.ctr(paths, "images", "ls", "-q").stdout.split()
    return image in listing


def metric(port: int, name: str, labels: str = "") -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    found = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


class ImageJobs:
    def __init__(self, cluster: Cluster, namespace: str):
        self.cluster, self.ns = cluster, namespace
        self.custom = cluster.custom

    # ---- ImagePullJob ---------------------------------------------------------------------------
    def create(self, name: str, image: str, version: str = VERSION, **spec) -> dict:
        body = {"apiVersion": f"{GROUP}/{version}", "kind": "ImagePullJob", "metadata": {"name": name},
                "spec": {"image": image, **spec}}
        return self.custom.create_namespaced_custom_object(GROUP, version, self.ns, "imagepulljobs", body)

    def get(self, name: str, version: str = VERSION) -> dict:
        return self.custom.get_namespaced_custom_object(GROUP, version, self.ns, "imagepulljobs", name)

    def exists(self, name: str) -> bool:
        return self.cluster._exists(lambda: self.get(name))

    def delete(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.ns, "imagepulljobs", name)

    def completed(self, name: str, timeout: float) -> dict:
        return wait_for(lambda: (j := self.get(name)).get("status", {}).get("completionTime") and j, timeout,
                        f"ImagePullJob {name} completed", interval=0.5)

    def jobs(self) -> list[dict]:
        return self.custom.list_namespaced_custom_object(GROUP, VERSION, self.ns, "imagepulljobs")["items"]

    # ---- ImageListPullJob -------------------------------------------------------------------------
    def create_list(self, name: str, images: list[str], **spec) -> dict:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ImageListPullJob", "metadata": {"name": name},
                "spec": {"images": images, **spec}}
        return self.custom.create_namespaced_custom_object(GROUP, VERSION, self.ns, "imagelistpulljobs", body)

    def get_list(self, name: str) -> dict:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.ns, "imagelistpulljobs", name)

    # ---- NodeImage ----------------------------------------------------------------------------------
    def node_image(self, node: str, version: str = VERSION) -> dict:
        return self.custom.get_cluster_custom_object(GROUP, version, "nodeimages", node)

    def node_images(self) -> list[dict]:
        return self.custom.list_cluster_custom_object(GROUP, VERSION, "nodeimages")["items"]

    def tag_state(self, node: str, image: str) -> dict | None:
        name, _, tag = image.rpartition(":")
        for state in ((self.node_image(node).get("status") or {}).get("imageStatuses") or {}).get(name, {}).get(
                "tags", []):
            if state.get("tag") == tag:
                return state
        return None

    def in_spec(self, node: str, image: str) -> bool:
        name, _, tag = image.rpartition(":")
        tags = ((self.node_image(node).get("spec") or {}).get("images") or {}).get(name, {}).get("tags", [])
        return any(t.get("tag") == tag for t in tags)

    def pull_secret(self, name: str, registry: str, user: str = "e2e", password: str = "secret") -> dict:
        import base64
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        config = json.dumps({"auths": {registry: {"username": user, "password": password, "auth": auth}}})
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()}}
        return self.cluster.api.sanitize_for_serialization(
            self.cluster.core.create_namespaced_secret(self.ns, body))

    def copies(self, job: str) -> list[dict]:
        """Secrets in kruise-daemon-config whose references name the job."""
        items = self.cluster.core.list_namespaced_secret("kruise-daemon-config").items
        key = f"{self.ns}/{job}"
        return [s for s in items
                if key in ((s.metadata.annotations or {}).get("imagepulljobs.kruise.io/references") or "").split(",")]
