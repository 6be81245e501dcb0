"""kruise-manager killed (SIGKILL) at random points of a workload's scale-up, in-place rollout and scale-down.

One sequence per (kind, seed): a workload of `LOW` pods at v1, Ready; then three operations, each with one kill
at a random point of its progress (after k of its n pod changes, k drawn from the seed) followed by a manager
restart: scale-up to `HIGH`, image rollout to v2 (InPlaceIfPossible, maxUnavailable 50%), scale-down to `LOW`.
A watch on the namespace sees every pod version, from which each operation reports:
- lost: pods missing at the end (the workload never got back to its replicas, Ready, on its image);
- duplicated: live pods above what the operation allows at any moment (scale-up: HIGH; rollout: HIGH, as no
  surge is configured; scale-down: HIGH), and for the Advanced StatefulSet two live pods of one ordinal;
- needlessly recreated: pods deleted that the operation had no reason to delete (scale-up and an in-place
  rollout: any; scale-down: beyond HIGH - LOW);
- time to converge: from the kill to the workload converged (status and pods).
"""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from kube import Informer, KubeClient, MERGE_PATCH, resource_path

SIMULATED = {
    "nodeSelector": {"node.ack-kruise.io/simulated": "true"},
    "tolerations": [{"key": "node.ack-kruise.io/simulated", "operator": "Exists", "effect": "NoSchedule"}],
}
IMAGE = "registry.example/app"
LOW, HIGH = 2, 8
CONVERGE_TIMEOUT = 120.0


@dataclass(frozen=True)
class Kind:
    name: str
    api_version: str
    plural: str

    def path(self, namespace: str, name: str = "") -> str:
        group, version = self.api_version.split("/")
        base = f"/apis/{group}/{version}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{name}" if name else base


CLONESET = Kind("CloneSet", "apps.kruise.io/v1alpha1", "clonesets")
ADVANCED_STATEFULSET = Kind("StatefulSet", "apps.kruise.io/v1beta1", "statefulsets")
KINDS = {"CloneSet": CLONESET, "Advanced StatefulSet": ADVANCED_STATEFULSET}


def manifest(kind: Kind, name: str, replicas: int) -> dict:
    template = {"metadata": {"labels": {"app": name}},
                "spec": {**SIMULATED, "terminationGracePeriodSeconds": 5,
                         "readinessGates": [{"conditionType": "InPlaceUpdateReady"}],
                         "containers": [{"name": "main", "image": f"{IMAGE}:v1"}]}}
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template}
    if kind is CLONESET:
        spec["updateStrategy"] = {"type": "InPlaceIfPossible", "maxUnavailable": "50%"}
    else:
        spec.update(serviceName=name, podManagementPolicy="Parallel",
                    updateStrategy={"type": "RollingUpdate", "rollingUpdate": {
                        "podUpdatePolicy": "InPlaceIfPossible", "maxUnavailable": "50%"}})
    return {"apiVersion": kind.api_version, "kind": kind.name, "metadata": {"name": name}, "spec": spec}


def is_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def image_of(pod: dict) -> str:
    return pod["spec"]["containers"][0]["image"]


@dataclass
class Outcome:
    kind: str
    operation: str
    seed: int
    kill_after: int  # the kill came once this many of the operation's pod changes were seen
    lost: int = 0
    duplicated: int = 0
    recreated: int = 0
    converge_seconds: float | None = None  # None: did not converge within CONVERGE_TIMEOUT


@dataclass
class Pods:
    """Every pod version in the namespace, from a watch: live pods now, the most at once, deletions seen."""

    live: dict[str, dict] = field(default_factory=dict)  # uid → pod (not terminating)
    deleted: set[str] = field(default_factory=set)  # uids deleted (deletionTimestamp or gone) since `reset`
    created: set[str] = field(default_factory=set)
    most: int = 0
    same_name_twice: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def reset(self) -> None:
        self.deleted, self.created = set(), set()
        self.most, self.same_name_twice = len(self.live), 0

    def on_pod(self, key: Any, pod: dict | None) -> None:
        # A deletion counts once, when a live pod goes (terminating, or gone): a pod still terminating from an
        # earlier operation is not this one's.
        if pod is None:
            for uid, p in list(self.live.items()):
                if (p["metadata"].get("namespace"), p["metadata"]["name"]) == tuple(key):
                    del self.live[uid]
                    self.deleted.add(uid)
        else:
            uid = pod["metadata"]["uid"]
            if pod["metadata"].get("deletionTimestamp"):
                if self.live.pop(uid, None) is not None:
                    self.deleted.add(uid)
            else:
                if uid not in self.live:
                    self.created.add(uid)
                    if any(p["metadata"]["name"] == pod["metadata"]["name"] for p in self.live.values()):
                        self.same_name_twice += 1
                self.live[uid] = pod
        self.most = max(self.most, len(self.live))
        self.changed.set()


async def wait_until(check: Callable[[], bool], pods: Pods, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        pods.changed.clear()
        try:
            await asyncio.wait_for(pods.changed.wait(), min(left, 0.5))
        except asyncio.TimeoutError:
            pass
    return True


class Sequence:
    """One workload through scale-up, rollout and scale-down, one kill in each."""

    def __init__(self, client: KubeClient, kind_label: str, namespace: str, seed: int,
                 kill_manager: Callable[[], Any]):
        self.client, self.kind_label, self.kind = client, kind_label, KINDS[kind_label]
        self.namespace, self.seed, self.rng = namespace, seed, random.Random(seed)
        self.kill_manager = kill_manager
        self.name = "chaos"
        self.pods = Pods()

    async def _workload(self) -> dict:
        return await self.client.get(self.kind.path(self.namespace, self.name))

    async def _converged(self, replicas: int, image: str) -> bool:
        obj = await self._workload()
        s = obj.get("status") or {}
        live = list(self.pods.live.values())
        return (s.get("observedGeneration") == obj["metadata"]["generation"] and s.get("replicas") == replicas
                and s.get("readyReplicas") == replicas and s.get("updatedReplicas") == replicas
                and len(live) == replicas and all(is_ready(p) and image_of(p) == image for p in live))

    async def _wait_converged(self, replicas: int, image: str, start: float | None = None) -> float | None:
        """Seconds from `start` (default now) until converged; None after CONVERGE_TIMEOUT."""
        start = time.monotonic() if start is None else start
        while time.monotonic() - start < CONVERGE_TIMEOUT:
            if await self._converged(replicas, image):
                return time.monotonic() - start
            await wait_until(lambda: False, self.pods, 0.3)
        return None

    async def _operation(self, operation: str, patch: dict, progress: Callable[[], int], changes: int,
                         replicas: int, image: str, allowed_most: int, allowed_deletions: int) -> Outcome:
        kill_after = self.rng.randrange(changes)
        outcome = Outcome(self.kind_label, operation, self.seed, kill_after)
        self.pods.reset()
        await self.client.patch(self.kind.path(self.namespace, self.name), patch, MERGE_PATCH)
        await wait_until(lambda: progress() >= kill_after, self.pods, 60)
        killed = time.monotonic()
        await asyncio.to_thread(self.kill_manager)  # SIGKILL, then a new manager process (a few seconds)
        outcome.converge_seconds = await self._wait_converged(replicas, image, killed)
        live = list(self.pods.live.values())
        good = [p for p in live if is_ready(p) and image_of(p) == image]
        outcome.lost = max(0, replicas - len(good))
        outcome.duplicated = max(0, self.pods.most - allowed_most) + self.pods.same_name_twice
        outcome.recreated = max(0, len(self.pods.deleted) - allowed_deletions)
        return outcome

    async def run(self) -> list[Outcome]:
        informer = Informer(self.client, resource_path("v1", "pods", self.namespace), self.pods.on_pod)
        task = asyncio.create_task(informer.run())
        try:
            await informer.synced.wait()
            await self.client.create(self.kind.path(self.namespace), manifest(self.kind, self.name, LOW))
            if await self._wait_converged(LOW, f"{IMAGE}:v1") is None:
                raise RuntimeError(f"{self.kind_label} {self.namespace}/{self.name} never got {LOW} Ready pods")
            v1, v2 = f"{IMAGE}:v1", f"{IMAGE}:v2"
            out = [await self._operation("scale-up", {"spec": {"replicas": HIGH}}, lambda: len(self.pods.created),
                                         HIGH - LOW, HIGH, v1, HIGH, 0)]
            rollout = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": v2}]}}}}
            out.append(await self._operation("rollout in place", rollout,
                                             lambda: sum(image_of(p) == v2 for p in self.pods.live.values()),
                                             HIGH, HIGH, v2, HIGH, 0))
            out.append(await self._operation("scale-down", {"spec": {"replicas": LOW}},
                                             lambda: len(self.pods.deleted), HIGH - LOW, LOW, v2, HIGH, HIGH - LOW))
            return out
        finally:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
