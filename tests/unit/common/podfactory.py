"""Plain pod dicts for the common/ tests."""
from __future__ import annotations

from typing import Any


def pod(name: str, *, labels: dict | None = None, annotations: dict | None = None, node: str = "n1",
        phase: str = "Running", ready: bool = True, ready_since: str = "2024-05-01T11:00:00Z",
        created: str = "2024-05-01T10:00:00Z", restarts: int = 0, finalizers: list | None = None,
        gates: list[str] | None = None, conditions: list[dict] | None = None,
        containers: list[dict] | None = None, statuses: list[dict] | None = None, uid: str | None = None) -> dict[str, Any]:
    conds = [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": ready_since},
             {"type": "ContainersReady", "status": "True" if ready else "False"}]
    conds += conditions or []
    containers = containers or [{"name": "main", "image": "nginx:1.25"}]
    return {
        "metadata": {"name": name, "uid": uid or f"uid-{name}", "labels": dict(labels or {}),
                     "annotations": dict(annotations or {}), "creationTimestamp": created,
                     "finalizers": list(finalizers or [])},
        "spec": {"nodeName": node, "containers": containers,
                 "readinessGates": [{"conditionType": g} for g in gates or []]},
        "status": {"phase": phase, "conditions": conds,
                   "containerStatuses": statuses if statuses is not None else
                   [{"name": c["name"], "image": c["image"], "imageID": f"id-{c['image']}",
                     "containerID": f"cid-{name}-{c['name']}", "restartCount": restarts, "ready": ready}
                    for c in containers]},
    }
