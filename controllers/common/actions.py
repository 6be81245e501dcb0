"""What a reconcile is given (`Context`) and what it asks the runtime to do (a `Plan`).

A reconcile is a pure function `reconcile(workload, observed, context) → Plan`: `observed` maps a resource key
of the resource table (`policies/controllers.yaml`: `pods`, `persistentvolumeclaims`,
`controllerrevisions.apps`, `nodes`, ...) to the objects the kind's watches found; a Plan is an ordered list of
actions plus an optional requeue delay. The runtime executes the actions in list order (creates of resources
marked `slowStart` in slow-start batches), stops at the first failure and reconciles again later; reconciles are
level-based, so nothing is lost by stopping.

Three verbs, on any resource of the table, plus `Event`:
- `Create(resource, body)`; `Patch(resource, name, body, patch_type, subresource)`; `Delete(resource, name, uid)`.
  `WORKLOAD` as the resource means the workload being reconciled (its spec, or its status with
  `subresource="status"`: the whole status, every field the controller owns present).
- The special cases are fields, not classes: `ignore` (API statuses that mean "nothing to do": a PVC already
  there, a pod already gone), `if_exists="adopt"` (a revision name taken: the collision path), `recheck_owner`
  (read the workload afresh before the first adoption). The helpers below build the usual ones.
- Patch bodies of pods carry ``metadata.uid`` when the observed pod had one, as the Kubernetes controllers'
  ownerReference patches do, so a patch computed for a pod never lands on a newer pod that reuses its name; a
  body with ``metadata.resourceVersion`` fails on a concurrent edit instead of overwriting it.
- An object outside the workload's namespace (a cluster-scoped SidecarSet's pods, in every namespace, and its
  revisions, in the install namespace) is named by `namespace` (Patch, Delete) or by the body's
  `metadata.namespace` (Create); None means the workload's own namespace.
- Events are actions too: an `Event` is emitted only when every action before it succeeded. A success event
  comes right after the action it reports; failures are the runtime's to report (FailedCreate, ...). Slow-start
  creates form one unit with the creates of non-slow-start resources right before them and the `Event` after.
- `requeue_after` is in seconds; None means "no timed requeue needed" (watch events still wake the reconcile).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

PATCH_TYPES = ("merge", "strategic", "json")
WORKLOAD = "workload"  # the resource key of the workload being reconciled, whatever its kind
PODS, PVCS, REVISIONS, NODES = "pods", "persistentvolumeclaims", "controllerrevisions.apps", "nodes"
NOT_FOUND, CONFLICT, INVALID = 404, 409, 422


@dataclass(frozen=True)
class Create:
    resource: str
    body: dict
    ignore: tuple[int, ...] = ()
    if_exists: str = "fail"  # "adopt": a revision of that name exists (ours, an orphan to adopt, or a collision)

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    @property
    def namespace(self) -> str | None:
        return self.body["metadata"].get("namespace") or None

    @property
    def what(self) -> str:
        return f"create {self.resource}"


@dataclass(frozen=True)
class Patch:
    resource: str
    name: str
    body: dict
    patch_type: str = "merge"
    subresource: str | None = None
    ignore: tuple[int, ...] = ()
    recheck_owner: bool = False  # an adoption: RecheckDeletionTimestamp before the plan's first one
    namespace: str | None = None  # None: the workload's namespace

    def __post_init__(self) -> None:
        if self.patch_type not in PATCH_TYPES:
            raise ValueError(f"patch_type must be one of {PATCH_TYPES}, not {self.patch_type!r}")

    @property
    def what(self) -> str:
        return f"patch {self.resource}" + (f"/{self.subresource}" if self.subresource else "")


@dataclass(frozen=True)
class Delete:
    """With `uid`, a precondition: a newer object with the same name is never deleted by mistake."""

    resource: str
    name: str
    uid: str | None = None
    reason: str = ""
    ignore: tuple[int, ...] = (NOT_FOUND,)
    namespace: str | None = None  # None: the workload's namespace

    @property
    def what(self) -> str:
        return f"delete {self.resource}"


@dataclass(frozen=True)
class Event:
    type: str  # "Normal" or "Warning"
    reason: str
    message: str
    regarding: Mapping[str, str] | None = None
    """The object the event is about when it is not the workload (a pod: `regarding(pod)`)."""
    what = "event"


def regarding(obj: dict, api_version: str = "v1", kind: str = "Pod") -> dict[str, str]:
    """The involvedObject of an Event about `obj` (a pod by default)."""
    meta = obj.get("metadata") or {}
    return {"apiVersion": api_version, "kind": kind, "name": meta.get("name") or "",
            "namespace": meta.get("namespace") or "", "uid": meta.get("uid") or ""}


@dataclass(frozen=True)
class ActionFailure:
    """How the previous plan of a workload failed: which action (`what`, e.g. "create pods") and the API
    server's message. Upstream writes a failure into the status in the round that met it (a StatefulSet's
    FailedCreatePod condition); a pure reconcile learns of it in the next round."""

    action: str
    message: str


@dataclass(frozen=True)
class Context:
    """What a reconcile knows besides the objects: the clock, the manager's feature gates (resolved once from
    --feature-gates; None: the defaults) and settings, where random names come from, and how the previous plan
    of this workload failed. `memory`: what the previous plan of this workload handed on (`Plan.memory`), for
    state upstream keeps in the controller's memory and no object records (Advanced DaemonSet's failed-pod
    backoff); None after a manager restart, as upstream's."""

    now: datetime
    gates: Mapping[str, bool] | None = None
    settings: Any = None
    names: Any = None  # a common.names.NameSource
    last_failure: ActionFailure | None = None
    memory: Any = None


@dataclass(frozen=True)
class Plan:
    actions: list = field(default_factory=list)
    requeue_after: float | None = None
    memory: Any = None  # handed to the next round of this workload as `Context.memory` (None: nothing to keep)

    def of_type(self, kind: type, resource: str | None = None, subresource: str | None = None) -> list[Any]:
        """The actions of one verb (on `resource` and `subresource`, for the verbs), in order."""
        return [a for a in self.actions if isinstance(a, kind) and (resource is None or (
            a.resource == resource and getattr(a, "subresource", None) == subresource))]


def create_pod(pod: dict) -> Create:
    return Create(PODS, pod)


def create_pvc(pvc: dict) -> Create:
    return Create(PVCS, pvc, ignore=(CONFLICT,))  # already there (a retried round): fine


def create_revision(revision: dict) -> Create:
    """`revision` is a complete apps/v1 ControllerRevision."""
    return Create(REVISIONS, revision, if_exists="adopt")


def patch_pod(name: str, body: dict, patch_type: str = "strategic", namespace: str | None = None) -> Patch:
    return Patch(PODS, name, body, patch_type, namespace=namespace)


def patch_pod_status(name: str, body: dict, namespace: str | None = None, uid: str | None = None) -> Patch:
    """A strategic merge patch on the pod's /status subresource (pod conditions merge by `type`); with `uid`,
    the pod's, as a precondition (a pod recreated under the name, a StatefulSet's, is not written)."""
    if uid:
        body = {**body, "metadata": {**(body.get("metadata") or {}), "uid": uid}}
    return Patch(PODS, name, body, "strategic", "status", namespace=namespace)


def adopt_pod(name: str, body: dict) -> Patch:
    """ControllerRefManager.AdoptPod: `body` adds the controller reference, with the pod's uid."""
    return Patch(PODS, name, body, "strategic", ignore=(NOT_FOUND,), recheck_owner=True)


def release_pod(name: str, body: dict) -> Patch:
    """ControllerRefManager.ReleasePod: a pod gone, or replaced (422 on the uid), is not an error."""
    return Patch(PODS, name, body, "strategic", ignore=(NOT_FOUND, INVALID))


def delete_pod(name: str, uid: str, reason: str) -> Delete:
    return Delete(PODS, name, uid, reason, ignore=(NOT_FOUND, CONFLICT))


def update_status(status: dict) -> Patch:
    return Patch(WORKLOAD, "", {"status": status}, subresource="status")


def earliest(*delays: float | None) -> float | None:
    """The smallest positive delay, or None: several mechanisms may each want a requeue."""
    positive = [d for d in delays if d is not None and d > 0]
    return min(positive) if positive else None
