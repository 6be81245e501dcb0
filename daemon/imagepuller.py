"""The kruise-daemon's image puller: watches its node's NodeImage and pulls its tags through CRI
(kruise-daemon.md §2.8, upstream `pkg/daemon/imagepuller`, `criruntime/imageruntime/cri.go`). The decisions of
what to pull and what to report are in `daemon/imagepull.py` (pure).

- Watch: the NodeImage named after the node (fieldSelector), nothing else. A spec change starts a round.
- One worker per (image, tag, version), as asyncio tasks; `--max-workers-for-pull-image` (v1.9.0, -1 unlimited)
  bounds how many pull at once, the others report `Waiting`. A tag whose version changed or that left the spec
  has its worker cancelled.
- A worker: `Pulling` at once (so a big image is not taken for a silent node, #1273); up to backoffLimit + 1
  attempts of timeoutSeconds each, backing off 1 s doubling to 30 s, within activeDeadlineSeconds of its start;
  IfNotPresent skips the pull when the runtime has the image; credentials from the image's pull secrets
  (kubelet matching, `daemon/credentials.py`), each matching one tried, none matching is anonymous, matching
  ones that all fail are a failure (no anonymous fallback, as upstream). Succeeded with
  `imageID = <name>@<runtime image id>`, or Failed with the last error; events PullImageSucceed on the NodeImage,
  PullImageFailed on it and on the tag's jobs.
- Status: the whole status, written by a merge patch after every change (coalesced), and again after a failed
  write. The runtime going away fails the attempts in progress (UNAVAILABLE), which are retried with backoff.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from typing import Any

from controllers.common.times import format_precise_time, format_time
from controllers.imagepulljob import api
from controllers.metrics import REGISTRY
from kube import ApiError, Informer, KubeClient, resource_path

from . import imagepull
from .credentials import credentials_for
from .cri import CriClient, CriError
from .imagepull import TagKey, Wanted

log = logging.getLogger(__name__)
JSON = dict[str, Any]
COMPONENT = "kruise-daemon-imagepuller"
SECRET_CACHE_SECONDS = 300.0
STATUS_RETRY_SECONDS = 2.0
MAX_STEP_SECONDS = 30.0

REGISTRY.describe("kruise_daemon_image_pulls_total", "counter", "Image pull attempts, by result.")


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ImagePuller:
    def __init__(self, client: KubeClient, runtime: CriClient, node_name: str, max_workers: int = -1):
        self.client, self.runtime, self.node = client, runtime, node_name
        self.informer = Informer(client, resource_path(api.GROUP_VERSION, api.NODE_IMAGE_PLURAL), self._on_change,
                                 fieldSelector=f"metadata.name={node_name}")
        self.slots = asyncio.Semaphore(max_workers) if max_workers > 0 else None
        self.states: dict[TagKey, JSON] = {}
        self.workers: dict[TagKey, tuple[int, asyncio.Task]] = {}
        self.spec_seen: JSON | None = None
        self.changed = asyncio.Event()  # the spec changed: a new round
        self.dirty = asyncio.Event()  # a tag state changed: write the status
        self.secrets: dict[tuple[str, str], tuple[float, JSON | None]] = {}

    # ---- events -------------------------------------------------------------------------------
    def _on_change(self, key: Any, obj: JSON | None) -> None:
        spec = None if obj is None else api.spec(obj)
        if obj is None or spec != self.spec_seen:
            self.spec_seen = spec
            self.changed.set()

    def _node_image(self) -> JSON | None:
        return next(iter(self.informer.cache.values()), None)

    # ---- the round ----------------------------------------------------------------------------
    def sync(self) -> None:
        node_image = self._node_image()
        wanted = imagepull.wanted(node_image) if node_image else []
        keys = {w.key for w in wanted}
        for key in [k for k in self.workers if k not in keys]:
            self.workers.pop(key)[1].cancel()
        for key in [k for k in self.states if k not in keys]:
            del self.states[key]
        for want in wanted:
            done = imagepull.carried(node_image, want)
            if done is not None:
                self.states[want.key] = done
                continue
            running = self.workers.get(want.key)
            if running is not None and running[0] == want.version and not running[1].done():
                continue
            if running is not None and running[0] != want.version:
                running[1].cancel()
            if running is not None and running[0] == want.version and running[1].done():
                continue  # finished: its state waits to be written
            self.workers[want.key] = (want.version, asyncio.create_task(self._pull(want)))
        self.dirty.set()

    # ---- a worker -----------------------------------------------------------------------------
    def _set(self, want: Wanted, **fields: Any) -> None:
        state = {"tag": want.key.tag, "version": want.version, **fields}
        self.states[want.key] = {k: v for k, v in state.items() if v not in (None, "")}
        self.dirty.set()

    async def _pull(self, want: Wanted) -> None:
        if self.slots is None:
            await self._pull_now(want)
            return
        self._set(want, phase=api.WAITING)
        async with self.slots:
            await self._pull_now(want)

    async def _secrets(self, image: JSON) -> list[JSON]:
        out = []
        for ref in image.get("pullSecrets") or []:
            key = (ref.get("namespace") or api.DAEMON_CONFIG_NAMESPACE, ref.get("name") or "")
            cached = self.secrets.get(key)
            if cached is None or time.monotonic() - cached[0] > SECRET_CACHE_SECONDS:
                try:
                    found = await self.client.get_or_none(resource_path("v1", "secrets", key[0], key[1]))
                except ApiError as e:
                    log.warning("pull secret %s/%s: %s", *key, e)
                    found = None
                cached = (time.monotonic(), found)
                self.secrets[key] = cached
            if cached[1] is not None:
                out.append(cached[1])  # a secret that is gone is skipped: the pull may still be anonymous
        return out

    async def _present(self, want: Wanted) -> str | None:
        for info in await self.runtime.list_image_infos():
            if imagepull.contains(info.repo_tags, info.repo_digests, want.key.name, want.key.tag):
                return info.id
        return None

    async def _attempt(self, want: Wanted, timeout: float) -> str:
        """One attempt: the runtime image id once the image is there."""
        if want.spec.get("imagePullPolicy") != "Always":
            present = await self._present(want)
            if present:
                return present
        image = imagepull.full_name(want.key.name, want.key.tag)
        sandbox = want.image.get("sandboxConfig") or {}
        labels = dict(sandbox.get("labels") or {})
        annotations = {**(sandbox.get("annotations") or {}), api.PULLING_BY_ANNOTATION: "kruise-daemon"}
        credentials = credentials_for(image, await self._secrets(want.image))
        if not credentials:
            await self.runtime.pull_image(image, None, None, labels, annotations, timeout)
        else:
            errors = []
            for credential in credentials:
                try:
                    await self.runtime.pull_image(image, credential.username, credential.password, labels,
                                                  annotations, timeout)
                    break
                except CriError as e:
                    errors.append(str(e))
            else:
                raise CriError("PullImage", "UNAUTHENTICATED", "; ".join(errors))
        return await self._present(want) or ""

    async def _pull_now(self, want: Wanted) -> None:
        started = _now()
        self._set(want, phase=api.PULLING, startTime=format_time(started), progress=0)
        policy = want.spec.get("pullPolicy") or {}
        timeout = float(policy.get("timeoutSeconds") or api.DEFAULT_TIMEOUT_SECONDS)
        backoff = policy.get("backoffLimit")
        attempts = (api.DEFAULT_BACKOFF_LIMIT if backoff is None or backoff < 0 else int(backoff)) + 1
        deadline = policy.get("activeDeadlineSeconds")
        ends = started.timestamp() + deadline if deadline else None
        step, last_error = 1.0, ""
        for _ in range(attempts):
            left = ends - time.time() if ends else None
            if left is not None and left <= 0:
                last_error = api.TAG_DEADLINE
                break
            try:
                image_id = await self._attempt(want, min(timeout, left) if left else timeout)
            except CriError as e:
                last_error = f"Failed to pull image reference {imagepull.full_name(*want.key)}: {e}"
                REGISTRY.inc("kruise_daemon_image_pulls_total", result="error")
                log.warning("pulling %s:%s: %s", want.key.name, want.key.tag, e)
                await asyncio.sleep(step)
                step = min(2 * step, MAX_STEP_SECONDS)
                continue
            REGISTRY.inc("kruise_daemon_image_pulls_total", result="success")
            finished = _now()
            self._set(want, phase=api.SUCCEEDED, startTime=format_time(started), progress=100,
                      completionTime=format_time(finished), imageID=f"{want.key.name}@{image_id}")
            await self._event("Normal", "PullImageSucceed",
                              f"Image {want.key.name}:{want.key.tag}, ecalpsedTime {finished - started}", [])
            return
        self._set(want, phase=api.FAILED, startTime=format_time(started), completionTime=format_time(_now()),
                  message=last_error)
        await self._event("Warning", "PullImageFailed", f"Image {want.key.name}:{want.key.tag} {last_error}",
                          [o for o in want.spec.get("ownerReferences") or [] if isinstance(o, dict)])

    async def _event(self, event_type: str, reason: str, message: str, owners: list[JSON]) -> None:
        now = format_precise_time(_now())
        node_image = self._node_image() or {"metadata": {"name": self.node}}
        targets = [{"apiVersion": api.GROUP_VERSION, "kind": api.NODE_IMAGE_KIND, "name": self.node,
                    "uid": api.meta(node_image).get("uid", ""), "namespace": "default"}]
        targets += [{k: o.get(k, "") for k in ("apiVersion", "kind", "name", "namespace", "uid")} for o in owners]
        for target in targets:
            namespace = target.get("namespace") or "default"
            body = {"apiVersion": "v1", "kind": "Event",
                    "metadata": {"generateName": f"{target['name']}.", "namespace": namespace},
                    "involvedObject": {**target, "namespace": target.get("namespace") if target["kind"] !=
                                       api.NODE_IMAGE_KIND else ""},
                    "reason": reason, "message": message, "type": event_type,
                    "source": {"component": COMPONENT, "host": self.node},
                    "firstTimestamp": now[:19] + "Z", "lastTimestamp": now[:19] + "Z", "count": 1}
            try:
                await self.client.create(resource_path("v1", "events", namespace), body)
            except ApiError as e:  # best effort
                log.warning("event %s on %s %s: %s", reason, target["kind"], target["name"], e)

    # ---- the status ---------------------------------------------------------------------------
    async def write_status(self) -> bool:
        node_image = self._node_image()
        if node_image is None:
            return True
        status = imagepull.build_status(node_image, self.states)
        old = api.status(node_image)
        if all(old.get(k) == v for k, v in status.items()) and ("imageStatuses" in status) == bool(
                old.get("imageStatuses")):
            return True
        body = dict(status)
        # A merge patch keeps map keys it does not name: images gone from the spec are nulled.
        removed = {k: None for k in old.get("imageStatuses") or {} if k not in status.get("imageStatuses", {})}
        if removed or "imageStatuses" in status:
            body["imageStatuses"] = {**removed, **status.get("imageStatuses", {})}
        path = resource_path(api.GROUP_VERSION, api.NODE_IMAGE_PLURAL, None, self.node, "status")
        try:
            await self.client.patch(path, {"status": body})
        except ApiError as e:
            log.warning("NodeImage %s status: %s", self.node, e)
            return False
        return True

    async def _status_loop(self) -> None:
        while True:
            await self.dirty.wait()
            self.dirty.clear()
            await asyncio.sleep(0.2)  # coalesce the changes of one moment
            if not await self.write_status():
                await asyncio.sleep(STATUS_RETRY_SECONDS)
                self.dirty.set()

    async def run(self) -> None:
        tasks = [asyncio.create_task(self.informer.run()), asyncio.create_task(self._status_loop())]
        try:
            while True:
                waiter = asyncio.create_task(self.changed.wait())
                done, _ = await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
                for t in tasks:
                    if t in done:
                        raise t.exception() or RuntimeError("image puller task ended")
                self.changed.clear()
                self.sync()
        finally:
            for t in (*tasks, *(w for _, w in self.workers.values())):
                t.cancel()
