"""controllers/_generated/schema.json: what the controllers and webhooks need at run time, per kind and
version: the field tree (types and constraints), the defaults in application order, fallbacks, and the
admission rules of policies/admission; for `ack-kruise preflight` and the manager, the compatibility matrix
and the names of the chart's cluster-wide objects; and the resource table of policies/controllers.yaml (what
the controllers watch and write, and how the runtime writes each). controllers/schema.py and
controllers/runtime/resources.py load it."""
from __future__ import annotations

from .inputs import Inputs, Kind
from .yamlio import dump_json, json_comment

RUNTIME_SCHEMA = "controllers/_generated/schema.json"
_TREE_SKIP = {"description", "default", "defaultIf", "crdDefault", "fallback", "defaultCases", "rewrite"}


def runtime_tree(node: dict) -> dict:
    """The node without documentation, defaults or private keys (those live in `defaults`/`fallbacks`)."""
    out = {}
    for key, value in node.items():
        if key.startswith("_") or key in _TREE_SKIP:
            continue
        if key == "properties":
            out[key] = {name: runtime_tree(child) for name, child in value.items()}
        elif key in ("items", "values"):
            out[key] = runtime_tree(value)
        else:
            out[key] = value
    return out


def default_entries(node: dict, path: str = "") -> list[dict]:
    """Pre-order: an object's own defaults (in declaration order), then those of its children, so a parent
    created by a default (`{}`) gets its children's defaults too."""
    entries: list[dict] = []
    properties = node.get("properties", {})
    for name, child in properties.items():
        # Cases first: the first entry whose condition holds sets an unset field.
        for case in child.get("defaultCases", []):
            entries.append({"parent": path, "field": name, "value": case["value"], "when": case["when"]})
        if "default" in child:
            entry = {"parent": path, "field": name, "value": child["default"]}
            if "defaultIf" in child:
                entry["when"] = child["defaultIf"]
            entries.append(entry)
        if "rewrite" in child:
            entries.append({"parent": path, "field": name, "rewrite": child["rewrite"]})
    for name, child in properties.items():
        child_path = f"{path}.{name}" if path else name
        entries.extend(_nested(child, child_path))
    return entries


def _nested(node: dict, path: str) -> list[dict]:
    if node["type"] == "object":
        return default_entries(node, path)
    if node["type"] == "array":
        return _nested(node["items"], f"{path}[*]")
    if node["type"] == "map":
        return _nested(node["values"], f"{path}{{*}}")
    return []


def fallbacks(node: dict, path: str = "") -> dict:
    found = {}
    for name, child in node.get("properties", {}).items():
        child_path = f"{path}.{name}" if path else name
        if "fallback" in child:
            found[child_path] = child["fallback"]
        found.update(fallbacks(child, child_path))
    for key, suffix in (("items", "[*]"), ("values", "{*}")):
        if key in node:
            found.update(fallbacks(node[key], f"{path}{suffix}"))
    return found


def kind_entry(kind: Kind) -> dict:
    versions = {}
    for version in kind.version_names:
        tree = kind.trees[version]
        rules = [{k: v for k, v in rule.items() if k != "versions"} for rule in kind.rules if version in rule["versions"]]
        versions[version] = {"schema": runtime_tree(tree), "defaults": default_entries(tree),
                             "fallbacks": fallbacks(tree), "rules": rules}
        if kind.template_defaults:
            versions[version]["templateDefaults"] = kind.template_defaults
        if kind.computed_annotations:
            versions[version]["computedAnnotations"] = kind.computed_annotations
    entry = {"group": kind.group, "plural": kind.plural, "scope": kind.raw["scope"],
             "storageVersion": kind.storage_version, "versions": versions}
    if kind.raw.get("conversionMappings"):
        entry["conversionMappings"] = kind.raw["conversionMappings"]
    if kind.admit_in != "storageVersion":
        entry["admitIn"] = kind.admit_in
    return entry


def _minor(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def compatibility(inputs: Inputs) -> dict:
    """policies/compatibility.yaml as `ack-kruise preflight` needs it: the variants, oldest first, each with its
    API versions and the kube-apiserver feature gates it needs switched on; and those gates."""
    gates = inputs.compatibility.get("apiServerFeatureGates") or {}
    return {
        "variants": [{"name": v.name, "since": _minor(v.since), "profile": v.profile,
                      "crdApiVersion": v.crd_api_version, "admissionApiVersion": v.admission_api_version,
                      "apiServerFeatureGates": [gate["name"] for gate in v.gates]} for v in inputs.variants],
        "apiServerFeatureGates": {name: {"enabledByDefaultSince": gate["enabledByDefaultSince"], "value": gate["value"]}
                                  for name, gate in sorted(gates.items())},
    }


def chart_objects(inputs: Inputs) -> dict:
    """The cluster-wide objects the chart creates under fixed names (a second owner makes `helm install` fail)."""
    return {
        "customResourceDefinitions": [kind.crd_name for kind in inputs.kinds],
        # the CRDs whose conversion webhook the manager gives its caBundle
        "conversionWebhookCRDs": [kind.crd_name for kind in inputs.kinds if kind.conversion_webhook],
        "webhookConfigurations": dict(inputs.webhooks["configurations"]),
        # the namespace label whose pods the pod webhook admits failing closed ({key, value}), if any
        "podWebhookRequiredNamespaceLabel": next(
            (dict(e["failClosedNamespaces"]["label"]) for e in inputs.webhooks.get("extra", [])
             if e.get("failClosedNamespaces")), None),
    }


def deletion_protection(inputs: Inputs) -> dict:
    """The webhook paths that guard Kubernetes' own objects against deletion (policies/webhooks.yaml `extra`
    entries with `deleteProtection`), each with its gate and what `Cascading` checks."""
    return {extra["path"]: {"webhook": extra["name"], "featureGate": extra["enabledByFeatureGate"],
                            **extra["deleteProtection"]}
            for extra in inputs.webhooks.get("extra", []) if extra.get("deleteProtection")}


def build(inputs: Inputs) -> dict:
    sources = [k.file for k in inputs.kinds] + inputs.definitions_files + inputs.admission_files + [
        inputs.feature_gates_file, inputs.compatibility_file, inputs.webhooks_file] + (
        [inputs.controllers_file] if inputs.controllers else [])
    out = {
        "$comment": json_comment(sources),
        "featureGates": {name: {k: gate[k] for k in ("default", "requires", "implies") if k in gate}
                         for name, gate in sorted(inputs.feature_gates.items())},
        "kinds": {kind.name: kind_entry(kind) for kind in inputs.kinds},
        "compatibility": compatibility(inputs),
        "chartObjects": chart_objects(inputs),
    }
    protected = deletion_protection(inputs)
    if protected:
        out["deletionProtection"] = protected
    if inputs.controllers:
        out["resources"] = inputs.controllers["resources"]
        out["controllers"] = inputs.controllers["controllers"]
    return out


def generate(inputs: Inputs) -> dict[str, str]:
    return {RUNTIME_SCHEMA: dump_json(build(inputs))}
