"""Lossless conversion between the served versions of a kind (Advanced StatefulSet v1alpha1 ↔ v1beta1).

OpenKruise drops every field the target version cannot hold (reserveOrdinals, lifecycle, scaleStrategy, …),
so a v1alpha1 client that reads and writes back a StatefulSet silently erases them (kruise #1082, #2102).
Here the fields the target version has no place for travel in one annotation, and come back when the object
is converted to a version that has them: a round trip through any version returns the same object.

Which fields a version holds comes from the runtime schema (`controllers/schema`), so nothing here names a
field of a workload.
"""
from __future__ import annotations

import copy
import json
from typing import Any

from controllers import schema as schemas

STASH_ANNOTATION = "conversion.apps.kruise.io/fields-not-in-this-version"
_SCHEMALESS = ("schemaless",)


def _split(obj: Any, node: dict, path: tuple, stash: dict[str, Any]) -> Any:
    """obj without the fields `node` cannot hold; those go into `stash` under their JSON-pointer path."""
    if node.get("type") in _SCHEMALESS or node.get("x-kubernetes-preserve-unknown-fields"):
        return obj
    if isinstance(obj, dict) and "properties" in node:
        kept = {}
        for key, value in obj.items():
            child = node["properties"].get(key)
            if child is None:
                stash[_pointer(path + (key,))] = value
            else:
                kept[key] = _split(value, child, path + (key,), stash)
        return kept
    if isinstance(obj, dict) and node.get("type") == "map" and "values" in node:
        return {k: _split(v, node["values"], path + (k,), stash) for k, v in obj.items()}
    if isinstance(obj, list) and "items" in node:
        return [_split(v, node["items"], path + (i,), stash) for i, v in enumerate(obj)]
    return obj


def _pointer(path: tuple) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _unpointer(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]


def _restore(obj: dict, stash: dict[str, Any]) -> None:
    """Put stashed fields back where the object has nothing of its own (the client's own edits win)."""
    for pointer, value in stash.items():
        parts = _unpointer(pointer)
        target: Any = obj
        for i, part in enumerate(parts[:-1]):
            nxt_is_index = parts[i + 1].isdigit()
            if isinstance(target, list):
                idx = int(part)
                if idx >= len(target):
                    target = None
                    break
                target = target[idx]
            else:
                if part not in target or target[part] is None:
                    target[part] = [] if nxt_is_index else {}
                target = target[part]
            if not isinstance(target, (dict, list)):
                target = None
                break
        if isinstance(target, dict) and parts[-1] not in target:
            target[parts[-1]] = copy.deepcopy(value)


def convert(obj: dict, desired_api_version: str, schema: schemas.Schema | None = None) -> dict:
    """`obj` as `desired_api_version` (same group and kind), losing nothing."""
    schema = schema or schemas.default_schema()
    out = copy.deepcopy(obj)
    if out.get("apiVersion") == desired_api_version:
        return out
    annotations = dict((out.get("metadata") or {}).get("annotations") or {})
    stash: dict[str, Any] = json.loads(annotations.pop(STASH_ANNOTATION, "{}") or "{}")
    _restore(out, stash)
    out["apiVersion"] = desired_api_version
    _, _, info = schema.of(out)
    node = info["schema"]
    new_stash: dict[str, Any] = {}
    for section in ("spec", "status"):
        if section in out and section in node.get("properties", {}):
            out[section] = _split(out[section], node["properties"][section], (section,), new_stash)
    if new_stash:
        annotations[STASH_ANNOTATION] = json.dumps(new_stash, sort_keys=True, separators=(",", ":"))
    meta = out.setdefault("metadata", {})
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return out


def review(request_body: dict, schema: schemas.Schema | None = None) -> dict:
    """Answer an apiextensions ConversionReview (v1 or v1beta1)."""
    request = request_body.get("request") or {}
    uid = request.get("uid", "")
    desired = request.get("desiredAPIVersion", "")
    try:
        converted = [convert(o, desired, schema) for o in request.get("objects") or []]
        response = {"uid": uid, "convertedObjects": converted, "result": {"status": "Success"}}
    except (schemas.SchemaLookupError, ValueError, TypeError) as e:
        response = {"uid": uid, "convertedObjects": [], "result": {"status": "Failure", "message": str(e)}}
    return {"apiVersion": request_body.get("apiVersion", "apiextensions.k8s.io/v1"), "kind": "ConversionReview",
            "response": response}
