"""List+watch into an in-memory cache, calling back with the current object on every change.

This is the level-based building block: a callback gets the key of what changed and reads the cache, so a
missed or merged event never matters; the next one (or a resync) sees the latest state.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from .client import ApiError, JSON, KubeClient

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, name); namespace is "" for cluster-scoped objects
OnChange = Callable[[Key, JSON | None], Awaitable[None] | None]


def key_of(obj: JSON) -> Key:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


class Informer:
    def __init__(self, client: KubeClient, path: str, on_change: OnChange, **list_params: Any):
        self.client, self.path, self.on_change = client, path, on_change
        self.list_params = list_params
        self.cache: dict[Key, JSON] = {}
        self.synced = asyncio.Event()
        self._rv = ""

    async def _notify(self, key: Key, obj: JSON | None) -> None:
        result = self.on_change(key, obj)
        if asyncio.iscoroutine(result):
            await result

    async def _relist(self) -> None:
        listing = await self.client.get(self.path, **self.list_params)
        fresh = {key_of(o): o for o in listing.get("items", [])}
        gone = self.cache.keys() - fresh.keys()
        self.cache = fresh
        self._rv = listing["metadata"]["resourceVersion"]
        for key in gone:
            await self._notify(key, None)
        for key, obj in fresh.items():
            await self._notify(key, obj)
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
                    if ev.type == "BOOKMARK":
                        continue
                    key = key_of(ev.object)
                    if ev.type == "DELETED":
                        self.cache.pop(key, None)
                        await self._notify(key, None)
                    else:
                        self.cache[key] = ev.object
                        await self._notify(key, ev.object)
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                if e.gone:
                    self._rv = ""  # too old: list again
                    continue
                log.warning("watch %s failed: %s", self.path, e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5)
            except Exception as e:  # connection drops, server restarts
                log.debug("watch %s interrupted: %r", self.path, e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5)
