"""The manager's client keeps a QPS/burst budget per resource, as controller-runtime's per-kind REST clients do;
and its watch stream reads events of any length."""
from __future__ import annotations

import asyncio
import time

from kube.client import KubeClient, resource_of
from kube.config import ClusterConfig


def test_a_request_path_names_its_resource():
    assert resource_of("/api/v1/namespaces/ns/pods/p/status") == "v1/pods"
    assert resource_of("/api/v1/namespaces/ns/pods") == "v1/pods"
    assert resource_of("/api/v1/pods?watch=true") == "v1/pods"
    assert resource_of("/api/v1/namespaces/ns") == "v1/namespaces"
    assert resource_of("/api/v1/namespaces") == "v1/namespaces"
    assert resource_of("/apis/apps.kruise.io/v1alpha1/namespaces/ns/clonesets/c/status") == \
        "apps.kruise.io/v1alpha1/clonesets"
    assert resource_of("/apis/coordination.k8s.io/v1/namespaces/kruise-system/leases/kruise-manager") == \
        "coordination.k8s.io/v1/leases"
    assert resource_of("/apis/apps.kruise.io/v1beta1/sidecarsets") == "apps.kruise.io/v1beta1/sidecarsets"
    assert resource_of("/version") == "/version"


def test_each_resource_spends_its_own_budget_only_when_asked():
    config = ClusterConfig(server="https://127.0.0.1:1")

    async def spend(client: KubeClient, paths: list[str]) -> float:
        started = time.monotonic()
        for path in paths:
            await client.limiter_for(path).acquire()
        return time.monotonic() - started

    # burst 2 at 10 QPS: two pod requests are free, the third waits 0.1 s; an event does not wait for the pods'.
    per_resource = KubeClient(config, qps=10, burst=2, limit_per_resource=True)
    shared = KubeClient(config, qps=10, burst=2)
    pods, event = "/api/v1/namespaces/ns/pods", "/api/v1/namespaces/ns/events"
    assert asyncio.run(spend(per_resource, [pods, f"{pods}/p/status", event, event])) < 0.05
    assert asyncio.run(spend(per_resource, [pods])) > 0.05, "pods and pods/status share one budget"
    assert asyncio.run(spend(shared, [pods, f"{pods}/p/status", event])) > 0.05


def test_a_watch_reads_events_longer_than_aiohttps_line_buffer_and_split_across_chunks():
    """An event larger than aiohttp's read buffer (64 KiB; a pod with a large annotation), the stream sent in
    small pieces cut mid-event."""
    import json

    from aiohttp import web

    big = {"metadata": {"name": "big", "resourceVersion": "2", "annotations": {"a": "x" * 300_000}}}
    lines = [json.dumps({"type": "ADDED", "object": {"metadata": {"name": "small", "resourceVersion": "1"}}}),
             json.dumps({"type": "MODIFIED", "object": big}),
             json.dumps({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "3"}}})]
    stream = ("\n".join(lines) + "\n").encode()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for i in range(0, len(stream), 7000):
            await response.write(stream[i:i + 7000])
        return response

    async def scenario() -> list:
        app = web.Application()
        app.router.add_get("/api/v1/pods", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        client = KubeClient(ClusterConfig(server=f"http://127.0.0.1:{port}"))
        try:
            return [(e.type, e.object["metadata"].get("name"), len(json.dumps(e.object)))
                    async for e in client.watch("/api/v1/pods", "0")]
        finally:
            await client.close()
            await runner.cleanup()

    events = asyncio.run(scenario())
    assert [(t, n) for t, n, _ in events] == [("ADDED", "small"), ("MODIFIED", "big"), ("BOOKMARK", None)]
    assert events[1][2] > 300_000
