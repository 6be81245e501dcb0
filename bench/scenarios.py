"""The contenders and the manifests they run: what each one creates, and how a rollout is started.

Every workload runs the same pod: one container, on the simulated nodes (untainted: the bench's sandbox has
no real node), `maxUnavailable: 20%` and no surge for rollouts.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable

from controllers.webhook.kubernetes_validation import SKIP_POD_WEBHOOK_LABEL
from kube import ApiError, KubeClient, resource_path

IMAGE = "localhost:5000/ack-kruise/testapp"
V1, V2, V3 = f"{IMAGE}:v1", f"{IMAGE}:v2", f"{IMAGE}:v3"
APP_LABEL = "bench.ack-kruise.io/app"


def pod_template(app: str, image: str = V1) -> dict:
    return {"metadata": {"labels": {APP_LABEL: app}},
            "spec": {"containers": [{"name": "app", "image": image}]}}


def selector(app: str) -> dict:
    return {"matchLabels": {APP_LABEL: app}}


def deployment(name: str, replicas: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": selector(name), "template": pod_template(name),
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxUnavailable": "20%", "maxSurge": 0}}}}


def statefulset(name: str, replicas: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": selector(name), "template": pod_template(name),
                     "serviceName": name, "podManagementPolicy": "Parallel"}}


def cloneset(name: str, replicas: int) -> dict:
    return {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": selector(name), "template": pod_template(name),
                     "updateStrategy": {"type": "InPlaceIfPossible", "maxUnavailable": "20%"}}}


def advanced_statefulset(name: str, replicas: int) -> dict:
    template = pod_template(name)
    # In-place updates need the gate in the template (OpenKruise's validation; CloneSet injects it itself).
    template["spec"]["readinessGates"] = [{"conditionType": "InPlaceUpdateReady"}]
    return {"apiVersion": "apps.kruise.io/v1beta1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": selector(name), "template": template,
                     "serviceName": name, "podManagementPolicy": "Parallel",
                     "updateStrategy": {"type": "RollingUpdate",
                                        "rollingUpdate": {"podUpdatePolicy": "InPlaceIfPossible",
                                                          "maxUnavailable": "20%"}}}}


def bare_pod(name: str, app: str) -> dict:
    body = pod_template(app)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **body["metadata"]}, "spec": body["spec"]}


@dataclass(frozen=True)
class Rollout:
    key: str
    label: str
    patch: Callable[[str], dict]  # target image → merge patch of the workload
    image: str


def image_patch(image: str) -> dict:
    return {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}


def _recreate_patch(image: str) -> dict:
    return {"spec": {"updateStrategy": {"type": "ReCreate"},
                     "template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}


@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    controller: str  # who creates the pods: "kcm", "manager" or "client" (the harness itself)
    native: str | None  # the key of the native controller it is compared with
    api_version: str = "v1"
    plural: str = "pods"
    manifest: Callable[[str, int], dict] | None = None
    rollouts: tuple[Rollout, ...] = ()

    def path(self, namespace: str, name: str | None = None) -> str:
        return resource_path(self.api_version, self.plural, namespace, name)


RAW = Contender("raw", "raw pod creation (client loop)", "client", None)
DEPLOYMENT = Contender("deployment", "Deployment (kube-controller-manager)", "kcm", None, "apps/v1", "deployments",
                       deployment, (Rollout("deployment-rolling", "Deployment RollingUpdate", image_patch, V2),))
STATEFULSET = Contender("statefulset", "StatefulSet Parallel (kube-controller-manager)", "kcm", None, "apps/v1",
                        "statefulsets", statefulset)
CLONESET = Contender("cloneset", "CloneSet (ack-kruise)", "manager", "deployment", "apps.kruise.io/v1alpha1",
                     "clonesets", cloneset,
                     (Rollout("cloneset-inplace", "CloneSet InPlaceIfPossible", image_patch, V2),
                      Rollout("cloneset-recreate", "CloneSet ReCreate", _recreate_patch, V3)))
ASTS = Contender("asts", "Advanced StatefulSet Parallel (ack-kruise)", "manager", "statefulset",
                 "apps.kruise.io/v1beta1", "statefulsets", advanced_statefulset)

CONTENDERS = (RAW, DEPLOYMENT, STATEFULSET, CLONESET, ASTS)


async def raw_create(client: KubeClient, namespace: str, replicas: int, concurrency: int = 64) -> None:
    """The ceiling: N unbound pods created as fast as the client's own QPS/burst limiter allows."""
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await client.create(resource_path("v1", "pods", namespace), bare_pod(f"raw-{i}", "raw"))

    await asyncio.gather(*(one(i) for i in range(replicas)))


async def create_workload(client: KubeClient, contender: Contender, namespace: str, replicas: int) -> None:
    body = contender.manifest(contender.key, replicas)
    await client.create(contender.path(namespace), body)


async def start_rollout(client: KubeClient, contender: Contender, rollout: Rollout, namespace: str) -> None:
    await client.patch(contender.path(namespace, contender.key), rollout.patch(rollout.image))


NAMESPACE_PROBE = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "bench-namespace-probe",
                                "labels": {SKIP_POD_WEBHOOK_LABEL: "true"}},  # the API server's answer only
                   "spec": {"containers": [{"name": "probe", "image": "pause"}]}}


def refused_for_service_account(error: ApiError) -> bool:
    """The API server refuses pods in a new namespace until kube-controller-manager has created its `default`
    ServiceAccount (403) and, before Kubernetes 1.24, that account's token (500 "No API token found")."""
    return error.status in (403, 500) and "service account" in str(error).lower()


async def create_namespace(client: KubeClient, name: str, timeout: float = 30) -> None:
    """A fresh namespace, returned once it takes pods: a dry-run pod create is refused until its ServiceAccount
    and token exist (a controller retries that refusal by itself, the harness's own creates would fail: the raw
    loop, the real node's bare pods, the SidecarSet figures' dry runs)."""
    await client.create(resource_path("v1", "namespaces"), {"metadata": {"name": name, "labels": {"bench": "true"}}})
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await client.create(resource_path("v1", "pods", name), NAMESPACE_PROBE, dryRun="All")
            return
        except ApiError as e:
            if not refused_for_service_account(e):
                raise
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"namespace {name} still refuses pods after {timeout:.0f}s: {e}") from e
        await asyncio.sleep(0.1)


async def delete_namespace(client: KubeClient, name: str, timeout: float = 300, wait_gone: bool = False) -> float:
    """Deletes the namespace, then its pods at once (no grace period: a terminating namespace takes no new pods,
    so no controller can replace them), and waits until no pod is left (with `wait_gone`, until the namespace
    itself is gone; the namespace controller takes about 5 s more). Returns the seconds it took."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for path, params in ((resource_path("v1", "namespaces", name=name), {}),
                         (resource_path("v1", "pods", name), {"gracePeriodSeconds": 0})):
        for attempt in range(5):
            try:
                await client.request("DELETE", path, params=params)
            except ApiError as e:
                if e.not_found:
                    return loop.time() - t0
                if e.status >= 500 and attempt < 4:  # 504: 1000 pods at once on a busy machine; what is done stays
                    await asyncio.sleep(2)
                    continue
                if not e.conflict:  # 409: already terminating
                    raise
            break

    async def left() -> bool:
        if wait_gone:
            return await client.get_or_none(resource_path("v1", "namespaces", name=name)) is not None
        return bool((await client.get(resource_path("v1", "pods", name), limit=1)).get("items"))

    while await left():
        if loop.time() - t0 > timeout:
            raise TimeoutError(f"namespace {name} still has pods after {timeout:.0f}s")
        await asyncio.sleep(0.2)
    return loop.time() - t0
