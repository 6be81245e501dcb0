"""Pod timelines: one watch per scenario namespace, recording when each pod was first seen, first Ready,
and first Ready on a rollout's target image, and how many pods were ready at every change.

Times are taken when the harness receives the watch event (time.monotonic), not from the pods' own
timestamps (whole seconds). Every contender is observed the same way, so the small delivery lag cancels out
of the ratios.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Callable

from kube import Informer, KubeClient, resource_path


def is_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def without_registry(image: str) -> str:
    """The image reference without its registry host: `localhost:5000/kruise-test/guestbook:v2` and
    `registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook:v2` are both `kruise-test/guestbook:v2`."""
    first, _, rest = image.partition("/")
    return rest if rest and ("." in first or ":" in first or first == "localhost") else image


def runs_image(pod: dict, image: str) -> bool:
    """Every container asks for `image` and the node reports every container running it. The real node pulls
    through the sandbox's local registry, and its kubelet reports the image by that registry's name
    (`localhost:5000/...`), so the status is compared without the registry host."""
    spec = pod.get("spec", {}).get("containers") or []
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    want = without_registry(image)
    return (bool(spec) and all(c.get("image") == image for c in spec)
            and len(statuses) == len(spec) and all(without_registry(s.get("image", "")) == want for s in statuses))


def nth(values: list[float], n: int) -> float | None:
    """The n-th smallest value (1-based), None when there are fewer than n."""
    if n <= 0 or len(values) < n:
        return None
    return sorted(values)[n - 1]


@dataclass
class Phase:
    """What one measured phase (a scale-up or a rollout) saw, times in seconds from its start."""
    target_image: str | None
    done_when: Callable[[dict], bool] | None = None  # instead of target_image: what "done" means for a pod
    first_seen: dict[str, float] = field(default_factory=dict)  # pod uid → t
    first_ready: dict[str, float] = field(default_factory=dict)
    first_done: dict[str, float] = field(default_factory=dict)  # Ready on the target image
    samples: list[tuple[float, int, int, int]] = field(default_factory=list)  # (t, pods, ready, done)

    def min_ready(self) -> int | None:
        return min((s[2] for s in self.samples), default=None)

    def series(self, column: int = 2, points: int = 400) -> list[tuple[float, int]]:
        """(t, count) for plotting, thinned to about `points` steps."""
        rows = [(s[0], s[column]) for s in self.samples]
        if len(rows) <= points:
            return rows
        step = len(rows) / points
        keep = [rows[int(i * step)] for i in range(points)] + [rows[-1]]
        return keep


class PodWatch:
    """Watches the pods of one namespace for the whole scenario; `begin` starts a measured phase."""

    def __init__(self, client: KubeClient, namespace: str):
        self.client, self.namespace = client, namespace
        self.informer = Informer(client, resource_path("v1", "pods", namespace), self._on_pod)
        self._uid: dict[tuple[str, str], str] = {}
        self._ready: set[str] = set()  # uids of pods Ready now (not terminating)
        self._done: set[str] = set()   # ... and on the target image
        self.t0 = time.monotonic()
        self.phase = Phase(None)
        self._changed = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> "PodWatch":
        self._task = asyncio.create_task(self.informer.run())
        await self.informer.synced.wait()
        return self

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    # ---- counts ------------------------------------------------------------------------------
    @property
    def pods(self) -> int:
        return len(self._uid)

    @property
    def ready(self) -> int:
        return len(self._ready)

    @property
    def done(self) -> int:
        return len(self._done)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def begin(self, target_image: str | None = None, done_when: Callable[[dict], bool] | None = None) -> Phase:
        """A new phase from now; `target_image` makes `done` count pods Ready on that image, `done_when` pods
        Ready for which it holds (e.g. one container on a new image)."""
        self.t0 = time.monotonic()
        self.phase = Phase(target_image, done_when)
        self._done = set()
        for key, pod in self.informer.cache.items():
            self._classify(key, pod, record=False)
        self._sample()
        return self.phase

    def _classify(self, key: tuple[str, str], pod: dict, record: bool = True) -> None:
        uid = pod["metadata"]["uid"]
        old = self._uid.get(key)
        if old and old != uid:
            self._ready.discard(old)
            self._done.discard(old)
        self._uid[key] = uid
        t = self.now()
        ph = self.phase
        if record:
            ph.first_seen.setdefault(uid, t)
        ready = is_ready(pod) and not pod["metadata"].get("deletionTimestamp")
        done = ready and (ph.done_when(pod) if ph.done_when else
                          ph.target_image is None or runs_image(pod, ph.target_image))
        (self._ready.add if ready else self._ready.discard)(uid)
        (self._done.add if done else self._done.discard)(uid)
        if record and ready:
            ph.first_ready.setdefault(uid, t)
        if record and done:
            ph.first_done.setdefault(uid, t)

    def _on_pod(self, key: tuple[str, str], pod: dict | None) -> None:
        if pod is None:
            uid = self._uid.pop(key, None)
            if uid:
                self._ready.discard(uid)
                self._done.discard(uid)
        else:
            self._classify(key, pod)
        self._sample()
        self._changed.set()

    def _sample(self) -> None:
        row = (self.now(), self.pods, self.ready, self.done)
        s = self.phase.samples
        if not s or s[-1][1:] != row[1:]:
            s.append(row)

    async def until(self, check, timeout: float, what: str, stall: float | None = None) -> float:
        """Seconds from the phase start until `check(self)` holds. TimeoutError after `timeout`, or after
        `stall` seconds without any change to the pods (a contender that stopped making progress)."""
        start = time.monotonic()
        deadline = start + timeout
        seen, last_change = len(self.phase.samples), start
        while not check(self):
            now = time.monotonic()
            if len(self.phase.samples) != seen:
                seen, last_change = len(self.phase.samples), now
            stalled = stall is not None and now - last_change > stall
            if now >= deadline or stalled:
                why = f"no progress for {stall:.0f}s" if stalled else f"not reached after {timeout:.0f}s"
                raise TimeoutError(f"{what}: {why} (pods {self.pods}, ready {self.ready}, done {self.done})")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(deadline - now, 1.0))
            except asyncio.TimeoutError:
                pass
        return self.now()
