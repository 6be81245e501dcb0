import asyncio
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from kube.workqueue import WorkQueue


def test_a_key_is_never_processed_twice_at_once_and_no_change_is_lost():
    async def scenario():
        q: WorkQueue[str] = WorkQueue()
        seen, running = [], set()

        async def handle(key: str) -> None:
            assert key not in running
            running.add(key)
            seen.append(key)
            if len(seen) == 1:
                q.add("a")  # a change arrives while "a" is being processed
                q.add("a")
            await asyncio.sleep(0.01)
            running.discard(key)

        q.add("a")
        q.add("a")
        q.add("b")
        workers = asyncio.create_task(q.run_workers(4, handle))
        await asyncio.sleep(0.1)
        workers.cancel()
        return seen

    seen = asyncio.run(scenario())
    assert sorted(seen) == ["a", "a", "b"]


def test_add_after_keeps_the_earliest_wakeup():
    async def scenario():
        q: WorkQueue[str] = WorkQueue()
        q.add_after("x", 0.05)
        q.add_after("x", 5)
        return await asyncio.wait_for(q.get(), 1)

    assert asyncio.run(scenario()) == "x"


def test_one_key_never_has_two_workers_under_load_with_adds_from_other_threads():
    """kopf used to call `add` from its thread pool, and two workers once reconciled one CloneSet at once
    (race.py: 11 times in 3,656 syncs with a 10 µs switch interval). Now the queue's state is touched on its
    loop only: adds from other threads are handed over to it. Recorded, not sampled: every worker notes how many
    workers hold its key as it starts."""
    keys = [f"k{i}" for i in range(3)]

    async def scenario() -> tuple[Counter, Counter, set]:
        q: WorkQueue[str] = WorkQueue()
        holders, peak, synced = Counter(), Counter(), set()
        stop = time.monotonic() + 1.0

        async def handle(key: str) -> None:
            holders[key] += 1
            peak[key] = max(peak[key], holders[key])
            await asyncio.sleep(0)  # let any other worker that might hold the key run
            await asyncio.sleep(0.0002)
            holders[key] -= 1
            synced.add((key, time.monotonic() > stop))

        async def producer(i: int) -> None:  # kopf's async handlers: on the loop
            while time.monotonic() < stop:
                q.add(keys[i % len(keys)])
                await asyncio.sleep(0)

        def thread_producer(i: int) -> None:  # anything still calling from a thread
            while time.monotonic() < stop:
                q.add(keys[i % len(keys)])
                time.sleep(0.00005)

        workers = asyncio.create_task(q.run_workers(8, handle))
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(6) as pool:
            await asyncio.gather(*(producer(i) for i in range(6)),
                                 *(loop.run_in_executor(pool, thread_producer, i) for i in range(6)))
        for key in keys:  # a change after the storm is never lost
            q.add(key)
        await asyncio.sleep(0.3)
        workers.cancel()
        return holders, peak, synced

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # force thread switches in the middle of anything
    try:
        holders, peak, synced = asyncio.run(scenario())
    finally:
        sys.setswitchinterval(interval)
    assert set(peak) == set(keys) and max(peak.values()) == 1, peak
    assert all((key, True) in synced for key in keys), "every key synced after its last add"


def test_state_is_only_touched_on_the_loop_thread():
    async def scenario() -> set[int]:
        q: WorkQueue[str] = WorkQueue()
        threads: set[int] = set()

        class Recording(set):
            def add(self, item: str) -> None:
                threads.add(threading.get_ident())
                super().add(item)

        q._dirty = Recording()
        q.add("on-loop")
        await asyncio.get_running_loop().run_in_executor(None, q.add, "from-a-thread")
        await asyncio.sleep(0.01)
        assert {await q.get(), await q.get()} == {"on-loop", "from-a-thread"}
        return threads

    loop_thread = threading.get_ident()  # asyncio.run runs the loop on this thread
    assert asyncio.run(scenario()) == {loop_thread}
