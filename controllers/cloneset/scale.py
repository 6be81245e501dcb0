"""The scale step: `sync/cloneset_scale.go Scale`.

In order, stopping at the first step that changes something:
1. pods in PreparingDelete go back to PreparingNormal when the CloneSet needs them again (scale-in cancelled
   by a scale-out), unless a hook marks pods not-ready;
2. compute the diffs (with gate PreparingUpdateAsUpdate, pods in PreparingUpdate count as the update revision);
3. scale out: create the missing pods, `partition` of them at the current revision, reusing the instance ids
   of orphaned PVCs first (a pod recreated this way keeps its name and its volumes);
4. delete pods in PreparingDelete whose preDelete hook is released;
5. delete specified pods (label apps.kruise.io/specified-delete or scaleStrategy.podsToDelete): not-ready
   ones at once, ready ones within the maxUnavailable budget;
6. scale in (only when no deletion is pending): old-revision pods first, then by ActivePods order.
Deleting goes through the preDelete hook: a hooked pod only moves to PreparingDelete. Deleting a pod also
deletes the PVCs with its instance id.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from controllers.common import lifecycle
from controllers.common.actions import CONFLICT, NOT_FOUND, PVCS, Delete, Event, create_pod, create_pvc
from controllers.common.keys import CLONESET_INSTANCE_ID_LABEL
from controllers.common.names import NameSource, unique_suffix
from controllers.common.ordering import sort_for_deletion
from controllers.common.objects import is_terminating, labels_of, name_of, uid_of
from controllers.common.pods import is_pod_active
from controllers.common.round import Round

from .diffs import calculate_diffs
from .newpods import new_pod, pvcs_for
from .podstate import is_pod_available, is_pod_ready, is_pod_update_when_scaling, is_specified_delete
from .spec import CloneSetView

JSON = dict[str, Any]

# How soon to look again when a replacement waits for a terminating pod that still holds its name.
WAIT_FOR_NAME_SECONDS = 1.0


def _instance_id(obj: JSON) -> str:
    return labels_of(obj).get(CLONESET_INSTANCE_ID_LABEL, "")


def planned_deletes(cs: CloneSetView, pods: list[JSON]) -> tuple[list[JSON], list[JSON], int]:
    """getPlannedDeletedPods: (specified for deletion, in PreparingDelete, number of distinct pods)."""
    specified = [p for p in pods if is_specified_delete(cs, p)]
    pre_delete = [p for p in pods if lifecycle.state_of(p) == lifecycle.PREPARING_DELETE]
    return specified, pre_delete, len({name_of(p) for p in specified + pre_delete})


def _manage_preparing_delete(cs: CloneSetView, pods: list[JSON], pre_delete: list[JSON], num_to_delete: int,
                             now: datetime) -> list:
    # Once markPodNotReady drained a pod there is no way back: the Updated hook of a pod that went from
    # Updating to PreparingDelete could otherwise be lost (upstream comment).
    if lifecycle.lifecycle_marks_pod_not_ready(cs.lifecycle):
        return []
    diff = cs.replicas - len(pods) + num_to_delete
    actions: list = []
    for pod in pre_delete:
        if diff <= 0:
            break
        if is_specified_delete(cs, pod):
            continue
        actions += lifecycle.update_pod_lifecycle(pod, lifecycle.PREPARING_NORMAL, False, now)
        diff -= 1
    return actions


def _delete_pods(cs: CloneSetView, pods: list[JSON], pvcs: list[JSON], reason: str, now: datetime) -> list:
    """deletePods: through the preDelete hook, and with the pods' PVCs."""
    pvcs_by_id: dict[str, list[JSON]] = {}
    for c in pvcs:
        pvcs_by_id.setdefault(_instance_id(c), []).append(c)
    actions: list = []
    for pod in pods:
        deleted, deleting = lifecycle.delete_through_hooks(cs.lifecycle, pod, now, reason=reason,
                                                           message=f"succeed to delete pod {name_of(pod)}")
        actions += deleted
        if deleting and _instance_id(pod):
            actions += [Delete(PVCS, name_of(c), uid_of(c) or None, ignore=(NOT_FOUND, CONFLICT))
                        for c in pvcs_by_id.get(_instance_id(pod), [])]
    return actions


def _within_ready_budget(pods: list[JSON], budget: int, now: datetime) -> list[JSON]:
    """Not-ready pods may always go; ready ones only while the delete-ready budget lasts."""
    chosen = []
    for pod in pods:
        if not is_pod_ready(pod, now):
            chosen.append(pod)
        elif budget > 0:
            chosen.append(pod)
            budget -= 1
    return chosen


def _choose_to_delete(cs: CloneSetView, total: int, old_total: int, not_updated: list[JSON],
                      updated: list[JSON], now: datetime) -> list[JSON]:
    """choosePodsToDelete: old-revision pods first, each group ranked by sort_for_deletion."""
    def choose(pods: list[JSON], n: int) -> list[JSON]:
        if n >= len(pods):
            return list(pods)
        ranked = sort_for_deletion(pods, lambda p: is_pod_available(p, cs.min_ready_seconds, now))
        return ranked[:n]

    if old_total >= total:
        return choose(not_updated, total)
    if old_total > 0:
        return choose(not_updated, old_total) + choose(updated, total - old_total)
    return choose(updated, total)


def _instance_ids(count: int, all_pods: list[JSON], pvcs: list[JSON],
                  names: NameSource) -> tuple[list[str], int]:
    """getOrGenAvailableIDs: ids of PVCs without a pod first, then fresh random ones.

    Returns (ids, deferred). An orphaned PVC whose pod object still exists (terminating, or finished) cannot
    give its id yet, as the new pod would collide with the old name: for a terminating pod the replacement
    waits (`deferred`) so that it gets the same name and volumes once the old pod is gone (what upstream gets
    by failing the create until then); a finished pod may stay forever, so its PVC is left alone.
    """
    pod_ids = {_instance_id(p) for p in all_pods if _instance_id(p)}
    active_ids = {_instance_id(p) for p in all_pods if _instance_id(p) and is_pod_active(p)}
    terminating_ids = {_instance_id(p) for p in all_pods if _instance_id(p) and is_terminating(p)} - active_ids
    pvc_ids = sorted({_instance_id(c) for c in pvcs if _instance_id(c)})
    taken = pod_ids | set(pvc_ids)
    ids = [i for i in pvc_ids if i not in pod_ids][:count]
    deferred = min(len([i for i in pvc_ids if i in terminating_ids]), count - len(ids))
    while len(ids) < count - deferred:
        ids.append(unique_suffix(names, taken))
    return ids, deferred


def plan_scale(cs: CloneSetView, r: Round, *, current_revision: str, update_revision: str, current_template: JSON,
               update_template: JSON, pods: list[JSON], all_pods: list[JSON], pvcs: list[JSON],
               names: NameSource) -> bool:
    """`pods` are the active pods; `all_pods` also the terminating and finished ones (they still hold names).
    True when the step modified something: the update step must then wait for the next round."""
    now = r.now
    # 1.
    specified, pre_delete, num_to_delete = planned_deletes(cs, pods)
    actions = _manage_preparing_delete(cs, pods, pre_delete, num_to_delete, now)
    if actions:
        r.emit(*actions)
        return True

    # 2.
    def is_update(pod: JSON, revision: str) -> bool:
        return is_pod_update_when_scaling(cs, pod, revision)
    diffs = calculate_diffs(cs, pods, current_revision, update_revision, now, is_update)
    updated = [p for p in pods if is_update(p, update_revision)]
    not_updated = [p for p in pods if not is_update(p, update_revision)]
    if diffs.scale_up_num > diffs.scale_up_limit:
        r.emit(Event("Warning", "ScaleUpLimited", "scaleUp is limited because of "
                     f"scaleStrategy.maxUnavailable, limit: {diffs.scale_up_limit}"))

    # 3.
    if diffs.scale_up_num > 0:
        ids, deferred = _instance_ids(diffs.scale_up_limit, all_pods, pvcs, names)
        existing_pvcs = {name_of(c) for c in pvcs}
        current_n = min(diffs.scale_up_num_old_revision, len(ids))
        for n, iid in enumerate(ids):
            at_current = n < current_n
            pod = new_pod(cs, current_template if at_current else update_template,
                          current_revision if at_current else update_revision, iid, now)
            r.emit(*(create_pvc(pvc) for _, pvc in pvcs_for(cs, iid) if name_of(pvc) not in existing_pvcs))
            r.emit(create_pod(pod), Event("Normal", "SuccessfulCreate", f"succeed to create pod {name_of(pod)}"))
        r.wait(WAIT_FOR_NAME_SECONDS if deferred else None)
        return bool(ids)

    # 4.
    if pre_delete:
        actions = _delete_pods(cs, pre_delete, pvcs, "preDelete hook released", now)
        if actions:
            r.emit(*actions)
            return True

    # 5.
    pre_delete_names = {name_of(p) for p in pre_delete}
    to_delete = [p for p in specified if name_of(p) not in pre_delete_names]
    if to_delete:
        actions = _delete_pods(cs, _within_ready_budget(to_delete, diffs.delete_ready_limit, now), pvcs,
                               "specified delete", now)
        if actions:
            r.emit(*actions)
            return True

    # 6.
    if diffs.scale_down_num > 0 and num_to_delete == 0:
        chosen = _choose_to_delete(cs, diffs.scale_down_num, diffs.scale_down_num_old_revision, not_updated,
                                   updated, now)
        actions = _delete_pods(cs, _within_ready_budget(chosen, diffs.delete_ready_limit, now), pvcs,
                               "scale in", now)
        r.emit(*actions)
        return bool(actions)
    return False
