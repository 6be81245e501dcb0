"""Deletion protection of Kubernetes' own objects: Namespaces, CustomResourceDefinitions, apps/v1 Deployments,
ReplicaSets and StatefulSets, Services and Ingresses (OpenKruise v1.9.0 `pkg/webhook/util/deletionprotection`, the
handlers of `pkg/webhook/{namespace,customresourcedefinition,builtinworkloads,service,ingress}/validating`).

With feature gate ResourcesDeletionProtection, the label `policy.kruise.io/delete-protection` decides a DELETE:
`Always` refuses it; `Cascading` refuses it while the object has dependents (a workload's replicas, a namespace's
active pods and then its Bound claims, a CRD's custom resources, the last only with
DeletionProtectionForCRDCascadingGate, without which upstream refuses every Cascading CRD deletion; Services and
Ingresses know `Always` only). Any other value, or none, admits; so does an object already being deleted. The words are upstream's, and the refusal is a
403 carrying them alone (`admission.Errored(http.StatusForbidden, err)`), so kubectl prints
`admission webhook "vnamespace.kb.io" denied the request: forbidden by ResourcesProtectionDeletion for ...`.

Which webhook path guards what, and behind which gates, is the runtime schema's `deletionProtection` (generated
from the `deleteProtection` entries of policies/webhooks.yaml). Our own kinds' protection is the admission rule
check `deleteProtection` (controllers/webhook/rules.py), with the same words.
"""
from __future__ import annotations

import logging
from typing import Awaitable, Callable

from controllers import schema as schemas

from .admission import _response
from .rules import DELETE_PROTECTION_LABEL

log = logging.getLogger(__name__)

# Lists the items at an API path (every page), e.g. /api/v1/namespaces/x/pods.
ListItems = Callable[[str], Awaitable[list[dict]]]

ALWAYS, CASCADING = "Always", "Cascading"


def _map(value) -> dict:
    """`value` when it is a mapping, else {} (what a malformed object decodes to in Go: zero values)."""
    return value if isinstance(value, dict) else {}


def protection(obj: dict) -> str | None:
    """The label's value, or None when the object is already being deleted (upstream judges it no more)."""
    meta = _map(obj.get("metadata"))
    if meta.get("deletionTimestamp") is not None:
        return None
    return _map(meta.get("labels")).get(DELETE_PROTECTION_LABEL)


def _forbidden(value: str, more: str = "") -> str:
    return f"forbidden by ResourcesProtectionDeletion for {DELETE_PROTECTION_LABEL}={value}{more}"


def workload_refusal(obj: dict) -> str | None:
    """ValidateWorkloadDeletion: `Always`, or `Cascading` with spec.replicas > 0 (an unset replicas counts as
    none, as upstream's nil pointer; the API server defaults it to 1 for these kinds)."""
    value = protection(obj)
    if value == ALWAYS:
        return _forbidden(value)
    replicas = _map(obj.get("spec")).get("replicas")
    if value == CASCADING and isinstance(replicas, int) and not isinstance(replicas, bool) and replicas > 0:
        return _forbidden(value, f" and replicas {replicas}>0")
    return None


def always_refusal(obj: dict) -> str | None:
    """ValidateServiceDeletion, ValidateIngressDeletion: `Always` only (`Cascading` admits)."""
    value = protection(obj)
    return _forbidden(value) if value == ALWAYS else None


def pod_is_active(pod: dict) -> bool:
    """kubecontroller.IsPodActive: not Succeeded, not Failed, not being deleted."""
    phase = _map(pod.get("status")).get("phase")
    return phase not in ("Succeeded", "Failed") and _map(pod.get("metadata")).get("deletionTimestamp") is None


def claim_is_bound(claim: dict) -> bool:
    return _map(claim.get("metadata")).get("deletionTimestamp") is None and _map(claim.get("status")).get("phase") == "Bound"


def namespace_refusal(obj: dict, pods: list[dict] | None = None, claims: list[dict] | None = None) -> str | None:
    """ValidateNamespaceDeletion: `Always`; `Cascading` while the namespace has an active pod, then while it has
    a Bound claim. `pods` and `claims` are the namespace's (needed only for `Cascading`)."""
    value = protection(obj)
    if value == ALWAYS:
        return _forbidden(value)
    if value != CASCADING:
        return None
    active = sum(1 for p in pods or [] if pod_is_active(p))
    if active > 0:
        return _forbidden(value, f" and active pods {active}>0")
    bound = sum(1 for c in claims or [] if claim_is_bound(c))
    if bound > 0:
        return _forbidden(value, f' and "Bound" status pvc {bound}>0')
    return None


def crd_storage(crd: dict) -> tuple[str, str, str, str]:
    """(group, storage version, plural, listKind) of a CRD, apiextensions v1 or v1beta1 (whose `spec.version`
    names the only version when `spec.versions` is absent)."""
    spec = _map(crd.get("spec"))
    names = _map(spec.get("names"))
    versions = spec.get("versions") if isinstance(spec.get("versions"), list) else []
    version = next((_map(v).get("name", "") for v in versions if _map(v).get("storage")), spec.get("version", ""))
    return tuple(str(x) for x in (spec.get("group", ""), version, names.get("plural", ""), names.get("listKind", "")))


def crd_refusal(obj: dict, custom_resources: list[dict] | None = None, cascading_gate: bool = False) -> str | None:
    """ValidateCRDDeletion: `Always`; `Cascading` without DeletionProtectionForCRDCascadingGate always, with it
    while a custom resource of the CRD (in any namespace) is not being deleted."""
    value = protection(obj)
    if value == ALWAYS:
        return _forbidden(value)
    if value != CASCADING:
        return None
    if not cascading_gate:
        return "feature-gate DeletionProtectionForCRDCascadingGate is not enabled"
    active = sum(1 for r in custom_resources or [] if _map(r.get("metadata")).get("deletionTimestamp") is None)
    if active > 0:
        return _forbidden(value, f" and active CRs {active}>0")
    return None


def _text(error: Exception) -> str:
    """An API error as Go prints one (its Status message), anything else as itself."""
    body = getattr(error, "body", None)
    return body.get("message") or str(error) if isinstance(body, dict) else str(error)


def _gvk(crd: dict) -> str:
    group, version, _, list_kind = crd_storage(crd)
    return f"{group}/{version}, Kind={list_kind}"   # Go's GroupVersionKind.String()


async def refusal(cascading: str, obj: dict, *, gates: dict[str, bool], cascading_gate: str | None,
                  list_items: ListItems | None) -> str | None:
    """The refusal of deleting `obj` (None: admitted), reading the cluster only for `Cascading`. A list that
    fails refuses, in upstream's words: the protection holds when its check cannot run."""
    if cascading == "replicas":
        return workload_refusal(obj)
    if cascading == "none":
        return always_refusal(obj)
    if protection(obj) != CASCADING:     # Always, or not protected: nothing to read
        return namespace_refusal(obj) if cascading == "podsAndClaims" else crd_refusal(obj)
    if list_items is None:
        async def list_items(path: str) -> list[dict]:
            raise RuntimeError(f"no client to list {path}")
    if cascading == "podsAndClaims":
        name = _map(obj.get("metadata")).get("name", "")
        try:
            pods = await list_items(f"/api/v1/namespaces/{name}/pods")
        except Exception as e:
            return f"forbidden by ResourcesProtectionDeletion for list pods error: {_text(e)}"
        found = namespace_refusal(obj, pods)
        if found:
            return found
        try:
            claims = await list_items(f"/api/v1/namespaces/{name}/persistentvolumeclaims")
        except Exception as e:
            return f"forbidden by ResourcesProtectionDeletion for list pvc error: {_text(e)}"
        return namespace_refusal(obj, pods, claims)
    if cascading == "customResources":
        enabled = bool(cascading_gate and gates.get(cascading_gate))
        if not enabled:
            return crd_refusal(obj, cascading_gate=False)
        group, version, plural, _ = crd_storage(obj)
        try:
            items = await list_items(f"/apis/{group}/{version}/{plural}")
        except Exception as e:
            return f"failed to list CRs of {_gvk(obj)}: {_text(e)}"
        return crd_refusal(obj, items, cascading_gate=True)
    raise ValueError(f"unknown cascading check {cascading!r}")


async def validate(review: dict, spec: dict, feature_gates: dict[str, bool] | None = None,
                   list_items: ListItems | None = None, schema: schemas.Schema | None = None) -> dict:
    """The verdict on a DELETE of an object `spec` protects (`{featureGate, cascading, cascadingFeatureGate?}`)."""
    schema = schema or schemas.default_schema()
    request = review.get("request") or {}
    old = request.get("oldObject")
    gates = schema.gates(feature_gates)
    if request.get("operation") != "DELETE" or request.get("subResource") or not gates.get(spec["featureGate"]):
        return _response(review, True)
    if not isinstance(old, dict):
        # Kubernetes before 1.16 sends no oldObject with a DELETE; upstream admits (the chart renders these
        # webhooks from 1.16 on only).
        log.info("%s %s deleted without an old object: not judged", _map(request.get("kind")).get("kind"),
                 request.get("name"))
        return _response(review, True)
    message = await refusal(spec["cascading"], old, gates=gates, cascading_gate=spec.get("cascadingFeatureGate"),
                            list_items=list_items)
    if message is None:
        return _response(review, True)
    meta = _map(old.get("metadata"))
    log.info("deletion protection: refused deleting %s %s/%s for %s: %s", _map(request.get("kind")).get("kind"),
             meta.get("namespace", ""), meta.get("name"), _map(request.get("userInfo")).get("username"), message)
    return _response(review, False, message=message, code=403)
