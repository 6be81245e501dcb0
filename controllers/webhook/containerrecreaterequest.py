"""The ContainerRecreateRequest mutating webhook: the schema's defaults as for every kind, then what needs the
pod and its node (`controllers/containerrecreaterequest/admission.py`, pure). A refusal names the field and
changes nothing."""
from __future__ import annotations

import copy
from typing import Awaitable, Callable

from controllers import schema as schemas
from controllers.containerrecreaterequest import admission as crr_admission
from kube import resource_path

from .admission import _response, describe, json_patch

ObjectLookup = Callable[[str], Awaitable[dict | None]]  # an API path → the object, or None when not found

KIND = "ContainerRecreateRequest"


def _refuse(review: dict, obj: dict, errors: list) -> dict:
    name = (obj.get("metadata") or {}).get("name") or (review.get("request") or {}).get("name", "")
    return _response(review, False, message=describe(KIND, name, errors), code=422, reason="Invalid")


async def mutate_crr(review: dict, lookup: ObjectLookup | None,
                     feature_gates: dict[str, bool] | None = None) -> dict:
    request = review.get("request") or {}
    obj = request.get("object")
    if not isinstance(obj, dict):
        return _response(review, True)
    schema = schemas.default_schema()
    # What follows reads the request as the schema types it; the API server checks types only after the
    # mutating webhooks, so a value of another type is refused here, named (as upstream's typed decode does).
    try:
        shapes = schema.shape_errors(obj) + (schema.shape_errors(request["oldObject"], "oldObject.")
                                             if isinstance(request.get("oldObject"), dict) else [])
    except schemas.SchemaLookupError as e:
        return _response(review, False, message=str(e), code=400, reason="BadRequest")
    if shapes:
        return _refuse(review, obj, shapes)
    if request.get("operation") == "UPDATE":
        old = request.get("oldObject") or {}
        errors = crr_admission.check_update(obj, old)
        return _refuse(review, obj, errors) if errors else _response(review, True)
    if request.get("operation") != "CREATE":
        return _response(review, True)
    gates = schema.gates(feature_gates)
    errors = crr_admission.check_create(obj, gates)
    if errors:
        return _refuse(review, obj, errors)
    crr = schema.apply_defaults(copy.deepcopy(obj), feature_gates)
    namespace = (crr.get("metadata") or {}).get("namespace") or request.get("namespace", "")
    if lookup is None:
        raise RuntimeError("the ContainerRecreateRequest webhook needs an object lookup")
    pod = await lookup(resource_path("v1", "pods", namespace, crr["spec"]["podName"]))
    node_name = ((pod or {}).get("spec") or {}).get("nodeName")
    node = await lookup(resource_path("v1", "nodes", None, node_name)) if node_name else None
    crr, errors = crr_admission.fill_create(crr, pod, node)
    if errors:
        return _refuse(review, obj, errors)
    return _response(review, True, patch=json_patch(obj, crr))
