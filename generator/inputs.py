"""Loading and checking every input: the kinds of schema/<group>/*.yaml here, policies/ and
schema/chart-values/ in policies.py. The result is an `Inputs` model; every check names the file and the
field path of the problem.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field as dataclass_field
from pathlib import Path
from typing import Any

from apischema import check_value

from . import policies
from .errors import SchemaError
from .fields import Field, parse_field
from .policies import Variant
from .resolve import Resolver, check_default_conditions, find_node
from .yamlio import load_yaml

VERSION_NAME = re.compile(r"^v[0-9]+((alpha|beta)[0-9]+)?$")
COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")
KIND_KEYS = {"kind", "displayName", "plural", "singular", "listKind", "shortNames", "categories", "scope", "description",
             "versions", "subresources", "printerColumns", "conversion", "conversionMappings", "spec", "status",
             "definitions", "example"}
KIND_REQUIRED = ("kind", "plural", "singular", "listKind", "scope", "description", "versions", "spec")


@dataclass
class Kind:
    file: str
    group: str
    raw: dict
    spec: Field
    status: Field | None
    trees: dict[str, dict] = dataclass_field(default_factory=dict)   # version -> resolved root node
    rules: list[dict] = dataclass_field(default_factory=list)
    rules_file: str | None = None
    template_defaults: dict | None = None   # policies/admission `templateDefaults`
    admit_in: str = "storageVersion"         # policies/admission `admitIn`
    computed_annotations: dict | None = None  # policies/admission `computedAnnotations`

    @property
    def name(self) -> str:
        return self.raw["kind"]

    @property
    def plural(self) -> str:
        return self.raw["plural"]

    @property
    def versions(self) -> list[dict]:
        return self.raw["versions"]

    @property
    def version_names(self) -> list[str]:
        return [v["name"] for v in self.raw["versions"]]

    @property
    def storage_version(self) -> str:
        return next(v["name"] for v in self.raw["versions"] if v["storage"])

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"

    @property
    def conversion_webhook(self) -> bool:
        return self.raw.get("conversion") == "webhook"


@dataclass
class Inputs:
    root: Path
    kinds: list[Kind]
    definitions_files: list[str]
    compatibility: dict
    variants: list[Variant]
    webhooks: dict
    feature_gates: dict
    chart_values: Field
    chart_values_files: list[str]
    compatibility_file: str
    webhooks_file: str
    feature_gates_file: str
    admission_files: list[str]
    values_tree: dict = dataclass_field(default_factory=dict)   # resolved chart values
    controllers: dict | None = None   # policies/controllers.yaml (resources, controllers), if there is one
    controllers_file: str = ""

    def source(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def load_inputs(schema_dir: Path, policies_dir: Path) -> Inputs:
    root = schema_dir.parent
    display = lambda path: path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)  # noqa: E731
    feature_gates, gate_file = policies.load_feature_gates(policies_dir, display)
    gate_names = set(feature_gates)

    kinds: list[Kind] = []
    definition_files: list[str] = []
    group_dirs = sorted(p for p in schema_dir.iterdir() if p.is_dir() and p.name != "chart-values") \
        if schema_dir.is_dir() else []
    if not group_dirs:
        raise SchemaError(display(schema_dir), "(directory)", "no API group directories (schema/<group>/*.yaml)")
    for group_dir in group_dirs:
        group = group_dir.name
        definitions: dict[str, Field] = {}
        group_kinds: list[Kind] = []
        for path in sorted(group_dir.glob("*.yaml")):
            file = display(path)
            raw = load_yaml(path, file)
            if path.name.startswith("_"):
                policies.require_keys(raw, file, "", ("definitions",), {"definitions"})
                definition_files.append(file)
            else:
                group_kinds.append(_parse_kind(raw, file, group, gate_names))
            for name, spec in (raw.get("definitions") or {}).items():
                if name in definitions:
                    raise SchemaError(file, f"definitions.{name}",
                                      f"already defined in {definitions[name].file}")
                definitions[name] = parse_field(spec, file, f"definitions.{name}", gate_names)
        group_versions = {v for kind in group_kinds for v in kind.version_names}
        resolver = Resolver(definitions, group_versions)
        for kind in group_kinds:
            _resolve_kind(kind, resolver)
        kinds.extend(group_kinds)
    names = [k.name for k in kinds]
    for kind in kinds:
        if names.count(kind.name) > 1:
            raise SchemaError(kind.file, "kind", f"kind {kind.name} is defined twice")

    compatibility, variants, compat_file = policies.load_compatibility(policies_dir, display)
    webhooks, webhooks_file = policies.load_webhooks(policies_dir, display, kinds, gate_names)
    admission_files = policies.load_admission(policies_dir, display, kinds, gate_names)
    controllers, controllers_file = policies.load_controllers(policies_dir, display, kinds)
    chart_values, values_files = policies.load_chart_values(schema_dir / "chart-values", display, gate_names,
                                                             feature_gates, gate_file)
    values_tree = Resolver({}, set()).resolve(chart_values, "", set())
    policies.check_value_references(values_tree, compatibility, compat_file, webhooks, webhooks_file, values_files)
    for kind in kinds:
        _check_example(kind)
    return Inputs(root=root, kinds=kinds, definitions_files=definition_files, compatibility=compatibility,
                  variants=variants, webhooks=webhooks, feature_gates=feature_gates,
                  chart_values=chart_values, chart_values_files=values_files,
                  compatibility_file=compat_file, webhooks_file=webhooks_file, feature_gates_file=gate_file,
                  admission_files=admission_files, values_tree=values_tree, controllers=controllers,
                  controllers_file=controllers_file)


# ---------------------------------------------------------------------------------------------- kinds

def _parse_kind(raw: Any, file: str, group: str, gates: set[str]) -> Kind:
    policies.require_keys(raw, file, "", KIND_REQUIRED, KIND_KEYS)
    if not isinstance(raw["kind"], str) or not re.match(r"^[A-Z][A-Za-z0-9]*$", raw["kind"]):
        raise SchemaError(file, "kind", "kind must be CamelCase")
    for key in ("plural", "singular"):
        if not isinstance(raw[key], str) or not re.match(r"^[a-z][a-z0-9]*$", raw[key]):
            raise SchemaError(file, key, f"{key} must be lower-case letters and digits")
    for key in ("shortNames", "categories"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and re.match(r"^[a-z][a-z0-9]*$", v) for v in value):
            raise SchemaError(file, key, f"{key} must be a list of lower-case names")
    if raw["scope"] not in ("Namespaced", "Cluster"):
        raise SchemaError(file, "scope", "scope must be Namespaced or Cluster")
    versions = raw["versions"]
    if not isinstance(versions, list) or not versions:
        raise SchemaError(file, "versions", "versions must be a non-empty list")
    for index, version in enumerate(versions):
        where = f"versions[{index}]"
        policies.require_keys(version, file, where, ("name", "served", "storage"), {"name", "served", "storage"})
        if not isinstance(version["name"], str) or not VERSION_NAME.match(version["name"]):
            raise SchemaError(file, f"{where}.name", "version names look like v1, v1beta1, v2alpha1")
        for key in ("served", "storage"):
            if not isinstance(version[key], bool):
                raise SchemaError(file, f"{where}.{key}", f"{key} must be true or false")
    if sum(v["storage"] for v in versions) != 1:
        raise SchemaError(file, "versions", "exactly one version must have storage: true")
    if "conversion" in raw and raw["conversion"] != "webhook":
        raise SchemaError(file, "conversion", "conversion is `webhook` or absent")
    if len(versions) > 1 and raw.get("conversion") != "webhook":
        raise SchemaError(file, "conversion", "a kind with several versions needs `conversion: webhook`")
    spec = parse_field(raw["spec"], file, "spec", gates)
    status = parse_field(raw["status"], file, "status", gates) if "status" in raw else None
    return Kind(file=file, group=group, raw=raw, spec=spec, status=status)


def _resolve_kind(kind: Kind, resolver: Resolver) -> None:
    kind_versions = set(kind.version_names)
    for version in kind.version_names:
        properties = {"metadata": {"type": "schemaless", "_origin": (kind.file, "metadata")}}
        for name, field in (("spec", kind.spec), ("status", kind.status)):
            if field is None:
                continue
            node = resolver.resolve(field, version, kind_versions)
            if node is None or node.get("type") != "object":
                raise SchemaError(kind.file, name, f"{name} must be an object in every version")
            properties[name] = node
        root = {"type": "object", "properties": properties, "_origin": (kind.file, "")}
        check_default_conditions(root)
        kind.trees[version] = root
    _check_subresources(kind)
    _check_printer_columns(kind)
    _check_conversion_mappings(kind)


MAPPING_FORMS = ({"field", "storageField"}, {"annotation", "storageField"}, {"label", "storageField"},
                 {"field", "storageValues"}, {"field", "storageSelector", "selectorLabel"})
_MAPPING_WORDS = ("{field, storageField}, {annotation, storageField}, {label, storageField}, {field, storageValues} "
                  "or {field, storageSelector, selectorLabel}")


def _check_conversion_mappings(kind: Kind) -> None:
    """`conversionMappings: {<version>: [mapping]}`: how a served version differs from the storage version beyond
    the fields it lacks. A mapping is a rename `{field, storageField}`, an annotation that stands for a boolean
    `{annotation, storageField}` ("true" <-> true), a label that stands for a string field `{label, storageField}`
    (the label leaves metadata in the storage version), values this version has and storage has not
    `{field, storageValues: {old: new}}`, or a name that storage writes as a one-label selector
    `{field, storageSelector, selectorLabel}` (SidecarSet's namespace). controllers/webhook/conversion.py applies
    them losslessly."""
    raw = kind.raw.get("conversionMappings")
    if raw is None:
        return
    storage = kind.storage_version
    if not isinstance(raw, dict):
        raise SchemaError(kind.file, "conversionMappings", "expected {version: [mapping]}")
    for version, mappings in raw.items():
        where = f"conversionMappings.{version}"
        if version not in kind.trees or version == storage:
            raise SchemaError(kind.file, where, f"not a served version other than the storage version {storage}")
        if not isinstance(mappings, list) or not mappings:
            raise SchemaError(kind.file, where, "expected a non-empty list of mappings")
        for index, mapping in enumerate(mappings):
            at = f"{where}[{index}]"
            if not isinstance(mapping, dict) or set(mapping) not in MAPPING_FORMS:
                raise SchemaError(kind.file, at, f"a mapping is {_MAPPING_WORDS}")
            if "storageField" in mapping:
                node = find_node(kind.trees[storage], mapping["storageField"])
                if node is None or find_node(kind.trees[version], mapping["storageField"]) is not None:
                    raise SchemaError(kind.file, f"{at}.storageField",
                                      f"must be a field of {storage} that {version} does not have")
                if "annotation" in mapping and node.get("type") != "boolean":
                    raise SchemaError(kind.file, f"{at}.storageField", "an annotation stands for a boolean field")
                if "label" in mapping and node.get("type") != "string":
                    raise SchemaError(kind.file, f"{at}.storageField", "a label stands for a string field")
            if "storageSelector" in mapping:
                for served in (storage, version):
                    node = find_node(kind.trees[served], mapping["storageSelector"])
                    if node is None or node.get("type") != "object" or "matchLabels" not in node.get("properties", {}):
                        raise SchemaError(kind.file, f"{at}.storageSelector",
                                          f"must be a label selector of both {storage} and {version}")
            if "field" in mapping:
                node = find_node(kind.trees[version], mapping["field"])
                if node is None:
                    raise SchemaError(kind.file, f"{at}.field", f"not a field of {kind.name} {version}")
                renamed = "storageField" in mapping or "storageSelector" in mapping
                if renamed and find_node(kind.trees[storage], mapping["field"]) is not None:
                    raise SchemaError(kind.file, f"{at}.field", f"a renamed field must not exist in {storage}")
                if "storageSelector" in mapping and node.get("type") != "string":
                    raise SchemaError(kind.file, f"{at}.field", "a name written as a selector must be a string")


def _check_subresources(kind: Kind) -> None:
    raw = kind.raw.get("subresources", {})
    policies.require_keys(raw, kind.file, "subresources", (), {"status", "scale"})
    if "status" in raw and not isinstance(raw["status"], bool):
        raise SchemaError(kind.file, "subresources.status", "status must be true or false")
    if "scale" in raw:
        scale = raw["scale"]
        policies.require_keys(scale, kind.file, "subresources.scale", ("specReplicasPath", "statusReplicasPath"),
                      {"specReplicasPath", "statusReplicasPath", "labelSelectorPath"})
        for key, value in scale.items():
            _check_json_path(kind, value, f"subresources.scale.{key}")


def _check_json_path(kind: Kind, json_path: Any, where: str) -> None:
    """A `.spec.replicas`-style path must name a field of every version (metadata is always there)."""
    if not isinstance(json_path, str) or not json_path.startswith("."):
        raise SchemaError(kind.file, where, "expected a JSON path starting with '.'")
    path = json_path[1:]
    # A label or annotation key is a map key, dots escaped (`.metadata.labels.crr\.apps\.kruise\.io/node-name`):
    # metadata is always there, and its maps hold any key.
    if re.match(r"^metadata\.(labels|annotations)\.([A-Za-z0-9_/-]|\\\.)+$", path):
        return
    if not re.match(r"^[A-Za-z0-9_.\[\]*-]+$", path):
        raise SchemaError(kind.file, where, f"unsupported JSON path {json_path!r}")
    for version, tree in kind.trees.items():
        if find_node(tree, path) is None:
            raise SchemaError(kind.file, where, f"{json_path} is not a field of {kind.name} {version}")


def _check_printer_columns(kind: Kind) -> None:
    columns = kind.raw.get("printerColumns", [])
    if not isinstance(columns, list):
        raise SchemaError(kind.file, "printerColumns", "printerColumns must be a list")
    seen = set()
    for index, column in enumerate(columns):
        where = f"printerColumns[{index}]"
        policies.require_keys(column, kind.file, where, ("name", "type", "jsonPath"),
                      {"name", "type", "jsonPath", "description", "priority", "format", "versions"})
        if set(column.get("versions", kind.trees)) - set(kind.trees):
            raise SchemaError(kind.file, f"{where}.versions", "versions must name versions of the kind")
        if column["type"] not in COLUMN_TYPES:
            raise SchemaError(kind.file, f"{where}.type", f"column type must be one of {', '.join(COLUMN_TYPES)}")
        if column.get("priority", 0) not in (0, 1):
            raise SchemaError(kind.file, f"{where}.priority", "priority is 0 (default view) or 1 (-o wide)")
        if column["name"] in seen:
            raise SchemaError(kind.file, f"{where}.name", f"duplicate column {column['name']}")
        seen.add(column["name"])
        _check_json_path(kind, column["jsonPath"], f"{where}.jsonPath")


def _check_example(kind: Kind) -> None:
    example = kind.raw.get("example")
    if example is None:
        return
    if not isinstance(example, dict):
        raise SchemaError(kind.file, "example", "example must be an object")
    group, _, version = str(example.get("apiVersion", "")).rpartition("/")
    if group != kind.group or version not in kind.trees or example.get("kind") != kind.name:
        raise SchemaError(kind.file, "example", f"example must be a {kind.group}/<version> {kind.name}")
    for name in ("spec", "status"):
        node = kind.trees[version]["properties"].get(name)
        if node is not None and name in example:
            errors = check_value(node, example[name], name)
            if errors:
                raise SchemaError(kind.file, f"example.{errors[0].path}", errors[0].message)


