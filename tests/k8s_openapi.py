"""Strict validation of manifests against the OpenAPI definitions of a given Kubernetes version.

The schemas come from the kubernetes-validate releases that scripts/fetch-k8s-schemas.sh extracts into
~/.cache/ack-kruise/k8s-schemas (override: ACK_KRUISE_K8S_SCHEMAS). "Strict" is kubernetes-validate's
-local-strict flavour: every object has additionalProperties: false, so unknown fields are errors.

    errors = validate(manifest, "1.14")          # [] when valid
    errors = schema_props_errors(crd, "1.14")    # every nested openAPIV3Schema node uses only known keys

Two on-disk formats exist: up to kubernetes-validate 1.28 the kind files `$ref` a sibling
`_definitions.json#/definitions/...`; from 1.29 on they carry `$id`s under https://kubernetes.io/api/ and
`$ref` `/api/_definitions.json#/$defs/...` (draft 2020-12).
"""
from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import jsonschema
from referencing import Registry
from referencing.jsonschema import DRAFT7, DRAFT202012

CACHE = Path(os.environ.get("ACK_KRUISE_K8S_SCHEMAS", "~/.cache/ack-kruise/k8s-schemas")).expanduser()
FETCH_HINT = "run scripts/fetch-k8s-schemas.sh (make setup) to download the Kubernetes OpenAPI schemas"


def available_versions() -> list[tuple[int, int]]:
    found = []
    for path in CACHE.glob("v*-local-strict") if CACHE.is_dir() else []:
        match = re.match(r"^v(\d+)\.(\d+)\.\d+-local-strict$", path.name)
        if match and (path / "_definitions.json").exists():
            found.append((int(match.group(1)), int(match.group(2))))
    return sorted(found)


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(re.match(r"\d+", minor).group(0))


def schema_dir(version: str, strict: bool = True) -> Path | None:
    """The newest cached schema directory not newer than `version` (as kubernetes-validate picks it),
    or None when that version is not cached."""
    wanted = _minor(version)
    candidates = [v for v in available_versions() if v <= wanted]
    if not candidates or candidates[-1] != wanted:
        return None
    major, minor = candidates[-1]
    return CACHE / f"v{major}.{minor}.0-local{'-strict' if strict else ''}"


def has_version(version: str) -> bool:
    return schema_dir(version) is not None


def _schema_file_name(manifest: dict) -> str:
    api_version = manifest["apiVersion"]
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)   # apps.kruise.io/v1 -> apps-v1
    return f"{manifest['kind'].lower()}-{group_version}.json"


@lru_cache(maxsize=None)
def _load(directory: Path, name: str) -> dict:
    with open(directory / name, encoding="utf-8") as handle:
        return json.load(handle)


@lru_cache(maxsize=None)
def _validator(directory: Path, name: str) -> jsonschema.protocols.Validator:
    schema = _load(directory, name)
    definitions = _load(directory, "_definitions.json")
    if "$id" in definitions:   # kubernetes-validate >= 1.29 layout
        registry = Registry().with_resource(definitions["$id"], DRAFT202012.create_resource(definitions))
        return jsonschema.Draft202012Validator(schema, registry=registry)
    base = (directory / name).as_uri()
    registry = Registry().with_resource((directory / "_definitions.json").as_uri(),
                                        DRAFT7.create_resource(definitions))
    # In draft 7 a `$ref` hides its sibling keywords, `$id` included: wrap it so relative refs resolve.
    inner = {key: value for key, value in schema.items() if key != "$schema"}
    return jsonschema.Draft7Validator({"$id": base, "allOf": [inner]}, registry=registry)


def validate(manifest: dict, version: str, strict: bool = True) -> list[str]:
    """Error messages (path: message) of `manifest` against Kubernetes `version`; [] if valid."""
    directory = schema_dir(version, strict)
    if directory is None:
        raise LookupError(f"no schemas for Kubernetes {version} in {CACHE}: {FETCH_HINT}")
    name = _schema_file_name(manifest)
    if not (directory / name).exists():
        raise LookupError(f"Kubernetes {version} has no schema for {manifest['apiVersion']} {manifest['kind']}")
    errors = sorted(_validator(directory, name).iter_errors(manifest), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}" for error in errors]


# JSONSchemaProps fields typed as "anything" in the OpenAPI definitions (JSONSchemaPropsOrArray/OrBool),
# so the strict schema does not look inside them; schema_props_errors does.
_NESTED_SCHEMAS = ("items", "additionalProperties", "not")
_NESTED_LISTS = ("allOf", "anyOf", "oneOf")
_NESTED_MAPS = ("properties", "patternProperties", "definitions")


def _props_keys(version: str, crd_api_version: str) -> set[str]:
    directory = schema_dir(version)
    if directory is None:
        raise LookupError(f"no schemas for Kubernetes {version}: {FETCH_HINT}")
    definitions = _load(directory, "_definitions.json")
    definitions = definitions.get("definitions") or definitions.get("$defs")
    suffix = "apiextensions." + crd_api_version.rsplit("/", 1)[-1] + ".JSONSchemaProps"
    key = next(k for k in definitions if k.endswith(suffix))
    return set(definitions[key]["properties"])


def _walk(node: Any, path: str) -> Iterator[tuple[str, dict]]:
    if not isinstance(node, dict):
        return
    yield path, node
    for key in _NESTED_SCHEMAS:
        if isinstance(node.get(key), dict):
            yield from _walk(node[key], f"{path}.{key}")
    for key in _NESTED_LISTS:
        for index, child in enumerate(node.get(key) or []):
            yield from _walk(child, f"{path}.{key}[{index}]")
    for key in _NESTED_MAPS:
        for name, child in (node.get(key) or {}).items():
            yield from _walk(child, f"{path}.{key}.{name}")


def crd_schemas(crd: dict) -> Iterator[tuple[str, dict]]:
    spec = crd["spec"]
    if "validation" in spec:
        yield "spec.validation.openAPIV3Schema", spec["validation"]["openAPIV3Schema"]
    for index, version in enumerate(spec.get("versions", [])):
        if "schema" in version:
            yield f"spec.versions[{index}].schema.openAPIV3Schema", version["schema"]["openAPIV3Schema"]


def schema_props_errors(crd: dict, version: str) -> list[str]:
    """Keys of any (nested) openAPIV3Schema node that Kubernetes `version` does not know."""
    allowed = _props_keys(version, crd["apiVersion"])
    errors = []
    for base, schema in crd_schemas(crd):
        for path, node in _walk(schema, base):
            for key in sorted(set(node) - allowed):
                errors.append(f"{path}: unknown JSONSchemaProps field {key!r} in Kubernetes {version}")
    return errors
