"""Building and observing Advanced StatefulSets in e2e tests (shared by the files of this folder)."""
from __future__ import annotations

import json
import re

from tests.kube import ON_REAL_NODE, ON_SIMULATED_NODES, Cluster, is_ready, wait_for

GUESTBOOK = "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook"
SIM = "registry.example/app"
API = "statefulsets.v1beta1.apps.kruise.io"


def asts(name: str, replicas: int, image: str = f"{SIM}:v1", *, real_node: bool = False, parallel: bool = True,
         rolling: dict | None = None, api: str = "apps.kruise.io/v1beta1", **spec) -> dict:
    """An Advanced StatefulSet whose pods land on the simulated nodes (or the real node), selected by app=name."""
    placement = ON_REAL_NODE if real_node else ON_SIMULATED_NODES
    return {
        "apiVersion": api, "kind": "StatefulSet", "metadata": {"name": name},
        "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                 "podManagementPolicy": "Parallel" if parallel else "OrderedReady",
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {**json.loads(json.dumps(placement)), "terminationGracePeriodSeconds": 5,
                                       "readinessGates": [{"conditionType": "InPlaceUpdateReady"}],
                                       "containers": [{"name": "main", "image": image}]}},
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": rolling or {}}, **spec},
    }


def ordinal(pod_or_name: dict | str) -> int:
    name = pod_or_name if isinstance(pod_or_name, str) else pod_or_name["metadata"]["name"]
    return int(name.rsplit("-", 1)[1])


def names(pods: list[dict]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def image_of(pod: dict) -> str:
    return pod["spec"]["containers"][0]["image"]


def revision_of(pod: dict) -> str:
    return pod["metadata"]["labels"].get("controller-revision-hash", "")


class Sets:
    def __init__(self, cluster: Cluster, namespace: str):
        self.c, self.ns = cluster, namespace

    def create(self, obj: dict) -> str:
        return self.c.kubectl("create", "-f", "-", input=json.dumps(obj), namespace=self.ns).stdout.strip()

    def get(self, name: str) -> dict:
        return json.loads(self.c.kubectl("get", API, name, "-o", "json", namespace=self.ns).stdout)

    def status(self, name: str) -> dict:
        return self.get(name).get("status") or {}

    def patch(self, name: str, patch, kind: str = "merge") -> None:
        self.c.kubectl("patch", API, name, f"--type={kind}", "-p", json.dumps(patch), namespace=self.ns)

    def set_image(self, name: str, image: str) -> None:
        self.patch(name, [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}], "json")

    def rolling(self, name: str, **fields) -> None:
        """Patch spec.updateStrategy.rollingUpdate."""
        self.patch(name, {"spec": {"updateStrategy": {"rollingUpdate": fields}}})

    def delete(self, name: str, *args: str) -> None:
        self.c.kubectl("delete", API, name, *args, namespace=self.ns)

    def pods(self, name: str, include_terminating: bool = False) -> list[dict]:
        return [p for p in self.c.pods(self.ns, f"app={name}")
                if include_terminating or not p["metadata"].get("deletionTimestamp")]

    def by_name(self, name: str) -> dict[str, dict]:
        return {p["metadata"]["name"]: p for p in self.pods(name)}

    def names(self, name: str, include_terminating: bool = True) -> list[str]:
        return sorted(names(self.pods(name, include_terminating)), key=ordinal)

    def claims(self) -> list[str]:
        return sorted(c.metadata.name for c in self.c.core.list_namespaced_persistent_volume_claim(self.ns).items)

    def revisions(self) -> list[dict]:
        items = self.c.apps.list_namespaced_controller_revision(self.ns).items
        return sorted((self.c.api.sanitize_for_serialization(r) for r in items), key=lambda r: r["revision"])

    def condition(self, name: str, ctype: str) -> dict | None:
        return next((c for c in self.status(name).get("conditions") or [] if c.get("type") == ctype), None)

    def events(self, name: str) -> list[dict]:
        items = self.c.core.list_namespaced_event(self.ns, field_selector=f"involvedObject.name={name}").items
        return [{"reason": e.reason, "message": e.message, "type": e.type} for e in items]

    def describe(self, name: str):
        """For wait_for: the status and each pod's name, readiness, terminating and revision."""
        return lambda: (self.status(name), [(p["metadata"]["name"], is_ready(p),
                                             bool(p["metadata"].get("deletionTimestamp")), revision_of(p))
                                            for p in self.pods(name, True)])

    def wait_ready(self, name: str, replicas: int, timeout: float = 60) -> dict:
        def done():
            obj = self.get(name)
            s = obj.get("status") or {}
            ok = (s.get("observedGeneration") == obj["metadata"]["generation"] and s.get("replicas") == replicas
                  and s.get("readyReplicas") == replicas and s.get("updatedReplicas") == replicas
                  and s.get("currentRevision") == s.get("updateRevision"))
            return obj if ok else None
        return wait_for(done, timeout, f"StatefulSet {name}: {replicas} ready pods", describe=self.describe(name))

    def wait_status(self, name: str, timeout: float = 60, **expected) -> dict:
        """Until the status (for the current generation) shows every `expected` field."""
        def done():
            obj = self.get(name)
            s = obj.get("status") or {}
            ok = s.get("observedGeneration") == obj["metadata"]["generation"] and all(
                s.get(k) == v for k, v in expected.items())
            return s if ok else None
        return wait_for(done, timeout, f"StatefulSet {name} status {expected}", describe=self.describe(name))


def columns(output: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in output.strip().splitlines()]
