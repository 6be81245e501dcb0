"""Lifecycle hooks (`apis/apps/pub/lifecycle.go`, `pkg/util/lifecycle/lifecycle_utils.go`).

A pod's lifecycle state lives in the label `lifecycle.apps.kruise.io/state`; every transition also writes the
annotation `lifecycle.apps.kruise.io/timestamp`. A hook (`preDelete`, `inPlaceUpdate`, `preNormal`) names
labels and finalizers; a pod is *hooked* when ANY of them is present and *all-hooked* when ALL are.

The transitions shared by the workloads live here (`state_after_refresh`: refreshPodState's state machine,
`delete_through_hooks`: deletePod, through the preDelete hook); when to call them is the workload's decision
(CloneSet: `controllers/cloneset/update.py` and `scale.py`; Advanced StatefulSet: `controllers/statefulset`).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .actions import Event, delete_pod, patch_pod
from .keys import LIFECYCLE_STATE_LABEL, LIFECYCLE_TIMESTAMP_ANNOTATION
from .podreadiness import PRE_DELETE_HOOK_KEY, PRE_UPDATE_HOOK_KEY, add_not_ready_key, remove_not_ready_key
from .objects import finalizers_of, labels_of, name_of, uid_of
from .times import format_time
from .revision import equal_to_revision_hash

JSON = dict[str, Any]

PREPARING_NORMAL = "PreparingNormal"
NORMAL = "Normal"
PREPARING_UPDATE = "PreparingUpdate"
UPDATING = "Updating"
UPDATED = "Updated"
PREPARING_DELETE = "PreparingDelete"


def state_of(pod: JSON) -> str:
    """GetPodLifecycleState; "" for pods created before lifecycle labels existed (treated like Normal)."""
    return labels_of(pod).get(LIFECYCLE_STATE_LABEL, "")


def hook_of(lifecycle: JSON | None, name: str) -> JSON | None:
    """`preDelete`, `inPlaceUpdate` or `preNormal` of a workload's `spec.lifecycle`."""
    hook = (lifecycle or {}).get(name)
    return hook if isinstance(hook, dict) else None


def is_pod_hooked(hook: JSON | None, pod: JSON) -> bool:
    """IsPodHooked: ANY finalizer of the hook is on the pod, or ANY of its labels matches."""
    if hook is None:
        return False
    finalizers = set(finalizers_of(pod))
    if any(f in finalizers for f in hook.get("finalizersHandler") or []):
        return True
    labels = labels_of(pod)
    return any(labels.get(k) == v for k, v in (hook.get("labelsHandler") or {}).items())


def is_pod_all_hooked(hook: JSON | None, pod: JSON) -> bool:
    """IsPodAllHooked: ALL finalizers and labels of the hook are on the pod (vacuously true for an empty hook)."""
    if hook is None:
        return False
    finalizers = set(finalizers_of(pod))
    if any(f not in finalizers for f in hook.get("finalizersHandler") or []):
        return False
    labels = labels_of(pod)
    return all(labels.get(k) == v for k, v in (hook.get("labelsHandler") or {}).items())


def marks_pod_not_ready(hook: JSON | None) -> bool:
    return bool(hook and hook.get("markPodNotReady"))


def lifecycle_marks_pod_not_ready(lifecycle: JSON | None) -> bool:
    """IsLifecycleMarkPodNotReady: preDelete or inPlaceUpdate sets markPodNotReady."""
    return marks_pod_not_ready(hook_of(lifecycle, "preDelete")) or marks_pod_not_ready(hook_of(lifecycle, "inPlaceUpdate"))


def state_labels(state: str, now: datetime) -> tuple[dict[str, str], dict[str, str]]:
    """SetPodLifecycle: the label and annotation a transition writes (also used when creating pods)."""
    return {LIFECYCLE_STATE_LABEL: state}, {LIFECYCLE_TIMESTAMP_ANNOTATION: format_time(now)}


def not_ready_policy(pod: JSON, state: str, now: datetime) -> list:
    """executePodNotReadyPolicy: the KruisePodReady message key that goes with entering `state`.

    Upstream removes the preUpdateHook key only on entering Updated; we also remove it on entering Normal, which
    an in-place update reaches directly when the hooks were re-added meanwhile (otherwise the pod would stay
    not-ready forever). Removing an absent key is a no-op.
    """
    action = None
    if state == PREPARING_DELETE:
        action = add_not_ready_key(pod, PRE_DELETE_HOOK_KEY, now)
    elif state == PREPARING_UPDATE:
        action = add_not_ready_key(pod, PRE_UPDATE_HOOK_KEY, now)
    elif state in (UPDATED, NORMAL):
        action = remove_not_ready_key(pod, PRE_UPDATE_HOOK_KEY, now)
    return [action] if action else []


def _metadata_patch(pod: JSON, labels: dict, annotations: dict, finalizers: list[str] | None = None) -> dict:
    metadata: dict[str, Any] = {}
    if uid_of(pod):
        metadata["uid"] = uid_of(pod)
    metadata["labels"] = labels
    metadata["annotations"] = annotations
    if finalizers:
        metadata["finalizers"] = finalizers
    return {"metadata": metadata}


def update_pod_lifecycle(pod: JSON, state: str, mark_pod_not_ready: bool, now: datetime) -> list:
    """UpdatePodLifecycle: the not-ready policy (if asked), then the state label, unless already there."""
    actions = not_ready_policy(pod, state, now) if mark_pod_not_ready else []
    if state_of(pod) != state:
        labels, annotations = state_labels(state, now)
        actions.append(patch_pod(name_of(pod), _metadata_patch(pod, labels, annotations), "strategic"))
    return actions


def update_pod_lifecycle_with_handler(pod: JSON, state: str, hook: JSON | None, now: datetime) -> list:
    """UpdatePodLifecycleWithHandler: also re-applies the hook's labels and finalizers, so that a pod that was
    Updated and gets a newer revision waits in PreparingUpdate for the hook owner again."""
    if hook is None:
        return []
    actions = not_ready_policy(pod, state, now) if marks_pod_not_ready(hook) else []
    if state_of(pod) != state:
        labels, annotations = state_labels(state, now)
        labels.update(hook.get("labelsHandler") or {})
        finalizers = [f for f in hook.get("finalizersHandler") or [] if f not in finalizers_of(pod)]
        actions.append(patch_pod(name_of(pod), _metadata_patch(pod, labels, annotations, finalizers), "strategic"))
    return actions


# ---------------------------------------------------------------------------------------------------------
# Transitions shared by CloneSet and Advanced StatefulSet

def after_in_place_update(lifecycle: JSON | None, pod: JSON) -> str:
    """Where an in-place update ends: Updated while the inPlaceUpdate hook is not (all) back on the pod, else
    Normal. A workload without `spec.lifecycle` goes straight to Normal; one with a lifecycle but no
    inPlaceUpdate hook passes through Updated for one round (upstream: IsPodAllHooked(nil) is false)."""
    if lifecycle is not None and not is_pod_all_hooked(hook_of(lifecycle, "inPlaceUpdate"), pod):
        return UPDATED
    return NORMAL


def state_after_refresh(lifecycle: JSON | None, pod: JSON, update_revision: str, update_completed: bool) -> str | None:
    """refreshPodState: the state a pod moves to now, or None.

    PreparingNormal → Normal once the preNormal hook is absent or all on; PreparingUpdate → Updated/Normal when
    the pod is already at the update revision (a rollback while waiting for the hook, OpenKruise #1156);
    Updating → Updated/Normal once the in-place update is complete (`update_completed`); Updated → Normal once
    the inPlaceUpdate hook is absent or all on again."""
    state = state_of(pod)
    if state == PREPARING_NORMAL:
        pre_normal = hook_of(lifecycle, "preNormal")
        if pre_normal is None or is_pod_all_hooked(pre_normal, pod):
            return NORMAL
    elif state == PREPARING_UPDATE:
        if equal_to_revision_hash(pod, update_revision):
            return after_in_place_update(lifecycle, pod)
    elif state == UPDATING:
        if update_completed:
            return after_in_place_update(lifecycle, pod)
    elif state == UPDATED:
        in_place_update = hook_of(lifecycle, "inPlaceUpdate")
        if in_place_update is None or is_pod_all_hooked(in_place_update, pod):
            return NORMAL
    return None


def refresh_state(lifecycle: JSON | None, pod: JSON, update_revision: str, update_completed: bool,
                  now: datetime) -> list:
    """The actions of `state_after_refresh` (with the inPlaceUpdate hook's markPodNotReady policy)."""
    new_state = state_after_refresh(lifecycle, pod, update_revision, update_completed)
    if new_state is None:
        return []
    return update_pod_lifecycle(pod, new_state, marks_pod_not_ready(hook_of(lifecycle, "inPlaceUpdate")), now)


def hold_for_pre_delete(lifecycle: JSON | None, pod: JSON, now: datetime) -> list | None:
    """The preDelete half of deletePod: None when the pod may be deleted now; otherwise the actions that move a
    hooked pod to PreparingDelete (empty when it is already there, waiting for the hook owner)."""
    hook = hook_of(lifecycle, "preDelete")
    if not is_pod_hooked(hook, pod):
        return None
    return update_pod_lifecycle(pod, PREPARING_DELETE, marks_pod_not_ready(hook), now)


def delete_through_hooks(lifecycle: JSON | None, pod: JSON, now: datetime, *, reason: str,
                         message: str) -> tuple[list, bool]:
    """deletePod: (actions, deleting now). A hooked pod moves to PreparingDelete (`hold_for_pre_delete`);
    any other is deleted (with its uid as a precondition) and a SuccessfulDelete event says `message`."""
    held = hold_for_pre_delete(lifecycle, pod, now)
    if held is not None:
        return held, False
    return [delete_pod(name_of(pod), uid_of(pod), reason), Event("Normal", "SuccessfulDelete", message)], True
