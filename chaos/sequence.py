"""One workload through scale-up, in-place rollout and scale-down, with a fault injected at a random point of
each operation, and what the fault cost: the accounting that every chaos scenario shares (`scenarios.py`).

One sequence per (scenario, kind, seed): a workload at v1, Ready (`LOW` pods, or `HIGH` when the scenario skips
the scale-up); then the scenario's operations, each with one fault at a random point of its progress (after k
of its n pod changes, k drawn from the seed): scale-up to `HIGH`, image rollout to v2 (InPlaceIfPossible,
maxUnavailable 50%), scale-down to `LOW`. A watch on the namespace sees every pod version, from which each
operation reports:
- lost: pods missing at the end (the workload never got back to its replicas, Ready, on its image);
- duplicated: live pods above what the operation allows at any moment (scale-up: HIGH; rollout: HIGH, as no
  surge is configured; scale-down: HIGH): a second pod for one replica or one ordinal shows as one too many;
- needlessly recreated: pods deleted that the operation had no reason to delete (scale-up and an in-place
  rollout: any; scale-down: beyond HIGH - LOW);
- time to converge: from the fault to the workload converged (status and pods);
- manager restarts: kruise-manager processes that exited after the fault and were started again, as the
  kubelet restarts a pod (a manager that cannot renew its Lease for the renew deadline exits, as
  controller-runtime's does);
- watch expired: (scenarios that probe it) whether a watch from the pods' resourceVersion just before the fault
  was answered 410 Gone afterwards, i.e. every client had to list again.
"""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import aiohttp

from kube import ApiError, Informer, KubeClient, MERGE_PATCH, resource_path

SIMULATED = {
    "nodeSelector": {"node.ack-kruise.io/simulated": "true"},
    "tolerations": [{"key": "node.ack-kruise.io/simulated", "operator": "Exists", "effect": "NoSchedule"}],
}
IMAGE = "registry.example/app"
LOW, HIGH = 2, 8
CONVERGE_TIMEOUT = 120.0
WATCH_EXPIRY_TIMEOUT = 15.0  # seconds after the fault for a watch from before it to be answered 410 Gone
OPERATIONS = ("scale-up", "rollout in place", "scale-down")
# What a request may meet while the API server or etcd restarts: refused or dropped connections, 5xx, and
# for a moment 404 (the apps.kruise.io API is served again only once the CRDs are read back).
TRANSIENT = (ApiError, aiohttp.ClientError, OSError, asyncio.TimeoutError)


@dataclass(frozen=True)
class Kind:
    name: str
    api_version: str
    plural: str
    daemon: bool = False  # one pod per node it selects: its "replicas" are the simulated nodes labelled for it

    def path(self, namespace: str, name: str = "") -> str:
        group, version = self.api_version.split("/")
        base = f"/apis/{group}/{version}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{name}" if name else base


CLONESET = Kind("CloneSet", "apps.kruise.io/v1alpha1", "clonesets")
ADVANCED_STATEFULSET = Kind("StatefulSet", "apps.kruise.io/v1beta1", "statefulsets")
ADVANCED_DAEMONSET = Kind("DaemonSet", "apps.kruise.io/v1beta1", "daemonsets", daemon=True)
KINDS = {"CloneSet": CLONESET, "Advanced StatefulSet": ADVANCED_STATEFULSET, "Advanced DaemonSet": ADVANCED_DAEMONSET}
SIMULATED_NODES = HIGH  # an Advanced DaemonSet scales up to HIGH pods by labelling HIGH nodes for it


def daemon_label(namespace: str) -> str:
    """The node label that chooses the nodes of the Advanced DaemonSet in `namespace` (one per sequence)."""
    return f"chaos.ack-kruise.io/{namespace}"


def manifest(kind: Kind, name: str, replicas: int, namespace: str) -> dict:
    template = {"metadata": {"labels": {"app": name}},
                "spec": {**SIMULATED, "terminationGracePeriodSeconds": 5,
                         "readinessGates": [{"conditionType": "InPlaceUpdateReady"}],
                         "containers": [{"name": "main", "image": f"{IMAGE}:v1"}]}}
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template}
    if kind.daemon:
        # Its nodes are chosen by labels (`Sequence._scale`); the controller adds the in-place readiness gate.
        del spec["replicas"], template["spec"]["readinessGates"]
        template["spec"]["nodeSelector"] = {**SIMULATED["nodeSelector"], daemon_label(namespace): "on"}
        spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {
            "rollingUpdateType": "InPlaceIfPossible", "maxUnavailable": "50%"}}
    elif kind is CLONESET:
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
    scenario: str
    kind: str
    operation: str
    seed: int
    fault_after: int  # the fault came once this many of the operation's pod changes were seen
    lost: int = 0
    duplicated: int = 0
    recreated: int = 0
    converge_seconds: float | None = None  # None: did not converge within CONVERGE_TIMEOUT
    manager_restarts: int = 0
    watch_expired: bool | None = None  # None: not probed

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.recreated) and self.converge_seconds is not None


@dataclass
class Pods:
    """Every pod version in the namespace, from a watch: live pods now, the most at once, deletions seen."""

    live: dict[str, dict] = field(default_factory=dict)  # uid → pod (not terminating)
    deleted: set[str] = field(default_factory=set)  # uids deleted (deletionTimestamp or gone) since `reset`
    created: set[str] = field(default_factory=set)
    most: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def reset(self) -> None:
        self.deleted, self.created = set(), set()
        self.most = len(self.live)

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
                    # Names are unique: a live pod of this name and another uid was deleted while the watch was
                    # down (an API server restart, a 410 and a list again), so its deletion was never seen.
                    for old, p in list(self.live.items()):
                        if p["metadata"]["name"] == pod["metadata"]["name"]:
                            del self.live[old]
                            self.deleted.add(old)
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
    """One workload through `operations` (a subset of OPERATIONS, in that order), one fault in each.

    `fault` runs in a thread and returns once the fault is over (a process killed and started again, a
    component restarted). `manager_alive` says whether a kruise-manager process runs, `start_manager` starts one:
    between the fault and convergence an exited manager is started again, as the kubelet would. With
    `probe_watch`, each operation also reports whether the fault made watches expire (410 Gone)."""

    def __init__(self, client: KubeClient, scenario: str, kind_label: str, namespace: str, seed: int,
                 fault: Callable[[], Any], *, operations: tuple[str, ...] = OPERATIONS,
                 manager_alive: Callable[[], bool] = lambda: True, start_manager: Callable[[], Any] = lambda: None,
                 probe_watch: bool = False):
        self.client, self.scenario, self.kind_label, self.kind = client, scenario, kind_label, KINDS[kind_label]
        self.namespace, self.seed, self.rng = namespace, seed, random.Random(seed)
        self.fault, self.operations, self.probe_watch = fault, operations, probe_watch
        self.manager_alive, self.start_manager = manager_alive, start_manager
        self.name = "chaos"
        self.pods = Pods()
        self.pods_path = resource_path("v1", "pods", namespace)

    async def _workload(self) -> dict:
        return await self.client.get(self.kind.path(self.namespace, self.name))

    async def _converged(self, replicas: int, image: str) -> bool:
        try:
            obj = await self._workload()
        except TRANSIENT:  # the API server or etcd is coming back: not converged yet
            return False
        s = obj.get("status") or {}
        live = list(self.pods.live.values())
        if self.kind.daemon:
            counted = (s.get("desiredNumberScheduled") == s.get("currentNumberScheduled") == s.get("numberReady")
                       == s.get("updatedNumberScheduled") == replicas and s.get("numberMisscheduled") == 0)
        else:
            counted = s.get("replicas") == s.get("readyReplicas") == s.get("updatedReplicas") == replicas
        return (s.get("observedGeneration") == obj["metadata"]["generation"] and counted
                and len(live) == replicas and all(is_ready(p) and image_of(p) == image for p in live))

    async def _scale(self, replicas: int) -> None:
        """spec.replicas; for an Advanced DaemonSet, label the first `replicas` simulated nodes for it and
        unlabel the others (its scale-up and scale-down)."""
        if not self.kind.daemon:
            await self.client.patch(self.kind.path(self.namespace, self.name), {"spec": {"replicas": replicas}},
                                    MERGE_PATCH)
            return
        label = daemon_label(self.namespace)
        simulated = ",".join(f"{k}={v}" for k, v in SIMULATED["nodeSelector"].items())
        nodes = (await self.client.get("/api/v1/nodes", labelSelector=simulated))["items"]
        for i, node in enumerate(sorted(nodes, key=lambda n: n["metadata"]["name"])):
            want = "on" if i < replicas else None
            if (node["metadata"].get("labels") or {}).get(label) != want:
                await self.client.patch(f"/api/v1/nodes/{node['metadata']['name']}",
                                        {"metadata": {"labels": {label: want}}}, MERGE_PATCH)

    async def _supervise(self) -> int:
        """Start kruise-manager again if it exited (1), else 0."""
        if await asyncio.to_thread(self.manager_alive):
            return 0
        await asyncio.to_thread(self.start_manager)
        return 1

    async def _wait_converged(self, replicas: int, image: str, start: float | None = None,
                              outcome: Outcome | None = None) -> float | None:
        """Seconds from `start` (default now) until converged; None after CONVERGE_TIMEOUT."""
        start = time.monotonic() if start is None else start
        while time.monotonic() - start < CONVERGE_TIMEOUT:
            restarted = await self._supervise()
            if outcome is not None:
                outcome.manager_restarts += restarted
            if await self._converged(replicas, image):
                return time.monotonic() - start
            await wait_until(lambda: False, self.pods, 0.3)
        return None

    async def _pods_resource_version(self) -> str:
        """The pods' current resourceVersion, read from etcd (a list with a limit bypasses the watch cache)."""
        return (await self.client.get(self.pods_path, limit=1))["metadata"]["resourceVersion"]

    async def _watch_expired(self, resource_version: str) -> bool:
        """Whether a watch from `resource_version` is answered 410 Gone within WATCH_EXPIRY_TIMEOUT: what every
        client that was watching before the fault meets when it resumes."""
        deadline = time.monotonic() + WATCH_EXPIRY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                async for _ in self.client.watch(self.pods_path, resource_version, timeoutSeconds=1):
                    break  # still served from there
            except ApiError as e:
                if e.gone:
                    return True
            except TRANSIENT:
                pass
            await wait_until(lambda: False, self.pods, 0.5)  # poll again, or sooner on a pod change
        return False

    async def _operation(self, operation: str, change: Callable[[], Awaitable[Any]], progress: Callable[[], int],
                         changes: int, replicas: int, image: str, allowed_most: int,
                         allowed_deletions: int) -> Outcome:
        fault_after = self.rng.randrange(changes)
        outcome = Outcome(self.scenario, self.kind_label, operation, self.seed, fault_after)
        await self._supervise()  # the previous fault may have left no manager, and its webhook admits changes
        self.pods.reset()
        await change()
        await wait_until(lambda: progress() >= fault_after, self.pods, 60)
        before = await self._pods_resource_version() if self.probe_watch else ""
        started = time.monotonic()
        await asyncio.to_thread(self.fault)
        probe = asyncio.create_task(self._watch_expired(before)) if self.probe_watch else None
        outcome.converge_seconds = await self._wait_converged(replicas, image, started, outcome)
        if probe is not None:
            outcome.watch_expired = await probe
        live = list(self.pods.live.values())
        good = [p for p in live if is_ready(p) and image_of(p) == image]
        outcome.lost = max(0, replicas - len(good))
        outcome.duplicated = max(0, self.pods.most - allowed_most)
        outcome.recreated = max(0, len(self.pods.deleted) - allowed_deletions)
        return outcome

    async def run(self) -> list[Outcome]:
        informer = Informer(self.client, self.pods_path, self.pods.on_pod)
        task = asyncio.create_task(informer.run())
        v1, v2 = f"{IMAGE}:v1", f"{IMAGE}:v2"
        try:
            await informer.synced.wait()
            first = LOW if "scale-up" in self.operations else HIGH
            if self.kind.daemon:
                await self._scale(first)
            await self.client.create(self.kind.path(self.namespace),
                                     manifest(self.kind, self.name, first, self.namespace))
            if await self._wait_converged(first, v1) is None:
                raise RuntimeError(f"{self.kind_label} {self.namespace}/{self.name} never got {first} Ready pods")
            out = []
            if "scale-up" in self.operations:
                out.append(await self._operation("scale-up", lambda: self._scale(HIGH),
                                                 lambda: len(self.pods.created), HIGH - LOW, HIGH, v1, HIGH, 0))
            if "rollout in place" in self.operations:
                rollout = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": v2}]}}}}
                out.append(await self._operation(
                    "rollout in place",
                    lambda: self.client.patch(self.kind.path(self.namespace, self.name), rollout, MERGE_PATCH),
                    lambda: sum(image_of(p) == v2 for p in self.pods.live.values()), HIGH, HIGH, v2, HIGH, 0))
            if "scale-down" in self.operations:
                image = v2 if "rollout in place" in self.operations else v1
                out.append(await self._operation("scale-down", lambda: self._scale(LOW),
                                                 lambda: len(self.pods.deleted), HIGH - LOW, LOW, image, HIGH,
                                                 HIGH - LOW))
            return out
        finally:
            if self.kind.daemon:
                try:
                    await self._scale(0)  # the nodes' labels of this sequence go; its namespace goes next
                except TRANSIENT:
                    pass  # a failed sequence: its error, not this one, is the news
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
