"""Resolving parsed fields into plain nodes: refs inlined, fields of other API versions dropped, defaults
checked against the field they belong to.

A resolved node is a plain dict (`type`, constraints, `properties`/`items`/`values`, `default`...). The key
`_origin` = (file, path) remembers where it was declared, for error messages; emitters skip `_` keys.
"""
from __future__ import annotations

from typing import Any

from apischema import check_value

from .conditions import condition_paths, split_path
from .errors import SchemaError
from .fields import Field

# Attributes copied from a ref site onto the referenced node (the site wins).
SITE_OVERRIDES = ("description", "required", "default", "defaultIf", "crdDefault", "fallback", "defaultCases")
_NOT_COPIED = {"versions", "ref", "refVersion", "applyDefaults", "defaults", "rewrite"}
SCHEMALESS = {"type": "schemaless"}


class Resolver:
    def __init__(self, definitions: dict[str, Field], group_versions: set[str]):
        self.definitions = definitions
        self.group_versions = group_versions

    def resolve(self, field: Field, version: str, valid_versions: set[str],
                stack: tuple[str, ...] = ()) -> dict | None:
        """The node for `field` as seen in API `version`, or None if the field does not exist there."""
        versions = field.attrs.get("versions")
        if versions is not None:
            unknown = sorted(set(versions) - valid_versions)
            if unknown:
                raise SchemaError(field.file, f"{field.path}.versions",
                                  f"unknown version {unknown[0]!r}; known: {', '.join(sorted(valid_versions))}")
            if version not in versions:
                return None
        if field.ref is not None:
            node = self._resolve_ref(field, version, stack)
        else:
            node = {key: value for key, value in field.attrs.items() if key not in _NOT_COPIED}
            node["_origin"] = (field.file, field.path)
            if field.properties:
                node["properties"] = {}
                for name, child in field.properties.items():
                    resolved = self.resolve(child, version, valid_versions, stack)
                    if resolved is not None:
                        node["properties"][name] = resolved
            if field.items is not None:
                node["items"] = self._require(self.resolve(field.items, version, valid_versions, stack), field.items)
            if field.values is not None:
                node["values"] = self._require(self.resolve(field.values, version, valid_versions, stack), field.values)
        self._default_cases_and_rewrite(field, node, version, valid_versions)
        if "default" in field.attrs:
            check_default(node, node["default"], field.file, f"{field.path}.default")
        if "fallback" in field.attrs:
            check_default(node, node["fallback"], field.file, f"{field.path}.fallback", "fallback")
        return node

    def _resolve_ref(self, field: Field, version: str, stack: tuple[str, ...]) -> dict:
        name = field.ref
        definition = self.definitions.get(name)
        if definition is None:
            known = ", ".join(sorted(self.definitions)) or "none"
            raise SchemaError(field.file, f"{field.path}.ref", f"unknown definition {name!r}; known: {known}")
        if name in stack:
            raise SchemaError(field.file, f"{field.path}.ref", f"definitions refer to each other: {' -> '.join(stack + (name,))}")
        context = field.attrs.get("refVersion", version)
        if context not in self.group_versions:
            raise SchemaError(field.file, f"{field.path}.refVersion",
                              f"unknown version {context!r}; known: {', '.join(sorted(self.group_versions))}")
        node = self.resolve(definition, context, self.group_versions, stack + (name,))
        if node is None:
            raise SchemaError(field.file, f"{field.path}.ref", f"definition {name!r} does not exist in version {context}")
        for key in SITE_OVERRIDES:
            if key in field.attrs:
                node[key] = field.attrs[key]
        if "default" in field.attrs and "defaultIf" not in field.attrs:
            node.pop("defaultIf", None)
        node["_origin"] = (field.file, field.path)
        if field.attrs.get("applyDefaults") is False:
            strip_defaults(node)
        for prop, value in field.attrs.get("defaults", {}).items():
            child = node.get("properties", {}).get(prop)
            if child is None:
                raise SchemaError(field.file, f"{field.path}.defaults.{prop}",
                                  f"{prop!r} is not a property of {name}")
            check_default(child, value, field.file, f"{field.path}.defaults.{prop}")
            child["default"] = value
        return node

    @staticmethod
    def _require(node: dict | None, field: Field) -> dict:
        if node is None:
            raise SchemaError(field.file, f"{field.path}.versions", "items and map values cannot be version-specific")
        return node

    @staticmethod
    def _default_cases_and_rewrite(field: Field, node: dict, version: str, valid_versions: set[str]) -> None:
        for index, case in enumerate(field.attrs.get("defaultCases", [])):
            check_default(node, case["value"], field.file, f"{field.path}.defaultCases[{index}].value")
        rewrite = field.attrs.get("rewrite", {})
        unknown = sorted(set(rewrite) - valid_versions)
        if unknown:
            raise SchemaError(field.file, f"{field.path}.rewrite", f"unknown version {unknown[0]!r}")
        if version in rewrite:
            # A value the webhook replaces in this version (OpenKruise's deprecated `Surging` -> `Standard`).
            for new in rewrite[version].values():
                check_default(node, new, field.file, f"{field.path}.rewrite.{version}")
            node["rewrite"] = dict(rewrite[version])


def strip_defaults(node: dict) -> None:
    """Drop the defaults and fallbacks of a subtree (e.g. a CloneSet spec embedded as a UnitedDeployment
    template: the CloneSet's own webhook and controller apply them to the CloneSet made from it)."""
    for key in ("default", "defaultIf", "crdDefault", "fallback"):
        node.pop(key, None)
    for child in node.get("properties", {}).values():
        strip_defaults(child)
    node.pop("defaultCases", None)
    node.pop("rewrite", None)
    for key in ("items", "values"):
        if key in node:
            strip_defaults(node[key])


def check_default(node: dict, value: Any, file: str, path: str, what: str = "default") -> None:
    """A default (or fallback) must be a valid value of its field (type, enum, bounds, pattern)."""
    errors = check_value(node, value, what, check_required=False)
    if errors:
        raise SchemaError(file, path, f"bad {what} {value!r}: {errors[0].message}")


def find_node(node: dict, path: str, root: dict | None = None) -> dict | None:
    """The schema node at `path` below `node` (`$.` paths start at `root`), SCHEMALESS below a schemaless
    or preserve-unknown node, or None if no such field exists."""
    absolute, segments = split_path(path)
    if absolute:
        if root is None:
            return None
        node = root
    for segment in segments:
        kind = node.get("type")
        if kind == "schemaless":
            return SCHEMALESS
        if segment == "[*]":
            if kind != "array":
                return None
            node = node["items"]
        elif kind == "object":
            child = node.get("properties", {}).get(segment)
            if child is None:
                return SCHEMALESS if node.get("preserveUnknownFields") else None
            node = child
        elif kind == "map":
            node = node["values"]
        else:
            return None
    return node


def check_default_conditions(root: dict) -> None:
    """Every path a `defaultIf` reads must exist (relative to the parent object, or `$.` from the root)."""

    def walk(node: dict) -> None:
        for child in node.get("properties", {}).values():
            conditions = [child["defaultIf"]] if "defaultIf" in child else []
            conditions += [case["when"] for case in child.get("defaultCases", [])]
            for condition in conditions:
                file, path = child["_origin"]
                for read in condition_paths(condition):
                    if find_node(node, read, root) is None:
                        raise SchemaError(file, f"{path}.defaultIf", f"condition reads unknown field {read!r}")
            walk(child)
        for key in ("items", "values"):
            if key in node:
                walk(node[key])

    walk(root)
