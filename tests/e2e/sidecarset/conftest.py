"""SidecarSet e2e helpers: SidecarSets are cluster-scoped, so each test's are named after its namespace and
deleted afterwards; the namespace carries kubernetes.io/metadata.name, as from Kubernetes 1.21 every
namespace does (the sandbox runs 1.20), so upstream's namespaceSelector form selects it."""
from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from tests.kube import ON_SIMULATED_NODES, Cluster, wait_for

NAME_LABEL = "kubernetes.io/metadata.name"


class SidecarSets:
    def __init__(self, cluster: Cluster, namespace: str):
        self.cluster, self.ns, self.names = cluster, namespace, []

    def name(self, suffix: str = "") -> str:
        return f"{self.ns}{'-' + suffix if suffix else ''}"[:63].strip("-")

    def base(self, suffix: str = "", **spec) -> dict:
        """NewBaseSidecarSet (sidecarset.md §7): an init sidecar, a Before sidecar sharing the pod's volumes,
        an After sidecar; pods labelled app=sidecarset in this test's namespace."""
        body = {"selector": {"matchLabels": {"app": "sidecarset"}},
                "namespaceSelector": {"matchLabels": {NAME_LABEL: self.ns}},
                "initContainers": [{"name": "init-sidecar", "image": "busybox", "command": ["sleep", "1"]}],
                "containers": [
                    {"name": "nginx-sidecar", "image": "nginx", "imagePullPolicy": "IfNotPresent",
                     "command": ["tail", "-f", "/dev/null"], "podInjectPolicy": "BeforeAppContainer",
                     "shareVolumePolicy": {"type": "enabled"}},
                    {"name": "busybox-sidecar", "image": "busybox", "command": ["sleep", "10000000"],
                     "podInjectPolicy": "AfterAppContainer"}]}
        body.update(spec)
        return {"apiVersion": "apps.kruise.io/v1beta1", "kind": "SidecarSet",
                "metadata": {"name": self.name(suffix), "labels": {"app": "sidecar"}}, "spec": body}

    def create(self, obj: dict) -> dict:
        created = self.cluster.custom.create_cluster_custom_object("apps.kruise.io", "v1beta1", "sidecarsets", obj)
        self.names.append(obj["metadata"]["name"])
        return created

    def delete_all(self) -> None:
        for name in self.names:
            try:
                self.cluster.custom.delete_cluster_custom_object("apps.kruise.io", "v1beta1", "sidecarsets", name)
            except ApiException as e:
                if e.status != 404:
                    raise


@pytest.fixture
def sidecarsets(cluster: Cluster, namespace: str, kruise):
    cluster.kubectl("label", "namespace", namespace, f"{NAME_LABEL}={namespace}", "--overwrite")
    made = SidecarSets(cluster, namespace)
    yield made
    made.delete_all()


def deployment(name: str = "deployment-test", replicas: int = 1, labels: dict | None = None,
               main: dict | None = None, **pod_spec) -> dict:
    """NewBaseDeployment: container `main` sleeping, pods labelled app=sidecarset (simulated nodes)."""
    labels = labels or {"app": "sidecarset"}
    container = {"name": "main", "image": "busybox:latest", "command": ["sleep", "999d"], **(main or {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {**ON_SIMULATED_NODES, "containers": [container], **pod_spec}}}}


def created_pods(cluster: Cluster, namespace: str, selector: str, count: int = 1) -> list[dict]:
    return wait_for(lambda: (lambda p: p if len(p) >= count else None)(cluster.pods(namespace, selector)), 60,
                    f"{count} pod(s) of {selector}")


def plain_pod(name: str, labels: dict, **spec) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
                       "spec": {**ON_SIMULATED_NODES, "containers": [{"name": "main", "image": "busybox"}], **spec}})
