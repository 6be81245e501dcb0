"""The SidecarSet's status (sidecarset.md §1.6, `calculateStatus`): written whole through the status
subresource whenever a field differs, every round, before any upgrade (NotUpdate and paused included)."""
from __future__ import annotations

from typing import Any

from controllers.common.objects import meta

from .upgrade import is_ready, is_state_consistent, is_updated

JSON = dict[str, Any]
FIELDS = ("observedGeneration", "matchedPods", "updatedPods", "readyPods", "updatedReadyPods", "latestRevision",
          "collisionCount")


def compute_status(sidecarset: JSON, pods: list[JSON], latest_revision: str, collision_count: int) -> JSON:
    """matched: the matched pods; updated: at the SidecarSet's hash; ready: every sidecar runs its spec
    (consistent) and the pod is ready (the SidecarSet's IsPodReady); updatedReady: both."""
    updated = ready = updated_ready = 0
    for pod in pods:
        u = is_updated(sidecarset, pod)
        r = is_state_consistent(sidecarset, pod) and is_ready(sidecarset, pod)
        updated += u
        ready += r
        updated_ready += u and r
    return {"observedGeneration": meta(sidecarset).get("generation") or 0, "matchedPods": len(pods),
            "updatedPods": updated, "readyPods": ready, "updatedReadyPods": updated_ready,
            "latestRevision": latest_revision, "collisionCount": collision_count}


def status_needs_write(sidecarset: JSON, status: JSON) -> bool:
    """inconsistentStatus: any field differs (a missing counter counts as 0)."""
    old = sidecarset.get("status") or {}
    return any((old.get(k) or 0) != (status.get(k) or 0) if k != "latestRevision" else old.get(k) != status.get(k)
               for k in FIELDS)
