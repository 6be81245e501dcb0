import asyncio

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
