"""Loading and checking policies/ (compatibility matrix, webhooks, feature gates, admission rules) and
schema/chart-values/. Every problem names the file and the field path."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apischema import TEMPLATE_DEFAULT_KEYS

from .conditions import check_path, condition_paths, parse_condition
from .errors import SchemaError
from .fields import CHART_VALUE_TYPES, FIELD_TYPES, Field, parse_field
from .resolve import find_node
from .yamlio import load_yaml

if TYPE_CHECKING:
    from .inputs import Kind

KUBE_MINOR = re.compile(r"^1\.[0-9]+$")
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
    "assert": {"required": ("field", "require", "message"), "optional": ("when", "forEach", "errorType", "showValue"),
               "ops": ("CREATE", "UPDATE")},
    "selectorNotEmpty": {"required": ("field",), "optional": ("message", "when", "forEach"), "ops": ("CREATE", "UPDATE")},
    "labelSelectorSyntax": {"required": ("field",), "optional": ("when", "forEach"), "ops": ("CREATE", "UPDATE")},
    "selectorMatchesLabels": {"required": ("selector", "labels"), "ops": ("CREATE", "UPDATE")},
    "updateWhitelist": {"required": ("field", "allowed"), "optional": ("message",), "ops": ("UPDATE",)},
    "immutable": {"required": ("field",), "ops": ("UPDATE",)},
    "immutableByKey": {"required": ("list", "key", "fields"), "optional": ("message",), "ops": ("UPDATE",)},
    "onlyContainerImagesChange": {"required": ("field", "message"), "optional": ("when",), "ops": ("UPDATE",)},
    "keysReferTo": {"required": ("field", "list", "key"), "optional": ("message",), "ops": ("CREATE", "UPDATE")},
    "ownedPods": {"required": ("field",), "ops": ("CREATE", "UPDATE"), "needs": ("pods",)},
    "noDuplicateItems": {"required": ("field",), "ops": ("CREATE", "UPDATE")},
    "subsetReplicas": {"required": ("replicas", "subsets"), "ops": ("CREATE", "UPDATE")},
    "deleteProtection": {"required": ("replicas",), "ops": ("DELETE",)},
    "volumeClaimTemplatesOnlyGrow": {"required": ("field",), "optional": ("when",), "ops": ("UPDATE",)},
    # `last`: after volumeClaimTemplatesOnlyGrow accepted the claims (upstream stops at the first problem).
    "volumeClaimExpansionAllowed": {"required": ("field",), "optional": ("when",), "ops": ("UPDATE",),
                                    "needs": ("storageClasses",), "last": True},
    "namePattern": {"required": ("pattern", "message"), "optional": ("maxLength",), "ops": ("CREATE", "UPDATE")},
    "intOrRangeItems": {"required": ("field", "noun"), "ops": ("CREATE", "UPDATE")},
    "noNewKeys": {"required": ("list", "key", "message"), "ops": ("UPDATE",)},
    "sidecarContainers": {"required": ("initContainers", "containers", "volumes"), "ops": ("CREATE", "UPDATE")},
    "patchPodMetadata": {"required": ("field",), "ops": ("CREATE", "UPDATE")},
    "patchPodMetadataWhitelist": {"required": ("field",), "ops": ("CREATE", "UPDATE"),
                                  "needs": ("kruiseConfiguration",)},
    "sidecarSetRevision": {"required": ("field",), "ops": ("CREATE", "UPDATE"), "needs": ("revisions",)},
    # `last`: runs only on an object every other rule accepts (validateSidecarConflict).
    "sidecarSetConflicts": {"required": (), "ops": ("CREATE", "UPDATE"), "needs": ("sidecarsets",), "last": True},
    "imageReference": {"required": ("field",), "ops": ("CREATE", "UPDATE")},
    "notBelow": {"required": ("field", "other", "otherDefault", "message"), "optional": ("when",),
                 "ops": ("CREATE", "UPDATE")},
    # Pod and PVC templates judged by a server-side dry-run create (controllers/webhook/kubernetes_validation.py).
    "kubernetesValidation": {"required": (), "optional": ("podTemplates", "volumeClaimTemplates", "podOf", "placements"),
                             "ops": ("CREATE", "UPDATE"), "needs": ("kubernetesValidation",)},
}
# kubernetesValidation `podOf`: the pod lists a pod is made of (a SidecarSet's).
POD_OF_KEYS = ("initContainers", "containers", "volumes")
# kubernetesValidation `placements`: a list whose items place pods (UnitedDeployment subsets), and where in an
# item its node selector term and tolerations are.
PLACEMENT_KEYS = ("list", "nodeSelectorTerm", "tolerations")
RULE_COMMON = {"id", "check", "versions", "featureGate"}
# Kubernetes' field error types (field.ErrorType), as `assert` rules may report them.
ERROR_TYPES = ("Invalid", "Required", "Forbidden", "NotSupported")


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


def require_keys(raw: Any, file: str, where: str, required: tuple[str, ...], allowed: set[str]) -> None:
    if not isinstance(raw, dict):
        raise SchemaError(file, where or "(document)", "expected a mapping")
    for key in required:
        if key not in raw:
            raise SchemaError(file, f"{where}.{key}" if where else key, "missing required key")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise SchemaError(file, f"{where}.{unknown[0]}" if where else unknown[0],
                          f"unknown key; allowed: {', '.join(sorted(allowed))}")


def minor(text: Any, file: str, where: str) -> tuple[int, int]:
    if not isinstance(text, str) or not KUBE_MINOR.match(text):
        raise SchemaError(file, where, f"expected a Kubernetes minor version like '1.14', got {text!r}")
    major, minor = text.split(".")
    return int(major), int(minor)


def load_feature_gates(policies_dir: Path, display) -> tuple[dict, str]:
    path = policies_dir / "feature-gates.yaml"
    file = display(path)
    raw = load_yaml(path, file) if path.exists() else {"featureGates": {}}
    require_keys(raw, file, "", ("featureGates",), {"featureGates"})
    for name, gate in raw["featureGates"].items():
        require_keys(gate, file, f"featureGates.{name}", ("default",),
                     {"default", "description", "requires", "implies"})
        if not isinstance(gate["default"], bool):
            raise SchemaError(file, f"featureGates.{name}.default", "default must be true or false")
        for relation in ("requires", "implies"):
            others = gate.get(relation, [])
            if not isinstance(others, list) or any(o not in raw["featureGates"] or o == name for o in others):
                raise SchemaError(file, f"featureGates.{name}.{relation}", "a list of the other gates' names")
    return raw["featureGates"], file


def check_chart_metadata(chart: dict, file: str) -> None:
    """Chart.yaml's home, sources and maintainers, as helm and chart-testing's chart_schema.yaml accept them."""
    url = re.compile(r"^https?://\S+$")
    if "home" in chart and not (isinstance(chart["home"], str) and url.match(chart["home"])):
        raise SchemaError(file, "chart.home", "expected an http(s) URL")
    sources = chart.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) and url.match(s) for s in sources):
        raise SchemaError(file, "chart.sources", "expected a list of http(s) URLs")
    for index, maintainer in enumerate(chart.get("maintainers") or []):
        where = f"chart.maintainers[{index}]"
        require_keys(maintainer, file, where, ("name",), {"name", "email", "url"})
        if not isinstance(maintainer["name"], str) or not maintainer["name"].strip():
            raise SchemaError(file, f"{where}.name", "expected a non-empty name")


def check_chart_objects(objects: dict, file: str) -> None:
    """chartObjects: per kind, API versions from a minor version on (sorted, oldest first); pod fields with
    the first minor version that accepts them."""
    require_keys(objects, file, "chartObjects", (), {"apiVersions", "podFields"})
    for kind, steps in (objects.get("apiVersions") or {}).items():
        where = f"chartObjects.apiVersions.{kind}"
        if not isinstance(steps, list) or not steps:
            raise SchemaError(file, where, "expected a non-empty list of {since, apiVersion}")
        previous = None
        for index, step in enumerate(steps):
            require_keys(step, file, f"{where}[{index}]", ("since", "apiVersion"), {"since", "apiVersion"})
            since = minor(step["since"], file, f"{where}[{index}].since")
            if previous is not None and since <= previous:
                raise SchemaError(file, f"{where}[{index}].since", "sorted by `since`, oldest first")
            previous = since
    for name, version in (objects.get("podFields") or {}).items():
        minor(version, file, f"chartObjects.podFields.{name}")


def load_compatibility(policies_dir: Path, display) -> tuple[dict, list[Variant], str]:
    path = policies_dir / "compatibility.yaml"
    file = display(path)
    if not path.exists():
        raise SchemaError(file, "(file)", "missing")
    raw = load_yaml(path, file)
    require_keys(raw, file, "", ("chart", "profiles", "variants", "fields"),
                  {"chart", "profiles", "variants", "fields", "apiServerFeatureGates", "chartObjects"})
    require_keys(raw["chart"], file, "chart", ("name", "kubeVersion"),
                  {"name", "kubeVersion", "description", "home", "sources", "maintainers"})
    check_chart_metadata(raw["chart"], file)
    check_chart_objects(raw.get("chartObjects") or {}, file)
    for name, profile in raw["profiles"].items():
        require_keys(profile, file, f"profiles.{name}", ("crdApiVersion", "admissionApiVersion"),
                      {"description", "crdApiVersion", "admissionApiVersion"})
        for key, allowed in API_VERSIONS.items():
            if profile[key] not in allowed:
                raise SchemaError(file, f"profiles.{name}.{key}", f"expected one of {', '.join(allowed)}")
    fields: dict[str, tuple[int, int]] = {}
    for key, version in raw["fields"].items():
        if key not in KNOWN_FEATURE_FIELDS:
            raise SchemaError(file, f"fields.{key}", f"unknown field; known: {', '.join(sorted(KNOWN_FEATURE_FIELDS))}")
        fields[key] = minor(version, file, f"fields.{key}")
    gates = raw.get("apiServerFeatureGates") or {}
    for name, gate in gates.items():
        require_keys(gate, file, f"apiServerFeatureGates.{name}", ("enabledByDefaultSince", "value", "message"),
                      {"enabledByDefaultSince", "neededBy", "value", "message"})
        minor(gate["enabledByDefaultSince"], file, f"apiServerFeatureGates.{name}.enabledByDefaultSince")
    variants: list[Variant] = []
    raw_variants = raw["variants"]
    if not isinstance(raw_variants, list) or not raw_variants:
        raise SchemaError(file, "variants", "variants must be a non-empty list")
    for index, item in enumerate(raw_variants):
        where = f"variants[{index}]"
        require_keys(item, file, where, ("name", "profile", "since"), {"name", "profile", "since"})
        if item["profile"] not in raw["profiles"]:
            raise SchemaError(file, f"{where}.profile", f"unknown profile {item['profile']!r}")
        since = minor(item["since"], file, f"{where}.since")
        if variants and since <= variants[-1].since:
            raise SchemaError(file, f"{where}.since", "variants must be sorted by `since`, oldest first")
        profile = raw["profiles"][item["profile"]]
        needed = [{"name": name, **gate} for name, gate in sorted(gates.items())
                  if since < minor(gate["enabledByDefaultSince"], file, "")]
        variants.append(Variant(name=item["name"], profile=item["profile"], since=since, until=None,
                                fields={key for key, first in fields.items() if since >= first},
                                crd_api_version=profile["crdApiVersion"],
                                admission_api_version=profile["admissionApiVersion"], gates=needed))
    for current, following in zip(variants, variants[1:]):
        current.until = following.since
    return raw, variants, file


# `deleteProtection.cascading`: what a `Cascading` object must be without before it may go
# (controllers/webhook/deletion_protection.py); `none`: only `Always` protects.
CASCADING_CHECKS = ("replicas", "podsAndClaims", "customResources", "none")


def load_webhooks(policies_dir: Path, display, kinds: list[Kind], gates: set[str] | None = None) -> tuple[dict, str]:
    path = policies_dir / "webhooks.yaml"
    file = display(path)
    raw = load_yaml(path, file)
    allowed = {"configurations", "plainManifestsNamespace", "admissionReviewVersions", "conversionReviewVersions", "conversionPath",
               "sideEffects", "matchPolicy", "namespaceSelectors", "objectSelectors", "workloads",
               "workloadFailurePolicy", "extra"}
    require_keys(raw, file, "", ("configurations", "workloads", "conversionPath", "plainManifestsNamespace"), allowed)
    require_keys(raw["configurations"], file, "configurations", ("mutating", "validating"), {"mutating", "validating"})
    known = {k.name for k in kinds}
    operations = {"CREATE", "UPDATE", "DELETE", "CONNECT"}
    for name, entry in raw["workloads"].items():
        if name not in known:
            raise SchemaError(file, f"workloads.{name}", f"unknown kind; kinds: {', '.join(sorted(known))}")
        require_keys(entry, file, f"workloads.{name}", (), {"mutate", "validate"})
        for key, ops in entry.items():
            if not set(ops) <= operations:
                raise SchemaError(file, f"workloads.{name}.{key}", f"operations are {', '.join(sorted(operations))}")
    for index, extra in enumerate(raw.get("extra", [])):
        where = f"extra[{index}]"
        require_keys(extra, file, where, ("name", "configuration", "path", "rules", "failurePolicy"),
                      {"name", "configuration", "path", "rules", "failurePolicy", "namespaceSelector",
                       "objectSelector", "enabledBy", "perWorkload", "failClosedNamespaces", "enabledByFeatureGate",
                       "since", "deleteProtection"})
        for key in ("enabledByFeatureGate",):
            if key in extra and gates is not None and extra[key] not in gates:
                raise SchemaError(file, f"{where}.{key}", f"unknown feature gate {extra[key]!r}")
        if "since" in extra:
            minor(extra["since"], file, f"{where}.since")
        if "deleteProtection" in extra:
            _check_delete_protection(extra, file, f"{where}.deleteProtection", gates)
        if "perWorkload" in extra:
            _check_per_workload(extra["perWorkload"], file, f"{where}.perWorkload", known)
        if "failClosedNamespaces" in extra:
            _check_fail_closed(extra["failClosedNamespaces"], file, f"{where}.failClosedNamespaces")
        if extra["configuration"] not in ("mutating", "validating"):
            raise SchemaError(file, f"{where}.configuration", "mutating or validating")
        for key, pool in (("namespaceSelector", "namespaceSelectors"), ("objectSelector", "objectSelectors")):
            if key in extra and extra[key] not in (raw.get(pool) or {}):
                raise SchemaError(file, f"{where}.{key}", f"unknown selector {extra[key]!r}; define it under {pool}")
        if extra["failurePolicy"] not in ("Ignore", "Fail"):
            raise SchemaError(file, f"{where}.failurePolicy", "Ignore or Fail")
    return raw, file


LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def _check_delete_protection(extra: dict, file: str, where: str, gates: set[str] | None) -> None:
    """`deleteProtection: {cascading: <check>, cascadingFeatureGate: <gate>}` on a validating DELETE webhook."""
    raw = extra["deleteProtection"]
    require_keys(raw, file, where, ("cascading",), {"cascading", "cascadingFeatureGate"})
    if raw["cascading"] not in CASCADING_CHECKS:
        raise SchemaError(file, f"{where}.cascading", f"one of {', '.join(CASCADING_CHECKS)}")
    if "cascadingFeatureGate" in raw and gates is not None and raw["cascadingFeatureGate"] not in gates:
        raise SchemaError(file, f"{where}.cascadingFeatureGate", f"unknown feature gate {raw['cascadingFeatureGate']!r}")
    if extra["configuration"] != "validating" or any(r.get("operations") != ["DELETE"] for r in extra["rules"]):
        raise SchemaError(file, where, "deletion protection needs a validating webhook on DELETE only")
    if "enabledByFeatureGate" not in extra:
        raise SchemaError(file, where, "deletion protection needs enabledByFeatureGate")


def _check_per_workload(raw: Any, file: str, where: str, kinds: set[str]) -> None:
    """`perWorkload: {podLabels: {<Kind>: <label key>}, unless: <boolean chart value>}`."""
    require_keys(raw, file, where, ("podLabels", "unless"), {"podLabels", "unless"})
    labels = raw["podLabels"]
    if not isinstance(labels, dict) or not labels:
        raise SchemaError(file, f"{where}.podLabels", "a non-empty mapping of kind to pod label key")
    for kind, label in labels.items():
        if kind not in kinds:
            raise SchemaError(file, f"{where}.podLabels.{kind}", f"unknown kind; kinds: {', '.join(sorted(kinds))}")
        if not isinstance(label, str) or not LABEL_KEY.match(label):
            raise SchemaError(file, f"{where}.podLabels.{kind}", f"not a label key: {label!r}")
    if not isinstance(raw["unless"], str) or not raw["unless"]:
        raise SchemaError(file, f"{where}.unless", "the path of a boolean chart value")


def _check_fail_closed(raw: Any, file: str, where: str) -> None:
    """`failClosedNamespaces: {when: <boolean chart value>, name: <webhook name>, label: {key, value}}`."""
    require_keys(raw, file, where, ("when", "name", "label"), {"when", "name", "label"})
    if not isinstance(raw["when"], str) or not raw["when"]:
        raise SchemaError(file, f"{where}.when", "the path of a boolean chart value")
    if not isinstance(raw["name"], str) or raw["name"].count(".") < 2:
        raise SchemaError(file, f"{where}.name", "a webhook name with at least three segments, e.g. x.kb.io")
    label = raw["label"]
    require_keys(label, file, f"{where}.label", ("key", "value"), {"key", "value"})
    if not isinstance(label["key"], str) or not LABEL_KEY.match(label["key"]):
        raise SchemaError(file, f"{where}.label.key", f"not a label key: {label['key']!r}")
    if not isinstance(label["value"], str) or not re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?",
                                                               label["value"]):
        raise SchemaError(file, f"{where}.label.value", f"not a label value: {label['value']!r}")


def load_admission(policies_dir: Path, display, kinds: list[Kind], gates: set[str]) -> list[str]:
    by_name = {k.name: k for k in kinds}
    files = []
    for path in sorted((policies_dir / "admission").glob("*.yaml")):
        file = display(path)
        files.append(file)
        raw = load_yaml(path, file)
        require_keys(raw, file, "", ("kind", "rules"),
                     {"kind", "rules", "templateDefaults", "admitIn", "computedAnnotations"})
        kind = by_name.get(raw["kind"])
        if kind is None:
            raise SchemaError(file, "kind", f"unknown kind {raw['kind']!r}")
        if kind.rules_file is not None:
            raise SchemaError(file, "kind", f"rules for {kind.name} are already in {kind.rules_file}")
        kind.rules_file = file
        if "admitIn" in raw:
            if raw["admitIn"] not in ("storageVersion", "servedVersion"):
                raise SchemaError(file, "admitIn", "admitIn is storageVersion (the default) or servedVersion")
            kind.admit_in = raw["admitIn"]
        ids = set()
        for index, rule in enumerate(raw["rules"] or []):
            normalized = _check_rule(rule, file, f"rules[{index}]", kind, gates)
            if normalized["id"] in ids:
                raise SchemaError(file, f"rules[{index}].id", f"duplicate rule id {normalized['id']!r}")
            ids.add(normalized["id"])
            kind.rules.append(normalized)
        if "templateDefaults" in raw:
            kind.template_defaults = _check_template_defaults(raw["templateDefaults"], file, kind, gates)
        if "computedAnnotations" in raw:
            kind.computed_annotations = _check_computed_annotations(raw["computedAnnotations"], file)
    return files


# Annotations the mutating webhook computes from the defaulted object (controllers/webhook/admission.py
# `ANNOTATORS`), by name.
COMPUTED_ANNOTATIONS = ("sidecarSetHash", "sidecarSetHashWithoutImage")


def _check_computed_annotations(raw: Any, file: str) -> dict:
    """`computedAnnotations: {<annotation key>: <computation>}`, written after the defaults on CREATE and UPDATE."""
    if not isinstance(raw, dict) or not raw:
        raise SchemaError(file, "computedAnnotations", "expected {annotation: computation}")
    for key, name in raw.items():
        if name not in COMPUTED_ANNOTATIONS:
            raise SchemaError(file, f"computedAnnotations.{key}",
                              f"unknown computation {name!r}; known: {', '.join(COMPUTED_ANNOTATIONS)}")
    return dict(raw)


_TEMPLATE_WORDS = {"podTemplates": "a pod template", "volumeClaimTemplates": "a list of claim templates",
                   "sidecarContainers": "a list of containers", "podVolumes": "a list of volumes"}


def _template_node(key: str, node: dict | None) -> bool:
    """Whether `node` is what `templateDefaults.<key>` defaults."""
    if node is None:
        return False
    if key == "sidecarContainers":
        items = node.get("items", {}) if node.get("type") == "array" else {}
        return items.get("type") == "object" and bool(items.get("preserveUnknownFields"))
    if key in ("volumeClaimTemplates", "podVolumes") and node.get("type") == "array":
        node = node["items"]
    return node.get("type") == "schemaless"


def _check_template_defaults(raw: Any, file: str, kind: Kind, gates: set[str]) -> dict:
    """`templateDefaults: {unlessFeatureGate, always, podTemplates: [path], volumeClaimTemplates: [path],
    sidecarContainers: [path], podVolumes: [path]}`: plain paths, in every version of the kind, to a pod
    template (schemaless), a list of claim templates, of containers or of volumes. Without `always: true` an
    UPDATE defaults only what it changes; without `unlessFeatureGate` no gate turns them off."""
    where = "templateDefaults"
    require_keys(raw, file, where, (), {"unlessFeatureGate", "always", *TEMPLATE_DEFAULT_KEYS})
    if "unlessFeatureGate" in raw and raw["unlessFeatureGate"] not in gates:
        raise SchemaError(file, f"{where}.unlessFeatureGate", f"unknown feature gate {raw['unlessFeatureGate']!r}")
    if not isinstance(raw.get("always", False), bool):
        raise SchemaError(file, f"{where}.always", "expected true or false")
    for key in TEMPLATE_DEFAULT_KEYS:
        paths = raw.get(key, [])
        if not isinstance(paths, list) or (key in raw and not paths):
            raise SchemaError(file, f"{where}.{key}", "expected a non-empty list of paths")
        for index, path in enumerate(paths):
            at = f"{where}.{key}[{index}]"
            if not isinstance(path, str) or not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", path):
                raise SchemaError(file, at, f"expected a plain dotted path, got {path!r}")
            for version in kind.version_names:
                if not _template_node(key, find_node(kind.trees[version], path)):
                    raise SchemaError(file, at, f"{path!r} is not {_TEMPLATE_WORDS[key]} in {kind.name} {version}")
    return {key: raw[key] for key in ("unlessFeatureGate", "always", *TEMPLATE_DEFAULT_KEYS) if key in raw}


def _check_rule(rule: Any, file: str, where: str, kind: Kind, gates: set[str]) -> dict:
    if not isinstance(rule, dict) or "check" not in rule or "id" not in rule:
        raise SchemaError(file, where, "a rule needs `id` and `check`")
    spec = RULE_CHECKS.get(rule["check"])
    if spec is None:
        raise SchemaError(file, f"{where}.check", f"unknown check {rule['check']!r}; known: {', '.join(sorted(RULE_CHECKS))}")
    allowed = RULE_COMMON | set(spec["required"]) | set(spec.get("optional", ()))
    require_keys(rule, file, where, tuple(spec["required"]), allowed)
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
    for key in ("field", "other", "selector", "list", "replicas", "subsets", "initContainers", "containers", "volumes"):
        if key in rule:
            exists(rule[key], for_each if key == "field" else None, key)
    if rule.get("errorType", "Invalid") not in ERROR_TYPES:
        raise SchemaError(file, f"{where}.errorType", f"errorType is one of {', '.join(ERROR_TYPES)}")
    for key in ("labels", "allowed", "fields"):
        if key in rule and (not isinstance(rule[key], list) or not rule[key]):
            raise SchemaError(file, f"{where}.{key}", "expected a non-empty list")
    for label_path in rule.get("labels", []):
        exists(label_path, None, "labels")
    if rule["check"] == "kubernetesValidation":
        if not any(key in rule for key in ("podTemplates", "volumeClaimTemplates", "podOf", "placements")):
            raise SchemaError(file, where, "kubernetesValidation needs podTemplates, volumeClaimTemplates, podOf "
                                           "or placements")
        if "placements" in rule:
            placements = rule["placements"]
            if not isinstance(placements, dict) or set(placements) != set(PLACEMENT_KEYS):
                raise SchemaError(file, f"{where}.placements", f"a map of {', '.join(PLACEMENT_KEYS)}")
            exists(placements["list"], None, "placements")
            for key in ("nodeSelectorTerm", "tolerations"):
                exists(f"{placements['list']}[*].{placements[key]}", None, "placements")
        for key in ("podTemplates", "volumeClaimTemplates"):
            if key in rule and (not isinstance(rule[key], list) or not rule[key]):
                raise SchemaError(file, f"{where}.{key}", "expected a non-empty list")
            for path in rule.get(key, []):
                exists(path, None, key)
        if "podOf" in rule:
            if not isinstance(rule["podOf"], dict) or not set(rule["podOf"]) <= set(POD_OF_KEYS) or not rule["podOf"]:
                raise SchemaError(file, f"{where}.podOf", f"a map with some of {', '.join(POD_OF_KEYS)}")
            for path in rule["podOf"].values():
                exists(path, None, "podOf")
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
    if spec.get("last"):
        normalized["last"] = True
    normalized["versions"] = versions
    return normalized


# Chart values the generated templates read; schema/chart-values must describe them.
TEMPLATE_VALUES = {
    "kubeVersion": "string", "namespaceOverride": "string", "crds.enabled": "boolean", "crds.keep": "boolean", "crds.annotations": "map",
    "webhook.service.name": "string", "webhook.service.namespace": "string", "webhook.service.port": "int32",
    "webhook.timeoutSeconds": "int32", "webhook.certificates.mode": "string",
    "webhook.certificates.certManager.certificateName": "string",
}


def check_value_references(values_tree: dict, compatibility: dict, compat_file: str, webhooks: dict,
                            webhooks_file: str, values_files: list[str]) -> None:
    """Every chart value a template or policy reads must be described, with the expected type."""
    where = values_files[0] if values_files else "schema/chart-values"
    references = [(path, kind, where, f"values.{path}") for path, kind in TEMPLATE_VALUES.items()]
    for name, gate in (compatibility.get("apiServerFeatureGates") or {}).items():
        references.append((gate["value"], "boolean", compat_file, f"apiServerFeatureGates.{name}.value"))
    for index, extra in enumerate(webhooks.get("extra", [])):
        if "enabledBy" in extra:
            references.append((extra["enabledBy"], "boolean", webhooks_file, f"extra[{index}].enabledBy"))
        if "perWorkload" in extra:
            references.append((extra["perWorkload"]["unless"], "boolean", webhooks_file,
                               f"extra[{index}].perWorkload.unless"))
        if "failClosedNamespaces" in extra:
            references.append((extra["failClosedNamespaces"]["when"], "boolean", webhooks_file,
                               f"extra[{index}].failClosedNamespaces.when"))
    for path, kind, file, field in references:
        node = find_node(values_tree, path)
        if node is None or node.get("type") != kind:
            raise SchemaError(file, field, f"chart value {path!r} must be described in schema/chart-values/ as a {kind}")


# The chart value generated from policies/feature-gates.yaml (not described in schema/chart-values/).
FEATURE_GATES_VALUE = "featureGates"


def feature_gates_value(feature_gates: dict, gate_file: str) -> dict:
    """The `featureGates` chart value: one boolean per gate of policies/feature-gates.yaml, defaulting to the
    gate's default, so values.schema.json refuses unknown gates and values.yaml lists every gate."""
    return {
        "type": "object",
        "description": "Feature gates of the manager (policies/feature-gates.yaml), passed as "
                       "--feature-gates=A=true,B=false in name order. Unknown gates are refused.",
        "properties": {name: {"type": "boolean", "default": gate["default"],
                              "description": gate.get("description", name)}
                       for name, gate in sorted(feature_gates.items())},
    }


def load_chart_values(directory: Path, display, gates: set[str], feature_gates: dict | None = None,
                      gate_file: str = "policies/feature-gates.yaml") -> tuple[Field, list[str]]:
    """schema/chart-values/*.yaml: each file owns some top-level chart values (`values:` mapping). When
    `feature_gates` are given, the `featureGates` value is generated from them."""
    merged: dict[str, Any] = {}
    owners: dict[str, str] = {}
    if feature_gates:
        owners[FEATURE_GATES_VALUE] = gate_file
    files = []
    for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
        file = display(path)
        files.append(file)
        raw = load_yaml(path, file)
        require_keys(raw, file, "", ("values",), {"values", "description"})
        for key, spec in raw["values"].items():
            if key in owners:
                what = "generated from" if key == FEATURE_GATES_VALUE and feature_gates else "already described in"
                raise SchemaError(file, f"values.{key}", f"{what} {owners[key]}")
            owners[key] = file
            merged[key] = (file, spec)
    if feature_gates:
        merged[FEATURE_GATES_VALUE] = (gate_file, feature_gates_value(feature_gates, gate_file))
        files.append(gate_file)
    root = Field(file=files[0] if files else display(directory), path="", attrs={"type": "object"})
    for key, (file, spec) in merged.items():
        root.properties[key] = parse_field(spec, file, f"values.{key}", gates, FIELD_TYPES + CHART_VALUE_TYPES)
    return root, files


# policies/controllers.yaml: the resource table and what each controller watches and writes.
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")
RESOURCE_KEYS = {"apiVersion", "plural", "kind", "namespaced", "slowStart", "concurrent", "warnings", "goJSON"}


def load_controllers(policies_dir: Path, display, kinds: list[Kind]) -> tuple[dict | None, str]:
    """The file is optional (a test's policies may have none): None then, and no controller rules. A kind of
    schema/ is read at its storage version, so the controllers see every field."""
    path = policies_dir / "controllers.yaml"
    file = display(path)
    if not path.exists():
        return None, file
    raw = load_yaml(path, file)
    require_keys(raw, file, "", ("resources", "controllers"), {"resources", "controllers"})
    for key, res in raw["resources"].items():
        where = f"resources.{key}"
        require_keys(res, file, where, ("apiVersion", "plural", "kind", "namespaced"), RESOURCE_KEYS)
        group = res["apiVersion"].rpartition("/")[0]
        expected = f"{res['plural']}.{group}" if group else res["plural"]
        if key != expected:
            raise SchemaError(file, where, f"a resource's key is <plural>.<group> (kubectl's): {expected}")
        own = next((k for k in kinds if (k.group, k.plural) == (group, res["plural"])), None)
        if own is not None and res["apiVersion"] != f"{group}/{own.storage_version}":
            raise SchemaError(file, f"{where}.apiVersion", f"{own.name} is stored as {group}/{own.storage_version}")
        for verb in res.get("warnings") or {}:
            if verb not in ("create", "patch", "delete"):
                raise SchemaError(file, f"{where}.warnings.{verb}", "a warning is per verb: create, patch or delete")
    for name, controller in raw["controllers"].items():
        where = f"controllers.{name}"
        require_keys(controller, file, where, ("workload", "watches", "writes"),
                     {"workload", "watches", "reads", "writes", "readsWorkloadOnly", "featureGate", "gated"})
        parts = [controller, *(controller.get("gated") or {}).values()]
        for gate, part in (controller.get("gated") or {}).items():
            require_keys(part, file, f"{where}.gated.{gate}", (), {"watches", "reads", "writes"})
        targets = [controller["workload"], *(w for p in parts for w in p.get("watches", [])),
                   *(r for p in parts for r in p.get("reads", [])),
                   *(t.split("/")[0] for p in parts for t in p.get("writes", {}))]
        for target in targets:
            if target not in raw["resources"]:
                raise SchemaError(file, where, f"unknown resource {target!r}: not in `resources`")
        for target, verbs in (w for p in parts for w in p.get("writes", {}).items()):
            if not set(verbs) <= set(VERBS):
                raise SchemaError(file, f"{where}.writes.{target}", f"verbs are among {', '.join(VERBS)}")
    return raw, file
