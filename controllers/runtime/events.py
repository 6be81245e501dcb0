"""Kubernetes Events for workloads, posted in the background and rate-limited per object and reason,
as client-go's EventCorrelator does: a burst of 25, then one per 5 minutes. A scale-up of a thousand pods
thus costs 25 event writes, not a thousand, and never waits for them."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime, timezone

from kube import ApiError, KubeClient, resource_path

log = logging.getLogger(__name__)
BURST, REFILL_SECONDS = 25, 300.0


class EventRecorder:
    def __init__(self, client: KubeClient, component: str, host: str = ""):
        self.client, self.component, self.host = client, component, host
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=10000)
        self._buckets: dict[tuple, tuple[float, float]] = {}  # key → (tokens, updated)
        self._task: asyncio.Task | None = None

    def _allow(self, key: tuple) -> bool:
        now = time.monotonic()
        tokens, updated = self._buckets.get(key, (float(BURST), now))
        tokens = min(BURST, tokens + (now - updated) / REFILL_SECONDS)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        return True

    def emit(self, ref, type_: str, reason: str, message: str) -> None:
        if not self._allow((ref.uid, reason)):
            return
        try:
            self.queue.put_nowait((ref, type_, reason, message))
        except asyncio.QueueFull:
            pass

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            ref, type_, reason, message = await self.queue.get()
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            namespace = ref.namespace or "default"  # where Kubernetes puts the events of cluster-scoped objects
            event = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": f"{ref.name}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
                "involvedObject": {"apiVersion": ref.api_version, "kind": ref.kind, "name": ref.name,
                                   "namespace": ref.namespace, "uid": ref.uid},
                "reason": reason, "message": message[:1024], "type": type_, "count": 1,
                "firstTimestamp": now, "lastTimestamp": now,
                "source": {"component": self.component, **({"host": self.host} if self.host else {})},
                "reportingComponent": self.component,
            }
            try:
                await self.client.create(resource_path("v1", "events", namespace), event)
            except (ApiError, OSError) as e:
                log.debug("event %s/%s not posted: %s", ref.name, reason, e)
