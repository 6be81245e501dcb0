"""List+watch, level-based: `ListWatch` keeps one watch stream going (list, watch from the list's
resourceVersion, list again when the watch is too old, reconnect when the connection drops) and hands each
listing and each event to its subclass; `Informer` keeps the objects in an in-memory cache and calls back with
the current object on every change.

A callback gets the key of what changed and reads the cache, so a missed or merged event never matters; the next
one (or a relist) sees the latest state.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from .client import ApiError, JSON, KubeClient

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, name); namespace is "" for cluster-scoped objects
OnChange = Callable[[Key, JSON | None], Awaitable[None] | None]
MISSING_RETRY_SECONDS = 30.0


def key_of(obj: JSON) -> Key:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


class ListWatch:
    """One resource's list and watch, run until cancelled. `synced` is set once the first listing was handed on.

    `missing_is_empty`: a resource the API server does not serve (404: its CRD is not installed) counts as listed
    and empty, and is listed again every MISSING_RETRY_SECONDS; otherwise a 404 is retried like any other error."""

    def __init__(self, client: KubeClient, path: str, *, missing_is_empty: bool = False, **list_params: Any):
        self.client, self.path, self.list_params = client, path, list_params
        self.missing_is_empty = missing_is_empty
        self.synced = asyncio.Event()
        self._rv = ""

    async def listed(self, items: list[JSON]) -> None:
        """The whole collection as of a (re)list: what was known and is not in it is gone."""
        raise NotImplementedError

    async def changed(self, type: str, obj: JSON) -> None:
        """One watch event: ADDED, MODIFIED or DELETED (bookmarks only move the resourceVersion)."""
        raise NotImplementedError

    async def _relist(self) -> None:
        listing = await self.client.get(self.path, **self.list_params)
        await self.listed(listing.get("items") or [])
        self._rv = listing["metadata"]["resourceVersion"]
        self.synced.set()

    async def run(self) -> None:
        """Runs until cancelled; reconnects and relists as needed."""
        backoff = 0.2
        while True:
            try:
                if not self._rv:
                    await self._relist()
                async for ev in self.client.watch(self.path, self._rv, **self.list_params):
                    backoff = 0.2
                    self._rv = ev.object.get("metadata", {}).get("resourceVersion", self._rv)
                    if ev.type != "BOOKMARK":
                        await self.changed(ev.type, ev.object)
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                if e.gone:
                    self._rv = ""  # too old: list again
                    continue
                if e.status == 404 and self.missing_is_empty:
                    self._rv = ""
                    await self.listed([])
                    self.synced.set()
                    await asyncio.sleep(MISSING_RETRY_SECONDS)
                    continue
                log.warning("watch %s failed: %s", self.path, e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5)
            except Exception as e:  # connection drops, server restarts
                log.debug("watch %s interrupted: %r", self.path, e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5)


class Informer(ListWatch):
    def __init__(self, client: KubeClient, path: str, on_change: OnChange, **list_params: Any):
        super().__init__(client, path, **list_params)
        self.on_change = on_change
        self.cache: dict[Key, JSON] = {}

    async def _notify(self, key: Key, obj: JSON | None) -> None:
        result = self.on_change(key, obj)
        if asyncio.iscoroutine(result):
            await result

    async def listed(self, items: list[JSON]) -> None:
        fresh = {key_of(o): o for o in items}
        gone = self.cache.keys() - fresh.keys()
        self.cache = fresh
        for key in gone:
            await self._notify(key, None)
        for key, obj in fresh.items():
            await self._notify(key, obj)

    async def changed(self, type: str, obj: JSON) -> None:
        key = key_of(obj)
        if type == "DELETED":
            self.cache.pop(key, None)
            await self._notify(key, None)
        else:
            self.cache[key] = obj
            await self._notify(key, obj)
