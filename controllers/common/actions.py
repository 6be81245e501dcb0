"""What a reconcile asks the runtime to do.

A reconcile is a pure function from observed state to a `Plan`: an ordered list of actions plus an optional
requeue delay. The runtime executes the actions in list order (creates in slow-start batches), stops at the
first failure and reconciles again later; reconciles are level-based, so nothing is lost by stopping.

Conventions:
- Pod patches (`PatchPod`, `PatchPodStatus`) are whole-object patch bodies, e.g. ``{"metadata": {...}}`` or
  ``{"status": {"conditions": [...]}}``. A `PatchPod` body carries ``metadata.uid`` when the observed pod had
  one, like the Kubernetes controllers' ownerReference patches do, so a patch computed for a pod never lands on
  a newer pod that reuses its name (CloneSet reuses names when it reuses PVCs).
- Events are actions too: since the runtime stops at the first failure, an `Event` is only emitted when every
  action before it succeeded. A success event (SuccessfulCreate, SuccessfulDelete, ...) comes right after the
  action it reports; failures are the runtime's to report (FailedCreate, FailedDelete, ...). When the runtime
  runs creates in slow-start batches, a `CreatePod` forms one unit with the `CreatePVC`s right before it and the
  `Event` right after it.
- `requeue_after` is in seconds; None means "no timed requeue needed" (watch events still wake the reconcile).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PATCH_TYPES = ("merge", "strategic", "json")


@dataclass(frozen=True)
class CreatePod:
    pod: dict


@dataclass(frozen=True)
class CreatePVC:
    pvc: dict


@dataclass(frozen=True)
class DeletePod:
    """Delete with a UID precondition, so a newer pod with the same name is never deleted by mistake."""

    name: str
    uid: str
    reason: str


@dataclass(frozen=True)
class DeletePVC:
    name: str


@dataclass(frozen=True)
class PatchPVC:
    """A JSON merge patch on a PersistentVolumeClaim (Advanced StatefulSet: its ownerReferences, per
    persistentVolumeClaimRetentionPolicy). The body carries ``metadata.uid`` and ``metadata.resourceVersion`` of
    the observed PVC, so a list it replaces is never one it did not see."""

    name: str
    patch: dict


@dataclass(frozen=True)
class PatchPod:
    name: str
    patch: dict
    patch_type: str = "strategic"

    def __post_init__(self) -> None:
        if self.patch_type not in PATCH_TYPES:
            raise ValueError(f"patch_type must be one of {PATCH_TYPES}, not {self.patch_type!r}")


@dataclass(frozen=True)
class AdoptPod:
    """ControllerRefManager.AdoptPod: a strategic merge patch adding the workload's controller ownerReference to an
    orphan pod, carrying the pod's ``metadata.uid`` (a newer pod of that name is never adopted by mistake). Before
    the first adoption of a plan the executor reads the workload afresh and adopts nothing if it is being
    deleted or is not the one the plan was made for (RecheckDeletionTimestamp)."""

    name: str
    patch: dict


@dataclass(frozen=True)
class ReleasePod:
    """ControllerRefManager.ReleasePod: a strategic merge patch deleting the workload's ownerReference (by uid) from
    a pod it controls that no longer matches; a pod that is gone or was replaced meanwhile is not an error."""

    name: str
    patch: dict


@dataclass(frozen=True)
class PatchPodStatus:
    """A strategic merge patch on the pod's /status subresource (pod conditions merge by `type`)."""

    name: str
    patch: dict


@dataclass(frozen=True)
class CreateRevision:
    """`revision` is a complete apps/v1 ControllerRevision."""

    revision: dict


@dataclass(frozen=True)
class PatchRevision:
    """A merge patch on a ControllerRevision (used to bump `.revision` on rollback)."""

    name: str
    patch: dict


@dataclass(frozen=True)
class DeleteRevision:
    name: str


@dataclass(frozen=True)
class PatchCloneSet:
    """A JSON merge patch on the CloneSet itself (not its status), e.g. truncating scaleStrategy.podsToDelete.

    It carries ``metadata.resourceVersion`` when known, so a concurrent edit of the same list makes the patch
    fail with a conflict instead of being overwritten.
    """

    patch: dict


@dataclass(frozen=True)
class UpdateStatus:
    """The whole workload `.status`, written through the status subresource.

    Every field the controller owns is present (lists possibly empty), so writing it as a merge patch or as a
    replacement gives the same result."""

    status: dict


@dataclass(frozen=True)
class Event:
    type: str  # "Normal" or "Warning"
    reason: str
    message: str


@dataclass(frozen=True)
class ActionFailure:
    """How the previous plan of a workload failed: the action's type name (e.g. "CreatePod") and the API
    server's message. Upstream writes a failure into the status in the round that met it (a StatefulSet's
    FailedCreatePod condition); a pure reconcile learns of it in the next round."""

    action: str
    message: str


@dataclass(frozen=True)
class Plan:
    actions: list = field(default_factory=list)
    requeue_after: float | None = None

    def of_type(self, kind: type) -> list[Any]:
        """The actions of one type, in order (handy in tests and logs)."""
        return [a for a in self.actions if isinstance(a, kind)]


def earliest(*delays: float | None) -> float | None:
    """The smallest positive delay, or None: several mechanisms may each want a requeue."""
    positive = [d for d in delays if d is not None and d > 0]
    return min(positive) if positive else None
