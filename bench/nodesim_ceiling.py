"""How many pods per second the node simulator brings to Ready: its own ceiling, so that benchmarks can
show it is never the bottleneck.

Pods are created already bound (spec.nodeName set), so neither the scheduler nor any controller is in the
path: the time measured is API writes plus the simulator's status updates.

    python -m bench.nodesim_ceiling --pods 1000        # against the running sandbox ($KUBECONFIG)
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from kube import ApiError, Informer, KubeClient, load_config, resource_path


def pod(i: int, node: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"ceiling-{i}", "labels": {"bench": "nodesim-ceiling"}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "app", "image": "registry.example/app:v1"}]}}


async def measure(pods: int, namespace: str, concurrency: int, kubeconfig: str | None = None) -> dict:
    async with KubeClient(load_config(kubeconfig), max_connections=concurrency) as client:
        nodes = await client.get(resource_path("v1", "nodes"), labelSelector="node.ack-kruise.io/simulated=true")
        names = [n["metadata"]["name"] for n in nodes["items"]]
        if not names:
            raise SystemExit("no simulated nodes in this cluster: start it with `ack-kruise sandbox up`")
        try:
            await client.create(resource_path("v1", "namespaces"), {"metadata": {"name": namespace}})
        except ApiError as e:
            if not e.conflict:
                raise
        ready_at: dict[str, float] = {}
        all_ready = asyncio.Event()

        def on_pod(key, obj):
            if obj and any(c["type"] == "Ready" and c["status"] == "True"
                           for c in (obj.get("status") or {}).get("conditions", [])):
                ready_at.setdefault(key[1], time.monotonic())
                if len(ready_at) >= pods:
                    all_ready.set()

        informer = Informer(client, resource_path("v1", "pods", namespace), on_pod,
                            labelSelector="bench=nodesim-ceiling")
        watch = asyncio.create_task(informer.run())
        await informer.synced.wait()
        sem = asyncio.Semaphore(concurrency)

        async def create(i: int) -> None:
            async with sem:
                await client.create(resource_path("v1", "pods", namespace), pod(i, names[i % len(names)]))

        t0 = time.monotonic()
        await asyncio.gather(*(create(i) for i in range(pods)))
        created = time.monotonic() - t0
        await asyncio.wait_for(all_ready.wait(), timeout=300)
        ready = time.monotonic() - t0
        watch.cancel()
        await client.delete(resource_path("v1", "namespaces", name=namespace))
        await client.request("DELETE", resource_path("v1", "pods", namespace), params={"gracePeriodSeconds": 0})
        return {"pods": pods, "created_s": created, "ready_s": ready, "ready_per_s": pods / ready,
                "created_per_s": pods / created}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pods", type=int, default=1000)
    p.add_argument("--namespace", default=f"nodesim-ceiling-{os.getpid()}")
    p.add_argument("--concurrency", type=int, default=64)
    args = p.parse_args()
    r = asyncio.run(measure(args.pods, args.namespace, args.concurrency))
    # When the last pod turns Ready soon after the last creation, the API server's creation rate is the limit
    # measured, not the simulator.
    print(f"{r['pods']} bound pods: created in {r['created_s']:.1f}s ({r['created_per_s']:.0f}/s), all Ready after "
          f"{r['ready_s']:.1f}s ({r['ready_s'] - r['created_s']:.1f}s after the last creation) "
          f"-> {r['ready_per_s']:.0f} pods/s to Ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
