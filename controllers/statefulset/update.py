"""The update step (RollingUpdate only; OnDelete leaves pods alone until someone deletes them):
`stateful_set_control.go rollingUpdateStatefulsetPods`, `handleSpecifiedDeletedPods`, `inPlaceUpdatePod`,
`stateful_update_utils.go sortPodsToUpdate`.

1. Refresh every pod; if a lifecycle state moved, stop (the next round sees the new states).
2. Unless paused: count the unavailable replicas (missing, unhealthy, terminating, in-place update not
   complete, not yet available for minReadySeconds).
3. Pods labelled apps.kruise.io/specified-delete are deleted, highest ordinal first, ignoring the partition,
   while fewer than maxUnavailable replicas are unavailable (an already unavailable pod may always go).
4. The pods to update: ordered, the replicas-partition highest ordinals; with unorderedUpdate, those already
   updated (or terminating) first, then the others in priorityStrategy order (ties: highest ordinal first),
   at most replicas-partition in all. Each pod not at the update revision is updated in place when the
   podUpdatePolicy allows and the change is image/metadata only (through the inPlaceUpdate hook), else
   deleted (through the preDelete hook) to be recreated at the update revision; the step stops at the first
   available pod that would exceed maxUnavailable.
"""
from __future__ import annotations

from controllers.common import inplace
from controllers.common.actions import Event
from controllers.common.ordering import priority_sort
from controllers.common.objects import is_terminating, name_of
from controllers.common.revision import equal_to_revision_hash

from .newpods import revision_label
from .podstate import is_healthy, is_specified_delete, running_and_available
from .round import Round, Slot
from .status import FAILED_UPDATE_POD


def sort_pods_to_update(r: Round) -> list[Slot]:
    sts = r.sts
    max_update = sts.replicas - sts.partition
    if max_update <= 0:
        return []
    descending = list(reversed(r.slots))
    if not sts.unordered:
        return descending[:max_update]
    done = [s for s in descending
            if (s.pod is not None and is_terminating(s.pod)) or equal_to_revision_hash(s.obj, r.update_name)]
    waiting = [s for s in descending if not any(s is d for d in done)]
    order = priority_sort([s.obj for s in waiting], list(range(len(waiting))), sts.priority_strategy)
    return (done + [waiting[i] for i in order])[:max_update]


def _unavailable(r: Round) -> set[str]:
    out: set[str] = set()
    for slot in r.slots:
        pod = slot.pod
        if pod is None or not is_healthy(pod) or inplace.pod_update_error(
                pod, inplace.state_revision_images(pod, r.revisions)) is not None:
            out.add(slot.name)
            continue
        available, wait = running_and_available(pod, r.sts.min_ready_seconds, r.now)
        if not available:
            out.add(slot.name)
            r.wait(wait)
    return out


def _specified_deletes(r: Round, unavailable: set[str]) -> set[str]:
    deleted: set[str] = set()
    for slot in reversed(r.slots):
        pod = slot.pod
        if pod is None or not is_specified_delete(pod) or is_terminating(pod):
            continue
        if len(unavailable) >= r.sts.max_unavailable and slot.name not in unavailable:
            continue  # an available pod would exceed maxUnavailable; unavailable ones below may still go
        r.delete_pod(pod)
        deleted.add(slot.name)
        unavailable.add(slot.name)
    return deleted


def _fail(r: Round, message: str) -> None:
    r.fail(FAILED_UPDATE_POD, message)
    r.emit(Event("Warning", "FailedUpdatePodInPlace", message))


def _update_pod(r: Round, pod: dict) -> bool:
    """Update one pod: in place if possible, else by deletion. False when the step must stop (an error)."""
    sts = r.sts
    res = inplace.plan_pod_update(
        pod, r.revisions, r.update, policy=sts.pod_update_policy, lifecycle_spec=sts.lifecycle, now=r.now,
        grace_seconds=sts.grace_period_seconds, pod_revision_labels=revision_label(r.update_name),
        in_place_only_error=f"find strategy is InPlaceOnly but Pod {name_of(pod)} can not update in-place",
        always_set_updating=False)
    if res is None:
        r.delete_pod(pod)
        return True
    r.emit(*res.actions)
    r.wait(res.requeue_after)
    if res.error:
        _fail(r, res.error)
        return False
    if res.started:
        r.holding.add(name_of(pod))
    return True


def rolling_update(r: Round) -> None:
    for slot in r.slots:
        if slot.pod is not None:
            r.refresh(slot.pod)
    for _, pod in r.condemned:
        r.refresh(pod)
    if r.lifecycle_moved or r.sts.paused:
        return

    unavailable = _unavailable(r)
    specified = _specified_deletes(r, unavailable)
    for slot in sort_pods_to_update(r):
        pod = slot.pod
        if pod is None or equal_to_revision_hash(pod, r.update_name):
            continue  # up to date, or not created yet
        if len(unavailable) >= r.sts.max_unavailable and slot.name not in unavailable:
            return  # wait for the unavailable pods
        if slot.name in specified or is_terminating(pod):
            unavailable.add(slot.name)
            continue
        if inplace.grace_text(pod) is None and not _update_pod(r, pod):
            return
        unavailable.add(slot.name)
