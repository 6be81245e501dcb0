"""Lifecycle hooks (`apis/apps/pub/lifecycle.go`, `pkg/util/lifecycle/lifecycle_utils.go`).

A pod's lifecycle state lives in the label `lifecycle.apps.kruise.io/state`; every transition also writes the
annotation `lifecycle.apps.kruise.io/timestamp`. A hook (`preDelete`, `inPlaceUpdate`, `preNormal`) names
labels and finalizers; a pod is *hooked* when ANY of them is present and *all-hooked* when ALL are.

The transitions themselves are decided by the workload (CloneSet: `controllers/cloneset/update.py` and
`scale.py`); this module provides the predicates and the patches.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .actions import PatchPod
from .keys import LIFECYCLE_STATE_LABEL, LIFECYCLE_TIMESTAMP_ANNOTATION
from .podreadiness import PRE_DELETE_HOOK_KEY, PRE_UPDATE_HOOK_KEY, add_not_ready_key, remove_not_ready_key
from .pods import finalizers_of, format_time, labels_of, name_of, uid_of

JSON = dict[str, Any]

PREPARING_NORMAL = "PreparingNormal"
NORMAL = "Normal"
PREPARING_UPDATE = "PreparingUpdate"
UPDATING = "Updating"
UPDATED = "Updated"
PREPARING_DELETE = "PreparingDelete"
STATES = (PREPARING_NORMAL, NORMAL, PREPARING_UPDATE, UPDATING, UPDATED, PREPARING_DELETE)


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
        actions.append(PatchPod(name_of(pod), _metadata_patch(pod, labels, annotations), "strategic"))
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
        actions.append(PatchPod(name_of(pod), _metadata_patch(pod, labels, annotations, finalizers), "strategic"))
    return actions
