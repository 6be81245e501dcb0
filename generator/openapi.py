"""Resolved schema nodes -> OpenAPI v3 (CRD `openAPIV3Schema`), carrying only what a variant accepts.

Runtime-only constraints (mutuallyExclusive, exactlyOne, unique, patterns of int-or-string, percentages)
are left to the validating webhook: they are not structural or older API servers reject them.
"""
from __future__ import annotations

from typing import Callable

Supports = Callable[[str], bool]

_SCALARS = {
    "string": {"type": "string"},
    "date-time": {"type": "string", "format": "date-time"},
    "boolean": {"type": "boolean"},
    "int32": {"type": "integer", "format": "int32"},
    "int64": {"type": "integer", "format": "int64"},
    "number": {"type": "number"},
}
_COPIED = ("enum", "minimum", "maximum", "minLength", "maxLength", "pattern", "minItems", "maxItems")


def to_openapi(node: dict, supports: Supports, *, descriptions: bool = True) -> dict:
    kind = node["type"]
    if kind in _SCALARS:
        out = dict(_SCALARS[kind])
        for key in _COPIED:
            if key in node:
                out[key] = node[key]
    elif kind in ("int-or-string", "int-or-percent"):
        out = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
        if supports("crd.schema.x-kubernetes-int-or-string"):
            out["x-kubernetes-int-or-string"] = True
    elif kind == "schemaless":
        out = {"type": "object"}
        if supports("crd.schema.x-kubernetes-preserve-unknown-fields"):
            out["x-kubernetes-preserve-unknown-fields"] = True
    elif kind == "object":
        out = {"type": "object"}
        properties = node.get("properties", {})
        if properties:
            out["properties"] = {name: to_openapi(child, supports, descriptions=descriptions)
                                 for name, child in properties.items()}
            required = sorted(name for name, child in properties.items() if child.get("required"))
            if required:
                out["required"] = required
        if node.get("preserveUnknownFields") and supports("crd.schema.x-kubernetes-preserve-unknown-fields"):
            out["x-kubernetes-preserve-unknown-fields"] = True
    elif kind == "array":
        out = {"type": "array", "items": to_openapi(node["items"], supports, descriptions=descriptions)}
        for key in ("minItems", "maxItems"):
            if key in node:
                out[key] = node[key]
    elif kind == "map":
        out = {"type": "object", "additionalProperties": to_openapi(node["values"], supports, descriptions=descriptions)}
    else:  # pragma: no cover - inputs are checked on load
        raise ValueError(f"unknown type {kind}")
    if descriptions and node.get("description"):
        out["description"] = node["description"]
    if node.get("crdDefault") and supports("crd.schema.default"):
        out["default"] = node["default"]
    return out


def object_schema(root: dict, description: str, supports: Supports) -> dict:
    """The openAPIV3Schema of a kind: apiVersion, kind, metadata plus the resolved spec/status."""
    properties = {
        "apiVersion": {"type": "string", "description": "The versioned schema of this representation of an object."},
        "kind": {"type": "string", "description": "The REST resource this object represents."},
        "metadata": {"type": "object"},
    }
    for name in ("spec", "status"):
        if name in root["properties"]:
            properties[name] = to_openapi(root["properties"][name], supports)
    return {"type": "object", "description": description, "properties": properties}
