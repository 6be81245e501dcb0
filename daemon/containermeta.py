"""The daemon's `apps.kruise.io/runtime-containers-meta` writer (openkruise-1.9 kruise-daemon.md §4.2, upstream
`pkg/daemon/containermeta/container_meta_controller.go`): for each pod of its node that an apps.kruise.io
workload controls (or a SidecarSet injected), the runtime's view of every container: its ID, restart count and
the kubelet's hash of the spec it was started from (`io.kubernetes.container.hash`). In-place update
completion reads it (`controllers/common/containerhash.py`).

- Watch: pods with `spec.nodeName=<node>` only.
- Entries follow `status.containerStatuses`; an entry whose containerID is unchanged is kept as it is; a
  container the runtime does not know (yet) is left out.
- Written through `pods/<name>/status` (a strategic merge patch of the annotation only), the one pod write
  the daemon's RBAC allows.
Not done: the env-from-metadata hash (`extractedEnvFromMetadataHash`) and the restarts it drives.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from controllers.common.containerhash import RUNTIME_CONTAINERS_META_ANNOTATION, dump_meta, read_meta
from controllers.metrics import REGISTRY
from kube import STRATEGIC_MERGE_PATCH, ApiError, Informer, KubeClient, resource_path
from kube.workqueue import WorkQueue

from .cri import HASH_ANNOTATION, ContainerInfo, CriClient, CriError

log = logging.getLogger(__name__)
JSON = dict[str, Any]
WORKERS = 5
ERROR_BACKOFF = (1, 2, 4, 8, 16, 30)
SIDECARSET_HASH_ANNOTATION = "kruise.io/sidecarset-hash"

REGISTRY.describe("kruise_daemon_containermeta_writes_total", "counter", "runtime-containers-meta annotations written.")


def watched(pod: JSON) -> bool:
    """Pods of apps.kruise.io workloads, and pods a SidecarSet injected."""
    meta = pod.get("metadata") or {}
    owners = meta.get("ownerReferences") or []
    if any(o.get("controller") and str(o.get("apiVersion", "")).startswith("apps.kruise.io/") for o in owners):
        return True
    return SIDECARSET_HASH_ANNOTATION in (meta.get("annotations") or {})


def needs_sync(pod: JSON) -> bool:
    """Whether the annotation lags the pod's containers (cheap: no runtime call)."""
    if not watched(pod) or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    statuses = [s for s in (pod.get("status") or {}).get("containerStatuses") or [] if s.get("containerID")]
    if not statuses:
        return False
    meta = read_meta(pod) or []
    return [(m.get("name"), m.get("containerID")) for m in meta] != [(s["name"], s["containerID"]) for s in statuses]


def desired_meta(pod: JSON, containers: list[ContainerInfo], runtime: str) -> list[JSON]:
    """The annotation's entries for the pod's statuses, from the runtime's containers."""
    old = {m.get("containerID"): m for m in read_meta(pod) or []}
    by_id = {f"{runtime}://{c.id}": c for c in containers}
    out = []
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        cid = status.get("containerID")
        if not cid:
            continue
        if cid in old and old[cid].get("name") == status.get("name"):
            out.append(old[cid])
            continue
        container = by_id.get(cid)
        if container is None:
            continue
        try:
            plain_hash = int(container.annotations.get(HASH_ANNOTATION, ""), 16)
        except ValueError:
            plain_hash = 0
        out.append({"name": status["name"], "containerID": cid, "restartCount": container.restart_count,
                    "hashes": {"plainHash": plain_hash}})
    return out


class ContainerMetaWriter:
    def __init__(self, client: KubeClient, runtime: CriClient, node_name: str):
        self.client, self.runtime = client, runtime
        self.informer = Informer(client, resource_path("v1", "pods"), self._on_change,
                                 fieldSelector=f"spec.nodeName={node_name}")
        self.queue: WorkQueue[tuple[str, str]] = WorkQueue()
        self.failures: dict[tuple[str, str], int] = {}

    def _on_change(self, key: tuple[str, str], pod: JSON | None) -> None:
        if pod is not None and needs_sync(pod):
            self.queue.add(key)

    async def sync(self, key: tuple[str, str]) -> None:
        pod = self.informer.cache.get(key)
        if pod is None or not needs_sync(pod):
            return
        try:
            containers = await self.runtime.list_pod_containers(pod["metadata"]["uid"])
            meta = desired_meta(pod, containers, self.runtime.runtime_name)
            if meta != (read_meta(pod) or []) and meta:
                body = {"metadata": {"uid": pod["metadata"]["uid"],
                                     "annotations": {RUNTIME_CONTAINERS_META_ANNOTATION: dump_meta(meta)}}}
                await self.client.patch(resource_path("v1", "pods", key[0], key[1], "status"), body,
                                        STRATEGIC_MERGE_PATCH)
                REGISTRY.inc("kruise_daemon_containermeta_writes_total")
            if len(meta) < len([s for s in pod["status"].get("containerStatuses") or [] if s.get("containerID")]):
                self.queue.add_after(key, 2.0)  # a container the runtime did not list yet: look again
        except (ApiError, CriError, aiohttp.ClientError, asyncio.TimeoutError) as e:
            if isinstance(e, ApiError) and (e.not_found or e.conflict):
                return  # the pod is gone, or changed: its next event brings it back
            count = self.failures.get(key, 0)
            self.failures[key] = count + 1
            delay = ERROR_BACKOFF[min(count, len(ERROR_BACKOFF) - 1)]
            log.warning("runtime-containers-meta of pod %s/%s: %s (retrying in %ss)", *key, e, delay)
            self.queue.add_after(key, delay)
            return
        self.failures.pop(key, None)

    async def run(self) -> None:
        workers = asyncio.create_task(self.queue.run_workers(WORKERS, self.sync))
        try:
            await self.informer.run()
        finally:
            workers.cancel()
