"""One pass of the DaemonSet controller's decisions, in upstream order (`syncDaemonSet` between
constructHistory and the status write): manage → syncNodes; only when that left nothing outstanding (no create,
no delete, no lifecycle write: the expectations it would set), the rolling update → syncNodes. So scaling and
updating never happen in one pass, and a node never gets a second pod outside a surge.

What stays with the caller (the reconcile): revisions (constructHistory, cleanupHistory), expectations from
earlier passes, the in-place refresh between the two steps (common/inplace `refresh`), the in-place update itself,
and the status write (`status.compute_status` with the pods as they are after the pass).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from controllers.common.objects import name_of

from .decisions import Event, PodUpdate, Requeue, SyncDecision
from .eligibility import eligibility_by_node
from .manage import BackoffEntry, FailedPodsBackoff, ManageDecision, manage, sync_nodes
from .pods import nodes_to_daemon_pods
from .spec import ROLLING_UPDATE, DaemonSetView, view
from .update import RollingUpdateDecision, can_pod_update_in_place, rolling_update

JSON = dict[str, Any]

MANAGE = "manage"      # manage asked for something: the pass ends after it
UPDATE = "update"      # the rolling update ran (it may still have decided nothing)
SETTLED = "settled"    # manage asked for nothing and no rolling update runs (paused, OnDelete)


@dataclass
class RoundDecision:
    phase: str
    sync: SyncDecision                      # creations, deletions and preDelete holds of this pass
    update_in_place: list[PodUpdate] = field(default_factory=list)
    manage: ManageDecision | None = None
    update: RollingUpdateDecision | None = None
    backoff: dict[str, BackoffEntry] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    requeue_after: float | None = None
    error: str | None = None                # a malformed maxUnavailable / maxSurge / partition (upstream: error)


def _outstanding(sync: SyncDecision) -> bool:
    """Would syncNodes leave expectations behind? Creates and deletes do, and so does a lifecycle write."""
    return bool(sync.create or sync.delete or any(h.needs_write for h in sync.hold))


def decide(ds: JSON | DaemonSetView, nodes: list[JSON], pods: list[JSON], hash_: str, now: datetime, *,
           backoff: FailedPodsBackoff | None = None,
           in_place_ok: Callable[[JSON], bool] | None = None,
           current_revision: JSON | None = None, old_revisions: list[JSON] | None = None) -> RoundDecision:
    """`pods` are the claimed pods of the DaemonSet (every phase); `nodes` every node of the cluster.

    For InPlaceIfPossible, pass the ControllerRevisions (`current_revision`, `old_revisions`: the pod's old
    revision is found by its hash label, the template change judged by common/inplace) or your own
    `in_place_ok(pod)`; with neither, every old pod is recreated."""
    ds = view(ds)
    if in_place_ok is None and current_revision is not None:
        olds = list(old_revisions or [])

        def in_place_ok(pod: JSON) -> bool:
            return can_pod_update_in_place(pod, current_revision, olds)
    eligibility = eligibility_by_node(nodes, ds)
    node_pods = nodes_to_daemon_pods(pods)
    pods_by_name = {name_of(p): p for p in pods}
    managed = manage(ds, nodes, node_pods, hash_, now, backoff, eligibility)
    requeue = Requeue(managed.requeue_after)
    sync = sync_nodes(ds, managed.delete, managed.create, pods_by_name)
    result = RoundDecision(MANAGE, sync, manage=managed, backoff=managed.backoff, events=list(managed.events))
    if _outstanding(sync):
        result.requeue_after = requeue.after
        return result
    if ds.paused or ds.update_type != ROLLING_UPDATE:
        result.phase = SETTLED
        result.requeue_after = requeue.after
        return result
    try:
        update = rolling_update(ds, nodes, node_pods, hash_, now, eligibility=eligibility, in_place_ok=in_place_ok)
    except ValueError as error:
        result.phase, result.error, result.requeue_after = UPDATE, str(error), requeue.after
        return result
    result.phase = UPDATE
    result.update = update
    result.sync = sync_nodes(ds, update.delete, update.create, pods_by_name)
    # Holds found by manage that needed no write stay listed: their pods are still waiting for the hook.
    result.sync.hold[:0] = sync.hold
    result.update_in_place = update.update_in_place
    result.requeue_after = requeue.after
    return result
