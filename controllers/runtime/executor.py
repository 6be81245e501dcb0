"""Carries out a reconcile's `Plan` against the API server, concurrently where it is safe.

Each verb is carried out once for every resource; how a resource is written is data of the resource table
(`resources.py`) and of the action (`common/actions.py`):
- creations of `slowStart` resources (pods) go in slow-start batches (1, 2, 4, ...), each batch concurrently: a
  broken template fails one pod, not five hundred (`pkg/controller/cloneset/sync/cloneset_scale.go createPods`);
  and a round sends at most `creates_per_round` of them (about two seconds of the client's budget), the rest
  being left to the next rounds, as kube-controller-manager's ReplicaSet controller caps a sync at
  `burstReplicas`: a new pod is not Ready before its readiness write (the `InPlaceUpdateReady` and
  `KruisePodReady` conditions), which only the next round sends, so creating 1000 pods in one round at 20 QPS
  would leave every pod unready for the 50 s of creates. Capped, each round first writes the readiness of the
  pods the previous one created (a round sends its pods' status chains before its creates), then creates the
  next ones: pods become Ready from the first seconds on, and the whole scale-up costs the same requests;
- other actions on `concurrent` resources (pods, PVCs) are grouped per object, and different objects' groups
  run concurrently: an in-place rollout of 200 pods is 200 concurrent patch chains, not 200 round trips;
- everything else (revisions, the workload and its status, other kinds) runs alone, in order;
- the first failure stops the plan; the next reconcile (level-based) takes it from there.
Every write is recorded in the expectations before it is sent, so the next reconcile waits for the index.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any

from controllers.common import actions as A
from controllers.common.mergepatch import merge_patch
from kube import ApiError, KubeClient, MERGE_PATCH, STRATEGIC_MERGE_PATCH, JSON_PATCH, gojson, resource_path

from .events import EventRecorder
from .expectations import Expectations
from .resources import Resource, resources

log = logging.getLogger(__name__)

PATCH_CONTENT_TYPES = {"merge": MERGE_PATCH, "strategic": STRATEGIC_MERGE_PATCH, "json": JSON_PATCH}
NOTHING = Resource("", "", "", "", False)  # what an Event, or the workload, is written as: alone, in order
BURST_REPLICAS = 500  # creates per round with an unlimited client: kube-controller-manager's ReplicaSet default
MIN_CREATES_PER_ROUND = 10  # a client below 5 QPS still creates 10 pods a round (round overhead, slow start)
ROUND_SECONDS = 2.0  # of the client's budget spent on creates per round


def creates_per_round(qps: float | None) -> int:
    """How many pods one round creates at most: what the client's rate limit lets through in `ROUND_SECONDS`,
    so that the round after it, which writes those pods' readiness, comes seconds later rather than after every
    create (see the module's docstring); `BURST_REPLICAS` with no limit. Between two rounds the budget idles
    (the index must show the round's pods, then the next round is computed: about 0.2 s on a quiet machine, over
    1 s at a load of 12 on 2 cores, as measured at 1000 pods), so fewer, larger rounds lose less of it; the
    median pod waits about a round more: two seconds balance the two at QPS 20."""
    if not qps:
        return BURST_REPLICAS
    return max(MIN_CREATES_PER_ROUND, min(BURST_REPLICAS, int(qps * ROUND_SECONDS)))


@dataclass(frozen=True)
class WorkloadRef:
    api_version: str  # e.g. apps.kruise.io/v1alpha1
    plural: str
    kind: str
    namespace: str
    name: str
    uid: str
    resource_version: str = ""  # the workload as the round saw it: its status write is conditional on it

    @property
    def path(self) -> str:
        return resource_path(self.api_version, self.plural, self.namespace, self.name)

    @property
    def resource(self) -> Resource:
        return Resource(A.WORKLOAD, self.api_version, self.plural, self.kind, bool(self.namespace))


def _merge_status_patch(first: dict, second: dict) -> dict:
    """Two strategic merge patches on a pod's status (and its metadata) as one, as if they had run in order:
    conditions merge by `type` (the later wins), other keys as JSON merge patches combined (a null stays, as
    the deletion it asks for)."""
    merged = merge_patch(first, {k: v for k, v in second.items() if k != "status"}, keep_nulls=True)
    status = {**(first.get("status") or {})}
    for key, value in (second.get("status") or {}).items():
        if key == "conditions" and isinstance(value, list) and isinstance(status.get(key), list):
            by_type = {c.get("type"): c for c in status[key]}
            by_type.update({c.get("type"): c for c in value})
            status[key] = list(by_type.values())
        else:
            status[key] = merge_patch(status.get(key), value, keep_nulls=True)
    merged["status"] = status
    return merged


def _object_key(action: Any) -> tuple:
    """Which object an action writes: (resource, namespace or None for the workload's, name)."""
    return action.resource, getattr(action, "namespace", None), action.name


def _is_status_patch(action: Any) -> bool:
    return isinstance(action, A.Patch) and action.subresource == "status" and action.patch_type == "strategic"


# What a write of pods/status keeps besides the status: the API server's podStatusStrategy.PrepareForUpdate
# resets only spec, metadata.deletionTimestamp and metadata.ownerReferences (pkg/registry/core/pod/strategy.go,
# unchanged from 1.13 to today), so labels, annotations and finalizers sent there are written.
_KEPT_BY_A_POD_STATUS_WRITE = frozenset({"uid", "labels", "annotations", "finalizers"})


def _is_pod_metadata_patch(action: Any) -> bool:
    """A plain strategic patch of a pod's labels, annotations or finalizers (uid as its precondition), with no
    resourceVersion precondition and no error it may ignore: it can ride in the pod's status write."""
    if not (isinstance(action, A.Patch) and action.resource == A.PODS and action.subresource is None
            and action.patch_type == "strategic" and not action.ignore and not action.recheck_owner):
        return False
    body = action.body
    if not isinstance(body, dict) or set(body) != {"metadata"} or not isinstance(body["metadata"], dict):
        return False
    return set(body["metadata"]) <= _KEPT_BY_A_POD_STATUS_WRITE


def _foldable(first: Any, second: Any) -> bool:
    """Adjacent writes of one pod that one request to pods/status carries: two status patches, or a status
    patch and a metadata patch next to it (in either order; finalizers, a list merged by the API server, from
    one side only)."""
    if _is_status_patch(first) and _is_status_patch(second):
        return _object_key(first) == _object_key(second)
    if not ((_is_status_patch(first) and _is_pod_metadata_patch(second))
            or (_is_pod_metadata_patch(first) and _is_status_patch(second))):
        return False
    return _object_key(first) == _object_key(second) and \
        not all("finalizers" in (a.body.get("metadata") or {}) for a in (first, second))


def coalesce_status_patches(chain: list) -> list:
    """Adjacent writes of one pod's status and metadata become one request to its /status subresource.

    A new CloneSet pod needs two conditions before it can be Ready: `KruisePodReady` (the podreadiness
    controller's job) and `InPlaceUpdateReady` (the CloneSet's refresh), then its lifecycle state `Normal`.
    Upstream writes them in three requests; one is enough, and under a client rate limit (20 QPS by default)
    that request per pod is most of the time between "all pods created" and "all pods Ready". Likewise an
    in-place update's "not ready" write carries the pod's new lifecycle state and grace annotation, and its
    "ready again" write the state `Normal`: 3 writes per in-place update, the floor (spec and status cannot
    share a write)."""
    out: list = []
    for action in chain:
        last = out[-1] if out else None
        if _foldable(last, action):
            status_patch = action if _is_status_patch(action) else last
            out[-1] = replace(status_patch, body=_merge_status_patch(last.body, action.body))
        else:
            out.append(action)
    return out


def fold_status_patches(early: list, actions: list) -> list:
    """`early` pod-status patches (the podreadiness controller's) ahead of a plan's `actions`, each folded into
    the plan's first status patch of the same pod when there is one (the plan's conditions win on a clash).

    Prepending alone is not enough to save the request: a plan may put a workload-level action (an Advanced
    StatefulSet writes its status before its pod actions) between the two patches of a pod, and only adjacent
    patches of one pod are coalesced."""
    pending = {_object_key(a): a for a in early}
    out: list = []
    for action in actions:
        if _is_status_patch(action) and _object_key(action) in pending:
            action = replace(action, body=_merge_status_patch(pending.pop(_object_key(action)).body, action.body))
        out.append(action)
    return [a for a in early if _object_key(a) in pending] + out


def with_uid(body: Any, uid: str, patch_type: str) -> Any:
    """A patch of the workload, as the round saw it: its uid as a precondition, so that a workload deleted and
    recreated under the same name since (a new uid) never receives the status or spec computed for the old one
    (409). A JSON patch (a list of operations) is left as it is."""
    if not uid or patch_type == "json" or not isinstance(body, dict):
        return body
    return {**body, "metadata": {**(body.get("metadata") or {}), "uid": uid}}


class PlanFailed(Exception):
    """An action failed; the plan stopped there. `failure` says which action and why, for the next reconcile."""

    def __init__(self, text: str, failure: A.ActionFailure | None = None):
        super().__init__(text)
        self.failure = failure


def _resource(action: Any) -> Resource:
    return resources().get(getattr(action, "resource", ""), NOTHING)


def _slow_start(action: Any) -> bool:
    return isinstance(action, A.Create) and _resource(action).slow_start


def units(plan_actions: list) -> list[list]:
    """Split into units: an action plus the Events right after it; creates of other `concurrent` resources (a
    pod's PVCs) join the slow-start create after them."""
    out: list[list] = []
    pending: list = []
    for action in plan_actions:
        if isinstance(action, A.Event):
            if not out:
                out.append([])
            out[-1].append(action)
        elif isinstance(action, A.Create) and _resource(action).concurrent and not _slow_start(action):
            pending.append(action)
        elif _slow_start(action):
            out.append([*pending, action])
            pending = []
        else:
            if pending:  # creates for no slow-start create (should not happen): run them on their own
                out.append(pending)
                pending = []
            out.append([action])
    if pending:
        out.append(pending)
    return out


def namespace_of(ref: WorkloadRef, res: Resource, action: Any) -> str:
    """Where the action's object lives: its own namespace when it names one, else the workload's ("" for a
    cluster-scoped resource). Expectations key objects by it, with the name."""
    if not res.namespaced:
        return ""
    return getattr(action, "namespace", None) or ref.namespace


def _segment_steps(segment: list[list], budget: list[int] | None = None) -> list[list[list]]:
    """A run of `concurrent` units: every object's chain at once (its status and metadata writes coalesced),
    then the slow-start creates in batches of 1, 2, 4, ..., at most `budget[0]` of them (decremented; None:
    no cap)."""
    creates = [u for u in segment if any(_slow_start(a) for a in u)]
    create_ids = {id(u) for u in creates}
    if budget is not None:
        creates, budget[0] = creates[:budget[0]], max(0, budget[0] - len(creates))
    chains: dict[tuple, list] = {}
    for unit in segment:
        if id(unit) not in create_ids:
            chains.setdefault(_object_key(unit[0]), []).extend(unit)
    out = [[coalesce_status_patches(chain) for chain in chains.values()]] if chains else []
    batch = 1
    while creates:
        out.append(creates[:batch])
        creates, batch = creates[batch:], batch * 2
    return out


def steps(plan_actions: list, max_creates: int | None = None) -> list[list[list]]:
    """How a plan is sent: a list of steps, run in order; a step is the chains that run concurrently, each
    chain's actions in order (one request each, an Event none). With `max_creates`, the slow-start creates
    beyond the first `max_creates` (with their events and PVCs) are left out: the next round plans them again.
    Pure, so that the requests a plan costs can be counted without a cluster
    (tests/unit/test_requests_per_pod.py)."""
    budget = None if max_creates is None else [max_creates]
    out: list[list[list]] = []
    segment: list[list] = []
    for unit in units(plan_actions):
        head = next((a for a in reversed(unit) if not isinstance(a, A.Event)), None)
        if _resource(head).concurrent:
            segment.append(unit)
            continue
        out += _segment_steps(segment, budget)
        segment = []
        out.append([unit])
    return out + _segment_steps(segment, budget)


def deferred_creates(plan_actions: list, max_creates: int | None) -> int:
    """How many of a plan's slow-start creates `steps(plan_actions, max_creates)` leaves to a later round."""
    return 0 if max_creates is None else max(0, sum(map(_slow_start, plan_actions)) - max_creates)


class Executor:
    def __init__(self, client: KubeClient, expectations: Expectations, events: EventRecorder, controller: str):
        self.client, self.expectations, self.events, self.controller = client, expectations, events, controller
        limiter = getattr(client, "limiter", None)
        self.max_creates = creates_per_round(getattr(limiter, "qps", None))
        # uid → the workload's resourceVersion as of the plan under way: the round's, then each of its own writes'
        self._workload_versions: dict[str, str] = {}

    async def execute(self, ref: WorkloadRef, plan: A.Plan) -> int:
        """Sends the plan; returns how many of its creates were left to the next round (`creates_per_round`)."""
        self._workload_versions[ref.uid] = ref.resource_version
        try:
            await self._execute(ref, plan)
        finally:
            self._workload_versions.pop(ref.uid, None)
        return deferred_creates(plan.actions, self.max_creates)

    async def _execute(self, ref: WorkloadRef, plan: A.Plan) -> None:
        if any(getattr(a, "recheck_owner", False) for a in plan.actions):
            await self._recheck_owner(ref)
        for step in steps(plan.actions, self.max_creates):
            results = await asyncio.gather(*(self._run_unit(ref, chain, plan) for chain in step),
                                           return_exceptions=True)
            self._raise_first(results)

    @staticmethod
    def _raise_first(results: list) -> None:
        for r in results:
            if isinstance(r, BaseException):
                raise r

    async def _run_unit(self, ref: WorkloadRef, unit: list, plan: A.Plan | None = None) -> None:
        for action in unit:
            await self._run(ref, action, plan)

    async def _recheck_owner(self, ref: WorkloadRef) -> None:
        """RecheckDeletionTimestamp: the index may be behind, so before adopting, read the workload afresh. One
        that is being deleted, or was deleted and recreated under the same name, adopts nothing."""
        try:
            fresh = await self.client.get(ref.path)
        except ApiError as e:
            raise PlanFailed(f"can't adopt: {ref.kind} {ref.namespace}/{ref.name}: {e}") from e
        meta = fresh.get("metadata") or {}
        if meta.get("uid") != ref.uid:
            raise PlanFailed(f"can't adopt: original {ref.kind} {ref.namespace}/{ref.name} is gone: got uid "
                             f"{meta.get('uid')}, wanted {ref.uid}")
        if meta.get("deletionTimestamp"):
            raise PlanFailed(f"can't adopt: {ref.kind} {ref.namespace}/{ref.name} has just been deleted at "
                             f"{meta['deletionTimestamp']}")

    async def _patch_go_json(self, path: str, patch: dict) -> dict:
        try:
            return await self.client.patch(path, patch)
        except ApiError as e:
            if e.status != 422:
                raise
            # An object written by an older ack-kruise, whose `data` is not in Go's encoding: a patch re-encodes
            # it (422 "field is immutable"); a GET and PUT echoes the bytes as they are.
            current = await self.client.get(path)
            return await self.client.replace(path, merge_patch(current, patch))

    async def _on_name_taken(self, ref: WorkloadRef, res: Resource, revision: dict, plan: A.Plan | None,
                             namespace: str) -> dict | None:
        """A revision of that name exists (CreateControllerRevision meets AlreadyExists). Returns the revision
        when this call adopted it.
        - ours: the index is behind; fine;
        - the same data: it is the revision we wanted (one left behind, e.g. by a workload of the same name
          deleted with --cascade=orphan); upstream uses it, and the StatefulSet controller adopts orphan
          revisions first: an orphan is adopted here, after the same fresh read of the owner as for pods;
        - other data: a hash collision: bump status.collisionCount, so that the next round hashes to another
          name, as upstream."""
        name = revision["metadata"]["name"]
        path = res.path(namespace, name)
        existing = await self.client.get_or_none(path)
        owners = ((existing or {}).get("metadata") or {}).get("ownerReferences") or []
        if existing is None or any(o.get("uid") == ref.uid and o.get("controller") for o in owners):
            return None
        if existing.get("data") == revision.get("data"):
            if any(o.get("controller") for o in owners):
                return None  # another owner's, on its way out (the garbage collector deletes it)
            await self._recheck_owner(ref)
            ours = [o for o in revision["metadata"].get("ownerReferences") or [] if o.get("controller")]
            meta = {"ownerReferences": owners + ours, "resourceVersion": existing["metadata"]["resourceVersion"]}
            return await self._patch_go_json(path, {"metadata": meta})
        workload = await self.client.get(ref.path)
        status = workload.get("status") or {}
        count = int(status.get("collisionCount") or 0) + 1
        if not status:
            # A new workload has no status yet, and the CRD requires its counters: write the plan's status.
            planned = plan.of_type(A.Patch, A.WORKLOAD, "status") if plan else []
            status = planned[0].body["status"] if planned else {}
        # A read-modify-write of the count: conditional on the version read.
        body = {"status": {**status, "collisionCount": count}, "metadata": {"uid": ref.uid}}
        if (workload.get("metadata") or {}).get("resourceVersion"):
            body["metadata"]["resourceVersion"] = workload["metadata"]["resourceVersion"]
        out = await self.client.patch(f"{ref.path}/status", body)
        self.expectations.expect_updated(ref.uid, A.WORKLOAD, ref.name, out["metadata"]["resourceVersion"],
                                         ref.namespace)
        raise PlanFailed(f"{res.kind} {name} belongs to another owner; collisionCount is now {count}")

    async def _create(self, ref: WorkloadRef, res: Resource, action: A.Create, plan: A.Plan | None) -> None:
        exp, owner, ns, name = self.expectations, ref.uid, namespace_of(ref, res, action), action.name
        exp.expect_created(owner, res.key, name, ns)
        try:
            # In Go's encoding, so that `data` survives patches (the garbage collector's too): gojson.
            await self.client.create(res.path(ns), gojson.dumps(action.body) if res.go_json else action.body)
        except ApiError as e:
            exp.cancel_created(owner, res.key, name, ns)
            if not (e.conflict and action.if_exists == "adopt"):
                raise
            adopted = await self._on_name_taken(ref, res, action.body, plan, ns)
            if adopted:
                exp.expect_updated(owner, res.key, name, adopted["metadata"]["resourceVersion"], ns)

    async def _patch(self, ref: WorkloadRef, res: Resource, action: A.Patch, plan: A.Plan | None) -> None:
        if action.resource == A.WORKLOAD:
            body = with_uid(action.body, ref.uid, action.patch_type)
            version = self._workload_versions.get(ref.uid)
            if action.subresource == "status" and version and isinstance(body, dict):
                # The status was computed from the workload as seen (a custom resource's status write ignores the
                # uid, only the resourceVersion holds): a write of anyone else's since fails (409) and the next
                # round, level-based, computes it again, as upstream's UpdateStatus.
                body = {**body, "metadata": {**body["metadata"], "resourceVersion": version}}
            out = await self.client.patch(ref.path + (f"/{action.subresource}" if action.subresource else ""),
                                          body, PATCH_CONTENT_TYPES[action.patch_type])
            if ref.uid in self._workload_versions:
                self._workload_versions[ref.uid] = out["metadata"]["resourceVersion"]
            # The next round must see this write: a round woken by a pod before the workload's own event would
            # read the old status, and a kind that keeps state there (UnitedDeployment's Schedulable conditions
            # and their transition times) would write it back, undoing this one.
            self.expectations.expect_updated(ref.uid, A.WORKLOAD, ref.name, out["metadata"]["resourceVersion"],
                                             ref.namespace)
            return
        ns = namespace_of(ref, res, action)
        path = res.path(ns, action.name, action.subresource)
        if res.go_json:
            out = await self._patch_go_json(path, action.body)
        else:
            out = await self.client.patch(path, action.body, PATCH_CONTENT_TYPES[action.patch_type])
        self.expectations.expect_updated(ref.uid, res.key, action.name, out["metadata"]["resourceVersion"], ns)

    async def _delete(self, ref: WorkloadRef, res: Resource, action: A.Delete, plan: A.Plan | None) -> None:
        ns = namespace_of(ref, res, action)
        if action.uid:
            self.expectations.expect_deleted(ref.uid, res.key, action.name, action.uid, ns)
        try:
            await self.client.delete(res.path(ns, action.name),
                                     {"preconditions": {"uid": action.uid}} if action.uid else None)
        except ApiError:
            self.expectations.cancel_deleted(ref.uid, res.key, action.name, ns)
            raise

    async def _run(self, ref: WorkloadRef, action: Any, plan: A.Plan | None = None) -> None:
        if isinstance(action, A.Event):
            about = ref
            if action.regarding:
                r = action.regarding
                about = WorkloadRef(r["apiVersion"], "", r["kind"], r.get("namespace", ""), r["name"], r["uid"])
            self.events.emit(about, action.type, action.reason, action.message)
            return
        verb = type(action).__name__.lower()
        res = ref.resource if action.resource == A.WORKLOAD else resources()[action.resource]
        try:
            await getattr(self, f"_{verb}")(ref, res, action, plan)
        except ApiError as e:
            if e.status in action.ignore:
                return
            message = str(e.body.get("message") or e)
            if res.warnings.get(verb):
                self.events.emit(ref, "Warning", res.warnings[verb], message)
            failure = A.ActionFailure(action.what, message)
            raise PlanFailed(f"{action.what} for {ref.kind} {ref.namespace}/{ref.name}: {e}", failure) from e
