"""The raw-creation ceiling as its own process, as every controller is one: N unbound pods created through
`kube.KubeClient` with the profile's QPS/burst limiter, 64 requests in flight, then exit.

Like a running controller, it starts warm: it connects, prints `ready`, and starts creating when a line
arrives on stdin (the harness starts its clock then).

    python -m bench.raw_client --kubeconfig K --namespace NS --pods N --qps Q --burst B
"""
from __future__ import annotations

import argparse
import asyncio
import sys

from kube import KubeClient, load_config

from .scenarios import raw_create


async def run(kubeconfig: str, namespace: str, pods: int, qps: float, burst: int, concurrency: int) -> None:
    async with KubeClient(load_config(kubeconfig), qps=qps, burst=burst, max_connections=concurrency,
                          user_agent="bench-raw-client") as client:
        await client.get("/version")
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        await raw_create(client, namespace, pods, concurrency)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.raw_client", description=__doc__.splitlines()[0])
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--namespace", required=True)
    p.add_argument("--pods", type=int, required=True)
    p.add_argument("--qps", type=float, required=True)
    p.add_argument("--burst", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=64)
    a = p.parse_args(argv)
    asyncio.run(run(a.kubeconfig, a.namespace, a.pods, a.qps, a.burst, a.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
