"""A de-duplicating work queue with client-go's semantics, for asyncio.

A key added while it waits is queued once; a key added while a worker holds it is queued again after the
worker is done, so the same key is never processed twice at once and a change is never lost.

The queue's state is only ever touched on its event loop's thread: that is what makes the check-then-act in
`add` safe. An `add` from another thread is handed over to the loop (`call_soon_threadsafe`), never run there.
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
        self._loop: asyncio.AbstractEventLoop | None = None  # the running loop, or the first one to use it
        self._on_loop()

    def __len__(self) -> int:
        return len(self._dirty)

    def _on_loop(self) -> bool:
        """True on the queue's loop (binding it on first use); False on any other thread."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._loop is None:  # constructed outside a loop: the first use on one binds it
            self._loop = running
        return self._loop is None or running is self._loop

    def add(self, key: K) -> None:
        if not self._on_loop():
            self._loop.call_soon_threadsafe(self.add, key)
            return
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
        self._on_loop()
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
