"""The pod mutating webhook (`/mutate-pod`, CREATE, failurePolicy Ignore).

It adds the `KruisePodReady` readiness gate to pods that an apps.kruise.io workload controls, or to every
pod with the `KruisePodReadinessGate` feature gate (openkruise.md §2.5), so that lifecycle hooks with
markPodNotReady can take a pod out of its Services before deleting or updating it. The controllers set the
condition True (`controllers/common/podreadiness.py`). A pod the webhook never saw (the manager was down:
the webhook fails open) simply has no such gate.

Which pods the API server sends here is decided by the webhook configuration (policies/webhooks.yaml): on
1.15+ only pods labelled by our controllers, unless KruisePodReadinessGate is on. The ownerReference check
below still decides, as the configuration may select more (1.13/1.14 send every pod).
"""
from __future__ import annotations

from controllers import schema as schemas
from controllers.common.keys import KRUISE_POD_READY
from controllers.common.ownership import controller_of

from .admission import _response, json_patch


async def mutate_pod(review: dict, feature_gates: dict[str, bool] | None = None) -> dict:
    request = review.get("request") or {}
    pod = request.get("object")
    if request.get("operation") != "CREATE" or not isinstance(pod, dict):
        return _response(review, True)
    every_pod = schemas.default_schema().gates(feature_gates).get("KruisePodReadinessGate", False)
    if not every_pod and controller_of(pod, api_group="apps.kruise.io") is None:
        return _response(review, True)
    gates = (pod.get("spec") or {}).get("readinessGates") or []
    if any(g.get("conditionType") == KRUISE_POD_READY for g in gates):
        return _response(review, True)
    mutated = {**pod, "spec": {**pod["spec"], "readinessGates": [*gates, {"conditionType": KRUISE_POD_READY}]}}
    return _response(review, True, patch=json_patch(pod, mutated))
