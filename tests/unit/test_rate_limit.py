"""The client's rate limit (kube.client.TokenBucket): QPS and burst as client-go's, and events last in line."""
from __future__ import annotations

import asyncio
import time

from kube.client import TokenBucket


def test_the_burst_goes_at_once_then_qps():
    async def go():
        bucket = TokenBucket(100, 5)
        t0 = time.monotonic()
        for _ in range(10):
            await bucket.acquire()
        return time.monotonic() - t0
    took = asyncio.run(go())
    assert 0.04 <= took < 0.5, took  # 5 at once, 5 more at 100/s


def test_a_background_request_waits_while_others_wait_for_a_token():
    """Issue 21 item 4: the events a scale-up posts do not delay the pods' readiness writes queued with them."""
    async def go():
        bucket = TokenBucket(50, 1)
        order: list[str] = []

        async def one(name: str, background: bool = False) -> None:
            await bucket.acquire(background)
            order.append(name)
        await bucket.acquire()  # the burst is spent: everyone below waits
        event = asyncio.create_task(one("event", background=True))
        await asyncio.sleep(0)
        writes = [asyncio.create_task(one(f"write{i}")) for i in range(4)]
        await asyncio.gather(event, *writes)
        return order
    assert asyncio.run(go()) == ["write0", "write1", "write2", "write3", "event"]


def test_an_unlimited_client_never_waits():
    async def go():
        bucket = TokenBucket(None, None)
        for _ in range(1000):
            await bucket.acquire(background=True)
    asyncio.run(go())
