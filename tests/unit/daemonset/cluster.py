"""The fake cluster (tests/unit/world.py) running the Advanced DaemonSet reconcile, with nodes: a scheduler that
binds each pod to the node it is pinned to once that node exists, pod GC for pods bound to nodes that are gone,
and the world's kubelet model for every node. (`world.py` here holds the plain objects of the decision-layer
tests.)"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from controllers import schema
from controllers.common import actions as A
from controllers.common.names import SequenceNames
from controllers.daemonset.pods import target_node_name
from controllers.daemonset.reconcile import reconcile

from ..world import T0, BaseWorld  # noqa: F401  (T0 is re-exported for the tests)

JSON = dict[str, Any]

SIM_TAINT = {"key": "node.ack-kruise.io/simulated", "value": "true", "effect": "NoSchedule"}
SIM_TOLERATION = {"key": "node.ack-kruise.io/simulated", "operator": "Exists", "effect": "NoSchedule"}


def node(name: str, labels: dict | None = None, taints: list | None = None) -> JSON:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "uid": f"node-{name}",
                         "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {"taints": list(taints or [])},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


@dataclass
class World(BaseWorld):
    nodes: dict[str, JSON] = field(default_factory=dict)
    names: SequenceNames = field(default_factory=SequenceNames)
    memory: Any = None
    scheduler_on: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.workload["metadata"]["uid"] == "cs-uid":
            self.workload["metadata"]["uid"] = "ds-uid"

    @property
    def ds(self) -> JSON:
        return self.workload

    def context(self) -> A.Context:
        return dataclasses.replace(super().context(), names=self.names, memory=self.memory)

    def run_reconcile(self, workload: JSON, observed: dict[str, list[JSON]], context: A.Context) -> A.Plan:
        observed = dict(observed)
        observed.setdefault(A.NODES, copy.deepcopy(list(self.nodes.values())))
        return reconcile(workload, observed, context)

    def apply(self, plan: A.Plan) -> None:
        self.memory = plan.memory
        super().apply(plan)

    # -- nodes
    def add_node(self, n: JSON) -> None:
        self.nodes[n["metadata"]["name"]] = n

    def remove_node(self, name: str) -> None:
        del self.nodes[name]

    def label_node(self, name: str, **labels: str | None) -> None:
        current = self.nodes[name]["metadata"]["labels"]
        for k, v in labels.items():
            if v is None:
                current.pop(k, None)
            else:
                current[k] = v

    def taint_node(self, name: str, taint: JSON) -> None:
        self.nodes[name]["spec"].setdefault("taints", []).append(taint)

    # -- the cluster ticking: scheduler, pod GC, kubelet
    def kubelet(self) -> None:
        for name, pod in list(self.pods.items()):
            spec = pod.setdefault("spec", {})
            target = target_node_name(pod)
            if not spec.get("nodeName") and target in self.nodes and self.scheduler_on:
                spec["nodeName"] = target
            elif spec.get("nodeName") and spec["nodeName"] not in self.nodes:
                del self.pods[name]  # pod GC: bound to a node that is gone
        if not self.kubelet_on:
            return
        unbound = {n: p for n, p in self.pods.items() if not p["spec"].get("nodeName")}
        for n in unbound:
            del self.pods[n]
        try:
            super().kubelet()
        finally:
            self.pods.update(unbound)

    def set_rolling(self, **fields: Any) -> None:
        self.edit_spec(lambda s: s["updateStrategy"].setdefault("rollingUpdate", {}).update(fields))

    # -- views
    def by_node(self, include_terminating: bool = False) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, pod in sorted(self.pods.items()):
            if pod["metadata"].get("deletionTimestamp") and not include_terminating:
                continue
            out.setdefault(target_node_name(pod) or "", []).append(name)
        return out

    def hash_of(self, name: str) -> str:
        return self.pods[name]["metadata"]["labels"]["controller-revision-hash"]

    def image_by_node(self) -> dict[str, str]:
        return {target_node_name(p): p["spec"]["containers"][0]["image"] for p in self.live_pods()}


def daemonset(name: str = "ds", image: str = "nginx:1.25", rolling: dict | None = None, strategy: str | None = None,
              tolerate_simulated: bool = True, **spec: Any) -> JSON:
    """An Advanced DaemonSet as the webhook would store it (v1beta1, the schema's defaults applied)."""
    pod_spec: JSON = {"containers": [{"name": "main", "image": image}]}
    if tolerate_simulated:
        pod_spec["tolerations"] = [dict(SIM_TOLERATION)]
    obj = {
        "apiVersion": "apps.kruise.io/v1beta1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "default", "uid": "ds-uid", "generation": 1},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
            "updateStrategy": ({"type": "OnDelete"} if strategy == "OnDelete"
                               else {"type": "RollingUpdate", "rollingUpdate": dict(rolling or {})}),
        },
    }
    for k, v in spec.items():
        obj["spec"][k] = copy.deepcopy(v)
    return schema.apply_defaults(obj)


def four_nodes() -> list[JSON]:
    """node-a, node-b (zone labels), node-c tainted like a simulated node, node-d labelled `role: other`."""
    return [node("node-a", {"zone": "a", "role": "worker"}), node("node-b", {"zone": "b", "role": "worker"}),
            node("node-c", {"zone": "c", "role": "worker", "node.ack-kruise.io/simulated": "true"}, [SIM_TAINT]),
            node("node-d", {"zone": "d", "role": "other"})]


def world(ds: JSON, nodes: list[JSON] | None = None, **kwargs: Any) -> World:
    w = World(ds, **kwargs)
    for n in nodes if nodes is not None else four_nodes():
        w.add_node(n)
    return w
