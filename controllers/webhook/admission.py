"""AdmissionReview handling for the workloads: defaulting and validation from the runtime schema.

Nothing here knows a field: defaults, constraints and cross-field rules all come from
`controllers/_generated/schema.json` (written by the generator from schema/ and policies/). A kind served in
several versions (Advanced StatefulSet) is defaulted and validated in its storage version, and the result is
converted back, as OpenKruise's StatefulSet webhook does; Advanced DaemonSet (`admitIn: servedVersion`) in the
version of the request, as OpenKruise's DaemonSet webhook does.

Mutation also gives pod and PVC templates Kubernetes' defaults (controllers/common/template_defaults.py) on
CREATE and on an UPDATE that changes them, where policies/admission `templateDefaults` lists them.
"""
from __future__ import annotations

import base64
import json
from typing import Any, Awaitable, Callable

from controllers import schema as schemas
from controllers.common.jsondiff import diff as json_patch  # the RFC 6902 patch an admission response carries
from controllers.sidecarset import hashes as sidecarset_hashes

from . import conversion, kubernetes_validation
from .rules import pods_to_look_up

# policies/admission `computedAnnotations`: annotations computed from the defaulted object, by name.
ANNOTATORS: dict[str, Callable[[dict], str]] = {
    "sidecarSetHash": sidecarset_hashes.sidecarset_hash,
    "sidecarSetHashWithoutImage": sidecarset_hashes.sidecarset_hash_without_image,
}


def _with_computed_annotations(obj: dict, schema: schemas.Schema) -> dict:
    """SetHashSidecarSetV1beta1: after the defaults, on every CREATE and UPDATE."""
    computed = schema.of(obj)[2].get("computedAnnotations")
    if not computed:
        return obj
    annotations = obj.setdefault("metadata", {}).setdefault("annotations", {})
    for key, name in computed.items():
        annotations[key] = ANNOTATORS[name](obj)
    return obj

# The named pods of a namespace that exist, by name (a rule `needs` pods: only the names it will read,
# rules.pods_to_look_up).
PodsLookup = Callable[[str, list[str]], Awaitable[dict[str, dict]]]
# Cluster state a rule `needs` (other than pods), by name, read at admission time for the object under review:
# "sidecarsets", "kruiseConfiguration", "revisions", "storageClasses" (controllers/webhook/rules.py RuleContext.state).
StateLookup = Callable[[dict], Awaitable[Any]]


def _response(review: dict, allowed: bool, *, message: str = "", code: int = 200, reason: str = "",
              patch: list[dict] | None = None, warnings: list[str] | None = None) -> dict:
    request = review.get("request") or {}
    response: dict[str, Any] = {"uid": request.get("uid", ""), "allowed": allowed}
    if not allowed:
        # No reason "Invalid": kubectl prints that reason from `details.causes` only, which would hide our
        # message behind "The request is invalid".
        response["status"] = {"code": code, "message": message}
        if reason and reason != "Invalid":
            response["status"]["reason"] = reason
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
    if warnings:
        response["warnings"] = warnings
    return {"apiVersion": review.get("apiVersion", "admission.k8s.io/v1"), "kind": "AdmissionReview",
            "response": response}


def _storage_form(obj: dict, schema: schemas.Schema) -> tuple[dict, str]:
    """The object in the version it is admitted in (its kind's storage version, or with `admitIn:
    servedVersion` the version it came in, as OpenKruise's DaemonSet webhook defaults and validates each
    version with its own rules), and the version it came in."""
    kind, version, _ = schema.of(obj)
    info = schema.data["kinds"][kind]
    storage = info.get("storageVersion", version)
    if storage == version or info.get("admitIn") == "servedVersion":
        return obj, obj["apiVersion"]
    return conversion.convert(obj, f"{info['group']}/{storage}", schema), obj["apiVersion"]


def mutate(review: dict, schema: schemas.Schema | None = None, feature_gates: dict[str, bool] | None = None) -> dict:
    schema = schema or schemas.default_schema()
    request = review.get("request") or {}
    obj = request.get("object")
    if not isinstance(obj, dict):
        return _response(review, True)
    old = request.get("oldObject") if request.get("operation") == "UPDATE" else None
    try:
        stored, original_version = _storage_form(obj, schema)
        old_stored = _storage_form(old, schema)[0] if isinstance(old, dict) else None
        shapes = schema.shape_errors(stored)
        if shapes:
            # Defaults follow the schema; a value of another JSON type is refused by the API server's own check
            # of the CRD schema, which runs after the mutating webhooks and names the field as users know it.
            # So nothing is defaulted, and nothing is refused here. Found by fuzzing.
            return _response(review, True, warnings=[f"not defaulted: {e.path}: {e.message}" for e in shapes[:3]])
        defaulted = schema.apply_defaults(stored, feature_gates)
        defaulted = schema.apply_template_defaults(defaulted, old_stored, feature_gates)
        defaulted = _with_computed_annotations(defaulted, schema)
        if original_version != defaulted["apiVersion"]:
            defaulted = conversion.convert(defaulted, original_version, schema)
    except schemas.SchemaLookupError as e:
        return _response(review, False, message=str(e), code=400, reason="BadRequest")
    return _response(review, True, patch=json_patch(obj, defaulted))


def describe(kind: str, name: str, errors: list[schemas.FieldError]) -> str:
    """Kubernetes' own wording: `CloneSet.apps.kruise.io "x" is invalid: [spec.replicas: ..., ...]`."""
    parts = [f"{e.path}: {e.message}" for e in errors]
    detail = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return f'{kind}.apps.kruise.io "{name}" is invalid: {detail}'


async def validate(review: dict, schema: schemas.Schema | None = None, pods: PodsLookup | None = None,
                   feature_gates: dict[str, bool] | None = None,
                   lookups: dict[str, StateLookup] | None = None,
                   dry_run: kubernetes_validation.DryRunCreate | None = None) -> dict:
    """The verdict on a workload. With `dry_run`, rules `kubernetesValidation` get the API server's verdict on
    the object's pod and PVC templates; without it (or when it gives none) those rules accept."""
    schema = schema or schemas.default_schema()
    request = review.get("request") or {}
    operation = request.get("operation", "CREATE")
    obj = request.get("object") if operation != "DELETE" else request.get("oldObject")
    old = request.get("oldObject") if operation == "UPDATE" else None
    if not isinstance(obj, dict):
        return _response(review, True)
    try:
        kind, _, _ = schema.of(obj)
        stored, _ = _storage_form(obj, schema)
        old_stored = _storage_form(old, schema)[0] if isinstance(old, dict) else None
    except schemas.SchemaLookupError as e:
        return _response(review, False, message=str(e), code=400, reason="BadRequest")
    info = schema.of(stored)[2]
    gates = schema.gates(feature_gates)
    # Only the rules that will run read the cluster (StorageClasses only with StatefulSetAutoResizePVCGate, the
    # only case the chart grants them).
    needs = {n for r in info["rules"] if operation in r["operations"]
             and gates.get(r.get("featureGate", ""), "featureGate" not in r) for n in r.get("needs", [])}
    namespace = (stored.get("metadata") or {}).get("namespace") or request.get("namespace") or ""
    judged_warnings: list[str] = []
    try:
        pod_map = None
        if "pods" in needs and pods:
            wanted = pods_to_look_up(info["rules"], stored, old_stored, operation)
            pod_map = await pods(namespace, sorted(wanted)) if wanted else {}
        state = {name: await lookup(stored) for name, lookup in (lookups or {}).items() if name in needs}
        if "kubernetesValidation" in needs and dry_run is not None:
            rules = [r for r in info["rules"] if r["check"] == "kubernetesValidation" and operation in r["operations"]]
            judged = await kubernetes_validation.judge(rules, stored, old_stored, namespace or None, dry_run)
            state["kubernetesValidation"] = judged
            judged_warnings = [w for j in judged.values() for w in j.warnings]
    except Exception as e:      # the cluster state could not be read: refuse, as upstream does (InternalError)
        return _response(review, False, message=f"Internal error: {e}", code=500, reason="InternalError")
    errors = schema.validate(stored, old_stored, operation=operation, pods=pod_map, state=state,
                             feature_gates=feature_gates)
    if errors:
        name = (obj.get("metadata") or {}).get("name") or request.get("name", "")
        forbidden = operation == "DELETE"
        return _response(review, False, message=describe(kind, name, errors),
                         code=403 if forbidden else 422, reason="Forbidden" if forbidden else "Invalid")
    warnings = judged_warnings
    if kind == "SidecarSet" and operation != "DELETE":
        from controllers.sidecarset.availability import fail_open_warnings
        warnings = warnings + fail_open_warnings(stored, schema.data["chartObjects"].get("podWebhookRequiredNamespaceLabel"))
    return _response(review, True, warnings=warnings)
