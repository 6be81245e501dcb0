"""The labels, annotations, phases and field readers of a ContainerRecreateRequest, shared by the webhook,
the manager's controller and the kruise-daemon (upstream `apis/apps/v1alpha1/containerrecreaterequest_types.go`).
Pure: plain dicts in, plain values out."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from controllers.common.times import parse_time

JSON = dict[str, Any]

GROUP_VERSION = "apps.kruise.io/v1alpha1"
KIND = "ContainerRecreateRequest"
PLURAL = "containerrecreaterequests"

POD_UID_LABEL = "crr.apps.kruise.io/pod-uid"
NODE_NAME_LABEL = "crr.apps.kruise.io/node-name"
ACTIVE_LABEL = "crr.apps.kruise.io/active"
VIRTUAL_KUBELET_LABEL, VIRTUAL_KUBELET_VALUE = "type", "virtual-kubelet"
SYNC_CONTAINER_STATUSES_ANNOTATION = "crr.apps.kruise.io/sync-container-statuses"
UNREADY_ACQUIRED_KEY = "crr.apps.kruise.io/unready-acquired"  # an annotation (the time) and a finalizer
USER_AGENT = "ContainerRecreateRequest"  # whose message it is in the pod's KruisePodReady condition

# Phases of the request, and of each container's state.
PENDING, RECREATING, COMPLETED = "Pending", "Recreating", "Completed"
SUCCEEDED, FAILED = "Succeeded", "Failed"
FAIL, IGNORE = "Fail", "Ignore"

# Messages a request completes with (status.message).
POD_GONE = "pod has gone"
DAEMON_SILENT = "daemon has not responded for a long time"
DEADLINE_EXCEEDED = "recreating has exceeded the activeDeadlineSeconds"
DAEMON_RESPONSE_SECONDS = 60  # the daemon must take a new request (phase Pending or more) within this
DEFAULT_TERMINATION_GRACE_SECONDS = 30


def labels(crr: JSON) -> dict[str, str]:
    return (crr.get("metadata") or {}).get("labels") or {}


def annotations(crr: JSON) -> dict[str, str]:
    return (crr.get("metadata") or {}).get("annotations") or {}


def spec(crr: JSON) -> JSON:
    return crr.get("spec") or {}


def strategy(crr: JSON) -> JSON:
    return spec(crr).get("strategy") or {}


def status(crr: JSON) -> JSON:
    return crr.get("status") or {}


def phase(crr: JSON) -> str:
    return status(crr).get("phase") or ""


def is_completed(crr: JSON) -> bool:
    return phase(crr) == COMPLETED


def is_deleting(crr: JSON) -> bool:
    return bool((crr.get("metadata") or {}).get("deletionTimestamp"))


def created(crr: JSON) -> datetime | None:
    return parse_time((crr.get("metadata") or {}).get("creationTimestamp"))


def pod_key(crr: JSON) -> str:
    """`<namespace>/<key>`: the message key of the pod's KruisePodReady condition, and the daemon's queue key."""
    return f"{crr['metadata'].get('namespace', '')}/{crr['metadata']['name']}"


def completed_status(completion_time: str, message: str) -> JSON:
    """The status fields a completion writes. An empty message is left out, as upstream's omitempty: the API
    server (1.20) turns an empty string in a merge patch into null, which the CRD's schema refuses."""
    out: JSON = {"phase": COMPLETED, "completionTime": completion_time}
    if message:
        out["message"] = message
    return out


def synced_statuses(crr: JSON) -> dict[str, JSON]:
    """The manager's copy of the recreated containers' pod status, by name ({name, ready, restartCount,
    containerID}); empty when absent or unreadable."""
    try:
        entries = json.loads(annotations(crr).get(SYNC_CONTAINER_STATUSES_ANNOTATION) or "[]")
    except ValueError:
        return {}
    return {e["name"]: e for e in entries if isinstance(e, dict) and "name" in e}
