"""CloneSet's view of a pod: ready, available, specified for deletion.

Mirrors `core/cloneset_core.go IsPodUpdateReady` and `sync/cloneset_sync_utils.go IsPodAvailable/isPodReady/
isSpecifiedDelete`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from controllers.common import lifecycle
from controllers.common.keys import INPLACE_UPDATE_READY, SPECIFIED_DELETE_LABEL
from controllers.common.objects import labels_of, name_of
from controllers.common.pods import get_condition, is_running_and_available
from controllers.common.revision import equal_to_revision_hash

from .spec import CloneSetView

JSON = dict[str, Any]


def is_pod_update_ready(pod: JSON, min_ready_seconds: int, now: datetime) -> bool:
    """Running, Ready (for minReadySeconds), and not in the middle of an in-place update."""
    if not is_running_and_available(pod, min_ready_seconds, now):
        return False
    condition = get_condition(pod, INPLACE_UPDATE_READY)
    return condition is None or condition.get("status") == "True"


def is_pod_available(pod: JSON, min_ready_seconds: int, now: datetime) -> bool:
    """Also requires the lifecycle state to be Normal (or unset): hooks in progress count as unavailable."""
    if lifecycle.state_of(pod) not in ("", lifecycle.NORMAL):
        return False
    return is_pod_update_ready(pod, min_ready_seconds, now)


def is_pod_ready(pod: JSON, now: datetime) -> bool:
    return is_pod_available(pod, 0, now)


def is_specified_delete(cs: CloneSetView, pod: JSON) -> bool:
    """The pod carries apps.kruise.io/specified-delete (any value) or is listed in scaleStrategy.podsToDelete."""
    return SPECIFIED_DELETE_LABEL in labels_of(pod) or name_of(pod) in cs.pods_to_delete


def is_pod_update_when_scaling(cs: CloneSetView, pod: JSON, update_revision: str) -> bool:
    """revision.IsPodUpdate: is the pod of the update revision, as the scale step counts it? With gate
    PreparingUpdateAsUpdate a pod in PreparingUpdate counts too: it is about to move there, so scaling does not
    create (or keep) an extra old-revision pod for it. The update step always goes by the revision label."""
    if cs.gate("PreparingUpdateAsUpdate") and lifecycle.state_of(pod) == lifecycle.PREPARING_UPDATE:
        return True
    return equal_to_revision_hash(pod, update_revision)
