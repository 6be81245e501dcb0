"""The certificate scenario's fault: kruise-manager's serving certificate rotating while clients send admission
requests without pause, and how many of those failed.

The manager of that scenario runs with a short-lived serving certificate (`CERT_ARGS`: valid 20 s, renewed once
fewer than 8 s remain, so one rotation about every 12 s, signed by the same CA). Four clients send server-side
dry runs of a CloneSet create through kube-apiserver (our mutating and validating webhooks answer each; nothing is
stored) from before one rotation until `AFTER_ROTATION` requests were answered after it.
"""
from __future__ import annotations

import asyncio
import ssl
import time
from typing import Callable

import aiohttp

from kube import ApiError, KubeClient, load_config

CERT_ARGS = ("--cert-validity", "20s", "--cert-renew-before", "8s")
CLIENTS = 4
AFTER_ROTATION = 40
ROTATION_TIMEOUT = 60.0
LOAD_NAMESPACE = "default"
CLONESET = {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {"name": "admission-load"},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "admission-load"}},
                     "template": {"metadata": {"labels": {"app": "admission-load"}},
                                  "spec": {"containers": [{"name": "main", "image": "registry.example/app:v1"}]}}}}


def served_certificate(port: int) -> str | None:
    """The PEM certificate the webhook server presents now (None: nothing answers on `port`)."""
    try:
        return ssl.get_server_certificate(("127.0.0.1", port), timeout=10)  # a busy machine: slow handshakes
    except (OSError, ssl.SSLError):
        return None


async def _load(kubeconfig: str, rotated: Callable[[], bool]) -> dict[str, float]:
    answered, failed, after = 0, 0, 0
    errors: list[str] = []
    deadline = time.monotonic() + ROTATION_TIMEOUT
    seen_rotation = False

    async def client_loop(client: KubeClient) -> None:
        nonlocal answered, failed, after, seen_rotation
        path = f"/apis/apps.kruise.io/v1alpha1/namespaces/{LOAD_NAMESPACE}/clonesets"
        while after < AFTER_ROTATION and (seen_rotation or time.monotonic() < deadline):
            was_rotated = seen_rotation
            try:
                await client.create(path, CLONESET, dryRun="All")
                answered += 1
                after += was_rotated
            except (ApiError, aiohttp.ClientError, OSError, asyncio.TimeoutError) as e:  # any failure counts
                failed += 1
                errors.append(str(e)[:200])
            seen_rotation = seen_rotation or await asyncio.to_thread(rotated)

    async with KubeClient(load_config(kubeconfig), user_agent="chaos-admission-load") as client:
        await asyncio.gather(*(client_loop(client) for _ in range(CLIENTS)))
    if errors:
        print(f"  admission failures, e.g. {errors[:3]}", flush=True)
    return {"admission requests": answered + failed, "admission failed": failed, "rotations": int(seen_rotation)}


def rotate_under_load(kubeconfig: str, webhook_port: Callable[[], int]) -> dict[str, float]:
    """Admission load from now until AFTER_ROTATION requests were answered after the served certificate
    changed (or ROTATION_TIMEOUT without a change: rotations 0). Runs in the fault's thread, on a loop of its own."""
    first = served_certificate(webhook_port())

    def rotated() -> bool:
        now = served_certificate(webhook_port())
        return now is not None and now != first

    return asyncio.run(_load(kubeconfig, rotated))
