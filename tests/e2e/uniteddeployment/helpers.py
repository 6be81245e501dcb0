"""Building and observing UnitedDeployments in e2e tests (upstream's fixture: test/e2e/framework/v1alpha1/
uniteddeployment.go: selector and labels `app: <name>`, one container, terminationGracePeriodSeconds 0).

Subsets are placed by zone (`topology.kubernetes.io/zone` of the simulated nodes, zone-a..c) or by a node label
of the test's own (`Uds.label_nodes`, taken off at the end); `Uds.cordon_zone` cordons a zone's nodes (undone at
the end too), which makes the scheduler leave new pods there Pending with PodScheduled=False/Unschedulable."""
from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

from tests.kube import ON_SIMULATED_NODES, Cluster, is_ready, wait_for

TESTAPP = "localhost:5000/ack-kruise/testapp"
API = "uniteddeployments.v1alpha1.apps.kruise.io"
ZONE = "topology.kubernetes.io/zone"
SUBSET_LABEL = "apps.kruise.io/subset-name"
RESERVED_LABEL = "apps.kruise.io/united-deployment-reserved-pod"
TEMPLATE_KINDS = ["cloneSetTemplate", "advancedStatefulSetTemplate", "statefulSetTemplate", "deploymentTemplate"]
STATELESS_KINDS = ["cloneSetTemplate", "deploymentTemplate"]
WORKLOAD_RESOURCES = {"cloneSetTemplate": "clonesets.apps.kruise.io",
                      "advancedStatefulSetTemplate": "statefulsets.v1beta1.apps.kruise.io",
                      "statefulSetTemplate": "statefulsets.apps", "deploymentTemplate": "deployments.apps"}


def zone_term(zone: str) -> dict:
    return {"matchExpressions": [{"key": ZONE, "operator": "In", "values": [zone]}]}


def label_term(key: str, value: str) -> dict:
    return {"matchExpressions": [{"key": key, "operator": "In", "values": [value]}]}


def united_deployment(name: str, kind: str, subsets: list[dict], replicas: int | None = None,
                      image: str = f"{TESTAPP}:v1", **spec: Any) -> dict:
    labels = {"app": name}
    workload: dict = {"selector": {"matchLabels": dict(labels)},
                      "template": {"metadata": {"labels": dict(labels)},
                                   "spec": {"terminationGracePeriodSeconds": 0,
                                            "containers": [{"name": "main", "image": image}],
                                            # the zones are the simulated nodes', tainted when the real node runs
                                            **copy.deepcopy(ON_SIMULATED_NODES)}}}
    if kind in ("statefulSetTemplate", "advancedStatefulSetTemplate"):
        workload["serviceName"] = name
        workload["podManagementPolicy"] = "Parallel"
    body: dict = {"selector": {"matchLabels": dict(labels)},
                  "template": {kind: {"metadata": {"labels": dict(labels)}, "spec": workload}},
                  "topology": {"subsets": copy.deepcopy(subsets)}, **spec}
    if replicas is not None:
        body["replicas"] = replicas
    return {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "UnitedDeployment", "metadata": {"name": name},
            "spec": body}


class Uds:
    def __init__(self, cluster: Cluster, namespace: str):
        self.cluster, self.ns = cluster, namespace
        self._labelled: list[tuple[str, str]] = []
        self._cordoned: list[str] = []

    # ---- objects
    def create(self, obj: dict) -> dict:
        self.cluster.kubectl("create", "-f", "-", input=json.dumps(obj), namespace=self.ns)
        return self.get(obj["metadata"]["name"])

    def get(self, name: str) -> dict:
        return json.loads(self.cluster.kubectl("get", API, name, "-o", "json", namespace=self.ns).stdout)

    def patch(self, name: str, patch: dict, patch_type: str = "merge") -> None:
        self.cluster.kubectl("patch", API, name, "--type", patch_type, "-p", json.dumps(patch), namespace=self.ns)

    def scale(self, name: str, replicas: int) -> None:
        """Through the scale subresource, as an HPA does."""
        self.cluster.kubectl("scale", API, name, f"--replicas={replicas}", namespace=self.ns)

    def workloads(self, kind: str) -> list[dict]:
        out = self.cluster.kubectl("get", WORKLOAD_RESOURCES[kind], "-o", "json", namespace=self.ns).stdout
        return [w for w in json.loads(out)["items"] if not w["metadata"].get("deletionTimestamp")]

    def subset_workloads(self, kind: str) -> dict[str, dict]:
        return {w["metadata"]["labels"].get(SUBSET_LABEL): w for w in self.workloads(kind)}

    def pods(self, name: str) -> list[dict]:
        return [p for p in self.cluster.pods(self.ns, f"app={name}") if not p["metadata"].get("deletionTimestamp")]

    def pods_per_subset(self, name: str, subsets: list[str]) -> list[int]:
        counts = Counter(p["metadata"]["labels"].get(SUBSET_LABEL) for p in self.pods(name))
        return [counts.get(s, 0) for s in subsets]

    def reserved_per_subset(self, name: str, subsets: list[str]) -> list[int]:
        counts = Counter(p["metadata"]["labels"].get(SUBSET_LABEL) for p in self.pods(name)
                         if p["metadata"]["labels"].get(RESERVED_LABEL) == "true")
        return [counts.get(s, 0) for s in subsets]

    def unschedulable(self, name: str, subsets: list[str]) -> list[bool]:
        """CheckUnschedulableStatus: the subset's Schedulable condition is False."""
        statuses = {s.get("name"): s for s in self.get(name).get("status", {}).get("subsetStatuses") or []}
        return [any(c.get("type") == "Schedulable" and c.get("status") == "False"
                    for c in statuses.get(s, {}).get("conditions") or []) for s in subsets]

    # ---- waits
    def wait_settled(self, name: str, replicas: int, timeout: float = 90) -> dict:
        """Upstream's Create/Scale wait: status.replicas == replicas and observedGeneration == generation."""
        def done() -> dict | None:
            ud = self.get(name)
            s = ud.get("status") or {}
            ok = s.get("replicas") == replicas and s.get("observedGeneration") == ud["metadata"]["generation"]
            return ud if ok else None
        return wait_for(done, timeout, f"UnitedDeployment {name} at {replicas} replicas", interval=0.3,
                        describe=lambda: self.get(name).get("status"))

    def wait_subset_replicas(self, name: str, expected: dict[str, int], timeout: float = 90) -> dict:
        """CheckSubsets: status.subsetReplicas, the allocation."""
        return wait_for(lambda: (ud := self.get(name)) and (ud.get("status") or {}).get("subsetReplicas") == expected
                        and ud, timeout, f"subsetReplicas {expected}", interval=0.3,
                        describe=lambda: (self.get(name).get("status") or {}).get("subsetReplicas"))

    def wait_pods(self, name: str, subsets: list[str], expected: list[int], timeout: float = 90,
                  ready: bool = False) -> None:
        """CheckSubsetPods: pods per subset (ready ones only, with `ready`)."""
        def counts() -> list[int]:
            pods = [p for p in self.pods(name) if not ready or is_ready(p)]
            got = Counter(p["metadata"]["labels"].get(SUBSET_LABEL) for p in pods)
            return [got.get(s, 0) for s in subsets]
        wait_for(lambda: counts() == expected, timeout, f"pods per subset {expected}", interval=0.3, describe=counts)

    # ---- nodes
    def nodes(self, zone: str | None = None) -> list[dict]:
        items = json.loads(self.cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        return [n for n in items if zone is None or n["metadata"]["labels"].get(ZONE) == zone]

    def label_nodes(self, key: str, value: str, zone: str | None = None) -> None:
        for node in self.nodes(zone):
            name = node["metadata"]["name"]
            self.cluster.kubectl("label", "node", name, f"{key}={value}", "--overwrite")
            self._labelled.append((name, key))

    def cordon_zone(self, zone: str) -> None:
        for node in self.nodes(zone):
            self.cluster.kubectl("cordon", node["metadata"]["name"])
            self._cordoned.append(node["metadata"]["name"])

    def uncordon_zone(self, zone: str) -> None:
        for node in self.nodes(zone):
            self.cluster.kubectl("uncordon", node["metadata"]["name"])

    def restore_nodes(self) -> None:
        for name, key in self._labelled:
            self.cluster.kubectl("label", "node", name, f"{key}-", check=False)
        for name in self._cordoned:
            self.cluster.kubectl("uncordon", name, check=False)
