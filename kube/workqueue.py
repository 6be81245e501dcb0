"""A de-duplicating work queue with client-go's semantics, for asyncio.

A key added while it waits is queued once; a key added while a worker holds it is queued again after the
worker is done, so the same key is never processed twice at once and a change is never lost.
"""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self) -> None:
        self._queue: asyncio.Queue[K] = asyncio.Queue()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._timers: dict[K, asyncio.TimerHandle] = {}

    def __len__(self) -> int:
        return len(self._dirty)

    def add(self, key: K) -> None:
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.put_nowait(key)

    def add_after(self, key: K, seconds: float) -> None:
        """Wake the key later; an earlier pending wake-up wins."""
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        when = loop.time() + seconds
        if existing is not None and existing.when() <= when:
            return
        if existing is not None:
            existing.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self.add(key)

        self._timers[key] = loop.call_at(when, fire)

    async def get(self) -> K:
        key = await self._queue.get()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.put_nowait(key)

    async def run_workers(self, count: int, handle: Callable[[K], Awaitable[None]]) -> None:
        async def worker() -> None:
            while True:
                key = await self.get()
                try:
                    await handle(key)
                finally:
                    self.done(key)

        await asyncio.gather(*(worker() for _ in range(count)))
