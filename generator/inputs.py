"""Loading and checking every input: schema/<group>/*.yaml, schema/chart-values/*.yaml and policies/.

The result is an `Inputs` model; every check names the file and the field path of the problem.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field as dataclass_field
from pathlib import Path
from typing import Any

from controllers import schema as runtime

from .conditions import check_path, condition_gates, condition_paths, parse_condition
from .errors import SchemaError
from .fields import Field, parse_field
from .resolve import Resolver, check_default_conditions, find_node
from .yamlio import load_yaml

VERSION_NAME = re.compile(r"^v[0-9]+((alpha|beta)[0-9]+)?$")
KUBE_MINOR = re.compile(r"^1\.[0-9]+$")
COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")
KIND_KEYS = {"kind", "displayName", "plural", "singular", "listKind", "shortNames", "categories", "scope", "description",
             "versions", "subresources", "printerColumns", "conversion", "spec", "status", "definitions", "example"}
KIND_REQUIRED = ("kind", "plural", "singular", "listKind", "scope", "description", "versions", "spec")
# Optional CRD/webhook fields the generator knows how to leave out for old API servers.
KNOWN_FEATURE_FIELDS = {
    "crd.spec.preserveUnknownFields", "crd.conversion.conversionReviewVersions", "crd.conversion.service.port",
    "crd.schema.nullable", "crd.schema.x-kubernetes-int-or-string", "crd.schema.x-kubernetes-preserve-unknown-fields",
    "crd.schema.x-kubernetes-embedded-resource", "crd.schema.default", "crd.schema.x-kubernetes-list-type",
    "webhook.admissionReviewVersions", "webhook.timeoutSeconds", "webhook.matchPolicy", "webhook.objectSelector",
    "webhook.reinvocationPolicy", "webhook.service.port",
}
API_VERSIONS = {"crdApiVersion": ("apiextensions.k8s.io/v1beta1", "apiextensions.k8s.io/v1"),
                "admissionApiVersion": ("admissionregistration.k8s.io/v1beta1", "admissionregistration.k8s.io/v1")}
# Rule checks: required parameters, optional parameters, operations they run on, cluster state they need.
RULE_CHECKS: dict[str, dict[str, Any]] = {
    "assert": {"required": ("field", "require", "message"), "optional": ("when", "forEach"), "ops": ("CREATE", "UPDATE")},
    "selectorNotEmpty": {"required": ("field",), "ops": ("CREATE", "UPDATE")},
    "selectorMatchesLabels": {"required": ("selector", "labels"), "ops": ("CREATE", "UPDATE")},
    "updateWhitelist": {"required": ("field", "allowed"), "ops": ("UPDATE",)},
    "immutable": {"required": ("field",), "ops": ("UPDATE",)},
    "immutableByKey": {"required": ("list", "key", "fields"), "ops": ("UPDATE",)},
    "onlyContainerImagesChange": {"required": ("field", "message"), "optional": ("when",), "ops": ("UPDATE",)},
    "keysReferTo": {"required": ("field", "list", "key"), "ops": ("CREATE", "UPDATE")},
    "ownedPods": {"required": ("field",), "ops": ("CREATE", "UPDATE"), "needs": ("pods",)},
    "subsetReplicas": {"required": ("replicas", "subsets"), "ops": ("CREATE", "UPDATE")},
    "deleteProtection": {"required": ("replicas",), "ops": ("DELETE",)},
    "volumeClaimTemplatesOnlyGrow": {"required": ("field",), "optional": ("when",), "ops": ("UPDATE",)},
}
RULE_COMMON = {"id", "check", "versions", "featureGate"}


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
class Variant:
    name: str
    profile: str
    since: tuple[int, int]
    until: tuple[int, int] | None
    fields: set[str]
    crd_api_version: str
    admission_api_version: str
    gates: list[dict]        # apiServerFeatureGates entries this variant needs, with `name`

    def supports(self, feature: str) -> bool:
        return feature in self.fields


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
    policy_files: list[str]
    values_tree: dict = dataclass_field(default_factory=dict)   # resolved chart values

    def source(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def _require_keys(raw: Any, file: str, where: str, required: tuple[str, ...], allowed: set[str]) -> None:
    if not isinstance(raw, dict):
        raise SchemaError(file, where or "(document)", "expected a mapping")
    for key in required:
        if key not in raw:
            raise SchemaError(file, f"{where}.{key}" if where else key, "missing required key")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise SchemaError(file, f"{where}.{unknown[0]}" if where else unknown[0],
                          f"unknown key; allowed: {', '.join(sorted(allowed))}")


def _minor(text: Any, file: str, where: str) -> tuple[int, int]:
    if not isinstance(text, str) or not KUBE_MINOR.match(text):
        raise SchemaError(file, where, f"expected a Kubernetes minor version like '1.14', got {text!r}")
    major, minor = text.split(".")
    return int(major), int(minor)


def load_inputs(schema_dir: Path, policies_dir: Path) -> Inputs:
    root = schema_dir.parent
    display = lambda path: path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)  # noqa: E731
    feature_gates, gate_file = _load_feature_gates(policies_dir, display)
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
                _require_keys(raw, file, "", ("definitions",), {"definitions"})
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

    compatibility, variants, compat_file = _load_compatibility(policies_dir, display)
    webhooks, webhooks_file = _load_webhooks(policies_dir, display, kinds)
    admission_files = _load_admission(policies_dir, display, kinds, gate_names)
    chart_values, values_files = _load_chart_values(schema_dir / "chart-values", display, gate_names)
    values_tree = Resolver({}, set()).resolve(chart_values, "", set())
    _check_value_references(values_tree, compatibility, compat_file, webhooks, webhooks_file, values_files)
    for kind in kinds:
        _check_example(kind)
    return Inputs(root=root, kinds=kinds, definitions_files=definition_files, compatibility=compatibility,
                  variants=variants, webhooks=webhooks, feature_gates=feature_gates,
                  chart_values=chart_values, chart_values_files=values_files,
                  policy_files=[compat_file, webhooks_file, gate_file, *admission_files], values_tree=values_tree)


# ---------------------------------------------------------------------------------------------- kinds

def _parse_kind(raw: Any, file: str, group: str, gates: set[str]) -> Kind:
    _require_keys(raw, file, "", KIND_REQUIRED, KIND_KEYS)
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
        _require_keys(version, file, where, ("name", "served", "storage"), {"name", "served", "storage"})
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


def _check_subresources(kind: Kind) -> None:
    raw = kind.raw.get("subresources", {})
    _require_keys(raw, kind.file, "subresources", (), {"status", "scale"})
    if "status" in raw and not isinstance(raw["status"], bool):
        raise SchemaError(kind.file, "subresources.status", "status must be true or false")
    if "scale" in raw:
        scale = raw["scale"]
        _require_keys(scale, kind.file, "subresources.scale", ("specReplicasPath", "statusReplicasPath"),
                      {"specReplicasPath", "statusReplicasPath", "labelSelectorPath"})
        for key, value in scale.items():
            _check_json_path(kind, value, f"subresources.scale.{key}")


def _check_json_path(kind: Kind, json_path: Any, where: str) -> None:
    """A `.spec.replicas`-style path must name a field of every version (metadata is always there)."""
    if not isinstance(json_path, str) or not json_path.startswith("."):
        raise SchemaError(kind.file, where, "expected a JSON path starting with '.'")
    path = json_path[1:]
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
        _require_keys(column, kind.file, where, ("name", "type", "jsonPath"),
                      {"name", "type", "jsonPath", "description", "priority", "format"})
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
            errors = runtime.check_value(node, example[name], name)
            if errors:
                raise SchemaError(kind.file, f"example.{errors[0].path}", errors[0].message)


# ----------------------------------------------------------------------------------------------- policies

def _load_feature_gates(policies_dir: Path, display) -> tuple[dict, str]:
    path = policies_dir / "feature-gates.yaml"
    file = display(path)
    raw = load_yaml(path, file) if path.exists() else {"featureGates": {}}
    _require_keys(raw, file, "", ("featureGates",), {"featureGates"})
    for name, gate in raw["featureGates"].items():
        _require_keys(gate, file, f"featureGates.{name}", ("default",), {"default", "description"})
        if not isinstance(gate["default"], bool):
            raise SchemaError(file, f"featureGates.{name}.default", "default must be true or false")
    return raw["featureGates"], file


def _load_compatibility(policies_dir: Path, display) -> tuple[dict, list[Variant], str]:
    path = policies_dir / "compatibility.yaml"
    file = display(path)
    if not path.exists():
        raise SchemaError(file, "(file)", "missing")
    raw = load_yaml(path, file)
    _require_keys(raw, file, "", ("chart", "profiles", "variants", "fields"),
                  {"chart", "profiles", "variants", "fields", "apiServerFeatureGates"})
    _require_keys(raw["chart"], file, "chart", ("name", "kubeVersion"), {"name", "kubeVersion", "description"})
    for name, profile in raw["profiles"].items():
        _require_keys(profile, file, f"profiles.{name}", ("crdApiVersion", "admissionApiVersion"),
                      {"description", "crdApiVersion", "admissionApiVersion"})
        for key, allowed in API_VERSIONS.items():
            if profile[key] not in allowed:
                raise SchemaError(file, f"profiles.{name}.{key}", f"expected one of {', '.join(allowed)}")
    fields: dict[str, tuple[int, int]] = {}
    for key, version in raw["fields"].items():
        if key not in KNOWN_FEATURE_FIELDS:
            raise SchemaError(file, f"fields.{key}", f"unknown field; known: {', '.join(sorted(KNOWN_FEATURE_FIELDS))}")
        fields[key] = _minor(version, file, f"fields.{key}")
    gates = raw.get("apiServerFeatureGates") or {}
    for name, gate in gates.items():
        _require_keys(gate, file, f"apiServerFeatureGates.{name}", ("enabledByDefaultSince", "value", "message"),
                      {"enabledByDefaultSince", "neededBy", "value", "message"})
        _minor(gate["enabledByDefaultSince"], file, f"apiServerFeatureGates.{name}.enabledByDefaultSince")
    variants: list[Variant] = []
    raw_variants = raw["variants"]
    if not isinstance(raw_variants, list) or not raw_variants:
        raise SchemaError(file, "variants", "variants must be a non-empty list")
    for index, item in enumerate(raw_variants):
        where = f"variants[{index}]"
        _require_keys(item, file, where, ("name", "profile", "since"), {"name", "profile", "since"})
        if item["profile"] not in raw["profiles"]:
            raise SchemaError(file, f"{where}.profile", f"unknown profile {item['profile']!r}")
        since = _minor(item["since"], file, f"{where}.since")
        if variants and since <= variants[-1].since:
            raise SchemaError(file, f"{where}.since", "variants must be sorted by `since`, oldest first")
        profile = raw["profiles"][item["profile"]]
        needed = [{"name": name, **gate} for name, gate in sorted(gates.items())
                  if since < _minor(gate["enabledByDefaultSince"], file, "")]
        variants.append(Variant(name=item["name"], profile=item["profile"], since=since, until=None,
                                fields={key for key, first in fields.items() if since >= first},
                                crd_api_version=profile["crdApiVersion"],
                                admission_api_version=profile["admissionApiVersion"], gates=needed))
    for current, following in zip(variants, variants[1:]):
        current.until = following.since
    return raw, variants, file


def _load_webhooks(policies_dir: Path, display, kinds: list[Kind]) -> tuple[dict, str]:
    path = policies_dir / "webhooks.yaml"
    file = display(path)
    raw = load_yaml(path, file)
    allowed = {"configurations", "plainManifestsNamespace", "admissionReviewVersions", "conversionReviewVersions", "conversionPath",
               "sideEffects", "matchPolicy", "namespaceSelectors", "objectSelectors", "workloads",
               "workloadFailurePolicy", "extra"}
    _require_keys(raw, file, "", ("configurations", "workloads", "conversionPath", "plainManifestsNamespace"), allowed)
    _require_keys(raw["configurations"], file, "configurations", ("mutating", "validating"), {"mutating", "validating"})
    known = {k.name for k in kinds}
    operations = {"CREATE", "UPDATE", "DELETE", "CONNECT"}
    for name, entry in raw["workloads"].items():
        if name not in known:
            raise SchemaError(file, f"workloads.{name}", f"unknown kind; kinds: {', '.join(sorted(known))}")
        _require_keys(entry, file, f"workloads.{name}", (), {"mutate", "validate"})
        for key, ops in entry.items():
            if not set(ops) <= operations:
                raise SchemaError(file, f"workloads.{name}.{key}", f"operations are {', '.join(sorted(operations))}")
    for index, extra in enumerate(raw.get("extra", [])):
        where = f"extra[{index}]"
        _require_keys(extra, file, where, ("name", "configuration", "path", "rules", "failurePolicy"),
                      {"name", "configuration", "path", "rules", "failurePolicy", "namespaceSelector",
                       "objectSelector", "enabledBy"})
        if extra["configuration"] not in ("mutating", "validating"):
            raise SchemaError(file, f"{where}.configuration", "mutating or validating")
        for key, pool in (("namespaceSelector", "namespaceSelectors"), ("objectSelector", "objectSelectors")):
            if key in extra and extra[key] not in (raw.get(pool) or {}):
                raise SchemaError(file, f"{where}.{key}", f"unknown selector {extra[key]!r}; define it under {pool}")
        if extra["failurePolicy"] not in ("Ignore", "Fail"):
            raise SchemaError(file, f"{where}.failurePolicy", "Ignore or Fail")
    return raw, file


def _load_admission(policies_dir: Path, display, kinds: list[Kind], gates: set[str]) -> list[str]:
    by_name = {k.name: k for k in kinds}
    files = []
    for path in sorted((policies_dir / "admission").glob("*.yaml")):
        file = display(path)
        files.append(file)
        raw = load_yaml(path, file)
        _require_keys(raw, file, "", ("kind", "rules"), {"kind", "rules"})
        kind = by_name.get(raw["kind"])
        if kind is None:
            raise SchemaError(file, "kind", f"unknown kind {raw['kind']!r}")
        if kind.rules_file is not None:
            raise SchemaError(file, "kind", f"rules for {kind.name} are already in {kind.rules_file}")
        kind.rules_file = file
        ids = set()
        for index, rule in enumerate(raw["rules"] or []):
            normalized = _check_rule(rule, file, f"rules[{index}]", kind, gates)
            if normalized["id"] in ids:
                raise SchemaError(file, f"rules[{index}].id", f"duplicate rule id {normalized['id']!r}")
            ids.add(normalized["id"])
            kind.rules.append(normalized)
    return files


def _check_rule(rule: Any, file: str, where: str, kind: Kind, gates: set[str]) -> dict:
    if not isinstance(rule, dict) or "check" not in rule or "id" not in rule:
        raise SchemaError(file, where, "a rule needs `id` and `check`")
    spec = RULE_CHECKS.get(rule["check"])
    if spec is None:
        raise SchemaError(file, f"{where}.check", f"unknown check {rule['check']!r}; known: {', '.join(sorted(RULE_CHECKS))}")
    allowed = RULE_COMMON | set(spec["required"]) | set(spec.get("optional", ()))
    _require_keys(rule, file, where, tuple(spec["required"]), allowed)
    if "featureGate" in rule and rule["featureGate"] not in gates:
        raise SchemaError(file, f"{where}.featureGate", f"unknown feature gate {rule['featureGate']!r}")
    versions = rule.get("versions", kind.version_names)
    if not set(versions) <= set(kind.version_names):
        raise SchemaError(file, f"{where}.versions", f"{kind.name} serves {', '.join(kind.version_names)}")
    trees = [kind.trees[v] for v in versions]

    def exists(path: str, base_path: str | None, key: str) -> None:
        check_path(path, file, f"{where}.{key}")
        for tree in trees:
            base = tree
            if base_path is not None and not path.startswith("$."):
                base = find_node(tree, base_path + "[*]") or {}
            if find_node(base, path, tree) is not None:
                return
        raise SchemaError(file, f"{where}.{key}", f"{path!r} is not a field of {kind.name} {', '.join(versions)}")

    for_each = rule.get("forEach")
    if for_each is not None:
        exists(for_each, None, "forEach")
    for key in ("field", "selector", "list", "replicas", "subsets"):
        if key in rule:
            exists(rule[key], for_each if key == "field" else None, key)
    for key in ("labels", "allowed", "fields"):
        if key in rule and (not isinstance(rule[key], list) or not rule[key]):
            raise SchemaError(file, f"{where}.{key}", "expected a non-empty list")
    for label_path in rule.get("labels", []):
        exists(label_path, None, "labels")
    for name in rule.get("fields", []):
        exists(f"{rule['list']}[*].{name}", None, "fields")
    for key in ("when", "require"):
        if key in rule:
            parse_condition(rule[key], file, f"{where}.{key}", gates)
            for read in condition_paths(rule[key]):
                exists(read, for_each, key)
    normalized = {key: rule[key] for key in sorted(rule)}
    normalized["operations"] = list(spec["ops"])
    if spec.get("needs"):
        normalized["needs"] = list(spec["needs"])
    normalized["versions"] = versions
    return normalized


# Chart values the generated templates read; schema/chart-values must describe them.
TEMPLATE_VALUES = {
    "kubeVersion": "string", "crds.enabled": "boolean", "crds.keep": "boolean", "crds.annotations": "map",
    "webhook.service.name": "string", "webhook.service.namespace": "string", "webhook.service.port": "int32",
    "webhook.timeoutSeconds": "int32", "webhook.certificates.mode": "string",
    "webhook.certificates.certManager.certificateName": "string",
}


def _check_value_references(values_tree: dict, compatibility: dict, compat_file: str, webhooks: dict,
                            webhooks_file: str, values_files: list[str]) -> None:
    """Every chart value a template or policy reads must be described, with the expected type."""
    where = values_files[0] if values_files else "schema/chart-values"
    references = [(path, kind, where, f"values.{path}") for path, kind in TEMPLATE_VALUES.items()]
    for name, gate in (compatibility.get("apiServerFeatureGates") or {}).items():
        references.append((gate["value"], "boolean", compat_file, f"apiServerFeatureGates.{name}.value"))
    for index, extra in enumerate(webhooks.get("extra", [])):
        if "enabledBy" in extra:
            references.append((extra["enabledBy"], "boolean", webhooks_file, f"extra[{index}].enabledBy"))
    for path, kind, file, field in references:
        node = find_node(values_tree, path)
        if node is None or node.get("type") != kind:
            raise SchemaError(file, field, f"chart value {path!r} must be described in schema/chart-values/ as a {kind}")


def _load_chart_values(directory: Path, display, gates: set[str]) -> tuple[Field, list[str]]:
    """schema/chart-values/*.yaml: each file owns some top-level chart values (`values:` mapping)."""
    merged: dict[str, Any] = {}
    owners: dict[str, str] = {}
    files = []
    for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
        file = display(path)
        files.append(file)
        raw = load_yaml(path, file)
        _require_keys(raw, file, "", ("values",), {"values", "description"})
        for key, spec in raw["values"].items():
            if key in owners:
                raise SchemaError(file, f"values.{key}", f"already described in {owners[key]}")
            owners[key] = file
            merged[key] = (file, spec)
    root = Field(file=files[0] if files else display(directory), path="", attrs={"type": "object"})
    for key, (file, spec) in merged.items():
        root.properties[key] = parse_field(spec, file, f"values.{key}", gates)
    return root, files
