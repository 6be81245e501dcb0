"""The fake cluster (tests/unit/world.py) running the Advanced StatefulSet reconcile."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from controllers import schema
from controllers.common import actions as A
from controllers.statefulset.reconcile import reconcile

from ..world import T0, BaseWorld  # noqa: F401  (T0 is re-exported for the tests)

JSON = dict[str, Any]


@dataclass
class World(BaseWorld):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.workload["metadata"]["uid"] = self.workload["metadata"].get("uid") or "sts-uid"
        if self.workload["metadata"]["uid"] == "cs-uid":
            self.workload["metadata"]["uid"] = "sts-uid"

    @property
    def sts(self) -> JSON:
        return self.workload

    def run_reconcile(self, workload: JSON, observed: dict[str, list[JSON]], context: A.Context) -> A.Plan:
        return reconcile(workload, observed, context)

    def settle(self, max_rounds: int = 200, seconds: float = 1.0) -> int:
        """Like BaseWorld.settle, but converged means that a fresh look at the cluster, after the kubelet has
        run, asks for nothing either, and no pod is still terminating: OrderedReady waits for those without
        asking for a requeue (the pod's deletion event wakes it)."""
        rounds = 0
        for _ in range(50):
            rounds += super().settle(max_rounds, seconds)
            plan = self.reconcile()
            terminating = any(p["metadata"].get("deletionTimestamp") for p in self.pods.values())
            if not plan.actions and plan.requeue_after is None and not terminating:
                return rounds
            self.now += timedelta(seconds=seconds)
            self.kubelet()
        raise AssertionError(f"no convergence; pods: {sorted(self.pods)}")

    def set_replicas(self, n: int) -> None:
        self.edit_spec(lambda s: s.__setitem__("replicas", n))

    def rolling(self, **fields: Any) -> None:
        self.edit_spec(lambda s: s["updateStrategy"].setdefault("rollingUpdate", {}).update(fields))

    def names(self) -> list[str]:
        """The pods that exist (terminating ones included), by ordinal."""
        return sorted(self.pods, key=lambda n: int(n.rsplit("-", 1)[1]))

    def revision_of(self, name: str) -> str:
        return self.pods[name]["metadata"]["labels"]["controller-revision-hash"]

    def uids(self) -> dict[str, str]:
        return {n: p["metadata"]["uid"] for n, p in self.pods.items()}


def statefulset(name: str = "web", replicas: int = 3, image: str = "nginx:1.25", policy: str = "OrderedReady",
                rolling: dict | None = None, **spec: Any) -> JSON:
    """An Advanced StatefulSet as the webhook would store it (v1beta1, the schema's defaults applied)."""
    obj = {
        "apiVersion": "apps.kruise.io/v1beta1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "default", "uid": "sts-uid", "generation": 1},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "podManagementPolicy": policy,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "main", "image": image}]}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": dict(rolling or {})},
        },
    }
    if spec.get("updateStrategy", {}).get("type") == "OnDelete":
        obj["spec"]["updateStrategy"] = {"type": "OnDelete"}
        spec.pop("updateStrategy")
    for k, v in spec.items():
        obj["spec"][k] = copy.deepcopy(v)
    return schema.apply_defaults(obj)


VCT = [{"metadata": {"name": "data", "annotations": {"note": "x"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
IN_PLACE_GATE = [{"conditionType": "InPlaceUpdateReady"}]
START_ORDINAL = {"StatefulSetStartOrdinal": True}  # the feature gate that makes spec.ordinals.start count
