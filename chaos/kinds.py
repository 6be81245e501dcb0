"""The workload kinds the chaos suite takes through its operations: how each is created, scaled and rolled out,
which image a rollout changes in its pods, and when its status says it is done.

- CloneSet and Advanced StatefulSet: spec.replicas, the pod template's image (InPlaceIfPossible, maxUnavailable 50%);
- Advanced DaemonSet: one pod per node it selects, so it scales by labelling simulated nodes for it;
- UnitedDeployment: CloneSet subsets in zone-a and zone-b, scaled by its spec.replicas, rolled out through its
  cloneSetTemplate (the UnitedDeployment and the CloneSet controllers both act, in the same manager);
- SidecarSet: a CloneSet whose pods it injects (its sidecar goes in at each pod's creation, through the pod
  webhook that the manager serves), scaled by the CloneSet; its rollout is the sidecar's image (an in-place
  sidecar upgrade, maxUnavailable 50%), what a rollout changes is the sidecar container's image.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from kube import KubeClient, MERGE_PATCH

SIMULATED = {
    "nodeSelector": {"node.ack-kruise.io/simulated": "true"},
    "tolerations": [{"key": "node.ack-kruise.io/simulated", "operator": "Exists", "effect": "NoSchedule"}],
}
IMAGE = "registry.example/app"
SIDECAR_IMAGE = "registry.example/sidecar"
SIDECAR = "sidecar"
ZONE = "topology.kubernetes.io/zone"
SEEN_TIMEOUT = 30.0
NAMESPACE_NAME = "kubernetes.io/metadata.name"
IN_PLACE = {"type": "InPlaceIfPossible", "maxUnavailable": "50%"}


def daemon_label(namespace: str) -> str:
    """The node label that chooses the nodes of the Advanced DaemonSet in `namespace` (one per sequence)."""
    return f"chaos.ack-kruise.io/{namespace}"


def pod_template(name: str, image: str) -> dict:
    return {"metadata": {"labels": {"app": name}},
            "spec": {**SIMULATED, "terminationGracePeriodSeconds": 5,
                     "readinessGates": [{"conditionType": "InPlaceUpdateReady"}],
                     "containers": [{"name": "main", "image": image}]}}


def cloneset_spec(name: str, replicas: int) -> dict:
    return {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": pod_template(name, f"{IMAGE}:v1"), "updateStrategy": dict(IN_PLACE)}


def container_image(pod: dict, container: str) -> str:
    return next((c["image"] for c in pod["spec"]["containers"] if c["name"] == container), "")


def replicas_counted(status: dict, replicas: int) -> bool:
    return status.get("replicas") == status.get("readyReplicas") == status.get("updatedReplicas") == replicas


@dataclass(frozen=True)
class Kind:
    """A namespaced workload with spec.replicas whose rollout changes its pod template's image."""

    label: str  # as the results name it
    name: str  # the API kind
    api_version: str
    plural: str
    image_repo: str = IMAGE  # the image a rollout changes (v1 → v2)

    def path(self, namespace: str, name: str = "") -> str:
        group, version = self.api_version.split("/")
        base = f"/apis/{group}/{version}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{name}" if name else base

    def image(self, tag: str) -> str:
        return f"{self.image_repo}:{tag}"

    def pod_image(self, pod: dict) -> str:
        """The image in `pod` that a rollout changes."""
        return container_image(pod, "main")

    def spec(self, name: str, replicas: int, namespace: str) -> dict:
        spec = cloneset_spec(name, replicas)
        if self.name == "StatefulSet":
            spec.update(serviceName=name, podManagementPolicy="Parallel",
                        updateStrategy={"type": "RollingUpdate", "rollingUpdate": {
                            "podUpdatePolicy": "InPlaceIfPossible", "maxUnavailable": "50%"}})
        return spec

    def manifest(self, name: str, replicas: int, namespace: str) -> dict:
        return {"apiVersion": self.api_version, "kind": self.name, "metadata": {"name": name},
                "spec": self.spec(name, replicas, namespace)}

    async def create(self, client: KubeClient, namespace: str, name: str, replicas: int) -> None:
        await client.create(self.path(namespace), self.manifest(name, replicas, namespace))

    async def scale(self, client: KubeClient, namespace: str, name: str, replicas: int) -> None:
        await client.patch(self.path(namespace, name), {"spec": {"replicas": replicas}}, MERGE_PATCH)

    def rollout_patch(self, image: str) -> dict:
        return {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": image}]}}}}

    async def roll(self, client: KubeClient, namespace: str, name: str, image: str) -> None:
        await client.patch(self.path(namespace, name), self.rollout_patch(image), MERGE_PATCH)

    def counted(self, status: dict, replicas: int) -> bool:
        return replicas_counted(status, replicas)

    async def status_done(self, client: KubeClient, namespace: str, name: str, replicas: int) -> bool:
        """The workload's status has seen its latest spec and counts `replicas` pods ready and updated."""
        obj = await client.get(self.path(namespace, name))
        s = obj.get("status") or {}
        return s.get("observedGeneration") == obj["metadata"]["generation"] and self.counted(s, replicas)

    async def cleanup(self, client: KubeClient, namespace: str, name: str) -> None:
        """What the namespace's deletion does not take away."""


@dataclass(frozen=True)
class DaemonKind(Kind):
    """Advanced DaemonSet: its "replicas" are the simulated nodes labelled for it."""

    def spec(self, name: str, replicas: int, namespace: str) -> dict:
        template = pod_template(name, f"{IMAGE}:v1")
        del template["spec"]["readinessGates"]  # the controller adds the in-place readiness gate
        template["spec"]["nodeSelector"] = {**SIMULATED["nodeSelector"], daemon_label(namespace): "on"}
        return {"selector": {"matchLabels": {"app": name}}, "template": template,
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {
                    "rollingUpdateType": "InPlaceIfPossible", "maxUnavailable": "50%"}}}

    async def create(self, client: KubeClient, namespace: str, name: str, replicas: int) -> None:
        await self.scale(client, namespace, name, replicas)
        await super().create(client, namespace, name, replicas)

    async def scale(self, client: KubeClient, namespace: str, name: str, replicas: int) -> None:
        """Label the first `replicas` simulated nodes for it and unlabel the others."""
        label = daemon_label(namespace)
        simulated = ",".join(f"{k}={v}" for k, v in SIMULATED["nodeSelector"].items())
        nodes = (await client.get("/api/v1/nodes", labelSelector=simulated))["items"]
        for i, node in enumerate(sorted(nodes, key=lambda n: n["metadata"]["name"])):
            want = "on" if i < replicas else None
            if (node["metadata"].get("labels") or {}).get(label) != want:
                await client.patch(f"/api/v1/nodes/{node['metadata']['name']}",
                                   {"metadata": {"labels": {label: want}}}, MERGE_PATCH)

    def counted(self, status: dict, replicas: int) -> bool:
        return (status.get("desiredNumberScheduled") == status.get("currentNumberScheduled")
                == status.get("numberReady") == status.get("updatedNumberScheduled") == replicas
                and status.get("numberMisscheduled") == 0)

    async def cleanup(self, client: KubeClient, namespace: str, name: str) -> None:
        await self.scale(client, namespace, name, 0)  # the nodes' labels of this sequence


@dataclass(frozen=True)
class UnitedKind(Kind):
    """UnitedDeployment of CloneSet subsets, one in zone-a and one in zone-b (replicas split between them)."""

    def spec(self, name: str, replicas: int, namespace: str) -> dict:
        subsets = [{"name": zone, "nodeSelectorTerm": {"matchExpressions": [
            {"key": ZONE, "operator": "In", "values": [zone]}]}} for zone in ("zone-a", "zone-b")]
        return {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                # the subsets' replicas are the UnitedDeployment's to set (its webhook refuses them here)
                "template": {"cloneSetTemplate": {"metadata": {"labels": {"app": name}}, "spec": {
                    k: v for k, v in cloneset_spec(name, replicas).items() if k != "replicas"}}},
                "topology": {"subsets": subsets}}

    def rollout_patch(self, image: str) -> dict:
        return {"spec": {"template": {"cloneSetTemplate": {"spec": super().rollout_patch(image)["spec"]}}}}


@dataclass(frozen=True)
class SidecarKind(Kind):
    """A SidecarSet (cluster-scoped, named after the namespace) injecting a CloneSet's pods in its namespace;
    `path` is the CloneSet's, which the scale operations change."""

    sidecarsets: str = "/apis/apps.kruise.io/v1beta1/sidecarsets"

    def pod_image(self, pod: dict) -> str:
        return container_image(pod, SIDECAR)

    def sidecarset(self, namespace: str, name: str) -> dict:
        return {"apiVersion": "apps.kruise.io/v1beta1", "kind": "SidecarSet", "metadata": {"name": namespace},
                "spec": {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME: namespace}},
                         "selector": {"matchLabels": {"app": name}},
                         "containers": [{"name": SIDECAR, "image": self.image("v1")}],
                         "updateStrategy": {"type": "RollingUpdate", "maxUnavailable": "50%"}}}

    async def create(self, client: KubeClient, namespace: str, name: str, replicas: int) -> None:
        """The SidecarSet first, and the CloneSet once the manager has seen it (its status observed): a pod
        created before would get no sidecar (injection happens at creation only) and never converge."""
        # kubernetes.io/metadata.name, as every namespace has it from Kubernetes 1.21 (the sandbox runs 1.20)
        await client.patch(f"/api/v1/namespaces/{namespace}", {"metadata": {"labels": {NAMESPACE_NAME: namespace}}},
                           MERGE_PATCH)
        await client.create(self.sidecarsets, self.sidecarset(namespace, name))
        deadline = time.monotonic() + SEEN_TIMEOUT
        while time.monotonic() < deadline:
            obj = await client.get(f"{self.sidecarsets}/{namespace}")
            if (obj.get("status") or {}).get("observedGeneration") == obj["metadata"]["generation"]:
                break
            await asyncio.sleep(0.2)  # a poll, within the deadline
        await super().create(client, namespace, name, replicas)

    async def roll(self, client: KubeClient, namespace: str, name: str, image: str) -> None:
        await client.patch(f"{self.sidecarsets}/{namespace}", {"spec": {"containers": [
            {"name": SIDECAR, "image": image}]}}, MERGE_PATCH)

    async def status_done(self, client: KubeClient, namespace: str, name: str, replicas: int) -> bool:
        if not await super().status_done(client, namespace, name, replicas):
            return False
        obj = await client.get(f"{self.sidecarsets}/{namespace}")
        s: dict[str, Any] = obj.get("status") or {}
        return (s.get("observedGeneration") == obj["metadata"]["generation"]
                and s.get("matchedPods") == s.get("updatedPods") == s.get("readyPods")
                == s.get("updatedReadyPods") == replicas)

    async def cleanup(self, client: KubeClient, namespace: str, name: str) -> None:
        await client.delete(f"{self.sidecarsets}/{namespace}")


KINDS = {k.label: k for k in (
    Kind("CloneSet", "CloneSet", "apps.kruise.io/v1alpha1", "clonesets"),
    Kind("Advanced StatefulSet", "StatefulSet", "apps.kruise.io/v1beta1", "statefulsets"),
    DaemonKind("Advanced DaemonSet", "DaemonSet", "apps.kruise.io/v1beta1", "daemonsets"),
    UnitedKind("UnitedDeployment", "UnitedDeployment", "apps.kruise.io/v1alpha1", "uniteddeployments"),
    SidecarKind("SidecarSet", "CloneSet", "apps.kruise.io/v1alpha1", "clonesets", image_repo=SIDECAR_IMAGE),
)}
