"""One workload kind wired into kopf, level-based, from what it declares: its resource, its pure reconcile and
its watches. A controller is a `handlers.py` declaring a `WorkloadKind`; it never edits the runtime.

kopf watches the workloads themselves (a kopf index and event handler per kind). Everything else a kind watches
comes from one `SharedWatch` per resource (a list+watch of our own, shared by the kinds: kopf's pipeline cost 6x
its CPU per pod event), whose indexes the kinds read and whose events only *enqueue* uids of workloads:
- `owned(resource)`: objects whose controller reference is a workload of the kind, indexed by its uid (pods,
  ControllerRevisions, or other kinds: a UnitedDeployment's CloneSets and Deployments). With `claim=True`
  (pods) each reconcile first claims (`common.ownership.claim_pods`, Kubernetes' ControllerRefManager): it
  adopts the orphans of its namespace its selector matches and releases its pods that no longer match;
- `named(resource, select)`: objects found by name in the workload's namespace, ownerReference or not (an
  Advanced StatefulSet's PVCs, as the native controller's); a change wakes every workload of the namespace;
- `selected(resource, select=None, keep=None)`: objects the workload's label selector matches, in any namespace
  (a cluster-scoped workload) or its own, never claimed (a SidecarSet's pods); a change wakes the workloads that
  match it now or matched it before; `keep(object)` limits what the index holds at all (injected pods);
- `cluster(resource, relevant=None)`: cluster-scoped objects (nodes); a change wakes every workload of the kind,
  unless `relevant(old, new)` (the object as last seen, None when new; None when deleted) says it does not
  matter (a node's heartbeat: Advanced DaemonSet's shouldIgnoreNodeUpdate).
Any watch may name a feature `gate`: it exists only with that gate on (the chart grants its RBAC only then,
policies/controllers.yaml `gated`); with it off the reconcile finds no entry for the resource.
The reconcile gets what each watch found, by resource key, plus a `Context` (gates, settings, clock, names, the
previous plan's failure). Workers take uids from the queue and reconcile from the indexes, so a missed or merged
event changes nothing: the next one, or a requeue, sees the latest state. A kind's workers start once its watches
have listed. Every kopf handler is `async def`, so
kopf runs it on the event loop, not in its thread pool: the queue is only ever touched from the loop. kopf's
daemons are not used because they force a finalizer onto every workload (which would block deleting CloneSets
once the manager is gone).
"""
from __future__ import annotations

import asyncio
import logging
import sys
import time
import weakref
from dataclasses import dataclass, field
from functools import partial
from datetime import datetime, timezone
from typing import Any, Callable

import kopf

from controllers import schema
from controllers.common.actions import PODS, WORKLOAD, Context, Plan
from controllers.common.names import RandomNames
from controllers.common.ownership import claim_pods, controller_uid, is_orphan
from controllers.common.podreadiness import ready_if_missing
from controllers.common.selectors import is_valid_selector, selector_matches
from kube import KubeClient, resource_path
from kube.client import JSON
from kube.informer import ListWatch
from kube.workqueue import WorkQueue
from controllers.metrics import REGISTRY

from .events import EventRecorder
from .executor import Executor, PlanFailed, WorkloadRef, fold_status_patches
from .expectations import Expectations
from .pacing import StatusPacer
from .resources import resources

log = logging.getLogger(__name__)
ERROR_BACKOFF = (1, 2, 4, 8, 16, 30)
ROUND_BATCH_SECONDS = 0.1  # how long the events of a churning workload's objects wait to wake one round (`sync`)
NAMES = RandomNames()


@dataclass(frozen=True)
class Watch:
    sort: str  # owned, named, selected or cluster
    resource: str  # a key of the resource table
    select: Callable[[dict, list[dict]], list[dict]] | None = None
    """named and selected: (workload, candidates) → the workload's own."""
    claim: bool = False
    member: Callable[[dict, dict], bool] | None = None
    """owned pods with claim: (workload, pod) → may the workload claim it at all, besides its selector."""
    relevant: Callable[[dict | None, dict | None], bool] | None = None
    """cluster: (old, new) → does this change wake the workloads (None: every change does)."""
    keep: Callable[[dict], bool] | None = None
    """selected: (object) → may any workload of the kind select it at all; the index holds only those (a
    SidecarSet's pods are the injected ones: the index does not hold every pod of the cluster)."""
    gate: str | None = None
    """the feature gate without which the watch does not exist (None: always)."""


# owned(resource, claim=False, member=None), named(resource, select), selected(resource, select=None, keep=None),
# cluster(resource, relevant=None): see the module's docstring.
owned, named, selected, cluster = (partial(Watch, sort) for sort in ("owned", "named", "selected", "cluster"))


@dataclass
class WorkloadKind:
    name: str  # controller name, e.g. "cloneset"
    resource: str  # its key in the resource table, e.g. "clonesets.apps.kruise.io"
    reconcile: Callable[[dict, dict[str, list[dict]], Context], Plan]
    """(workload, observed objects by resource key, context) → the plan. `context.last_failure` lets the status
    report a failure (FailedScale, FailedCreatePod): only the executor meets the API server's refusal, and the
    plan stopped there, so the next round says so (upstream writes it in the same round)."""
    watches: list[Watch] = field(default_factory=list)


def _selects(workload: dict, obj: dict) -> bool:
    selector = (workload.get("spec") or {}).get("selector")
    namespace = workload["metadata"].get("namespace")
    return (is_valid_selector(selector) and (not namespace or obj["metadata"].get("namespace") == namespace)
            and selector_matches(selector, obj["metadata"].get("labels") or {}))


def _values(index: Any, key: Any) -> list[dict]:
    """The objects under `key`: a kopf index's store copied; a shared watch's (`_Keyed.get`) is a new list already."""
    store = index.get(key)
    if store is None:
        return []
    return store if isinstance(store, list) else list(store)


SHORT_STRING = 32  # longer strings (uids, container ids, timestamps with zones) are rarely shared by two objects


def _compact(value: Any) -> Any:
    """A copy of parsed JSON whose keys and short strings are interned: 1,000 pods hold the same few hundred keys
    and values (`metadata`, `status`, `True`, the image, the label values) once instead of 1,000 times."""
    if isinstance(value, dict):
        return {sys.intern(k): _compact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    if isinstance(value, str) and len(value) <= SHORT_STRING:
        return sys.intern(value)
    return value


def same_but_version(old: dict, new: dict) -> bool:
    """Two versions of a cached object that differ at most in `metadata.resourceVersion`."""
    if old.keys() != new.keys():
        return False
    for key, value in new.items():
        if key != "metadata":
            if old[key] != value:
                return False
            continue
        before = old[key]
        if not isinstance(before, dict) or not isinstance(value, dict) or before.keys() != value.keys():
            return False
        if any(before[k] != v for k, v in value.items() if k != "resourceVersion"):
            return False
    return True


def cached(body: Any) -> dict:
    """An object as the indexes keep it: without `metadata.managedFields`, which no reconcile reads and which is
    about half of a cached pod's memory (server-side apply bookkeeping: 46 tracked Python objects per pod), and
    with its keys and short strings interned, a copy of its own that kopf's parsed event does not share. A pod
    costs 7.3 KiB of heap instead of 15.3 (30 with managedFields) and about 30 us more per event
    (`python -m bench.event_cost`)."""
    obj = {sys.intern(k): v for k, v in body.items()}
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        obj["metadata"] = {k: v for k, v in metadata.items() if k != "managedFields"}
    return _compact(obj)


class SharedWatch(ListWatch):
    """One list+watch per watched resource, shared by every controller that watches it, feeding the controllers'
    indexes and waking their workloads. Not kopf's index and event handlers: kopf's pipeline cost 0.45 ms of CPU
    per pod event with one shared index and event handler, this 0.07 ms (`python -m bench.event_cost`), and kopf
    queues each object's events in a stream of its own, full bodies included, while the manager is busy (a
    1000-pod scale-up at QPS 500 left kruise-manager at 200 MB). kopf still watches the workloads themselves.

    Each controller's entries sit in `index` under (its index id, its key), one trimmed copy of the object for all
    of them (`cached`); `changed` updates the index first, then calls every controller's event handler, which only
    enqueues workload uids. A controller's workers start once `synced` is set (the first listing is indexed), so
    no reconcile ever judges from an index that has not been listed yet."""

    def __init__(self, client: KubeClient | None, resource: str):
        res = resources()[resource]
        super().__init__(client, resource_path(res.api_version, res.plural), missing_is_empty=True)  # type: ignore
        self.resource = resource
        self.index_id = f"watch_{resource.replace('.', '_')}"
        self.keys: list[tuple[str, Callable[[dict, str | None], Any]]] = []
        self.handlers: list[Callable[..., Any]] = []
        self.index: dict[tuple[str, Any], dict[str, dict]] = {}  # (index id, key) → uid → object
        self._entries: dict[str, list[tuple[str, Any]]] = {}  # uid → the index keys that hold it
        self._last: dict[str, dict] = {}  # uid → the object as indexed last (the index's own copy, not another)

    def add(self, index_id: str, key_of: Callable[[dict, str | None], Any], on_event: Callable[..., Any]) -> None:
        self.keys.append((index_id, key_of))
        self.handlers.append(on_event)

    def _reindex(self, uid: str, body: dict | None) -> bool:
        """Puts the object (None: gone) under every controller's key for it; True if it was indexed before and
        nothing but its resourceVersion changed."""
        for entry in self._entries.pop(uid, ()):
            store = self.index.get(entry)
            if store is not None:
                store.pop(uid, None)
                if not store:
                    del self.index[entry]
        old = self._last.pop(uid, None)
        if body is None:
            return False
        namespace = body["metadata"].get("namespace")
        obj, entries = None, []
        for index_id, key_of in self.keys:
            try:
                key = key_of(body, namespace)
            except Exception:  # one controller's bug must not drop the object from the others' indexes
                log.exception("indexing %s for %s", self.resource, index_id)
                continue
            if key is not None:
                obj = cached(body) if obj is None else obj
                entries.append((index_id, key))
                self.index.setdefault((index_id, key), {})[uid] = obj
        if obj is None:
            return False
        self._entries[uid], self._last[uid] = entries, obj
        return old is not None and same_but_version(old, obj)

    async def _fan_out(self, body: dict, uid: str, type: str, unchanged: bool) -> None:
        namespace = body["metadata"].get("namespace")
        for handler in self.handlers:
            try:
                await handler(body, uid, type, namespace, unchanged)
            except Exception:
                log.exception("handling a %s event", self.resource)

    async def changed(self, type: str, obj: JSON) -> None:
        uid = obj["metadata"]["uid"]
        unchanged = self._reindex(uid, None if type == "DELETED" else obj)
        await self._fan_out(obj, uid, type, unchanged and type != "DELETED")

    async def listed(self, items: list[JSON]) -> None:
        gone = dict(self._last)
        for obj in items:
            uid = obj["metadata"]["uid"]
            gone.pop(uid, None)
            await self._fan_out(obj, uid, "MODIFIED" if uid in self._last else "ADDED", self._reindex(uid, obj))
        for uid, obj in gone.items():  # deleted while the watch was down
            self._reindex(uid, None)
            await self._fan_out(obj, uid, "DELETED", False)


_SHARED: "weakref.WeakKeyDictionary[kopf.OperatorRegistry, dict[str, SharedWatch]]" = weakref.WeakKeyDictionary()


def shared_watch(registry: kopf.OperatorRegistry, resource: str, client: KubeClient | None) -> SharedWatch:
    """The registry's one watch of `resource`; the first asking creates it and has kopf start it with the
    operator and stop it at cleanup."""
    by_resource = _SHARED.setdefault(registry, {})
    if resource in by_resource:
        return by_resource[resource]
    watch = by_resource[resource] = SharedWatch(client, resource)
    tasks: list[asyncio.Task] = []

    @kopf.on.startup(id=f"{watch.index_id}_start", registry=registry)
    async def start(**_: Any) -> None:
        tasks.append(asyncio.create_task(watch.run()))

    @kopf.on.cleanup(id=f"{watch.index_id}_stop", registry=registry)
    async def stop(**_: Any) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    return watch


class _Keyed:
    """One controller's index inside a shared watch's index (keys: (its index id, key)), read as kopf's own:
    `get(key)` gives the objects under the key (None if there are none)."""

    def __init__(self, index: dict[tuple[str, Any], dict[str, dict]], index_id: str):
        self.index, self.index_id = index, index_id

    def get(self, key: Any) -> list[dict] | None:
        store = self.index.get((self.index_id, key))
        return list(store.values()) if store else None

    def keys(self) -> list:
        return [key for index_id, key in self.index.keys() if index_id == self.index_id]

    def values(self) -> list[list[dict]]:
        return [list(store.values()) for (index_id, _), store in self.index.items() if index_id == self.index_id]


class WorkloadController:
    def __init__(self, kind: WorkloadKind, client: KubeClient, settings: Any = None, workers: int = 8):
        self.k, self.client, self.settings, self.workers = kind, client, settings, workers
        self.res = resources()[kind.resource]
        # The gates are fixed for the manager's life (--feature-gates): resolved against the defaults once.
        self.gates = schema.feature_gates(getattr(settings, "feature_gates", None))
        self.watches = [w for w in kind.watches if w.gate is None or self.gates.get(w.gate)]
        self.queue: WorkQueue[str] = WorkQueue()
        self.expectations = Expectations()
        self.status_pacer = StatusPacer()  # a status write that only moves counters: a burst, then one a second
        self._batching: dict[str, float] = {}  # uid → until when its objects' events wait (see `sync`)
        self.events = EventRecorder(client, f"{kind.name}-controller")
        self.executor = Executor(client, self.expectations, self.events, kind.name)
        self.failures: dict[str, int] = {}
        self.last_failure: dict[str, Any] = {}  # uid → how its previous plan failed (an ActionFailure)
        self.memory: dict[str, Any] = {}  # uid → what its previous plan handed on (Plan.memory)
        self._seen: dict[str, dict[str, dict]] = {}  # cluster watches with `relevant`: resource → uid → last body
        self.indices: dict[str, Any] = {}
        self._namespaces: dict[str, set[str]] = {}  # namespace → workload uids
        self._matched: dict[str, set[str]] = {}  # selected object uid → workload uids that selected it last
        self._tasks: list[asyncio.Task] = []

    def _owner(self, body: dict) -> str | None:
        """The uid of the controller ownerReference, if it is a workload of this kind."""
        return controller_uid(body, self.res.kind, self.res.group)

    def _wake(self, uids: Any) -> None:
        now = time.monotonic()
        for uid in list(uids):
            rest = self._batching.get(uid, 0.0) - now
            if rest > 0:
                self.queue.add_after(uid, rest)
            else:
                self.queue.add(uid)

    def _workloads(self) -> list[dict]:
        return [body for store in self.indices["workloads"].values() for body in store]

    # ---- kopf wiring ---------------------------------------------------------------------------
    def register(self, registry: kopf.OperatorRegistry) -> "WorkloadController":
        k, res = self.k, self.res
        ids: dict[str, Any] = {"workloads": f"{k.name}_by_uid"}  # name → kopf index id, or (shared id, key)

        @kopf.index(*res.selector, id=ids["workloads"], registry=registry)
        async def index_workload(body: kopf.Body, uid: str, **_: Any) -> dict:
            return {uid: cached(body)}

        @kopf.on.event(*res.selector, id=f"{k.name}_event", registry=registry)
        async def on_workload(type: str, uid: str, namespace: str | None, **_: Any) -> None:
            if type == "DELETED":
                self.expectations.forget(uid)
                self.failures.pop(uid, None)
                self.last_failure.pop(uid, None)
                self.memory.pop(uid, None)
                self.status_pacer.forget(uid)
                self._batching.pop(uid, None)
                self._namespaces.get(namespace or "", set()).discard(uid)
            else:
                self._namespaces.setdefault(namespace or "", set()).add(uid)
            self.queue.add(uid)

        for watch in self.watches:
            self._register_watch(registry, watch, ids)

        @kopf.on.startup(id=f"{k.name}_startup", registry=registry)
        async def start(**kwargs: Any) -> None:
            # kopf hands its indexes to startup handlers; they are live and fill in as kopf lists.
            self.bind(ids, kwargs)
            self.events.start()
            self._tasks = [asyncio.create_task(self._work())]

        @kopf.on.cleanup(id=f"{k.name}_cleanup", registry=registry)
        async def stop(**_: Any) -> None:
            for t in self._tasks:
                t.cancel()
            await self.events.stop()

        self._index_ids = ids
        return self

    def bind(self, ids: dict[str, Any], indices: Any) -> None:
        """Each index by name: the workloads' from kopf's indices (by kopf id), the others this controller's part
        of a shared watch's index."""
        self.indices = {name: indices[index_id] if isinstance(index_id, str) else _Keyed(index_id[0].index,
                                                                                          index_id[1])
                        for name, index_id in ids.items()}

    async def _work(self) -> None:
        """The workers, once every watch of this controller has listed (kopf lists the workloads before it calls
        any handler); until then the queue only collects uids."""
        shared = {id(i[0]): i[0] for i in self._index_ids.values() if not isinstance(i, str)}
        await asyncio.gather(*(w.synced.wait() for w in shared.values()))
        await self.queue.run_workers(self.workers, self.sync)

    def _register_watch(self, registry: kopf.OperatorRegistry, watch: Watch, ids: dict[str, Any]) -> None:
        shared = shared_watch(registry, watch.resource, self.client)
        index_id = f"{self.k.name}_{watch.sort}"
        ids[watch.resource] = (shared, index_id)
        assert watch.sort in ("owned", "named", "selected", "cluster"), watch

        def key_of(body: dict, namespace: str | None) -> Any:
            # By owner uid; by namespace for the name or selector to pick from; all under one key for cluster.
            if watch.keep is not None and not watch.keep(body):
                return None
            return self._owner(body) if watch.sort == "owned" else namespace if watch.sort != "cluster" else ""

        async def on_event(body: dict, uid: str, type: str, namespace: str | None, unchanged: bool) -> None:
            if unchanged and not self.expectations.pending(self._owner(body) if watch.sort == "owned" else None):
                # Only the resourceVersion moved (a rewrite of managedFields alone, a relist): nothing any
                # reconcile reads changed. Unless a write of ours waits for its event: that event wakes.
                return
            if watch.sort == "owned":
                self._wake(filter(None, [self._owner(body)]))
            elif watch.sort == "named":
                self._wake(self._namespaces.get(namespace or "", ()))
            elif watch.sort == "cluster":
                if watch.relevant is not None:
                    seen = self._seen.setdefault(watch.resource, {})
                    old = seen.pop(uid, None)
                    new = cached(body) if type != "DELETED" else None
                    if new is not None:
                        seen[uid] = new
                    if not watch.relevant(old, new):
                        return
                self._wake(self.indices["workloads"].keys())
            else:  # selected: who selects it now, and who did before (a label change deselects)
                kept = type != "DELETED" and (watch.keep is None or watch.keep(body))
                now = {w["metadata"]["uid"] for w in self._workloads() if kept and _selects(w, body)}
                before = self._matched.pop(uid, set())
                if now:
                    self._matched[uid] = now
                self._wake(now | before)

        shared.add(index_id, key_of, on_event)
        if watch.claim:
            # Orphans, for adoption; any change to one wakes the namespace's workloads (a released pod, too: it
            # is an orphan from then on). Orphans are rare: controllers put a controller reference on what they create.
            orphans_id = f"{self.k.name}_orphans"
            ids["orphans"] = (shared, orphans_id)

            def orphan_key(body: dict, namespace: str | None) -> Any:
                return namespace if is_orphan(body) else None

            async def on_orphan(body: dict, uid: str, type: str, namespace: str | None, unchanged: bool) -> None:
                if is_orphan(body) and not (unchanged and not self.expectations.pending()):
                    self._wake(self._namespaces.get(namespace or "", ()))

            shared.add(orphans_id, orphan_key, on_orphan)

    # ---- reconcile -------------------------------------------------------------------------------
    def _observed(self, uid: str) -> tuple[dict | None, dict[str, list[dict]]]:
        store = self.indices["workloads"].get(uid)
        workload = next(iter(store), None) if store is not None else None
        if workload is None:
            return None, {}
        namespace = workload["metadata"].get("namespace", "")
        observed = {}
        for w in self.watches:
            index = self.indices[w.resource]
            if w.sort == "owned":
                observed[w.resource] = _values(index, uid)
            elif w.sort == "cluster":
                observed[w.resource] = _values(index, "")
            elif w.sort == "named":
                observed[w.resource] = w.select(workload, _values(index, namespace))
            else:  # selected
                candidates = _values(index, namespace) if namespace else [o for s in index.values() for o in s]
                found = [o for o in candidates if _selects(workload, o)]
                observed[w.resource] = w.select(workload, found) if w.select else found
        return workload, observed

    async def _claim(self, ref: WorkloadRef, workload: dict, observed: dict[str, list[dict]]) -> dict:
        """ClaimPods, on their own first, as upstream claims before it syncs: a failed adoption stops the round."""
        for w in self.watches:
            if w.claim:
                orphans = _values(self.indices["orphans"], ref.namespace)
                claim = claim_pods(workload, self.res.api_version, self.res.kind, observed[w.resource], orphans,
                                   w.member)
                if claim.actions:
                    await self.executor.execute(ref, Plan(claim.actions))
                observed = {**observed, w.resource: claim.pods}
        return observed

    async def sync(self, uid: str) -> None:
        REGISTRY.set("workqueue_depth", len(self.queue), name=self.k.name)
        workload, observed = self._observed(uid)
        if workload is None:
            self.expectations.forget(uid)
            self.status_pacer.forget(uid)
            self._batching.pop(uid, None)
            return
        if self.expectations.unsatisfied(uid, {**observed, WORKLOAD: [workload]}):
            # The index has not caught up with our own writes; its next event wakes us, this is a fallback.
            self.queue.add_after(uid, 5.0)
            return
        meta = workload["metadata"]
        ref = WorkloadRef(workload.get("apiVersion", self.res.api_version), self.res.plural, self.res.kind,
                          meta.get("namespace", ""), meta["name"], uid, meta.get("resourceVersion") or "")
        started = time.monotonic()
        try:
            observed = await self._claim(ref, workload, observed)
            now = datetime.now(timezone.utc)
            context = Context(now, self.gates, self.settings, NAMES, self.last_failure.get(uid), self.memory.get(uid))
            plan = self.k.reconcile(workload, observed, context)
            if plan.memory is not None:
                self.memory[uid] = plan.memory
            else:
                self.memory.pop(uid, None)
            # The podreadiness controller's job, for every kruise workload's own pods: KruisePodReady=True on
            # pods whose gate (added by the pod webhook) has no condition yet.
            owned_pods = observed.get(PODS, ()) if any(w.sort == "owned" for w in self.watches
                                                       if w.resource == PODS) else ()
            readiness = [a for p in owned_pods if (a := ready_if_missing(p, now))]
            if readiness:
                plan = Plan(fold_status_patches(readiness, plan.actions), plan.requeue_after, plan.memory)
            plan, held = self.status_pacer.pace(uid, workload.get("status"), plan)
            if held:
                REGISTRY.inc("ack_kruise_status_writes_held_total", controller=self.k.name)
            deferred = await self.executor.execute(ref, plan)
        except PlanFailed as e:
            cause = e.__cause__
            if getattr(cause, "status", None) == 403 and "being terminated" in str(cause):
                return  # the namespace controller deletes the workload next; its event ends this
            if e.failure is not None:
                self.last_failure[uid] = e.failure
            self._failed(uid, e)
            return
        except Exception as e:  # a bug in a reconcile must not kill the worker
            log.exception("reconciling %s %s/%s", self.res.kind, ref.namespace, ref.name)
            self._failed(uid, e)
            return
        finally:
            REGISTRY.observe("controller_runtime_reconcile_time_seconds", time.monotonic() - started,
                             controller=self.k.name)
        self.failures.pop(uid, None)
        self.last_failure.pop(uid, None)
        result = "requeue_after" if plan.requeue_after else "success"
        REGISTRY.inc("controller_runtime_reconcile_total", controller=self.k.name, result=result)
        if held and not plan.actions:
            # A round that had nothing to do but a status write it held back: the workload's pods churn faster
            # than its status may be written. Their events wait ROUND_BATCH_SECONDS and wake one round together,
            # as kube-controller-manager batches a Job's pod events; its own changes still wake it at once.
            self._batching[uid] = time.monotonic() + ROUND_BATCH_SECONDS
        else:
            self._batching.pop(uid, None)
        if deferred:
            # Creates left for the next round: it comes as soon as the index shows this round's (expectations).
            self.queue.add(uid)
        elif plan.requeue_after:
            self.queue.add_after(uid, plan.requeue_after)

    def _failed(self, uid: str, error: Exception) -> None:
        count = self.failures.get(uid, 0)
        self.failures[uid] = count + 1
        delay = ERROR_BACKOFF[min(count, len(ERROR_BACKOFF) - 1)]
        log.warning("%s: %s (retrying in %ss)", self.k.name, error, delay)
        REGISTRY.inc("controller_runtime_reconcile_total", controller=self.k.name, result="error")
        REGISTRY.inc("controller_runtime_reconcile_errors_total", controller=self.k.name)
        self.queue.add_after(uid, delay)
