"""The pod webhook's SidecarSet freshness check shares its quorum lists between admissions without weakening it:
every admission's list is one the API server was sent after that admission began (so a SidecarSet whose create
had answered is in it), and a burst of admissions costs one list per list round trip, not one per pod. The e2e
side (a pod created right after its SidecarSet gets it) is tests/e2e/sidecarset/test_inject.py."""
from __future__ import annotations

import asyncio

from controllers.webhook.sidecarset_cache import SidecarSetCache


class ListingApiServer:
    """Answers each metadata list with the SidecarSets that exist when it is *sent*, once the test releases it."""

    def __init__(self) -> None:
        self.sidecarsets: dict[str, int] = {}  # name → resourceVersion
        self.sent: list[asyncio.Event] = []

    async def request(self, method: str, path: str, **_: object) -> dict:
        items = [{"metadata": {"name": n, "resourceVersion": str(rv)}} for n, rv in self.sidecarsets.items()]
        answer = asyncio.Event()
        self.sent.append(answer)
        await answer.wait()
        return {"items": items}


async def _until(condition) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


def test_admissions_share_lists_sent_after_they_began():
    async def scenario() -> tuple[list[list[str]], int]:
        server = ListingApiServer()
        cache = SidecarSetCache(server, "kruise-system")  # type: ignore[arg-type]
        names = lambda listing: [i["metadata"]["name"] for i in listing["items"]]  # noqa: E731

        first = asyncio.create_task(cache._quorum_listing())
        await _until(lambda: len(server.sent) == 1)
        # Created after the first list was sent: the admissions that begin now must not use that list.
        server.sidecarsets["created-just-before-the-pod"] = 7
        burst = [asyncio.create_task(cache._quorum_listing()) for _ in range(50)]
        await _until(lambda: all(not t.done() for t in burst))
        assert len(server.sent) == 1, "nothing else is sent while the first list is in flight"
        server.sent[0].set()
        await first
        await _until(lambda: len(server.sent) == 2)
        late = asyncio.create_task(cache._quorum_listing())  # arrives while the shared list is in flight
        server.sidecarsets["created-later"] = 9
        server.sent[1].set()
        results = [names(await t) for t in burst]
        await _until(lambda: len(server.sent) == 3)
        server.sent[2].set()
        return [names(first.result()), *results, names(await late)], len(server.sent)

    results, lists = asyncio.run(scenario())
    assert results[0] == []
    assert all(r == ["created-just-before-the-pod"] for r in results[1:51]), "50 admissions, one list"
    assert results[51] == ["created-just-before-the-pod", "created-later"]
    assert lists == 3


def test_a_failed_list_fails_its_sharers_and_the_next_list_is_sent_anew():
    from kube import ApiError

    class FailingOnce(ListingApiServer):
        async def request(self, method: str, path: str, **kw: object) -> dict:
            if not self.sent:
                self.sent.append(asyncio.Event())
                raise ApiError(500, {"message": "etcd timeout"}, method, path)
            return await super().request(method, path, **kw)

    async def scenario() -> list:
        server = FailingOnce()
        cache = SidecarSetCache(server, "kruise-system")  # type: ignore[arg-type]
        outcomes = await asyncio.gather(cache._quorum_listing(), return_exceptions=True)
        again = asyncio.create_task(cache._quorum_listing())
        await _until(lambda: len(server.sent) == 2)
        server.sent[1].set()
        return [*outcomes, await again]

    failed, listed = asyncio.run(scenario())
    assert isinstance(failed, Exception) and "etcd timeout" in str(failed)
    assert listed == {"items": []}
