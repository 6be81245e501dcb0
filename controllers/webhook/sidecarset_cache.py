"""What the pod webhook reads to inject SidecarSets, cached by every manager replica (sidecarset.md §2.2, §4.5).

Every replica serves `/mutate-pod`, the API server picks any of them, and leadership only decides who
reconciles. So each replica keeps its own informers, started with the webhook server and before leader
election: the SidecarSets (v1beta1), the Namespaces (for namespaceSelector) and the SidecarSets'
ControllerRevisions of the install namespace (for pinned revisions). /readyz waits for their first list.

Freshness: an informer lags the API server by the time a watch event takes to arrive (measured in the
README, "SidecarSet injection"), so a pod created right after its SidecarSet could miss it. Before each
injection, `view()` asks the API server for the current list of SidecarSets, metadata only (a quorum read:
names and resourceVersions, a few hundred bytes per SidecarSet; sent after the admission began, shared by
the admissions waiting for it: `_quorum_listing`), and compares it with the cache:
- every listed SidecarSet is in the cache at that resourceVersion or newer: the cache is used as it is,
  minus SidecarSets the list no longer has (deleted, the watch has not said so yet);
- otherwise the view waits for the informer to catch up (it usually has within milliseconds), up to
  CATCH_UP_SECONDS, and then reads the missing ones directly;
- if that list fails (the API server is answering this very admission, so rarely), the cache is used.
A namespace the cache does not know yet (just created) is read directly, and so is the list of revisions
when a pinned one is not in the cache. resourceVersions are compared as integers (etcd revisions), which
every API server backed by etcd3 gives.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from controllers.metrics import REGISTRY
from controllers.sidecarset.annotations import REVISION_SIDECARSET_LABEL
from kube import ApiError, KubeClient, resource_path
from kube.client import PARTIAL_METADATA_LIST
from kube.informer import Informer

log = logging.getLogger(__name__)

CATCH_UP_SECONDS = 2.0
SIDECARSETS = resource_path("apps.kruise.io/v1beta1", "sidecarsets")

REGISTRY.describe("kruise_sidecarset_webhook_cache_behind_total", "counter",
                  "Pod admissions that found the SidecarSet cache behind the API server.")
REGISTRY.describe("kruise_sidecarset_webhook_cache_wait_seconds", "histogram",
                  "How long a pod admission waited for the SidecarSet cache to catch up (when it was behind).")
REGISTRY.describe("kruise_sidecarset_webhook_freshness_check_failures_total", "counter",
                  "Pod admissions whose check of the cache against the API server failed (the cache was used).")
REGISTRY.describe("kruise_sidecarset_webhook_freshness_lists_total", "counter",
                  "Quorum lists of the SidecarSets' metadata sent to check the cache (shared by the pod admissions "
                  "that arrived before each was sent).")
REGISTRY.describe("kruise_sidecarset_webhook_direct_reads_total", "counter",
                  "Objects the pod webhook read from the API server because its cache did not have them yet.")


def _rv(obj: dict) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


@dataclass
class InjectionView:
    """What injection reads for one pod."""
    sidecarsets: list[dict]
    namespace_labels: dict[str, str] | None
    revisions: list[dict] = field(default_factory=list)


class SidecarSetCache:
    def __init__(self, client: KubeClient, install_namespace: str):
        self.client = client
        self.install_namespace = install_namespace
        self._changed = asyncio.Event()
        self.sidecarsets = Informer(client, SIDECARSETS, self._on_change)
        self.namespaces = Informer(client, resource_path("v1", "namespaces"), self._on_change)
        self.revisions = Informer(client, resource_path("apps/v1", "controllerrevisions", install_namespace),
                                  self._on_change, labelSelector=REVISION_SIDECARSET_LABEL)
        self._informers = (self.sidecarsets, self.namespaces, self.revisions)
        self._tasks: list[asyncio.Task] = []
        self.crd_missing = False
        self._in_flight: asyncio.Future | None = None  # the freshness list sent last, until it answers
        self._queued: asyncio.Future | None = None  # the one the admissions that arrived since then share

    def _on_change(self, key, obj) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run_sidecarsets()),
                       *(asyncio.create_task(i.run()) for i in (self.namespaces, self.revisions))]

    async def _run_sidecarsets(self) -> None:
        """The SidecarSet informer, once the API server serves v1beta1 SidecarSets; until then (the CRD is not
        installed, or not yet), no pod is injected, as upstream skips injection without the CRD."""
        while True:
            try:
                await self.client.get(SIDECARSETS, limit=1)
                break
            except ApiError as e:
                if e.status != 404:
                    log.warning("listing SidecarSets: %s", e)
                self.crd_missing = True
                await asyncio.sleep(5)
        self.crd_missing = False
        await self.sidecarsets.run()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def synced(self) -> bool:
        return all(i.synced.is_set() or (i is self.sidecarsets and self.crd_missing) for i in self._informers)

    async def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.synced and time.monotonic() < deadline:
            await asyncio.sleep(0.05)   # an empty first list notifies nothing, so poll the flags
        return self.synced

    async def _wait_for_change(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            await asyncio.wait_for(self._changed.wait(), remaining)
        except asyncio.TimeoutError:
            return False
        return True

    async def _request_listing(self) -> dict:
        return await self.client.request("GET", SIDECARSETS, accept=PARTIAL_METADATA_LIST, timeout=5)

    async def _send_first(self) -> dict:
        try:
            return await self._request_listing()
        finally:
            if self._in_flight is asyncio.current_task():
                self._in_flight = None

    async def _send_after(self, previous: asyncio.Future) -> dict:
        await asyncio.wait([previous])  # whatever its outcome
        me = asyncio.current_task()
        self._queued, self._in_flight = None, me  # from now on, who arrives waits for the next one
        try:
            return await self._request_listing()
        finally:
            if self._in_flight is me:
                self._in_flight = None

    async def _quorum_listing(self) -> dict:
        """A quorum list of the SidecarSets' metadata *sent after this call began*, which is what makes a
        SidecarSet whose create has answered visible to this admission. Admissions share lists: the first
        sends one; who arrives while it is in flight cannot use it (it may have been sent before their pod's
        SidecarSet existed) and shares the next one, sent as soon as it answers. A burst of pod creates (a
        Deployment of 1000 pods at QPS 500) then costs one list per list round trip, not one per pod, with the
        same guarantee."""
        if self._in_flight is None:
            self._in_flight = asyncio.ensure_future(self._send_first())
            REGISTRY.inc("kruise_sidecarset_webhook_freshness_lists_total")
            return await asyncio.shield(self._in_flight)
        if self._queued is None:
            self._queued = asyncio.ensure_future(self._send_after(self._in_flight))
            REGISTRY.inc("kruise_sidecarset_webhook_freshness_lists_total")
        return await asyncio.shield(self._queued)

    async def _current_sidecarsets(self) -> list[dict]:
        """The SidecarSets as of now: the cache, checked against a quorum list of their metadata."""
        try:
            listing = await self._quorum_listing()
        except ApiError as e:
            if e.status == 404:   # no SidecarSet CRD: nothing to inject
                return []
            REGISTRY.inc("kruise_sidecarset_webhook_freshness_check_failures_total")
            log.warning("checking the SidecarSet cache against the API server: %s; using the cache", e)
            return [s for (_, _), s in self.sidecarsets.cache.items()]
        latest = {m["metadata"]["name"]: _rv(m) for m in (listing.get("items") or [])}

        def stale() -> list[str]:
            cached = self.sidecarsets.cache
            return [name for name, rv in latest.items() if _rv(cached.get(("", name), {})) < rv]

        behind = stale()
        if behind:
            REGISTRY.inc("kruise_sidecarset_webhook_cache_behind_total")
            started = time.monotonic()
            deadline = started + CATCH_UP_SECONDS
            while behind and await self._wait_for_change(deadline):
                behind = stale()
            REGISTRY.observe("kruise_sidecarset_webhook_cache_wait_seconds", time.monotonic() - started)
        current = {name: self.sidecarsets.cache[("", name)] for name in latest if name not in behind}
        for name in behind:
            REGISTRY.inc("kruise_sidecarset_webhook_direct_reads_total", resource="sidecarsets")
            obj = await self.client.get_or_none(f"{SIDECARSETS}/{name}")
            if obj is not None:
                current[name] = obj
        return list(current.values())

    async def _namespace_labels(self, namespace: str) -> dict[str, str] | None:
        cached = self.namespaces.cache.get(("", namespace))
        if cached is None:
            REGISTRY.inc("kruise_sidecarset_webhook_direct_reads_total", resource="namespaces")
            cached = await self.client.get_or_none(resource_path("v1", "namespaces", name=namespace))
        return None if cached is None else (cached.get("metadata") or {}).get("labels") or {}

    async def all_revisions(self, direct: bool = False) -> list[dict]:
        """The SidecarSets' revisions of the install namespace; `direct` reads them from the API server (a
        pinned revision was not in the cache)."""
        if not direct:
            return list(self.revisions.cache.values())
        REGISTRY.inc("kruise_sidecarset_webhook_direct_reads_total", resource="controllerrevisions")
        listing = await self.client.get(resource_path("apps/v1", "controllerrevisions", self.install_namespace),
                                        labelSelector=REVISION_SIDECARSET_LABEL)
        return (listing.get("items") or [])

    async def view(self, namespace: str) -> InjectionView:
        """Raises ApiError when the API server cannot be read (the caller denies the pod)."""
        if not self.synced and not await self.wait_synced(CATCH_UP_SECONDS):
            raise ApiError(503, {"message": "the SidecarSet cache has not synced yet"}, "GET", SIDECARSETS)
        sidecarsets = await self._current_sidecarsets()
        labels = await self._namespace_labels(namespace) if sidecarsets else None
        return InjectionView(sidecarsets, labels, await self.all_revisions())
