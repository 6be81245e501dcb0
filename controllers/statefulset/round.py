"""The state of one reconcile round: the pods laid out by ordinal, and what the round has decided so far.

Upstream (`stateful_set_control.go updateStatefulSet`) walks the same structures with API calls in between;
here every call becomes an action appended to the round (`common.round.Round`), in the order upstream would
make them, and a step that upstream ends with `return` ends the round.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controllers.common import inplace, lifecycle
from controllers.common import round as common_round
from controllers.common.objects import is_terminating, name_of
from controllers.common.revision import equal_to_revision_hash

from .newpods import current_revision_needed, new_pod
from .ordinals import OrdinalRange
from .podstate import is_healthy
from .spec import StatefulSetView
from .status import FAILED_UPDATE_POD

JSON = dict[str, Any]


@dataclass
class Slot:
    """An ordinal that should run: its pod, or (missing) the pod to create."""

    ordinal: int
    rank: int  # position among the ordinals in range
    pod: JSON | None  # the observed pod
    new: JSON | None = None  # the pod to create when `pod` is None

    @property
    def name(self) -> str:
        return name_of(self.pod if self.pod is not None else self.new or {})

    @property
    def obj(self) -> JSON:
        return self.pod if self.pod is not None else self.new or {}


@dataclass(kw_only=True)
class Round(common_round.Round):
    sts: StatefulSetView
    range: OrdinalRange
    current: JSON  # ControllerRevisions
    update: JSON
    revisions: list[JSON]  # every revision of the set (to find a pod's template)
    current_template: JSON
    update_template: JSON
    slots: list[Slot]
    condemned: list[tuple[int, JSON]]  # decreasing ordinal
    pvcs: dict[str, JSON]
    scale_budget: int | None = None  # scaleStrategy.maxUnavailable, spent by processReplica
    lifecycle_moved: bool = False  # a refresh changed some pod's lifecycle state: no update this round
    refreshed: set[str] = field(default_factory=set)

    @property
    def current_name(self) -> str:
        return name_of(self.current)

    @property
    def update_name(self) -> str:
        return name_of(self.update)

    @property
    def monotonic(self) -> bool:
        return not self.sts.parallel

    # -- building blocks shared by the scale and update steps

    def spend_scale_budget(self) -> bool:
        """decreaseAndCheckMaxUnavailable: True when scaleStrategy.maxUnavailable is used up."""
        if self.scale_budget is None:
            return False
        self.scale_budget -= 1
        return self.scale_budget <= 0

    def delete_pod(self, pod: JSON) -> tuple[bool, bool]:
        """deletePod: through the preDelete hook. Returns (modified, actually deleting)."""
        actions, deleting = lifecycle.delete_through_hooks(
            self.sts.lifecycle, pod, self.now, reason="StatefulSet",
            message=f"delete Pod {name_of(pod)} in StatefulSet {self.sts.name} successful")
        self.emit(*actions)
        return bool(actions), deleting

    def refresh(self, pod: JSON) -> None:
        """refreshPodState, once per pod and round: in-place update progress (grace period, next container batch,
        InPlaceUpdateReady=True) and lifecycle transitions. Pods being deleted are left alone."""
        name = name_of(pod)
        if name in self.refreshed or is_terminating(pod):
            return
        self.refreshed.add(name)
        res = self.refresh_pod(pod, self.sts.lifecycle, self.update_name,
                               target_images=inplace.state_revision_images(pod, self.revisions),
                               grace_seconds=self.sts.grace_period_seconds)
        if res.error:
            self.fail(FAILED_UPDATE_POD, res.error)
        self.emit(*res.actions)
        self.wait(res.requeue_after)
        self.emit(*res.moved)
        self.lifecycle_moved |= bool(res.moved)

    def first_unhealthy_ordinal(self) -> int | None:
        """The lowest ordinal whose pod is missing or unhealthy, among the replicas and the condemned."""
        ordinals = [s.ordinal for s in self.slots if s.pod is None or not is_healthy(s.pod)]
        ordinals += [o for o, p in self.condemned if not is_healthy(p)]
        return min(ordinals) if ordinals else None


def lay_out(sts: StatefulSetView, members: list[tuple[int, JSON]], rng: OrdinalRange, update_name: str,
            current_name: str, current_template: JSON, update_template: JSON,
            now: datetime) -> tuple[list[Slot], list[tuple[int, JSON]]]:
    """The replicas (one slot per ordinal in range, a new pod for each missing one, at the revision
    isCurrentRevisionNeeded gives it, in increasing order) and the condemned pods (decreasing ordinal)."""
    by_ordinal = {o: p for o, p in members}
    condemned = sorted(((o, p) for o, p in members if o not in rng), key=lambda op: -op[0])
    not_updated = sum(1 for o, p in members if o in rng and not equal_to_revision_hash(p, update_name))
    slots = []
    for rank, ordinal in enumerate(rng.ordinals):
        pod = by_ordinal.get(ordinal)
        if pod is not None:
            slots.append(Slot(ordinal, rank, pod))
            continue
        if current_revision_needed(sts, rank, not_updated):
            slots.append(Slot(ordinal, rank, None, new_pod(sts, current_template, current_name, ordinal, now)))
            not_updated += current_name != update_name
        else:
            slots.append(Slot(ordinal, rank, None, new_pod(sts, update_template, update_name, ordinal, now)))
    return slots, condemned
