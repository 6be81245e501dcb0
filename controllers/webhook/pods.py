"""The pod mutating webhook (`/mutate-pod`, CREATE, failurePolicy Ignore).

It adds the `KruisePodReady` readiness gate to pods that an apps.kruise.io workload controls
(openkruise.md §2.5), so that lifecycle hooks with markPodNotReady can take a pod out of its Services before
deleting or updating it. The controllers set the condition True (`controllers/common/podreadiness.py`).
A pod the webhook never saw (the manager was down: the webhook fails open) simply has no such gate.
"""
from __future__ import annotations

from controllers.common.keys import KRUISE_POD_READY

from .admission import _response, json_patch


def _controlled_by_kruise(pod: dict) -> bool:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and str(ref.get("apiVersion", "")).startswith("apps.kruise.io/"):
            return True
    return False


async def mutate_pod(review: dict) -> dict:
    request = review.get("request") or {}
    pod = request.get("object")
    if request.get("operation") != "CREATE" or not isinstance(pod, dict) or not _controlled_by_kruise(pod):
        return _response(review, True)
    gates = (pod.get("spec") or {}).get("readinessGates") or []
    if any(g.get("conditionType") == KRUISE_POD_READY for g in gates):
        return _response(review, True)
    mutated = {**pod, "spec": {**pod["spec"], "readinessGates": [*gates, {"conditionType": KRUISE_POD_READY}]}}
    return _response(review, True, patch=json_patch(pod, mutated))
