"""The CloneSet status (`cloneset_status.go calculateStatus`, `cloneset_controller.go` newStatus).

"ready" = Running, Ready and InPlaceUpdateReady not False; "available" = also ready for minReadySeconds.
currentRevision becomes updateRevision as soon as every pod is at updateRevision (readiness not required).
With spec.progressDeadlineSeconds, condition Progressing (`controllers/common/progress.py`).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from controllers.common import progress as common_progress
from controllers.common import status as common_status
from controllers.common.partition import resolve_partition
from controllers.common.revision import equal_to_revision_hash
from controllers.common.selectors import selector_string

from .podstate import is_pod_update_ready
from .spec import CloneSetView

JSON = dict[str, Any]

FAILED_SCALE = "FailedScale"
FAILED_UPDATE = "FailedUpdate"


def calculate_status(cs: CloneSetView, pods: list[JSON], *, update_revision: str, current_revision: str,
                     collision_count: int, now: datetime) -> JSON:
    replicas = ready = available = updated = updated_ready = updated_available = 0
    for pod in pods:
        replicas += 1
        is_ready = is_pod_update_ready(pod, 0, now)
        is_available = is_pod_update_ready(pod, cs.min_ready_seconds, now)
        at_update = equal_to_revision_hash(pod, update_revision)
        ready += is_ready
        available += is_available
        updated += at_update
        updated_ready += at_update and is_ready
        updated_available += at_update and is_available
    if updated == replicas:
        current_revision = update_revision
    expected_updated = cs.replicas
    if update_revision != current_revision:
        expected_updated -= resolve_partition(cs.partition, cs.replicas)
    return {
        "observedGeneration": cs.generation,
        "replicas": replicas,
        "readyReplicas": ready,
        "availableReplicas": available,
        "updatedReplicas": updated,
        "updatedReadyReplicas": updated_ready,
        "updatedAvailableReplicas": updated_available,
        "expectedUpdatedReplicas": expected_updated,
        "updateRevision": update_revision,
        "currentRevision": current_revision,
        "collisionCount": collision_count,
        "labelSelector": selector_string(cs.selector),
    }


def with_conditions(status: JSON, old_status: JSON, failures: dict[str, str], now: datetime) -> JSON:
    """FailedScale / FailedUpdate conditions for this round's failures (`common.status.with_conditions`)."""
    return common_status.with_conditions(status, old_status, failures, (FAILED_SCALE, FAILED_UPDATE), now)


def min_ready_requeue(cs: CloneSetView, pods: list[JSON], now: datetime) -> float | None:
    """`common.status.min_ready_requeue` with CloneSet's ready and available."""
    return common_status.min_ready_requeue(pods, cs.min_ready_seconds, now,
                                           ready=lambda p: is_pod_update_ready(p, 0, now),
                                           available=lambda p: is_pod_update_ready(p, cs.min_ready_seconds, now))


def with_progressing(status: JSON, cs: CloneSetView, now: datetime) -> tuple[JSON, float | None]:
    """The Progressing condition (calculateProgressingStatus) and when to look again for its deadline."""
    replicas = cs.replicas
    # Upstream reads the partition here whether or not an update is under way (ExpectedUpdatedReplicas is
    # replicas - partition in its status), so a CloneSet at one revision with a pod down is partition-available.
    expected_updated = replicas - resolve_partition(cs.partition, replicas)
    rollout = common_progress.Rollout(
        kind="CloneSet", deadline_seconds=cs.progress_deadline_seconds,
        available=(status["currentRevision"] == status["updateRevision"] and status["replicas"] == replicas
                   and status["updatedReplicas"] == replicas and status["updatedAvailableReplicas"] == replicas),
        paused=cs.paused,
        partition_available=expected_updated < replicas and expected_updated <= status["updatedAvailableReplicas"],
        update_revision=status["updateRevision"],
        previous_update_revision=cs.status.get("updateRevision") or "")
    previous = common_progress.find_condition(cs.status.get("conditions"), common_progress.PROGRESSING)
    progress = common_progress.progressing(rollout, previous, now)
    return common_progress.with_progressing(status, progress), progress.requeue_after
