"""Building and observing CloneSets in e2e tests."""
from __future__ import annotations

import copy
import json
from typing import Any

from tests.kube import ON_REAL_NODE, ON_SIMULATED_NODES, Cluster, container_status, is_ready, wait_for

GUESTBOOK = "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook"
SIM_IMAGE = "registry.example/app"


def cloneset(name: str, replicas: int, image: str = f"{SIM_IMAGE}:v1", *, real_node: bool = False,
             update: dict | None = None, **spec: Any) -> dict:
    """A CloneSet whose pods land on the simulated nodes (or the real node), named after `name`."""
    placement = ON_REAL_NODE if real_node else ON_SIMULATED_NODES
    obj = {
        "apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {**copy.deepcopy(placement), "terminationGracePeriodSeconds": 5,
                                       "containers": [{"name": "main", "image": image}]}},
                 "updateStrategy": update or {}, **spec},
    }
    return obj


class CloneSets:
    def __init__(self, cluster: Cluster, namespace: str):
        self.c, self.ns = cluster, namespace

    def create(self, obj: dict) -> dict:
        self.c.kubectl("create", "-f", "-", input=json.dumps(obj), namespace=self.ns)
        return obj

    def get(self, name: str) -> dict:
        return json.loads(self.c.kubectl("get", "clone", name, "-o", "json", namespace=self.ns).stdout)

    def status(self, name: str) -> dict:
        return self.get(name).get("status") or {}

    def patch(self, name: str, patch: dict | list, kind: str = "merge") -> None:
        self.c.kubectl("patch", "clone", name, f"--type={kind}", "-p", json.dumps(patch), namespace=self.ns)

    def set_image(self, name: str, image: str) -> None:
        self.patch(name, [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}], "json")

    def pods(self, name: str, include_terminating: bool = False) -> list[dict]:
        pods = self.c.pods(self.ns, f"app={name}")
        return [p for p in pods if include_terminating or not p["metadata"].get("deletionTimestamp")]

    def wait_ready(self, name: str, replicas: int, timeout: float = 60, updated: bool = True) -> dict:
        """Until the CloneSet reports `replicas` ready (and updated) pods for its current generation."""
        def done() -> dict | None:
            obj = self.get(name)
            s = obj.get("status") or {}
            ok = (s.get("observedGeneration") == obj["metadata"]["generation"] and s.get("replicas") == replicas
                  and s.get("readyReplicas") == replicas
                  and (not updated or s.get("updatedReadyReplicas") == replicas))
            return obj if ok else None
        return wait_for(done, timeout, f"CloneSet {name}: {replicas} ready pods",
                        describe=lambda: (self.status(name), [(p["metadata"]["name"], is_ready(p))
                                                              for p in self.pods(name, True)]))

    def wait_for_a_round(self, name: str) -> None:
        """Until the controller has finished a reconcile that saw everything up to now. A change that decides
        nothing (revisionHistoryLimit + 1) bumps the generation; the status that reports it observed is written
        at the end of that round, after the round's creates and deletes."""
        limit = self.get(name)["spec"].get("revisionHistoryLimit", 10)
        self.patch(name, {"spec": {"revisionHistoryLimit": limit + 1}})
        generation = self.get(name)["metadata"]["generation"]
        wait_for(lambda: self.status(name).get("observedGeneration", 0) >= generation, 30,
                 f"CloneSet {name} to observe generation {generation}")

    def events(self, name: str) -> list[dict]:
        items = self.c.core.list_namespaced_event(self.ns, field_selector=f"involvedObject.name={name}").items
        return [{"reason": e.reason, "message": e.message, "type": e.type} for e in items]


def revision_of(pod: dict) -> str:
    return pod["metadata"]["labels"].get("controller-revision-hash", "")


def images(pods: list[dict]) -> list[str]:
    return sorted(p["spec"]["containers"][0]["image"] for p in pods)


__all__ = ["cloneset", "CloneSets", "revision_of", "images", "GUESTBOOK", "SIM_IMAGE", "container_status",
           "is_ready", "wait_for"]
