"""CloneSets of real containers and ContainerRecreateRequests on them, for the kruise-daemon e2e tests.

As upstream's `test/e2e/apps/containerrecreate.go`: a CloneSet whose pods run `app` and `sidecar`, on the real
node (the kruise-daemon of the sandbox serves it, talking CRI to its containerd), all replicas Ready first.
"""
from __future__ import annotations

from datetime import datetime

from controllers.common.times import parse_time
from tests.kube import ON_REAL_NODE, Cluster, container_status, is_ready, wait_for

GROUP, VERSION, PLURAL = "apps.kruise.io", "v1alpha1", "containerrecreaterequests"
IMAGE = "localhost:5000/ack-kruise/testapp:v1"


def container(name: str, port: int, **extra) -> dict:
    return {"name": name, "image": IMAGE, "env": [{"name": "PORT", "value": str(port)}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": port}, "periodSeconds": 1},
            **extra}


class Recreations:
    def __init__(self, cluster: Cluster, namespace: str):
        self.cluster, self.ns = cluster, namespace

    # ---- the pods ---------------------------------------------------------------------------
    def cloneset(self, replicas: int, app: dict | None = None, name: str = "clone") -> list[dict]:
        """A CloneSet of `replicas` pods on the real node; returns them once all are Ready, by name."""
        spec = {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                             "spec": {**ON_REAL_NODE, "terminationGracePeriodSeconds": 30, "containers": [
                                 container("app", 8080, **(app or {})), container("sidecar", 8081)]}}}
        self.cluster.apply({"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet",
                            "metadata": {"name": name}, "spec": spec}, self.ns)

        def all_ready():
            pods = self.cluster.pods(self.ns, f"app={name}")
            return sorted(pods, key=lambda p: p["metadata"]["name"]) if (
                len(pods) == replicas and all(is_ready(p) for p in pods)) else None
        return wait_for(all_ready, 120, f"{replicas} Ready pods of CloneSet {name}")

    def pod(self, name: str) -> dict:
        return self.cluster.pod(self.ns, name)

    # ---- the requests -----------------------------------------------------------------------
    def create(self, name: str, pod: str, containers: list[str], **spec) -> dict:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ContainerRecreateRequest", "metadata": {"name": name},
                "spec": {"podName": pod, "containers": [{"name": c} for c in containers], **spec}}
        return self.cluster.custom.create_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, body)

    def get(self, name: str) -> dict:
        return self.cluster.custom.get_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, name)

    def exists(self, name: str) -> bool:
        return self.cluster._exists(lambda: self.get(name))

    def completed(self, name: str, timeout: float) -> dict:
        return wait_for(lambda: (c := self.get(name)).get("status", {}).get("phase") == "Completed" and c,
                        timeout, f"ContainerRecreateRequest {name} Completed", interval=0.2,
                        describe=lambda: self.get(name).get("status"))

    @staticmethod
    def states(crr: dict) -> list[dict]:
        return [{k: s[k] for k in ("name", "phase", "isKilled") if k in s}
                for s in crr.get("status", {}).get("containerRecreateStates") or []]


def finished_at(pod: dict, name: str) -> datetime:
    return parse_time(container_status(pod, name)["lastState"]["terminated"]["finishedAt"])


def started_at(pod: dict, name: str) -> datetime:
    return parse_time(container_status(pod, name)["state"]["running"]["startedAt"])


def container_id(pod: dict, name: str) -> str:
    return container_status(pod, name).get("containerID", "")


def condition(pod: dict, kind: str) -> dict:
    return next((c for c in pod.get("status", {}).get("conditions") or [] if c["type"] == kind), {})
