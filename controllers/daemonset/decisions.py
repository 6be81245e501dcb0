"""What the decision layer hands back: plain dataclasses, no actions. The reconcile turns them into the
runtime's Create / Patch / Delete verbs (see the package docstring for the wiring)."""
from __future__ import annotations

from dataclasses import dataclass, field

# Why a pod is deleted (or held by the preDelete hook instead).
MISSCHEDULED = "Misscheduled"            # the node should no longer run it (shouldContinueRunning false)
FAILED = "Failed"                        # phase Failed, outside its backoff
PREPARING_DELETE = "PreparingDelete"     # held by the preDelete hook earlier: delete once unhooked
EXCESS = "Excess"                        # more than one pod on a node without surge: all but the oldest
SURGE_EXCESS = "SurgeExcess"             # surge: pods beyond the oldest new and the oldest old
SURGE_OLD_NOT_READY = "SurgeOldNotReady"  # surge: the old pod is not ready, the new one takes over now
SURGE_NEW_AVAILABLE = "SurgeNewAvailable"  # surge: the new pod is available, the old one goes
NODE_GONE = "NodeGone"                   # unscheduled pod pinned to a node that no longer exists
UPDATE_UNAVAILABLE = "UpdateUnavailable"  # rolling update: old pod not available, replaced outside the budget
UPDATE = "Update"                        # rolling update: old pod replaced within maxUnavailable

# Why a pod is created on a node.
MISSING = "Missing"                      # manage: the node should run a pod and has none
SURGE_UPDATE = "SurgeUpdate"             # rolling update with surge: new pod next to an available old one
SURGE_REPLACE_UNAVAILABLE = "SurgeReplaceUnavailable"  # ... next to an unavailable old one (no budget needed)


@dataclass(frozen=True)
class PodDeletion:
    name: str
    node: str
    reason: str


@dataclass(frozen=True)
class NodeCreation:
    node: str
    reason: str


@dataclass(frozen=True)
class PodUpdate:
    """An old pod the rolling update replaces in place (InPlaceIfPossible); the caller runs common/inplace and
    deletes the pod instead when the change turns out not to be in-place-able."""
    name: str
    node: str
    reason: str


@dataclass(frozen=True)
class PreDeleteHold:
    """A pod to delete that the preDelete hook holds: the caller moves it to lifecycle state `state` (label
    lifecycle.apps.kruise.io/state and the timestamp annotation, unless already there: `needs_write`), adds the
    not-ready key to KruisePodReady when `mark_not_ready`, and does NOT delete it."""
    name: str
    node: str
    reason: str
    state: str
    mark_not_ready: bool
    needs_write: bool


@dataclass(frozen=True)
class Event:
    type: str
    reason: str
    message: str


@dataclass
class Requeue:
    """durationStore: the smallest positive duration pushed during a pass wins."""
    after: float | None = None

    def push(self, seconds: float | None) -> None:
        if seconds is None or seconds <= 0:
            return
        if self.after is None or seconds < self.after:
            self.after = seconds


@dataclass(frozen=True)
class SyncDecision:
    """syncNodes: what to create and delete this pass, after the preDelete filter and the burstReplicas cap."""
    create: list[NodeCreation] = field(default_factory=list)
    delete: list[PodDeletion] = field(default_factory=list)
    hold: list[PreDeleteHold] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.create or self.delete or self.hold)
