"""One workload kind wired into kopf, level-based.

kopf keeps the in-memory indexes (`@kopf.index`): the workloads by uid, the pods, PVCs and
ControllerRevisions by the uid of the workload that controls them, and orphan pods (no controller reference)
by namespace. Each reconcile first claims its pods (`common.ownership.claim_pods`, Kubernetes'
ControllerRefManager): it adopts the orphans its selector matches and releases its pods that no longer match,
before the workload's own reconcile sees them. kopf's event handlers only *enqueue* the
uid of the affected workload; they never act on the event itself. Workers take uids from the queue and
reconcile from the indexes, so a missed or merged event changes nothing: the next one, or a requeue, sees
the latest state. kopf's daemons are not used because they force a finalizer onto every workload (which
would block deleting CloneSets once the manager is gone).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import kopf

from controllers.common.actions import ActionFailure, Plan
from controllers.common.ownership import Claim, claim_pods, is_orphan
from controllers.common.podreadiness import ready_if_missing
from kube import KubeClient
from kube.workqueue import WorkQueue
from controllers.metrics import REGISTRY

from .events import EventRecorder
from .executor import Executor, PlanFailed, WorkloadRef, fold_status_patches
from .expectations import Expectations

log = logging.getLogger(__name__)

# Owned resource name → (kopf resource selector args)
OWNED_RESOURCES = {
    "pods": ("", "v1", "pods"),
    "pvcs": ("", "v1", "persistentvolumeclaims"),
    "revisions": ("apps", "v1", "controllerrevisions"),
}
ERROR_BACKOFF = (1, 2, 4, 8, 16, 30)


def controller_uid(body: dict, kind: str, api_group: str) -> str | None:
    """The uid of the controller ownerReference, if it is a `kind` of `api_group`."""
    for ref in (body.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == kind and ref.get("apiVersion", "").startswith(api_group + "/"):
            return ref.get("uid")
    return None


@dataclass
class WorkloadKind:
    name: str  # controller name, e.g. "cloneset"
    group: str
    version: str
    plural: str
    kind: str
    reconcile: Callable[[dict, dict[str, list[dict]], datetime, ActionFailure | None], Plan]
    """(workload, owned objects by resource, now, how the previous plan failed) → the plan. The last argument
    lets the status report a failure (FailedScale, FailedCreatePod): only the executor meets the API server's
    refusal, and the plan stopped there, so the next round says so (upstream writes it in the same round)."""
    owned: tuple[str, ...] = ("pods", "pvcs", "revisions")
    by_namespace: tuple[str, ...] = ()
    """Owned resources found by name rather than by owner (an Advanced StatefulSet's PVCs may have no
    ownerReference, as the native StatefulSet's): indexed per namespace, narrowed by `select`, and any change
    wakes every workload of the namespace."""
    select: Callable[[dict, str, list[dict]], list[dict]] | None = None
    """(workload, resource, the namespace's objects) → the workload's own objects, for `by_namespace`."""
    member: Callable[[dict, dict], bool] | None = None
    """(workload, pod) → may the workload claim this pod at all, besides its selector (ClaimPods' filters)."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


def _namespace_terminating(error: PlanFailed) -> bool:
    cause = error.__cause__
    return getattr(cause, "status", None) == 403 and "being terminated" in str(cause)


class WorkloadController:
    def __init__(self, kind: WorkloadKind, client: KubeClient, workers: int = 8):
        self.k, self.client, self.workers = kind, client, workers
        self.queue: WorkQueue[str] = WorkQueue()
        self.expectations = Expectations()
        self.events = EventRecorder(client, f"{kind.name}-controller")
        self.executor = Executor(client, self.expectations, self.events, kind.name)
        self.failures: dict[str, int] = {}
        self.last_failure: dict[str, ActionFailure] = {}  # uid → how its previous plan failed
        self.indices: dict[str, Any] = {}
        self._namespaces: dict[str, set[str]] = {}  # namespace → workload uids, for `by_namespace` resources
        self._tasks: list[asyncio.Task] = []

    def _owner(self, resource: str, body: dict) -> str | None:
        return controller_uid(body, self.k.kind, self.k.group)

    def _index_id(self, resource: str) -> str:
        return f"{self.k.name}_{resource}_by_owner"

    @property
    def _orphans_id(self) -> str:
        return f"{self.k.name}_orphan_pods_by_namespace"

    # ---- kopf wiring ---------------------------------------------------------------------------
    def register(self, registry: kopf.OperatorRegistry) -> None:
        k = self.k
        workloads_id = f"{k.name}_by_uid"

        @kopf.index(k.group, k.version, k.plural, id=workloads_id, registry=registry)
        def index_workload(body: kopf.Body, uid: str, **_: Any) -> dict:
            return {uid: dict(body)}

        @kopf.on.event(k.group, k.version, k.plural, id=f"{k.name}_event", registry=registry)
        def on_workload(type: str, uid: str, namespace: str, **_: Any) -> None:
            if type == "DELETED":
                self.expectations.forget(uid)
                self.failures.pop(uid, None)
                self.last_failure.pop(uid, None)
                self._namespaces.get(namespace, set()).discard(uid)
            else:
                self._namespaces.setdefault(namespace, set()).add(uid)
            self.queue.add(uid)

        if "pods" in k.owned:
            # Orphans, for adoption; any change to one wakes the namespace's workloads (a released pod, too: it
            # is an orphan from then on). Orphans are rare: controllers put a controller reference on what they create.
            @kopf.index("v1", "pods", id=self._orphans_id, registry=registry)
            def index_orphan(body: kopf.Body, namespace: str, **_: Any) -> dict:
                return {namespace: dict(body)} if is_orphan(body) else {}

            @kopf.on.event("v1", "pods", id=f"{k.name}_orphan_pods_event", registry=registry)
            def on_orphan(body: kopf.Body, namespace: str, **_: Any) -> None:
                if is_orphan(body):
                    for uid in list(self._namespaces.get(namespace, ())):
                        self.queue.add(uid)

        for resource in k.owned:
            group, version, plural = OWNED_RESOURCES[resource]
            selector = (group, version, plural) if group else (version, plural)

            if resource in k.by_namespace:
                def index_owned(body: kopf.Body, namespace: str, **_: Any) -> dict:
                    return {namespace: dict(body)}

                def on_owned(namespace: str, **_: Any) -> None:
                    for uid in list(self._namespaces.get(namespace, ())):
                        self.queue.add(uid)
            else:
                def index_owned(body: kopf.Body, _resource: str = resource, **_: Any) -> dict:
                    owner = self._owner(_resource, body)
                    return {owner: dict(body)} if owner else {}

                def on_owned(body: kopf.Body, _resource: str = resource, **_: Any) -> None:
                    owner = self._owner(_resource, body)
                    if owner:
                        self.queue.add(owner)

            kopf.index(*selector, id=self._index_id(resource), registry=registry)(index_owned)
            kopf.on.event(*selector, id=f"{k.name}_{resource}_event", registry=registry)(on_owned)

        @kopf.on.startup(id=f"{k.name}_startup", registry=registry)
        async def start(**kwargs: Any) -> None:
            # kopf hands every index to startup handlers; they are live and fill in as kopf lists.
            self.indices = {"workloads": kwargs[workloads_id],
                            **{r: kwargs[self._index_id(r)] for r in k.owned}}
            if "pods" in k.owned:
                self.indices["orphans"] = kwargs[self._orphans_id]
            self.events.start()
            self._tasks = [asyncio.create_task(self.queue.run_workers(self.workers, self.sync))]

        @kopf.on.cleanup(id=f"{k.name}_cleanup", registry=registry)
        async def stop(**_: Any) -> None:
            for t in self._tasks:
                t.cancel()
            await self.events.stop()

    # ---- reconcile -------------------------------------------------------------------------------
    def _orphans(self, workload: dict) -> list[dict]:
        if "orphans" not in self.indices:
            return []
        values = self.indices["orphans"].get(workload.get("metadata", {}).get("namespace", ""))
        return list(values) if values is not None else []

    def _claim(self, workload: dict, owned: dict[str, list[dict]]) -> Claim:
        """ClaimPods: adopt matching orphans, release our pods that no longer match."""
        if "pods" not in self.k.owned:
            return Claim([], [])
        return claim_pods(workload, self.k.api_version, self.k.kind, owned["pods"], self._orphans(workload),
                          self.k.member)

    def _observed(self, uid: str) -> tuple[dict | None, dict[str, list[dict]]]:
        store = self.indices["workloads"].get(uid)
        workload = next(iter(store), None) if store is not None else None
        owned = {}
        for resource in self.k.owned:
            key = (workload or {}).get("metadata", {}).get("namespace", "") if resource in self.k.by_namespace else uid
            values = self.indices[resource].get(key)
            owned[resource] = list(values) if values is not None else []
            if resource in self.k.by_namespace and workload is not None:
                owned[resource] = self.k.select(workload, resource, owned[resource])
        return workload, owned

    async def sync(self, uid: str) -> None:
        REGISTRY.set("workqueue_depth", len(self.queue), name=self.k.name)
        workload, owned = self._observed(uid)
        if workload is None:
            self.expectations.forget(uid)
            return
        waiting = self.expectations.unsatisfied(uid, owned)
        if waiting:
            # The index has not caught up with our own writes; its next event wakes us, this is a fallback.
            self.queue.add_after(uid, 5.0)
            return
        meta = workload["metadata"]
        ref = WorkloadRef(workload.get("apiVersion", self.k.api_version), self.k.plural, self.k.kind,
                          meta.get("namespace", ""), meta["name"], uid)
        started = time.monotonic()
        try:
            claim = self._claim(workload, owned)
            if claim.actions:
                # On their own first, as upstream claims before it syncs: a failed adoption stops the round.
                await self.executor.execute(ref, Plan(claim.actions))
            if "pods" in owned:
                owned = {**owned, "pods": claim.pods}
            now = datetime.now(timezone.utc)
            plan = self.k.reconcile(workload, owned, now, self.last_failure.get(uid))
            # The podreadiness controller's job, for every kruise workload's pods: KruisePodReady=True on
            # pods whose gate (added by the pod webhook) has no condition yet.
            readiness = [a for p in owned.get("pods", ()) if (a := ready_if_missing(p, now))]
            if readiness:
                plan = Plan(fold_status_patches(readiness, plan.actions), plan.requeue_after)
            await self.executor.execute(ref, plan)
        except PlanFailed as e:
            if _namespace_terminating(e):
                return  # the namespace controller deletes the workload next; its event ends this
            if e.failure is not None:
                self.last_failure[uid] = e.failure
            self._failed(uid, e)
            return
        except Exception as e:  # a bug in a reconcile must not kill the worker
            log.exception("reconciling %s %s/%s", self.k.kind, ref.namespace, ref.name)
            self._failed(uid, e)
            return
        finally:
            REGISTRY.observe("controller_runtime_reconcile_time_seconds", time.monotonic() - started,
                             controller=self.k.name)
        self.failures.pop(uid, None)
        self.last_failure.pop(uid, None)
        result = "requeue_after" if plan.requeue_after else "success"
        REGISTRY.inc("controller_runtime_reconcile_total", controller=self.k.name, result=result)
        if plan.requeue_after:
            self.queue.add_after(uid, plan.requeue_after)

    def _failed(self, uid: str, error: Exception) -> None:
        count = self.failures.get(uid, 0)
        self.failures[uid] = count + 1
        delay = ERROR_BACKOFF[min(count, len(ERROR_BACKOFF) - 1)]
        log.warning("%s: %s (retrying in %ss)", self.k.name, error, delay)
        REGISTRY.inc("controller_runtime_reconcile_total", controller=self.k.name, result="error")
        REGISTRY.inc("controller_runtime_reconcile_errors_total", controller=self.k.name)
        self.queue.add_after(uid, delay)
