"""The update step: `sync/cloneset_update.go Update`.

1. Refresh every pod: in-place update progress (grace period, next container batch, InPlaceUpdateReady=True),
   lifecycle transitions (PreparingNormal → Normal, Updating → Updated/Normal, ...), the pod-template-hash
   label. A lifecycle or label change ends the step for this round (the runtime waits for the cache to catch up).
2. Unless paused or OnDelete (whose pods change only when the user deletes them; the refresh of step 1 still
   runs, as kruise 58a5d52 fixed after v1.9.0, or pods would stay not ready): how many pods to update
   (partition), which ones (not at the target revision, not PreparingDelete, not in a grace period), in which
   order (ActivePods, priority, scatter, PreparingUpdate first), and how many at once (maxUnavailable, counting
   pods already unavailable).
3. Update each chosen pod in place (through the inPlaceUpdate hook) or by recreation (label
   apps.kruise.io/specified-delete: the scale step then replaces it).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from controllers.common import inplace, lifecycle
from controllers.common.actions import Event, patch_pod
from controllers.common.keys import CONTROLLER_REVISION_HASH_LABEL, POD_TEMPLATE_HASH_LABEL, SPECIFIED_DELETE_LABEL
from controllers.common.ordering import priority_sort, scatter_sort, sort_active_indexes
from controllers.common.objects import labels_of, name_of, uid_of
from controllers.common.revision import (equal_to_revision_hash, revision_labels, short_hash,
                                         volume_claim_templates_match)
from controllers.common.round import Round

from .diffs import Diffs, calculate_diffs
from .podstate import is_pod_available
from .spec import CloneSetView
from .status import FAILED_UPDATE

JSON = dict[str, Any]


# ---------------------------------------------------------------------------------------------------------
# Which pods, in which order, how many

def sort_update_indexes(cs: CloneSetView, pods: list[JSON], indexes: list[int]) -> list[int]:
    """SortUpdateIndexes: ActivePods order, then priorityStrategy, then scatterStrategy, PreparingUpdate first."""
    indexes = sort_active_indexes(pods, indexes)
    indexes = priority_sort(pods, indexes, cs.priority_strategy)
    indexes = scatter_sort(pods, indexes, cs.scatter_strategy)
    return sorted(indexes, key=lambda i: lifecycle.state_of(pods[i]) != lifecycle.PREPARING_UPDATE)


def limit_update_indexes(cs: CloneSetView, diffs: Diffs, indexes: list[int], pods: list[JSON], target: str,
                         now: datetime) -> list[int]:
    """limitUpdateIndexes: at most |updateNum| pods, keeping unavailable pods within maxUnavailable.

    Unavailable pods already at the target revision count against the budget (a broken new image stops the
    rollout there); updating a pod that is already unavailable does not make anything worse.
    """
    indexes = indexes[:abs(diffs.update_num)]
    available = [is_pod_available(p, cs.min_ready_seconds, now) for p in pods]
    unavailable = sum(1 for a in available if not a)
    target_unavailable = sum(1 for p, a in zip(pods, available) if not a and equal_to_revision_hash(p, target))
    # Beyond upstream: missing pods count as unavailable in update_max_unavailable, so a CloneSet whose
    # scale-up is held back by scaleStrategy.maxUnavailable (e.g. all pods on a broken image) would never
    # update at all and stay stuck. Updating a pod that is already unavailable never makes things worse,
    # so one such pod at a time may always go, as long as the target revision has no unavailable pods.
    floor = max(diffs.update_max_unavailable, 1)
    chosen = 0
    for i in indexes:
        if available[i]:
            if target_unavailable + chosen >= diffs.update_max_unavailable:
                break
            if unavailable >= diffs.update_max_unavailable:
                break
            unavailable += 1
        elif target_unavailable + chosen >= floor:
            break
        chosen += 1
    return indexes[:chosen]


def select_pods_to_update(cs: CloneSetView, pods: list[JSON], current_revision: str, update_revision: str,
                          now: datetime) -> tuple[str, list[JSON]]:
    """Steps 2–5 of Update: (target revision, pods to update now, in order)."""
    diffs = calculate_diffs(cs, pods, current_revision, update_revision, now)
    target = update_revision if diffs.update_num >= 0 else current_revision
    if diffs.update_num == 0:
        return target, []
    waiting = []
    for i, pod in enumerate(pods):
        at_update = equal_to_revision_hash(pod, update_revision)
        if at_update == (diffs.update_num > 0):
            continue
        state = lifecycle.state_of(pod)
        if state == lifecycle.PREPARING_DELETE:
            continue
        if state != lifecycle.UPDATED and inplace.grace_text(pod):
            continue  # still in the grace period of an earlier in-place update
        waiting.append(i)
    indexes = limit_update_indexes(cs, diffs, sort_update_indexes(cs, pods, waiting), pods, target, now)
    return target, [pods[i] for i in indexes]


# ---------------------------------------------------------------------------------------------------------
# Refresh

def fix_pod_template_hash(pod: JSON) -> list:
    """fixPodTemplateHashLabel: a pod without pod-template-hash gets it (from controller-revision-hash)."""
    labels = labels_of(pod)
    if POD_TEMPLATE_HASH_LABEL in labels or not labels.get(CONTROLLER_REVISION_HASH_LABEL):
        return []
    short = short_hash(labels[CONTROLLER_REVISION_HASH_LABEL])
    patch: JSON = {"metadata": {"labels": {POD_TEMPLATE_HASH_LABEL: short}}}
    if uid_of(pod):
        patch["metadata"]["uid"] = uid_of(pod)
    return [patch_pod(name_of(pod), patch, "strategic")]


# ---------------------------------------------------------------------------------------------------------
# Updating one pod

def update_pod(cs: CloneSetView, pod: JSON, target: JSON, revisions: list[JSON], now: datetime) -> inplace.PodUpdate:
    """updatePod: in place when possible (through the inPlaceUpdate hook), else by recreation."""
    target_name = name_of(target)

    def volumes_change(old: JSON | None, new: JSON) -> bool:
        # Recreate the pod, and its PVCs with it (InPlaceOnly ignores the volumes).
        return not volume_claim_templates_match(old, new)

    res = inplace.plan_pod_update(
        pod, revisions, target, policy=cs.update_type, lifecycle_spec=cs.lifecycle, now=now,
        grace_seconds=cs.grace_period_seconds,
        pod_revision_labels=revision_labels(target_name, short=cs.gate("CloneSetShortHash")),
        in_place_only_error=f"find Pod {name_of(pod)} update strategy is InPlaceOnly but can not update in-place",
        recreate_when=volumes_change if cs.gate("RecreatePodWhenChangeVCTInCloneSetGate") else None)
    if res is not None:
        return res
    if SPECIFIED_DELETE_LABEL in labels_of(pod):
        return inplace.PodUpdate()  # already marked; the scale step deletes it within maxUnavailable
    patch: JSON = {"metadata": {"labels": {SPECIFIED_DELETE_LABEL: "true"}}}
    if uid_of(pod):
        patch["metadata"]["uid"] = uid_of(pod)
    return inplace.PodUpdate([patch_pod(name_of(pod), patch, "strategic"),
                              Event("Normal", "SuccessfulUpdatePodReCreate",
                                    f"successfully patch pod {name_of(pod)} specified-delete for update(revision "
                                    f"{target_name})")])


# ---------------------------------------------------------------------------------------------------------
# The step

def plan_update(cs: CloneSetView, r: Round, *, current: JSON, update: JSON, revisions: list[JSON],
                pods: list[JSON]) -> None:
    """`pods` are the active pods; `revisions` the CloneSet's ControllerRevisions (to find each pod's template)."""
    # What the update would do this round; computed first, as its pods' drains must be held (`inplace.hold`).
    updates: list[inplace.PodUpdate] = []
    if not cs.paused and not cs.on_delete:
        target_name, chosen = select_pods_to_update(cs, pods, name_of(current), name_of(update), r.now)
        target = update if target_name == name_of(update) else current
        for pod in chosen:
            planned = update_pod(cs, pod, target, revisions, r.now)
            updates.append(planned)
            if planned.started:
                r.holding.add(name_of(pod))
            if planned.error:
                break  # upstream stops at the first failing pod

    # refreshPodState and fixPodTemplateHashLabel; a lifecycle or label change ends the step for this round.
    blocking: list = []
    for pod in pods:
        refreshed = r.refresh_pod(pod, cs.lifecycle, name_of(update),
                                  target_images=inplace.state_revision_images(pod, revisions),
                                  grace_seconds=cs.grace_period_seconds)
        r.emit(*refreshed.actions)
        blocking += refreshed.moved + fix_pod_template_hash(pod)
        r.wait(refreshed.requeue_after)
        if refreshed.error:
            r.fail(FAILED_UPDATE, refreshed.error)
    if blocking:
        r.emit(*blocking)
        return

    for planned in updates:
        r.emit(*planned.actions)
        r.wait(planned.requeue_after)
        if planned.error:
            r.fail(FAILED_UPDATE, planned.error)
            r.emit(Event("Warning", "FailedUpdatePodInPlace", planned.error))


def is_fresh(pod: JSON) -> bool:
    """A pod created by the CloneSet and never refreshed since: PreparingNormal, no InPlaceUpdateReady condition
    and no in-place update state (nothing to finish, drain or hold)."""
    return lifecycle.state_of(pod) == lifecycle.PREPARING_NORMAL and inplace.never_refreshed(pod)


def refresh_fresh_pods(cs: CloneSetView, r: Round, *, update: JSON, pods: list[JSON]) -> None:
    """refreshPodState for the pods a scaling round finds fresh (`is_fresh`): InPlaceUpdateReady=True and the
    move to Normal, in the pod's one status write (the runtime folds them with KruisePodReady).

    Upstream refreshes pods only in the update step, which a scaling round skips, and creates every missing pod
    in one round, so its pods are refreshed once the last create is sent. The runtime sends at most
    `creates_per_round` creates a round (about a second of the client's budget), so a scale-up takes many
    rounds; refreshing the pods the previous rounds created makes them Ready from the first seconds on instead
    of after every create (issue 21), and changes nothing else: a fresh pod has no update to start or finish,
    and the update step would write the same."""
    for pod in pods:
        if not is_fresh(pod):
            continue
        refreshed = r.refresh_pod(pod, cs.lifecycle, name_of(update), target_images=None,
                                  grace_seconds=cs.grace_period_seconds)
        r.emit(*refreshed.actions, *refreshed.moved)
