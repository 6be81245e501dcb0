"""The Advanced StatefulSet status (`stateful_set_control.go computeReplicaStatus/updateStatus`,
`stateful_set_utils.go completeRollingUpdate`, `updatePVCStatus`).

Counted over the pods of the set (replicas and condemned, terminating ones included in `replicas`):
ready = Running and Ready; available = also lifecycle Normal and ready for minReadySeconds;
current/updated = not terminating and at currentRevision/updateRevision. currentRevision becomes
updateRevision once every pod is updated and ready, with two differences from upstream's completeRollingUpdate:
it also happens for OnDelete (else `currentRevision` stays on the first revision forever), and not while a
replica is missing (upstream counts a pod it is about to recreate as absent, so a one-replica set whose only
pod is being replaced would "complete" onto whatever revision, even a broken one).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from controllers.common.objects import is_terminating
from controllers.common.pods import seconds_until_available
from controllers.common.revision import equal_to_revision_hash
from controllers.common.selectors import selector_string

from .claims import volume_claims_status
from .podstate import is_available, is_running_and_ready
from .spec import StatefulSetView

JSON = dict[str, Any]

FAILED_CREATE_POD = "FailedCreatePod"
FAILED_UPDATE_POD = "FailedUpdatePod"
CONDITION_TYPES = (FAILED_CREATE_POD, FAILED_UPDATE_POD)


def calculate_status(sts: StatefulSetView, replicas: list[tuple[int, JSON]], condemned: list[tuple[int, JSON]], *,
                     missing: int, update_revision: str, current_revision: str, collision_count: int,
                     pvcs: dict[str, JSON], now: datetime) -> JSON:
    """`replicas`: the existing pods in range; `missing`: how many ordinals in range have no pod."""
    counts = dict.fromkeys(("replicas", "readyReplicas", "availableReplicas", "currentReplicas",
                            "updatedReplicas", "updatedReadyReplicas", "updatedAvailableReplicas"), 0)
    for _, pod in replicas + condemned:
        counts["replicas"] += 1
        updated = equal_to_revision_hash(pod, update_revision)
        if is_running_and_ready(pod):
            available = is_available(pod, sts.min_ready_seconds, now)
            counts["readyReplicas"] += 1
            counts["availableReplicas"] += available
            counts["updatedReadyReplicas"] += updated
            counts["updatedAvailableReplicas"] += updated and available
        if not is_terminating(pod):
            counts["currentReplicas"] += equal_to_revision_hash(pod, current_revision)
            counts["updatedReplicas"] += updated
    if counts["updatedReplicas"] == counts["replicas"] == counts["readyReplicas"] and not missing:
        current_revision = update_revision
        counts["currentReplicas"] = counts["updatedReplicas"]
    return {
        "observedGeneration": sts.generation,
        **counts,
        "currentRevision": current_revision,
        "updateRevision": update_revision,
        "collisionCount": collision_count,
        "labelSelector": selector_string(sts.selector),
        "volumeClaims": volume_claims_status(sts, [o for o, _ in replicas], pvcs),
    }


def min_ready_requeue(sts: StatefulSetView, pods: list[JSON], now: datetime) -> float | None:
    """When the next ready pod becomes available, so that availableReplicas follows."""
    if not sts.min_ready_seconds:
        return None
    waits = [seconds_until_available(p, sts.min_ready_seconds, now) for p in pods
             if is_running_and_ready(p) and not is_available(p, sts.min_ready_seconds, now)]
    waits = [w for w in waits if w is not None]
    return min(waits) if waits else None
