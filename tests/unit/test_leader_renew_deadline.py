"""kube.leader: a leader whose renewal hangs (the API server cut off, found by `make chaos`'s partition) gives up
leadership by the time its Lease expires, not when the hanging request ends (the client's timeout is a minute,
and the partition held it 30 s while the 5 s Lease had long expired): never after a follower may take over."""
from __future__ import annotations

import asyncio

from kube.leader import ElectionSettings, LeaderElector


class ApiServerThatStopsAnswering:
    """Answers the Lease requests of a KubeClient until `cut` is set, then never again (a request hangs)."""

    def __init__(self) -> None:
        self.lease: dict | None = None
        self.cut = asyncio.Event()

    async def _answer(self) -> None:
        if self.cut.is_set():
            await asyncio.Event().wait()  # held forever, as bytes a partition holds

    async def get(self, path: str) -> dict:
        await self._answer()
        return {}

    async def get_or_none(self, path: str) -> dict | None:
        await self._answer()
        return self.lease

    async def create(self, path: str, body: dict) -> dict:
        await self._answer()
        self.lease = body
        return body

    async def replace(self, path: str, body: dict) -> dict:
        await self._answer()
        self.lease = body
        return body


def test_a_hanging_renewal_loses_leadership_by_the_leases_expiry():
    async def scenario() -> float:
        server = ApiServerThatStopsAnswering()
        settings = ElectionSettings(namespace="ns", name="lease", identity="me", lease_duration=1.5,
                                    renew_deadline=1.0, retry_period=0.1)
        elector = LeaderElector(server, settings)  # type: ignore[arg-type]
        run = asyncio.create_task(elector.run())
        await asyncio.wait_for(elector.is_leader.wait(), 5)
        loop = asyncio.get_running_loop()
        server.cut.set()
        cut_at = loop.time()
        await asyncio.wait_for(elector.lost.wait(), 5)
        await run
        return loop.time() - cut_at

    lost_after = asyncio.run(scenario())
    # the last renewal came at most a retry period before the cut; the Lease lasts 1.5 s
    assert lost_after < 1.5, f"still leading {lost_after:.2f}s after the cut, past the Lease's expiry"
