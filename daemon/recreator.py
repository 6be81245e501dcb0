"""The daemon's ContainerRecreateRequest controller: watches the active requests of its node, and runs
`daemon.crr`'s rounds against the API server and the runtime (kruise-daemon.md §3.4–3.5).

- Watch: ContainerRecreateRequests of every namespace with `crr.apps.kruise.io/node-name=<node>` and
  `crr.apps.kruise.io/active=true` (upstream's informer selector), so the daemon never sees another node's.
- Queue key `namespace/podName`, 32 workers: one pod's requests are handled one at a time.
- After each write the informer may lag: a round waits (at most 10 s) until the cache has what we wrote,
  upstream's resourceVersion expectation, so it never acts on a state it has already moved past.
- Killing (the kubelet's KillContainer, §3.5): a `Killing` event on the pod, the preStop hook (exec through
  CRI ExecSync, httpGet to its host) within the grace period, then CRI StopContainer with what is left of the
  grace (at least 2 s). The kubelet sees the exit and starts the container again.
"""
from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from datetime import datetime, timezone
from typing import Any

import aiohttp

from controllers.common.times import format_precise_time, format_time
from controllers.containerrecreaterequest import api
from controllers.metrics import REGISTRY
from kube import ApiError, Informer, KubeClient, resource_path
from kube.workqueue import WorkQueue

from . import crr as algo
from .cri import CriClient, CriError

log = logging.getLogger(__name__)

WORKERS = 32
EXPECTATION_TIMEOUT = 10.0
MIN_GRACE_SECONDS = 2
PENDING_RECHECK_SECONDS = 5.0  # a request left waiting is looked at again (upstream issues #1626, #895)
ERROR_BACKOFF = (0.5, 1, 2, 4, 8, 16, 30, 50)
COMPONENT = "kruise-daemon-crr"
JSON = dict[str, Any]

REGISTRY.describe("kruise_daemon_containers_killed_total", "counter", "Containers the daemon stopped, by reason.")
REGISTRY.describe("kruise_daemon_crr_sync_errors_total", "counter", "ContainerRecreateRequest rounds that failed.")


def _rv(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


class Recreator:
    def __init__(self, client: KubeClient, runtime: CriClient, node_name: str):
        self.client, self.runtime, self.node = client, runtime, node_name
        selector = f"{api.NODE_NAME_LABEL}={node_name},{api.ACTIVE_LABEL}=true"
        self.informer = Informer(client, resource_path(api.GROUP_VERSION, api.PLURAL), self._on_change,
                                 labelSelector=selector)
        self.queue: WorkQueue[str] = WorkQueue()
        self.expected: dict[str, tuple[str, float]] = {}  # uid → (resourceVersion we wrote, when)
        self.failures: dict[str, int] = {}

    # ---- events -----------------------------------------------------------------------------
    def _on_change(self, key: tuple[str, str], obj: JSON | None) -> None:
        if obj is None:
            return  # deleted, or no longer active: nothing to do for it
        if algo.is_active(obj):
            self.queue.add(f"{key[0]}/{api.spec(obj).get('podName', '')}")

    def _requests_of(self, pod_key: str) -> list[JSON]:
        namespace, _, pod = pod_key.partition("/")
        return [o for (ns, _), o in self.informer.cache.items()
                if ns == namespace and api.spec(o).get("podName") == pod]

    # ---- writes -------------------------------------------------------------------------------
    def _path(self, crr: JSON) -> str:
        return resource_path(api.GROUP_VERSION, api.PLURAL, crr["metadata"]["namespace"], crr["metadata"]["name"],
                             "status")

    async def _patch_status(self, crr: JSON, status: JSON, precondition: bool = False) -> None:
        """A merge patch of the status. With `precondition`, a round that acted on an old copy fails (409) and
        runs again on the new one; the states written after a kill have none: the kill happened, and is
        recorded even when the manager completed the request meanwhile (as upstream)."""
        body: JSON = {"status": status}
        if precondition:
            body["metadata"] = {"resourceVersion": crr["metadata"]["resourceVersion"]}
        out = await self.client.patch(self._path(crr), body)
        self.expected[crr["metadata"]["uid"]] = (out["metadata"]["resourceVersion"], time.monotonic())

    async def _complete(self, crr: JSON, message: str) -> None:
        now = datetime.now(timezone.utc)
        await self._patch_status(crr, api.completed_status(format_time(now), message))

    async def _event(self, crr: JSON, container: str, event_type: str, reason: str, message: str) -> None:
        """An event on the pod's container, as the kubelet's (`spec.containers{name}`)."""
        meta = crr["metadata"]
        now = format_precise_time(datetime.now(timezone.utc))
        pod = api.spec(crr).get("podName", "")
        body = {"apiVersion": "v1", "kind": "Event",
                "metadata": {"generateName": f"{pod}.", "namespace": meta["namespace"]},
                "involvedObject": {"apiVersion": "v1", "kind": "Pod", "namespace": meta["namespace"], "name": pod,
                                   "uid": api.labels(crr).get(api.POD_UID_LABEL, ""),
                                   "fieldPath": f"spec.containers{{{container}}}"},
                "reason": reason, "message": message, "type": event_type,
                "source": {"component": COMPONENT, "host": self.node},
                "firstTimestamp": now[:19] + "Z", "lastTimestamp": now[:19] + "Z", "count": 1}
        try:
            await self.client.create(resource_path("v1", "events", meta["namespace"]), body)
        except ApiError as e:  # an event is best effort
            log.warning("event %s on pod %s/%s: %s", reason, meta["namespace"], pod, e)

    # ---- killing ------------------------------------------------------------------------------
    async def _run_pre_stop(self, crr: JSON, spec_container: JSON, container_id: str, grace: int) -> None:
        pre_stop = spec_container.get("preStop") or {}
        name = spec_container["name"]
        try:
            if "exec" in pre_stop:
                command = list((pre_stop["exec"] or {}).get("command") or [])
                await asyncio.wait_for(self.runtime.exec_sync(container_id, command, grace), grace)
            elif "httpGet" in pre_stop:
                await asyncio.wait_for(self._http_pre_stop(pre_stop["httpGet"], spec_container), grace)
        except (asyncio.TimeoutError, CriError, aiohttp.ClientError, ValueError) as e:
            message = f"PreStopHook failed: {e or 'timed out'}"
            await self._event(crr, name, "Warning", "FailedPreStopHook", message)

    async def _http_pre_stop(self, action: JSON, spec_container: JSON) -> None:
        host = action.get("host")
        if not host:
            # Upstream's runtime knows no pod IP either: an httpGet preStop without a host fails (§3.5).
            raise ValueError("httpGet preStop needs a host: the daemon does not know the pod's IP")
        port = action.get("port")
        if isinstance(port, str) and not port.isdigit():
            port = next((p.get("containerPort") for p in spec_container.get("ports") or [] if p.get("name") == port),
                        None)
        scheme = (action.get("scheme") or "HTTP").lower()
        path = action.get("path") or "/"
        url = f"{scheme}://{host}:{port}{urllib.parse.quote(path, safe='/?=&')}"
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as response:
                await response.read()

    async def _kill(self, crr: JSON, name: str, container_id: str) -> None:
        """KillContainer: event, preStop within the grace period, then StopContainer with what is left."""
        spec_container = next(c for c in api.spec(crr)["containers"] if c["name"] == name)
        await self._event(crr, name, "Normal", "Killing",
                          f"Stopping container {name} by ContainerRecreateRequest {crr['metadata']['name']}")
        grace = max(algo.grace_seconds(crr), 0)
        started = time.monotonic()
        if spec_container.get("preStop") and grace > 0:
            await self._run_pre_stop(crr, spec_container, container_id, grace)
            grace -= int(time.monotonic() - started)
        await self.runtime.stop_container(container_id, max(grace, MIN_GRACE_SECONDS))
        REGISTRY.inc("kruise_daemon_containers_killed_total", reason="ContainerRecreateRequest")

    # ---- one round ---------------------------------------------------------------------------
    def _waiting_for_cache(self, crr: JSON) -> bool:
        uid = crr["metadata"]["uid"]
        expected = self.expected.get(uid)
        if expected is None:
            return False
        version, since = expected
        if _rv(crr["metadata"].get("resourceVersion")) >= _rv(version) or time.monotonic() - since > EXPECTATION_TIMEOUT:
            del self.expected[uid]
            return False
        return True

    async def sync(self, pod_key: str) -> None:
        try:
            requeue = await self._sync(pod_key)
        except (ApiError, CriError, aiohttp.ClientError, asyncio.TimeoutError) as e:
            if isinstance(e, ApiError) and e.conflict:
                requeue = 0.1  # our copy was old: the informer brings the new one
            else:
                count = self.failures.get(pod_key, 0)
                self.failures[pod_key] = count + 1
                requeue = ERROR_BACKOFF[min(count, len(ERROR_BACKOFF) - 1)]
                log.warning("ContainerRecreateRequest of pod %s: %s (retrying in %ss)", pod_key, e, requeue)
                REGISTRY.inc("kruise_daemon_crr_sync_errors_total")
        else:
            self.failures.pop(pod_key, None)
        if requeue is not None:
            self.queue.add_after(pod_key, requeue)

    async def _sync(self, pod_key: str) -> float | None:
        crrs = self._requests_of(pod_key)
        picked, new = algo.pick(crrs)
        if picked is None:
            return None
        if any(self._waiting_for_cache(c) for c in crrs):
            return 1.0  # the watch event of our write wakes us before this
        for other in new:
            await self._patch_status(other, {"phase": api.PENDING}, precondition=True)
        if api.phase(picked) != api.RECREATING:
            await self._patch_status(picked, {"phase": api.RECREATING}, precondition=True)
            return None
        now = datetime.now(timezone.utc)
        go, wait, error = algo.unready_wait(picked, now)
        if error:
            await self._complete(picked, error)
            return None
        if not go:
            return wait
        runtime, error = algo.runtime_of(picked)
        if runtime is None or runtime != self.runtime.runtime_name:
            await self._complete(picked, f"failed to find runtime service: {error or runtime}")
            return None
        containers = await self.runtime.list_pod_containers(api.labels(picked).get(api.POD_UID_LABEL, ""))
        step = algo.manage(picked, containers, runtime, now)
        if step.kill:
            target = algo.newest(containers, step.kill)
            try:
                await self._kill(picked, step.kill, target.id)
            except CriError as e:
                states = algo.kill_failed(step.states, step.kill, str(e))
                await self._patch_status(picked, {"containerRecreateStates": states})
                return None
        if step.states is not None:
            await self._patch_status(picked, {"containerRecreateStates": step.states})
            return None
        if step.complete:
            await self._complete(picked, "")
            return None
        return algo_requeue(step.requeue_after)

    async def run(self) -> None:
        workers = asyncio.create_task(self.queue.run_workers(WORKERS, self.sync))
        try:
            await self.informer.run()
        finally:
            workers.cancel()


def algo_requeue(wanted: float | None) -> float:
    """A request still in progress is looked at again within a few seconds even when no event comes."""
    return min(wanted, PENDING_RECHECK_SECONDS) if wanted else PENDING_RECHECK_SECONDS
