"""One workload through scale-up, in-place rollout and scale-down, with a fault injected at a random point of
each operation, and what the fault cost: the accounting that every chaos scenario shares (`scenarios.py`).

One sequence per (scenario, kind, seed), the kinds of a seed in parallel on one sandbox (`kinds.py`): a workload
at v1, Ready (`LOW` pods, or `HIGH` when the scenario skips the scale-up); then the scenario's operations, each
with one fault (a `FaultRound` shared by the kinds: the kinds start each operation together, and the fault comes
once the leader, a kind drawn from the seed, made k of its n pod changes, k drawn from the seed): scale-up to
`HIGH`, image rollout to v2 (in place, maxUnavailable 50%), scale-down to `LOW`. A watch on the namespace sees
every pod version, from which each operation reports:
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

from kube import ApiError, Informer, KubeClient, resource_path

from .kinds import KINDS

LOW, HIGH = 2, 8
CONVERGE_TIMEOUT = 120.0
WATCH_EXPIRY_TIMEOUT = 15.0  # seconds after the fault for a watch from before it to be answered 410 Gone
CHANGE_TIMEOUT = 60.0  # the suite's own requests are tried again on transient failures for this long
BARRIER_TIMEOUT = CONVERGE_TIMEOUT + 60  # a sequence that never arrives (it failed) holds the others no longer
OPERATIONS = ("scale-up", "rollout in place", "scale-down")
# What a request may meet while the API server or etcd restarts: refused or dropped connections, 5xx, and
# for a moment 404 (the apps.kruise.io API is served again only once the CRDs are read back).
TRANSIENT = (ApiError, aiohttp.ClientError, OSError, asyncio.TimeoutError)
SIMULATED_NODES = HIGH  # an Advanced DaemonSet scales up to HIGH pods by labelling HIGH nodes for it


def is_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


@dataclass
class Outcome:
    scenario: str
    kind: str
    operation: str
    seed: int
    fault_after: int  # the fault came once this many of this workload's pod changes for the operation were seen
    lost: int = 0
    duplicated: int = 0
    recreated: int = 0
    converge_seconds: float | None = None  # None: did not converge within CONVERGE_TIMEOUT
    manager_restarts: int = 0
    watch_expired: bool | None = None  # None: not probed
    measured: dict[str, float] = field(default_factory=dict)  # what the fault itself measured (scenarios.py)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.recreated or self.measured.get("admission failed")
                    or self.measured.get("follower writes")) and self.converge_seconds is not None


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


async def retried(request: Callable[[], Awaitable[Any]], timeout: float = CHANGE_TIMEOUT) -> Any:
    """The suite's own change, tried again on a transient failure until `timeout`, as a user would: a manager
    started again listens on a new port, and until it has pointed the webhook configurations there, requests
    its webhooks admit are refused (connection refused, a 500)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await request()
        except ApiError as e:
            if e.status < 500 or time.monotonic() > deadline:
                raise
        except TRANSIENT:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.5)  # a retry's pause, within the deadline


def measures(returned: Any) -> dict[str, float]:
    """What a fault measured itself: the dict it returned (other returns, e.g. a compacted revision, are not)."""
    return dict(returned) if isinstance(returned, dict) else {}


class Supervisor:
    """Starts kruise-manager again when it exited, as the kubelet would, and counts those restarts. Every
    sequence running at once shares one, and a fault holds its lock while it is injected: two sequences never
    start a manager at once, nor one while a fault kills and restarts it."""

    def __init__(self, alive: Callable[[], bool] = lambda: True, start: Callable[[], Any] = lambda: None):
        self.alive, self.start = alive, start
        self.lock = asyncio.Lock()
        self.restarts = 0

    async def ensure(self) -> None:
        async with self.lock:
            if not await asyncio.to_thread(self.alive):
                await asyncio.to_thread(self.start)
                self.restarts += 1


class FaultRound:
    """One fault for the sequences that run the same operation at once, one per kind on one sandbox (a manager
    killed, an API server restarted hits every workload anyway). Each sequence arrives once the previous
    operation converged (a barrier), applies its change; the fault comes when the leader, the kind drawn from
    the seed, reached its random point, and every sequence measures from that moment and reports how far its
    own operation was then. With one sequence, it is that sequence's fault at its own point."""

    def __init__(self, inject: Callable[[], Any], participants: list[str], leader: str, supervisor: Supervisor,
                 read_revision: Callable[[], Awaitable[str]] | None = None, exclusive: bool = True):
        self.inject, self.participants, self.leader = inject, set(participants), leader
        # exclusive: the fault starts or stops processes itself, so no manager is started meanwhile; else a
        # manager that exits during the fault is started again at once, as the kubelet would
        self.exclusive = exclusive
        self.supervisor, self.read_revision = supervisor, read_revision
        self.arrived: set[str] = set()
        self.all_arrived = asyncio.Event()
        self.progress: dict[str, Callable[[], int]] = {}
        self.fault_after: dict[str, int] = {}
        self.fired = asyncio.Event()
        self.started = 0.0
        self.revision = ""  # the pods' resourceVersion just before the fault (watch probes resume from it)
        self.measured: dict[str, float] = {}  # what the fault returned (e.g. failed admission requests)
        self._task: asyncio.Future | None = None

    def _check(self) -> None:
        if self.arrived >= self.participants:
            self.all_arrived.set()

    async def arrive(self, who: str, progress: Callable[[], int]) -> None:
        """Wait until every sequence has converged from its previous operation."""
        self.progress[who] = progress
        self.arrived.add(who)
        self._check()
        try:
            await asyncio.wait_for(self.all_arrived.wait(), BARRIER_TIMEOUT)
        except asyncio.TimeoutError:
            pass

    def leave(self, who: str) -> None:
        """A sequence that failed: the others do not wait for it."""
        self.participants.discard(who)
        if who == self.leader and not self.fired.is_set():
            self.fire()
        self._check()

    def fire(self) -> asyncio.Future:
        """The fault (once however many sequences ask); awaiting it returns once the fault is over."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._inject())
        return self._task

    async def _inject(self) -> None:
        self.fault_after = {who: progress() for who, progress in self.progress.items()}
        if self.exclusive:
            async with self.supervisor.lock:
                await self._begin()
                self.measured = measures(await asyncio.to_thread(self.inject))
            return
        await self._begin()
        injected = asyncio.ensure_future(asyncio.to_thread(self.inject))
        while not injected.done():
            try:
                await self.supervisor.ensure()
            except Exception as e:  # e.g. a manager that cannot get ready while cut off: tried again
                print(f"  starting kruise-manager again failed: {e!r}", flush=True)
            await asyncio.wait({injected}, timeout=0.5)
        self.measured = measures(injected.result())

    async def _begin(self) -> None:
        self.revision = await self.read_revision() if self.read_revision else ""
        self.started = time.monotonic()
        self.fired.set()


class Sequence:
    """One workload through its scenario's operations (a subset of OPERATIONS, in that order), one fault in
    each, from `rounds` (operation → FaultRound, shared with the other kinds' sequences of the same seed).

    A fault runs in a thread and returns once it is over (a process killed and started again, a component
    restarted). Between the fault and convergence an exited manager is started again (`supervisor`). With
    `probe_watch`, each operation also reports whether the fault made watches expire (410 Gone)."""

    def __init__(self, client: KubeClient, scenario: str, kind_label: str, namespace: str, seed: int,
                 rounds: dict[str, FaultRound], supervisor: Supervisor, *, probe_watch: bool = False):
        self.client, self.scenario, self.kind_label, self.kind = client, scenario, kind_label, KINDS[kind_label]
        self.namespace, self.seed, self.rng = namespace, seed, random.Random(seed)
        self.rounds, self.supervisor, self.probe_watch = rounds, supervisor, probe_watch
        self.operations = tuple(op for op in OPERATIONS if op in rounds)
        self.name = "chaos"
        self.pods = Pods()
        self.pods_path = resource_path("v1", "pods", namespace)

    async def _converged(self, replicas: int, image: str) -> bool:
        try:
            done = await self.kind.status_done(self.client, self.namespace, self.name, replicas)
        except TRANSIENT:  # the API server or etcd is coming back: not converged yet
            return False
        live = list(self.pods.live.values())
        return done and len(live) == replicas and all(is_ready(p) and self.kind.pod_image(p) == image for p in live)

    async def _wait_converged(self, replicas: int, image: str, start: float | None = None) -> float | None:
        """Seconds from `start` (default now) until converged; None after CONVERGE_TIMEOUT."""
        start = time.monotonic() if start is None else start
        while time.monotonic() - start < CONVERGE_TIMEOUT:
            await self.supervisor.ensure()
            if await self._converged(replicas, image):
                return time.monotonic() - start
            await wait_until(lambda: False, self.pods, 0.3)
        return None

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
        fault = self.rounds[operation]
        own_point = self.rng.randrange(changes)
        await fault.arrive(self.kind_label, progress)
        await self.supervisor.ensure()  # the previous fault may have left no manager, and its webhook admits changes
        self.pods.reset()
        await retried(change)
        leads = fault.leader == self.kind_label
        await wait_until(lambda: fault.fired.is_set() or leads and progress() >= own_point, self.pods, 60)
        restarts = self.supervisor.restarts
        await fault.fire()
        outcome = Outcome(self.scenario, self.kind_label, operation, self.seed,
                          fault.fault_after.get(self.kind_label, 0))
        probe = asyncio.create_task(self._watch_expired(fault.revision)) if self.probe_watch else None
        outcome.converge_seconds = await self._wait_converged(replicas, image, fault.started)
        outcome.manager_restarts = self.supervisor.restarts - restarts
        outcome.measured = dict(fault.measured)
        if probe is not None:
            outcome.watch_expired = await probe
        live = list(self.pods.live.values())
        good = [p for p in live if is_ready(p) and self.kind.pod_image(p) == image]
        outcome.lost = max(0, replicas - len(good))
        outcome.duplicated = max(0, self.pods.most - allowed_most)
        outcome.recreated = max(0, len(self.pods.deleted) - allowed_deletions)
        return outcome

    async def run(self) -> list[Outcome]:
        informer = Informer(self.client, self.pods_path, self.pods.on_pod)
        task = asyncio.create_task(informer.run())
        v1, v2 = self.kind.image("v1"), self.kind.image("v2")
        kind, client, ns, name = self.kind, self.client, self.namespace, self.name
        try:
            await informer.synced.wait()
            first = LOW if "scale-up" in self.operations else HIGH
            await retried(lambda: kind.create(client, ns, name, first))
            if await self._wait_converged(first, v1) is None:
                raise RuntimeError(f"{self.kind_label} {ns}/{name} never got {first} Ready pods")
            out = []
            if "scale-up" in self.operations:
                out.append(await self._operation("scale-up", lambda: kind.scale(client, ns, name, HIGH),
                                                 lambda: len(self.pods.created), HIGH - LOW, HIGH, v1, HIGH, 0))
            if "rollout in place" in self.operations:
                out.append(await self._operation(
                    "rollout in place", lambda: kind.roll(client, ns, name, v2),
                    lambda: sum(kind.pod_image(p) == v2 for p in self.pods.live.values()), HIGH, HIGH, v2, HIGH, 0))
            if "scale-down" in self.operations:
                image = v2 if "rollout in place" in self.operations else v1
                out.append(await self._operation("scale-down", lambda: kind.scale(client, ns, name, LOW),
                                                 lambda: len(self.pods.deleted), HIGH - LOW, LOW, image, HIGH,
                                                 HIGH - LOW))
            return out
        finally:
            for fault in self.rounds.values():
                fault.leave(self.kind_label)
            try:
                await kind.cleanup(client, ns, name)
            except TRANSIENT:
                pass  # a failed sequence: its error, not this one, is the news
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
