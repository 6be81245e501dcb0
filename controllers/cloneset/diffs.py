"""How many pods to create, delete and update: `sync/cloneset_sync_utils.go calculateDiffsWithExpectation`.

This is the heart of CloneSet. Partition, maxSurge and maxUnavailable meet here:
- partition (pods kept at the old revision) decides how many pods to update;
- maxSurge lets the CloneSet run extra pods, either to replace specified-deleted pods without dropping below
  maxUnavailable, or to update, whichever needs more (scale and update never run in the same reconcile);
- maxUnavailable (a percentage rounds up, or down when maxSurge > 0) limits the deletion of ready pods and the
  number of pods being updated; scaleStrategy.maxUnavailable limits creations while pods are unavailable.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from controllers.common import lifecycle
from controllers.common.intstr import MAX_INT32, scaled_value, scaled_value_or
from controllers.common.partition import partition_replicas
from controllers.common.revision import equal_to_revision_hash

from .podstate import is_pod_available, is_specified_delete
from .spec import CloneSetView

JSON = dict[str, Any]


@dataclass
class Diffs:
    scale_up_num: int = 0  # pods to create
    scale_up_num_old_revision: int = 0  # of which at the current (old) revision; may exceed scale_up_num
    scale_down_num: int = 0  # pods to delete, excluding those already specified for deletion
    scale_down_num_old_revision: int = 0
    scale_up_limit: int = 0  # creations allowed by scaleStrategy.maxUnavailable
    delete_ready_limit: int = 0  # ready pods that may be deleted (updateStrategy.maxUnavailable)
    use_surge: int = 0
    use_surge_old_revision: int = 0
    update_num: int = 0  # >0: pods to move to the update revision; <0: to roll back (gate CloneSetPartitionRollback)
    update_max_unavailable: int = 0


@dataclass(frozen=True)
class Limits:
    """The resolved numbers every step uses."""

    replicas: int
    partition: int
    max_surge: int
    max_unavailable: int
    scale_max_unavailable: int


def resolve_limits(cs: CloneSetView) -> Limits:
    replicas = cs.replicas
    try:
        partition = partition_replicas(cs.partition, replicas)
    except ValueError:
        partition = 0  # upstream logs the illegal value and carries on with 0
    # The view reads both as defaulted, and drops a value the schema refuses, so they always scale.
    max_surge = 0 if cs.paused else scaled_value(cs.max_surge, replicas, True)
    max_unavailable = scaled_value(cs.max_unavailable, replicas, max_surge == 0)
    scale_max_unavailable = scaled_value_or(cs.scale_max_unavailable, replicas, True, MAX_INT32)
    return Limits(replicas, partition, max(max_surge, 0), max(max_unavailable, 0), scale_max_unavailable)


def _plus_and_minus(a: int, b: int) -> bool:
    return (a > 0 > b) or (a < 0 < b)


def calculate_diffs(cs: CloneSetView, pods: list[JSON], current_revision: str, update_revision: str,
                    now: datetime, is_pod_update: Callable[[JSON, str], bool] | None = None) -> Diffs:
    """calculateDiffsWithExpectation over the active pods.

    `is_pod_update` says which pods count as the update revision (by default: their revision label); the scale
    step passes `is_pod_update_when_scaling` (gate PreparingUpdateAsUpdate)."""
    limits = resolve_limits(cs)
    replicas, partition = limits.replicas, limits.partition
    max_surge, max_unavailable = limits.max_surge, limits.max_unavailable
    is_update = is_pod_update or equal_to_revision_hash
    res = Diffs()

    new_count = new_active = old_count = old_active = 0
    unavailable_new = unavailable_old = 0
    to_delete_new = to_delete_old = pre_deleting_new = pre_deleting_old = 0
    for p in pods:
        new = is_update(p, update_revision)
        if lifecycle.state_of(p) == lifecycle.PREPARING_DELETE:
            if new:
                pre_deleting_new += 1
            else:
                pre_deleting_old += 1
        else:
            specified = is_specified_delete(cs, p)
            unavailable = not specified and not is_pod_available(p, cs.min_ready_seconds, now)
            if new:
                new_active += 1
                to_delete_new += specified
                unavailable_new += unavailable
            else:
                old_active += 1
                to_delete_old += specified
                unavailable_old += unavailable
        if new:
            new_count += 1
        else:
            old_count += 1

    update_old_diff = old_active - partition
    update_new_diff = new_active - (replicas - partition)
    total_unavailable = pre_deleting_new + pre_deleting_old + unavailable_new + unavailable_old
    if update_revision == current_revision or not cs.gate("CloneSetPartitionRollback"):
        update_old_diff = max(update_old_diff, 0)
        update_new_diff = min(update_new_diff, 0)

    if max_surge > 0:
        # Surge either makes up for specified deletes that would exceed maxUnavailable...
        scale_surge = scale_old_surge = 0
        to_delete = to_delete_new + to_delete_old
        if to_delete > 0:
            scale_surge = min(max(total_unavailable + to_delete - max_unavailable, 0), to_delete)
            if scale_surge > to_delete_new:
                scale_old_surge = scale_surge - to_delete_new
        # ...or lets the update run above replicas.
        update_surge = update_old_surge = 0
        if _plus_and_minus(update_old_diff, update_new_diff):
            if abs(update_old_diff) <= abs(update_new_diff):
                update_surge = abs(update_old_diff)
                if update_old_diff < 0:
                    update_old_surge = update_surge
            else:
                update_surge = abs(update_new_diff)
                if update_new_diff > 0:
                    update_old_surge = update_surge
        if scale_surge >= update_surge:
            res.use_surge = min(max_surge, scale_surge)
            res.use_surge_old_revision = min(res.use_surge, scale_old_surge)
        else:
            res.use_surge = min(max_surge, update_surge)
            res.use_surge_old_revision = min(res.use_surge, update_old_surge)

    current_total = len(pods)
    current_total_old = old_count
    if cs.scaling_excludes_preparing_delete:
        current_total -= pre_deleting_old + pre_deleting_new
        current_total_old -= pre_deleting_old
    expected_total = replicas + res.use_surge
    expected_total_old = partition + res.use_surge_old_revision

    if (num := expected_total - current_total) > 0:
        res.scale_up_num = num
        res.scale_up_num_old_revision = max(expected_total_old - current_total_old, 0)
        res.scale_up_limit = min(res.scale_up_num, max(limits.scale_max_unavailable - total_unavailable, 0))

    # Pods already specified for deletion are not counted again.
    if (num := current_total - to_delete_old - to_delete_new - expected_total) > 0:
        res.scale_down_num = num
        res.scale_down_num_old_revision = max(current_total_old - to_delete_old - expected_total_old, 0)
    if to_delete_new > 0 or to_delete_old > 0 or res.scale_down_num > 0:
        res.delete_ready_limit = max(max_unavailable + (len(pods) - replicas) - total_unavailable, 0)

    res.update_num = update_old_diff if abs(update_old_diff) <= abs(update_new_diff) else -update_new_diff
    if res.update_num != 0:
        res.update_max_unavailable = max_unavailable + len(pods) - replicas
    return res
