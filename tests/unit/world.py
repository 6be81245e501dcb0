"""A small fake cluster for workload reconcile tests: applies Plans like the runtime would, lets the sandbox's
kubelet model (sandbox/kubelet_model.py) report pod statuses, and garbage-collects by ownerReferences.

Only what the reconciles need: strategic/merge patches on plain dicts (with `$patch: delete` in keyed lists),
UID and resourceVersion preconditions, AlreadyExists, graceful deletion, a clock. The runtime's slow start and
expectations are out of scope. A workload's tests subclass `BaseWorld` with their reconcile
(tests/unit/cloneset/world.py, tests/unit/statefulset/world.py).
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from controllers.common import actions as A
from controllers.common.times import format_time
from sandbox.kubelet_model import observe

JSON = dict[str, Any]

MERGE_KEYS = {"containers": "name", "initContainers": "name", "conditions": "type", "containerStatuses": "name",
              "initContainerStatuses": "name", "readinessGates": "conditionType", "volumes": "name",
              "ownerReferences": "uid", "podIPs": "ip", "env": "name"}
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def _without_nulls(value: Any) -> Any:
    """What the API server keeps of a new value: typed fields drop explicit nulls."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def strategic_merge(base: Any, patch: Any, key: str | None = None) -> Any:
    if isinstance(patch, dict) and isinstance(base, dict):
        out = dict(base)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = strategic_merge(out[k], v, k)
            else:
                out[k] = _without_nulls(strategic_merge([], v, k) if isinstance(v, list) else v)
        return out
    if isinstance(patch, list) and isinstance(base, list):
        if key == "finalizers":
            return base + [f for f in patch if f not in base]
        mk = MERGE_KEYS.get(key or "")
        if mk:
            out = [copy.deepcopy(b) for b in base]
            for item in patch:
                if item.get("$patch") == "delete":
                    out = [b for b in out if b.get(mk) != item.get(mk)]
                    continue
                for i, b in enumerate(out):
                    if b.get(mk) == item.get(mk):
                        out[i] = strategic_merge(b, item)
                        break
                else:
                    out.append(_without_nulls(item))
            return out
    return _without_nulls(patch)


def merge_patch(base: Any, patch: Any, key: str | None = None) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(base) if isinstance(base, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class BaseWorld:
    workload: JSON
    now: datetime = T0
    pods: dict[str, JSON] = field(default_factory=dict)
    pvcs: dict[str, JSON] = field(default_factory=dict)
    revisions: dict[str, JSON] = field(default_factory=dict)
    events: list[A.Event] = field(default_factory=list)
    kubelet_on: bool = True
    grace_seconds: int = 0  # deletionGracePeriodSeconds given to deleted pods
    history: list[A.Plan] = field(default_factory=list)
    fail_when: Callable[[Any], bool] | None = None  # inject an API failure for matching actions
    workload_deleted: bool = False  # the workload object is gone (for the garbage collector)
    gc_on: bool = True  # False: the garbage collector lags behind
    last_failure: A.ActionFailure | None = None  # how the last applied plan failed, as the runtime remembers it
    gates: dict[str, bool] | None = None  # the manager's --feature-gates (None: defaults)
    memory: Any = None  # what the last round's plan handed on (Plan.memory), as the runtime keeps it
    _uids: Any = field(default_factory=lambda: itertools.count(1))
    _rvs: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.workload = copy.deepcopy(self.workload)
        m = self.workload.setdefault("metadata", {})
        m.setdefault("namespace", "default")
        m.setdefault("uid", "cs-uid")
        m.setdefault("generation", 1)
        m.setdefault("resourceVersion", str(next(self._rvs)))

    # -- to be provided by the workload's world
    def run_reconcile(self, workload: JSON, observed: dict[str, list[JSON]], context: A.Context) -> A.Plan:
        raise NotImplementedError

    # -- API
    def _meta_new(self, obj: JSON) -> None:
        m = obj.setdefault("metadata", {})
        m["uid"] = f"uid-{next(self._uids)}"
        m["creationTimestamp"] = format_time(self.now)
        m["resourceVersion"] = str(next(self._rvs))

    def apply(self, plan: A.Plan) -> None:
        """Like the runtime: stop at the first failure and remember it for the next round."""
        self.history.append(plan)
        self.last_failure = None
        for action in plan.actions:
            if self.fail_when and self.fail_when(action):
                self.last_failure = A.ActionFailure(action.what, "injected failure")
                break
            try:
                self._do(action)
            except ApiError as e:
                self.last_failure = A.ActionFailure(action.what, str(e))
                break
        self.collect_garbage()

    def store(self, resource: str) -> dict[str, JSON]:
        """The objects of a resource of the table, by name (the workload: one object, under any name)."""
        if resource == A.WORKLOAD:
            return _Workload(self)
        return {A.PODS: self.pods, A.PVCS: self.pvcs, A.REVISIONS: self.revisions}[resource]

    def _do(self, a: Any) -> None:
        """Each verb once, like the runtime's executor; what the action ignores (a 404, a 409) is not an error."""
        if isinstance(a, A.Event):
            self.events.append(a)
            return
        try:
            getattr(self, f"_{type(a).__name__.lower()}")(a, self.store(a.resource))
        except ApiError as e:
            if e.status not in a.ignore:
                raise

    def _create(self, a: A.Create, objects: dict[str, JSON]) -> None:
        if a.name in objects:
            raise ApiError(409, "AlreadyExists")
        obj = copy.deepcopy(a.body)
        self._meta_new(obj)
        objects[a.name] = obj

    def _patch(self, a: A.Patch, objects: dict[str, JSON]) -> None:
        obj = objects.get(a.name)
        if obj is None:
            raise ApiError(404, "NotFound")
        merge = strategic_merge if a.patch_type == "strategic" else merge_patch
        if a.subresource and a.resource == A.PODS:
            # pods/status: the API server keeps the labels, annotations and finalizers sent with the status
            # (podStatusStrategy resets only spec, deletionTimestamp and ownerReferences), and its preconditions
            self._check_preconditions(obj, a.body)
            kept = {k: v for k, v in (a.body.get("metadata") or {}).items()
                    if k in ("labels", "annotations", "finalizers")}
            if kept:
                obj = objects[a.name] = merge(obj, {"metadata": kept})
        if a.subresource:  # status: only the status changes
            obj[a.subresource] = merge(obj.get(a.subresource) or {}, a.body.get(a.subresource) or {}, a.subresource)
            if a.resource == A.WORKLOAD:
                return  # the fake cluster keeps the workload's resourceVersion across status writes
        else:
            self._check_preconditions(obj, a.body)
            obj = objects[a.name] = merge(obj, a.body)
        obj["metadata"]["resourceVersion"] = str(next(self._rvs))

    def _delete(self, a: A.Delete, objects: dict[str, JSON]) -> None:
        obj = objects.get(a.name)
        if obj is None:
            raise ApiError(404, "NotFound")
        if a.uid and obj["metadata"]["uid"] != a.uid:
            raise ApiError(409, "Conflict: uid precondition")
        if a.resource != A.PODS or (self.grace_seconds <= 0 and not obj["metadata"].get("finalizers")):
            del objects[a.name]
        else:  # a pod's graceful deletion: the kubelet removes it
            gone_at = format_time(self.now + timedelta(seconds=self.grace_seconds))
            obj["metadata"].setdefault("deletionTimestamp", gone_at)
            obj["metadata"]["deletionGracePeriodSeconds"] = self.grace_seconds

    @staticmethod
    def _check_preconditions(obj: JSON, patch: JSON) -> None:
        pm = patch.get("metadata") or {}
        if pm.get("uid") and pm["uid"] != obj["metadata"].get("uid"):
            raise ApiError(409, "uid mismatch")
        if pm.get("resourceVersion") and pm["resourceVersion"] != obj["metadata"].get("resourceVersion"):
            raise ApiError(409, "Conflict")

    def collect_garbage(self) -> None:
        """kube-controller-manager's garbage collector, for PVCs: a PVC whose owners are all gone goes."""
        if not self.gc_on:
            return
        live = {p["metadata"]["uid"] for p in self.pods.values()}
        if not self.workload_deleted:
            live.add(self.workload["metadata"]["uid"])
        for name, pvc in list(self.pvcs.items()):
            refs = pvc["metadata"].get("ownerReferences") or []
            if refs and not any(r.get("uid") in live for r in refs):
                del self.pvcs[name]

    # -- user actions
    def edit_spec(self, change: Callable[[JSON], None]) -> None:
        change(self.workload["spec"])
        self.workload["metadata"]["generation"] += 1
        self.workload["metadata"]["resourceVersion"] = str(next(self._rvs))

    def set_image(self, image: str, container: int = 0) -> None:
        self.edit_spec(lambda s: s["template"]["spec"]["containers"][container].__setitem__("image", image))

    def delete_pod(self, name: str) -> None:
        """A user (or an eviction) deletes a pod, with the world's grace period."""
        self._do(A.delete_pod(name, self.pods[name]["metadata"]["uid"], "user"))
        self.collect_garbage()

    # -- the cluster ticking
    def kubelet(self) -> None:
        if not self.kubelet_on:
            return
        for name in list(self.pods):
            pod = self.pods[name]
            pod.setdefault("spec", {}).setdefault("nodeName", "node-1")
            if pod["metadata"].get("deletionTimestamp") and pod["metadata"].get("finalizers"):
                continue
            view = observe(pod, "10.0.0.1", f"10.1.0.{abs(hash(name)) % 250}", self.now)
            if view.remove:
                del self.pods[name]
            elif view.status:
                pod["status"] = strategic_merge(pod.get("status") or {}, view.status["status"], "status")
        for pvc in self.pvcs.values():  # a provisioner binds every claim at the size it asks for
            if not (pvc.get("status") or {}).get("phase"):
                requests = ((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}
                pvc["status"] = {"phase": "Bound", "capacity": dict(requests)}
        self.collect_garbage()

    def observed(self) -> dict[str, list[JSON]]:
        return {A.PODS: copy.deepcopy(list(self.pods.values())), A.PVCS: copy.deepcopy(list(self.pvcs.values())),
                A.REVISIONS: copy.deepcopy(list(self.revisions.values()))}

    def context(self) -> A.Context:
        return A.Context(self.now, self.gates, None, None, self.last_failure, self.memory)

    def reconcile(self) -> A.Plan:
        """One round; its Plan.memory is handed to the next, as the runtime does."""
        plan = self.run_reconcile(copy.deepcopy(self.workload), self.observed(), self.context())
        self.memory = plan.memory
        return plan

    def step(self, seconds: float = 1.0) -> A.Plan:
        """One reconcile round, then the kubelet, then time passes."""
        plan = self.reconcile()
        self.apply(plan)
        self.kubelet()
        self.now += timedelta(seconds=seconds)
        self.kubelet()
        return plan

    def settle(self, max_rounds: int = 200, seconds: float = 1.0) -> int:
        """Run rounds until a round asks for nothing (status included); returns the number of rounds."""
        for i in range(max_rounds):
            plan = self.step(seconds)
            if not plan.actions and plan.requeue_after is None:
                return i + 1
        raise AssertionError(f"no convergence after {max_rounds} rounds; last plan: {plan}")

    # -- views
    @property
    def status(self) -> JSON:
        return self.workload.get("status") or {}

    def live_pods(self) -> list[JSON]:
        return [p for p in self.pods.values() if not p["metadata"].get("deletionTimestamp")]

    def images(self) -> dict[str, str]:
        return {n: p["spec"]["containers"][0]["image"] for n, p in sorted(self.pods.items())}

    def ready_pods(self) -> list[str]:
        return sorted(n for n, p in self.pods.items()
                      if any(c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions") or []))

    def event_reasons(self) -> list[str]:
        return [e.reason for e in self.events]


class _Workload(dict):
    """The workload as a store of one object: every name means it (update_status names none)."""

    def __init__(self, world: BaseWorld):
        super().__init__()
        self.world = world

    def get(self, name: str, default: Any = None) -> JSON:
        return self.world.workload

    def __getitem__(self, name: str) -> JSON:
        return self.world.workload

    def __setitem__(self, name: str, value: JSON) -> None:
        self.world.workload = value


def owned_objects(pods: list[JSON] = (), pvcs: list[JSON] = (), revisions: list[JSON] = ()) -> dict[str, list[JSON]]:
    """What the runtime hands a reconcile from a workload's watches, by resource key."""
    return {A.PODS: list(pods), A.PVCS: list(pvcs), A.REVISIONS: list(revisions)}
