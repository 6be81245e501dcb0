"""The pod mutating webhook (`/mutate-pod`, CREATE): a chain of pure steps in OpenKruise's order
(sidecarset.md §2.1, pkg/webhook/pod/mutating/pod_create_update_handler.go):

1. the readiness gate: `KruisePodReady` on pods an apps.kruise.io workload controls, or on every pod with
   the `KruisePodReadinessGate` feature gate (openkruise.md §2.5), so that lifecycle hooks with
   markPodNotReady can take a pod out of its Services. The controllers set the condition True
   (`controllers/common/podreadiness.py`);
2. SidecarSet injection (`controllers/sidecarset/inject.py`), from this replica's own cache
   (`sidecarset_cache.py`), checked fresh against the API server;
3. (container launch priority, upstream's next step, is not done: in v1.9.0 it is not part of SidecarSet
   injection but a feature of its own, ungated, for every pod whose containers' KRUISE_CONTAINER_PRIORITY
   differ or that carries `apps.kruise.io/container-launch-priority: Ordered` (which a SidecarSet's
   patchPodMetadata can set): each container gets KRUISE_CONTAINER_BARRIER from the ConfigMap
   `<pod>-barrier`, key `p_<priority>`, and the manager's container-launch-priority controller adds the keys
   as the higher priorities become ready. It must run after step 2 so that injected sidecars are ordered too.)

Each step takes the pod and the admission's inputs and returns the pod; the response is one JSON patch from
the pod as received to the pod after the last step. A step that fails denies the pod, with the step named:
a pod that a SidecarSet selects must not start without its sidecars.

Which pods the API server sends here, and what happens when the manager is down, is decided by the webhook
configuration (policies/webhooks.yaml, README "SidecarSet injection"): every pod when SidecarSet injection is
on, failing open except in namespaces labelled `sidecarset.kruise.io/injection: required`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Awaitable, Callable

from controllers import schema as schemas
from controllers.common.keys import KRUISE_POD_READY
from controllers.common.ownership import controller_of
from controllers.sidecarset.inject import InjectionError, PinnedRevisionMissing, inject
from controllers.sidecarset.matching import is_active_pod

from .admission import _response, json_patch
from .sidecarset_cache import InjectionView

log = logging.getLogger(__name__)

ViewSource = Callable[[str], Awaitable[InjectionView]]


@dataclass
class PodAdmission:
    """The inputs of the pure steps: the pod's namespace, the feature gates, what injection reads, the clock."""
    namespace: str
    gates: dict[str, bool]
    view: InjectionView | None = None
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


class StepError(Exception):
    def __init__(self, message: str, retry_with_fresh_revisions: bool = False):
        super().__init__(message)
        self.retry_with_fresh_revisions = retry_with_fresh_revisions


def readiness_gate(pod: dict, admission: PodAdmission) -> dict:
    if not admission.gates.get("KruisePodReadinessGate", False) \
            and controller_of(pod, api_group="apps.kruise.io") is None:
        return pod
    gates = (pod.get("spec") or {}).get("readinessGates") or []
    if any(g.get("conditionType") == KRUISE_POD_READY for g in gates):
        return pod
    return {**pod, "spec": {**pod["spec"], "readinessGates": [*gates, {"conditionType": KRUISE_POD_READY}]}}


def sidecarset(pod: dict, admission: PodAdmission) -> dict:
    if admission.view is None:
        return pod
    view = admission.view
    try:
        return inject(pod, admission.namespace, view.sidecarsets, view.namespace_labels, view.revisions,
                      admission.now, sort_by_name=admission.gates.get("EnableSortSidecarContainerByName", False))
    except InjectionError as e:
        raise StepError(f"SidecarSet injection failed: {e}", isinstance(e, PinnedRevisionMissing)) from None


STEPS: tuple[Callable[[dict, PodAdmission], dict], ...] = (readiness_gate, sidecarset)


def run_steps(pod: dict, admission: PodAdmission) -> dict:
    for step in STEPS:
        pod = step(pod, admission)
    return pod


# What the steps read of a pod, by JSON type: the API server decodes a pod into its typed form before the
# mutating webhooks, so a request with other types does not come from it, and is refused with the field named.
_POD_OBJECT_LISTS = ("containers", "initContainers", "ephemeralContainers", "volumes", "readinessGates",
                     "tolerations", "imagePullSecrets", "hostAliases", "topologySpreadConstraints")
_CONTAINER_OBJECT_LISTS = ("env", "envFrom", "volumeMounts", "ports", "volumeDevices")
_CONTAINER_STRINGS = ("name", "image")


def pod_shape_errors(pod: dict) -> list[str]:
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return [f"spec: Required value: a pod's spec must be an object, not {type(spec).__name__}"]
    errors = []
    for key in _POD_OBJECT_LISTS:
        items = spec.get(key)
        if items is None:
            continue
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            errors.append(f"spec.{key}: Invalid value: must be a list of objects")
            continue
        if key not in ("containers", "initContainers", "ephemeralContainers"):
            continue
        for index, container in enumerate(items):
            where = f"spec.{key}[{index}]"
            errors += [f"{where}.{name}: Invalid value: must be a string" for name in _CONTAINER_STRINGS
                       if container.get(name) is not None and not isinstance(container[name], str)]
            for name in _CONTAINER_OBJECT_LISTS:
                value = container.get(name)
                if value is not None and (not isinstance(value, list) or not all(isinstance(v, dict) for v in value)):
                    errors.append(f"{where}.{name}: Invalid value: must be a list of objects")
    return errors


async def mutate_pod(review: dict, feature_gates: dict[str, bool] | None = None,
                     views: "object | None" = None) -> dict:
    """`views`: the SidecarSetCache (None: no SidecarSet injection, only the readiness gate)."""
    request = review.get("request") or {}
    pod = request.get("object")
    if request.get("operation") != "CREATE" or request.get("subResource") or not isinstance(pod, dict):
        return _response(review, True)   # UPDATE injects nothing (§2.4)
    shapes = pod_shape_errors(pod)
    if shapes:
        return _response(review, False, message="; ".join(shapes), code=400, reason="BadRequest")
    namespace = (pod.get("metadata") or {}).get("namespace") or request.get("namespace") or ""
    admission = PodAdmission(namespace, schemas.default_schema().gates(feature_gates))
    try:
        if views is not None and is_active_pod(pod):
            admission.view = await views.view(namespace or "default")
        try:
            mutated = run_steps(pod, admission)
        except StepError as e:
            if not e.retry_with_fresh_revisions:
                raise
            # A pinned revision the cache has not seen yet: once more with the revisions as the API server has them.
            admission.view.revisions = await views.all_revisions(direct=True)
            mutated = run_steps(pod, admission)
    except StepError as e:
        return _response(review, False, message=str(e), code=500, reason="InternalError")
    except Exception as e:   # the cache has not synced, or a direct read failed
        log.warning("pod webhook: %r", e)
        return _response(review, False, message=f"SidecarSet injection failed: {e}", code=500,
                         reason="InternalError")
    return _response(review, True, patch=json_patch(pod, mutated))
