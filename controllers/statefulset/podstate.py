"""Advanced StatefulSet's view of a pod (`stateful_set_utils.go isHealthy/isRunningAndReady/
isRunningAndAvailable`, `pkg/util/specifieddelete`).

A lifecycle state other than Normal (PreparingUpdate, Updating, Updated, PreparingDelete, PreparingNormal)
makes a pod neither healthy nor available: hooks in progress count as unavailable.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from controllers.common import lifecycle
from controllers.common.keys import SPECIFIED_DELETE_LABEL
from controllers.common.objects import is_terminating, labels_of
from controllers.common.pods import is_pod_available, is_pod_ready, phase_of
from controllers.common.pods import seconds_until_available

JSON = dict[str, Any]


def is_running_and_ready(pod: JSON) -> bool:
    return phase_of(pod) == "Running" and is_pod_ready(pod)


def _normal(pod: JSON) -> bool:
    return lifecycle.state_of(pod) in ("", lifecycle.NORMAL)


def is_healthy(pod: JSON) -> bool:
    """Running, Ready, not terminating, lifecycle Normal (or no state)."""
    return _normal(pod) and is_running_and_ready(pod) and not is_terminating(pod)


def running_and_available(pod: JSON, min_ready_seconds: int, now: datetime) -> tuple[bool, float | None]:
    """isRunningAndAvailable: (available, seconds until it may become available by time alone, or None)."""
    if not _normal(pod) or not is_running_and_ready(pod):
        return False, None
    if is_pod_available(pod, min_ready_seconds, now):
        return True, None
    return False, seconds_until_available(pod, min_ready_seconds, now)


def is_available(pod: JSON, min_ready_seconds: int, now: datetime) -> bool:
    return running_and_available(pod, min_ready_seconds, now)[0]


def is_failed_or_succeeded(pod: JSON) -> bool:
    return phase_of(pod) in ("Failed", "Succeeded")


def is_pending(pod: JSON) -> bool:
    """Pending; a pod without a phase yet (just created, no kubelet has seen it) is pending too."""
    return phase_of(pod) in ("", "Pending")


def is_specified_delete(pod: JSON) -> bool:
    return SPECIFIED_DELETE_LABEL in labels_of(pod)
