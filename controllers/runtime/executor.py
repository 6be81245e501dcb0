"""Carries out a reconcile's `Plan` against the API server, concurrently where it is safe.

- Pod creations go in slow-start batches (1, 2, 4, ...), each batch concurrently: a broken template fails
  one pod, not five hundred (`pkg/controller/cloneset/sync/cloneset_scale.go createPods`).
- Other pod-level actions are grouped per pod, and different pods' groups run concurrently: an in-place
  rollout of 200 pods is 200 concurrent patch chains, not 200 round trips in a row.
- Workload-level actions (revisions, status, the workload itself) run alone, in order.
- The first failure stops the plan; the next reconcile (level-based) takes it from there.
Every write is recorded in the expectations before it is sent, so the next reconcile waits for the index.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from controllers.common import actions as A
from kube import ApiError, KubeClient, MERGE_PATCH, STRATEGIC_MERGE_PATCH, JSON_PATCH, gojson, resource_path

from .events import EventRecorder
from .expectations import Expectations

log = logging.getLogger(__name__)

PATCH_CONTENT_TYPES = {"merge": MERGE_PATCH, "strategic": STRATEGIC_MERGE_PATCH, "json": JSON_PATCH}
POD_LEVEL = (A.CreatePod, A.CreatePVC, A.DeletePod, A.DeletePVC, A.PatchPod, A.PatchPodStatus, A.PatchPVC,
             A.AdoptPod, A.ReleasePod)


@dataclass(frozen=True)
class WorkloadRef:
    api_version: str  # e.g. apps.kruise.io/v1alpha1
    plural: str
    kind: str
    namespace: str
    name: str
    uid: str

    @property
    def path(self) -> str:
        return resource_path(self.api_version, self.plural, self.namespace, self.name)


def _merge(base: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(base) if isinstance(base, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


def _merge_status_patch(first: dict, second: dict) -> dict:
    """Two strategic merge patches on a pod's status as one: conditions merge by `type` (the later wins, as
    if the patches had run in order), other keys as a JSON merge patch."""
    merged = _merge(first, {k: v for k, v in second.items() if k != "status"})
    status = {**(first.get("status") or {})}
    for key, value in (second.get("status") or {}).items():
        if key == "conditions" and isinstance(value, list) and isinstance(status.get(key), list):
            by_type = {c.get("type"): c for c in status[key]}
            by_type.update({c.get("type"): c for c in value})
            status[key] = list(by_type.values())
        else:
            status[key] = _merge(status.get(key), value)
    merged["status"] = status
    return merged


def coalesce_status_patches(chain: list) -> list:
    """Adjacent `PatchPodStatus` actions on one pod become one request.

    A new CloneSet pod needs two conditions before it can be Ready: `KruisePodReady` (the podreadiness
    controller's job) and `InPlaceUpdateReady` (the CloneSet's refresh). Upstream writes them in two requests;
    one is enough, and under a client rate limit (20 QPS by default) that request per pod is most of the
    time between "all pods created" and "all pods Ready"."""
    out: list = []
    for action in chain:
        last = out[-1] if out else None
        if isinstance(action, A.PatchPodStatus) and isinstance(last, A.PatchPodStatus) and last.name == action.name:
            out[-1] = A.PatchPodStatus(action.name, _merge_status_patch(last.patch, action.patch))
        else:
            out.append(action)
    return out


def fold_status_patches(early: list, actions: list) -> list:
    """`early` pod-status patches (the podreadiness controller's) ahead of a plan's `actions`, each folded into
    the plan's first status patch of the same pod when there is one (the plan's conditions win on a clash).

    Prepending alone is not enough to save the request: a plan may put a workload-level action (an Advanced
    StatefulSet writes its status before its pod actions) between the two patches of a pod, and only adjacent
    patches of one pod are coalesced."""
    pending = {a.name: a for a in early}
    out: list = []
    for action in actions:
        if isinstance(action, A.PatchPodStatus) and action.name in pending:
            action = A.PatchPodStatus(action.name, _merge_status_patch(pending.pop(action.name).patch, action.patch))
        out.append(action)
    return [a for a in early if a.name in pending] + out


class PlanFailed(Exception):
    """An action failed; the plan stopped there. `failure` says which action and why, for the next reconcile."""

    def __init__(self, text: str, failure: A.ActionFailure | None = None):
        super().__init__(text)
        self.failure = failure


def _unit_target(action: Any) -> str | None:
    if isinstance(action, A.CreatePod):
        return "pod/" + action.pod["metadata"]["name"]
    if isinstance(action, (A.DeletePod, A.PatchPod, A.PatchPodStatus, A.AdoptPod, A.ReleasePod)):
        return "pod/" + action.name
    if isinstance(action, A.CreatePVC):
        return "pvc/" + action.pvc["metadata"]["name"]
    if isinstance(action, (A.DeletePVC, A.PatchPVC)):
        return "pvc/" + action.name
    return None


def units(plan_actions: list) -> list[list]:
    """Split into units: an action plus the Events right after it; CreatePVCs join the CreatePod after them."""
    out: list[list] = []
    pending_pvcs: list = []
    for action in plan_actions:
        if isinstance(action, A.Event):
            if not out:
                out.append([])
            out[-1].append(action)
        elif isinstance(action, A.CreatePVC):
            pending_pvcs.append(action)
        elif isinstance(action, A.CreatePod):
            out.append([*pending_pvcs, action])
            pending_pvcs = []
        else:
            if pending_pvcs:  # PVCs for no pod (should not happen): run them on their own
                out.append(pending_pvcs)
                pending_pvcs = []
            out.append([action])
    if pending_pvcs:
        out.append(pending_pvcs)
    return out


class Executor:
    def __init__(self, client: KubeClient, expectations: Expectations, events: EventRecorder, controller: str):
        self.client, self.expectations, self.events, self.controller = client, expectations, events, controller

    async def execute(self, ref: WorkloadRef, plan: A.Plan) -> None:
        if any(isinstance(a, A.AdoptPod) for a in plan.actions):
            await self._recheck_owner(ref)
        segment: list[list] = []
        for unit in units(plan.actions):
            head = unit[0] if not isinstance(unit[0], A.CreatePVC) else unit[-1]
            if isinstance(head, POD_LEVEL):
                segment.append(unit)
                continue
            await self._run_segment(ref, segment)
            segment = []
            await self._run_unit(ref, unit, plan)
        await self._run_segment(ref, segment)

    async def _run_segment(self, ref: WorkloadRef, segment: list[list]) -> None:
        if not segment:
            return
        creates = [u for u in segment if any(isinstance(a, A.CreatePod) for a in u)]
        create_ids = {id(u) for u in creates}
        chains: dict[str, list] = {}
        for unit in segment:
            if id(unit) not in create_ids:
                chains.setdefault(_unit_target(unit[0]) or "", []).extend(unit)
        if chains:
            results = await asyncio.gather(*(self._run_unit(ref, coalesce_status_patches(chain))
                                             for chain in chains.values()),
                                           return_exceptions=True)
            self._raise_first(results)
        batch = 1
        while creates:
            current, creates = creates[:batch], creates[batch:]
            results = await asyncio.gather(*(self._run_unit(ref, u) for u in current), return_exceptions=True)
            self._raise_first(results)
            batch *= 2

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
            raise PlanFailed(f"can't adopt pods: {ref.kind} {ref.namespace}/{ref.name}: {e}") from e
        meta = fresh.get("metadata") or {}
        if meta.get("uid") != ref.uid:
            raise PlanFailed(f"can't adopt pods: original {ref.kind} {ref.namespace}/{ref.name} is gone: got uid "
                             f"{meta.get('uid')}, wanted {ref.uid}")
        if meta.get("deletionTimestamp"):
            raise PlanFailed(f"can't adopt pods: {ref.kind} {ref.namespace}/{ref.name} has just been deleted at "
                             f"{meta['deletionTimestamp']}")

    async def _patch_revision(self, path: str, patch: dict) -> dict:
        try:
            return await self.client.patch(path, patch)
        except ApiError as e:
            if e.status != 422:
                raise
            # A revision written by an older ack-kruise, whose `data` is not in Go's encoding: a patch re-encodes
            # it (422 "field is immutable"); a GET and PUT echoes the bytes as they are.
            revision = await self.client.get(path)
            return await self.client.replace(path, _merge(revision, patch))

    async def _on_revision_name_taken(self, ref: WorkloadRef, revision: dict, plan: A.Plan | None) -> dict | None:
        """A revision of that name exists (CreateControllerRevision meets AlreadyExists). Returns the revision
        when this call adopted it.
        - ours: the index is behind; fine;
        - the same data: it is the revision we wanted (one left behind, e.g. by a workload of the same name
          deleted with --cascade=orphan); upstream uses it, and the StatefulSet controller adopts orphan
          revisions first: an orphan is adopted here, after the same fresh read of the owner as for pods;
        - other data: a hash collision: bump status.collisionCount, so that the next round hashes to another
          name, as upstream."""
        name = revision["metadata"]["name"]
        path = resource_path("apps/v1", "controllerrevisions", ref.namespace, name)
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
            return await self._patch_revision(path, {"metadata": meta})
        workload = await self.client.get(ref.path)
        status = workload.get("status") or {}
        count = int(status.get("collisionCount") or 0) + 1
        if not status:
            # A new workload has no status yet, and the CRD requires its counters: write the plan's status.
            status = next((a.status for a in (plan.actions if plan else []) if isinstance(a, A.UpdateStatus)), {})
        await self.client.patch(f"{ref.path}/status", {"status": {**status, "collisionCount": count}})
        raise PlanFailed(f"ControllerRevision {name} belongs to another owner; collisionCount is now {count}")

    async def _run(self, ref: WorkloadRef, action: Any, plan: A.Plan | None = None) -> None:
        ns, c, exp, owner = ref.namespace, self.client, self.expectations, ref.uid
        try:
            if isinstance(action, A.Event):
                self.events.emit(ref, action.type, action.reason, action.message)
            elif isinstance(action, A.CreatePod):
                name = action.pod["metadata"]["name"]
                exp.expect_created(owner, "pods", name)
                try:
                    await c.create(resource_path("v1", "pods", ns), action.pod)
                except ApiError:
                    exp.cancel_created(owner, "pods", name)
                    raise
            elif isinstance(action, A.CreatePVC):
                name = action.pvc["metadata"]["name"]
                exp.expect_created(owner, "pvcs", name)
                try:
                    await c.create(resource_path("v1", "persistentvolumeclaims", ns), action.pvc)
                except ApiError as e:
                    exp.cancel_created(owner, "pvcs", name)
                    if not e.conflict:  # already there (a retried round): fine
                        raise
            elif isinstance(action, A.DeletePod):
                exp.expect_deleted(owner, "pods", action.name, action.uid)
                try:
                    await c.delete(resource_path("v1", "pods", ns, action.name),
                                   {"preconditions": {"uid": action.uid}})
                except ApiError as e:
                    exp.cancel_deleted(owner, "pods", action.name)
                    if not (e.not_found or e.conflict):
                        raise
            elif isinstance(action, A.DeletePVC):
                try:
                    await c.delete(resource_path("v1", "persistentvolumeclaims", ns, action.name))
                except ApiError as e:
                    if not e.not_found:
                        raise
            elif isinstance(action, A.PatchPVC):
                out = await c.patch(resource_path("v1", "persistentvolumeclaims", ns, action.name), action.patch)
                exp.expect_updated(owner, "pvcs", action.name, out["metadata"]["resourceVersion"])
            elif isinstance(action, A.PatchPod):
                out = await c.patch(resource_path("v1", "pods", ns, action.name), action.patch,
                                    PATCH_CONTENT_TYPES[action.patch_type])
                exp.expect_updated(owner, "pods", action.name, out["metadata"]["resourceVersion"])
            elif isinstance(action, (A.AdoptPod, A.ReleasePod)):
                try:
                    out = await c.patch(resource_path("v1", "pods", ns, action.name), action.patch,
                                        STRATEGIC_MERGE_PATCH)
                except ApiError as e:
                    # Gone: nothing to claim. A release also meets 422 when the pod was replaced (uid) or has no
                    # reference of ours any more; upstream ignores both.
                    if e.not_found or (isinstance(action, A.ReleasePod) and e.status == 422):
                        return
                    raise
                exp.expect_updated(owner, "pods", action.name, out["metadata"]["resourceVersion"])
            elif isinstance(action, A.PatchPodStatus):
                out = await c.patch(resource_path("v1", "pods", ns, action.name, "status"), action.patch,
                                    STRATEGIC_MERGE_PATCH)
                exp.expect_updated(owner, "pods", action.name, out["metadata"]["resourceVersion"])
            elif isinstance(action, A.CreateRevision):
                name = action.revision["metadata"]["name"]
                exp.expect_created(owner, "revisions", name)
                try:
                    # In Go's encoding, so that `data` survives patches (the garbage collector's too): gojson.
                    await c.create(resource_path("apps/v1", "controllerrevisions", ns), gojson.dumps(action.revision))
                except ApiError as e:
                    exp.cancel_created(owner, "revisions", name)
                    if not e.conflict:
                        raise
                    adopted = await self._on_revision_name_taken(ref, action.revision, plan)
                    if adopted:
                        exp.expect_updated(owner, "revisions", name, adopted["metadata"]["resourceVersion"])
            elif isinstance(action, A.PatchRevision):
                path = resource_path("apps/v1", "controllerrevisions", ns, action.name)
                out = await self._patch_revision(path, action.patch)
                exp.expect_updated(owner, "revisions", action.name, out["metadata"]["resourceVersion"])
            elif isinstance(action, A.DeleteRevision):
                try:
                    await c.delete(resource_path("apps/v1", "controllerrevisions", ns, action.name))
                except ApiError as e:
                    if not e.not_found:
                        raise
            elif isinstance(action, A.UpdateStatus):
                await c.patch(f"{ref.path}/status", {"status": action.status})
            elif isinstance(action, A.PatchCloneSet):  # a patch on the workload itself, whatever its kind
                await c.patch(ref.path, action.patch)
            else:
                raise TypeError(f"unknown action {action!r}")
        except ApiError as e:
            reason = {A.CreatePod: "FailedCreate", A.DeletePod: "FailedDelete", A.PatchPod: "FailedUpdate",
                      A.AdoptPod: "FailedUpdate", A.ReleasePod: "FailedUpdate",
                      A.PatchPodStatus: "FailedUpdate", A.CreatePVC: "FailedCreate"}.get(type(action))
            message = str(e.body.get("message") or e)
            if reason:
                self.events.emit(ref, "Warning", reason, message)
            failure = A.ActionFailure(type(action).__name__, message)
            raise PlanFailed(f"{type(action).__name__} for {ref.kind} {ns}/{ref.name}: {e}", failure) from e
