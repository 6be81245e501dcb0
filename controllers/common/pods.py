"""Pod predicates and small accessors (`k8s.io/kubernetes/pkg/api/v1/pod`, `pkg/controller` IsPodActive).

Pods are plain dicts as the API server returns them; every accessor tolerates missing fields. What every
object has (name, labels, ...) is in objects.py, times in times.py.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from .keys import CONTAINERS_READY, POD_READY
from .objects import is_terminating
from .times import as_utc, format_time, parse_time, seconds_until

JSON = dict[str, Any]


# ---------------------------------------------------------------------------------------------------------
# Accessors

def spec_of(pod: JSON) -> JSON:
    return pod.get("spec") or {}


def status_of(pod: JSON) -> JSON:
    return pod.get("status") or {}


def phase_of(pod: JSON) -> str:
    return status_of(pod).get("phase") or ""


def node_name_of(pod: JSON) -> str:
    return spec_of(pod).get("nodeName") or ""


def containers_of(pod_or_template: JSON) -> list[JSON]:
    return spec_of(pod_or_template).get("containers") or []


def container_statuses_of(pod: JSON) -> list[JSON]:
    return status_of(pod).get("containerStatuses") or []


def container_status(pod: JSON, name: str) -> JSON | None:
    for cs in container_statuses_of(pod):
        if cs.get("name") == name:
            return cs
    return None


def get_condition(pod: JSON, condition_type: str) -> JSON | None:
    for c in status_of(pod).get("conditions") or []:
        if c.get("type") == condition_type:
            return c
    return None


def has_readiness_gate(pod: JSON, condition_type: str) -> bool:
    return any(g.get("conditionType") == condition_type for g in spec_of(pod).get("readinessGates") or [])


# ---------------------------------------------------------------------------------------------------------
# Predicates

def is_pod_active(pod: JSON) -> bool:
    """kubecontroller.IsPodActive: not finished and not being deleted."""
    return phase_of(pod) not in ("Succeeded", "Failed") and not is_terminating(pod)


def is_pod_ready(pod: JSON) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    c = get_condition(pod, POD_READY)
    return bool(c) and c.get("status") == "True"


def pod_ready_time(pod: JSON) -> datetime | None:
    if not is_pod_ready(pod):
        return None
    return parse_time((get_condition(pod, POD_READY) or {}).get("lastTransitionTime"))


def is_pod_available(pod: JSON, min_ready_seconds: int, now: datetime) -> bool:
    """podutil.IsPodAvailable: ready, and ready for longer than minReadySeconds."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = pod_ready_time(pod)
    return since is not None and since + timedelta(seconds=min_ready_seconds) < as_utc(now)


def is_running_and_available(pod: JSON, min_ready_seconds: int, now: datetime) -> bool:
    return phase_of(pod) == "Running" and is_pod_available(pod, min_ready_seconds, now)


def seconds_until_available(pod: JSON, min_ready_seconds: int, now: datetime) -> float | None:
    """For a ready pod not yet available: how long until minReadySeconds have passed (for a requeue)."""
    since = pod_ready_time(pod)
    if since is None or not min_ready_seconds:
        return None
    left = seconds_until(since + timedelta(seconds=min_ready_seconds), now)
    # Availability needs "strictly after" the deadline, so wake up just past it, at second granularity.
    return float(math.floor(left) + 1) if left >= 0 else None


def max_container_restarts(pod: JSON) -> int:
    return max([int(cs.get("restartCount") or 0) for cs in container_statuses_of(pod)], default=0)


# ---------------------------------------------------------------------------------------------------------
# Condition patches

def condition_equal(existing: JSON | None, status: str, reason: str = "", message: str = "") -> bool:
    """hasEqualCondition: same status, reason and message (the transition time does not count)."""
    return (existing is not None and existing.get("status") == status
            and (existing.get("reason") or "") == reason and (existing.get("message") or "") == message)


def condition_patch(condition_type: str, status: str, now: datetime, reason: str = "", message: str = "") -> JSON:
    """One pod condition for a strategic merge patch; empty reason/message are cleared with null."""
    return {
        "type": condition_type,
        "status": status,
        "lastTransitionTime": format_time(now),
        "reason": reason or None,
        "message": message or None,
    }


def ready_condition_after(pod: JSON, gate_overrides: dict[str, str], now: datetime) -> JSON | None:
    """util.SetPodReadyCondition: the Ready condition once some readiness-gate conditions change.

    The controller only ever turns Ready to False this way (to drain traffic at once rather than waiting for the
    kubelet); it returns None when Ready need not change or the kubelet owns the decision.
    """
    ready = get_condition(pod, POD_READY)
    containers_ready = get_condition(pod, CONTAINERS_READY)
    if ready is None or containers_ready is None or containers_ready.get("status") != "True":
        return None
    unready: list[str] = []
    for gate in spec_of(pod).get("readinessGates") or []:
        ctype = gate.get("conditionType")
        status = gate_overrides.get(ctype) or (get_condition(pod, ctype) or {}).get("status")
        if status is None:
            unready.append(f'corresponding condition of pod readiness gate "{ctype}" does not exist.')
        elif status != "True":
            unready.append(f'the status of pod readiness gate "{ctype}" is not "True", but {status}')
    if not unready or ready.get("status") == "False":
        return None
    return condition_patch(POD_READY, "False", now, reason="ReadinessGatesNotReady", message=", ".join(unready))
