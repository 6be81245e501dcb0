"""API reference: docs/api/README.md (kinds, compatibility matrix, webhooks) and docs/api/<kind>.md."""
from __future__ import annotations

import json
import re
from typing import Any

from . import crds, webhooks as webhook_gen
from .inputs import Inputs, Kind
from .yamlio import dump_yaml, markdown_header

DOCS_DIR = "docs/api"


def _code(value: Any) -> str:
    return f"`{json.dumps(value)}`"


def _cell(text: str) -> str:
    """Table cells: no pipes or newlines, and no <angle> words that Markdown would take for HTML."""
    text = text.replace("|", "\\|").replace("\n", " ")
    return re.sub(r"<([A-Za-z][^<>]*)>", r"&lt;\1&gt;", text)


def condition_text(cond: dict) -> str:
    if "all" in cond:
        return " and ".join(condition_text(c) for c in cond["all"])
    if "any" in cond:
        return "(" + " or ".join(condition_text(c) for c in cond["any"]) + ")"
    if "not" in cond:
        return f"not {condition_text(cond['not'])}"
    if "featureGate" in cond:
        return f"feature gate {cond['featureGate']} is on"
    field = f"`{cond['field']}`"
    if "present" in cond:
        return f"{field} is {'set' if cond['present'] else 'unset'}"
    if "nonEmpty" in cond:
        return f"{field} is {'not ' if cond['nonEmpty'] else ''}empty"
    if "equals" in cond:
        return f"{field} = {_code(cond['equals'])}"
    if "in" in cond:
        return f"{field} in {', '.join(_code(v) for v in cond['in'])}"
    if "notIn" in cond:
        return f"{field} not in {', '.join(_code(v) for v in cond['notIn'])}"
    if "containsItem" in cond:
        return f"{field} contains {_code(cond['containsItem'])}"
    for operator, symbol in (("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<=")):
        if operator in cond:
            scale = f" (percentages of `{cond['scaledBy']}`, rounded {cond.get('round', 'up')})" if "scaledBy" in cond else ""
            bound = cond[operator]
            if isinstance(bound, dict):
                bound = f"`{bound['field']}` ({bound['missing']} when unset)"
            return f"{field} {symbol} {bound}{scale}"
    return json.dumps(cond)


def type_text(node: dict) -> str:
    kind = node["type"]
    if kind == "array":
        return f"[]{type_text(node['items'])}"
    if kind == "map":
        return f"map[string]{type_text(node['values'])}"
    if kind == "schemaless":
        return "object (not validated)"
    return kind


def constraints_text(node: dict) -> str:
    parts = []
    if node.get("required"):
        parts.append("required")
    if "enum" in node:
        parts.append("one of " + ", ".join(_code(v) for v in node["enum"]))
    if "minimum" in node:
        parts.append(f">= {node['minimum']}")
    if "maximum" in node:
        parts.append(f"<= {node['maximum']}")
    if "minLength" in node:
        parts.append(f"length >= {node['minLength']}")
    if "maxLength" in node:
        parts.append(f"length <= {node['maxLength']}")
    if "pattern" in node:
        parts.append(f"matches `{node['pattern']}`")
    if node["type"] == "int-or-percent":
        parts.append('integer >= 0 or "N%"' + (' (N may have a fraction, "1.5%")' if node.get("fractionalPercent") else ""))
    if node.get("unique"):
        parts.append("no duplicates")
    if "uniqueBy" in node:
        parts.append("unique " + "+".join(f"`{k}`" for k in node["uniqueBy"]))
    if "mutuallyExclusive" in node:
        groups = ["/".join(g) if isinstance(g, list) else g for g in node["mutuallyExclusive"]]
        parts.append("at most one of " + ", ".join(f"`{g}`" for g in groups))
    if "exactlyOne" in node:
        parts.append("exactly one of " + ", ".join(f"`{g}`" for g in node["exactlyOne"]))
    return "; ".join(parts)


def default_text(node: dict) -> str:
    if "default" in node:
        text = _code(node["default"])
        if "defaultIf" in node:
            text += f" if {condition_text(node['defaultIf'])}"
        if "fallback" in node:
            text += f" (unset: {_code(node['fallback'])})"
        return text
    if "fallback" in node:
        return f"(unset: {_code(node['fallback'])})"
    return ""


def defaults_text(node: dict) -> str:
    """default_text, after the `defaultCases` tried before it."""
    cases = [f"{_code(case['value'])} if {condition_text(case['when'])}" for case in node.get("defaultCases", [])]
    return "; else ".join(cases + [default_text(node)])


def field_rows(node: dict, path: str, versions_of: dict[str, list[str]], all_versions: list[str]) -> list[str]:
    rows = []
    for name, child in node.get("properties", {}).items():
        child_path = f"{path}.{name}"
        versions = versions_of.get(child_path, all_versions)
        version_cell = f" {', '.join(versions)} |" if len(all_versions) > 1 else ""
        rows.append(f"| `{child_path}` | {type_text(child)} |{version_cell} {_cell(defaults_text(child))} | "
                    f"{_cell(constraints_text(child))} | {_cell(child.get('description', ''))} |")
        target = child
        suffix = ""
        while target["type"] in ("array", "map"):
            suffix += "[]" if target["type"] == "array" else "{}"
            target = target["items"] if target["type"] == "array" else target["values"]
        if target["type"] == "object":
            rows.extend(field_rows(target, child_path + suffix, versions_of, all_versions))
    return rows


def _paths(node: dict, path: str, found: set[str]) -> None:
    for name, child in node.get("properties", {}).items():
        child_path = f"{path}.{name}" if path else name
        found.add(child_path)
        target, suffix = child, ""
        while target["type"] in ("array", "map"):
            suffix += "[]" if target["type"] == "array" else "{}"
            target = target["items"] if target["type"] == "array" else target["values"]
        _paths(target, child_path + suffix, found)


def rule_text(rule: dict) -> str:
    check = rule["check"]
    gate = f" (feature gate {rule['featureGate']})" if "featureGate" in rule else ""
    versions = ""
    if check == "assert":
        scope = f"for every item of `{rule['forEach']}`, " if "forEach" in rule else ""
        when = f"when {condition_text(rule['when'])}, " if "when" in rule else ""
        text = f"{scope}{when}requires {condition_text(rule['require'])} — \"{rule['message']}\" (`{rule['field']}`)"
    elif check == "selectorNotEmpty":
        scope = f"for every item of `{rule['forEach']}`, " if "forEach" in rule else ""
        text = f"{scope}`{rule['field']}` must not be empty"
    elif check == "selectorMatchesLabels":
        text = f"`{rule['selector']}` must match " + " / ".join(f"`{p}`" for p in rule["labels"])
    elif check == "updateWhitelist":
        text = f"on update, only {', '.join(f'`{n}`' for n in rule['allowed'])} may change in `{rule['field']}`"
    elif check == "immutable":
        text = f"`{rule['field']}` cannot change"
    elif check == "immutableByKey":
        text = f"{', '.join(f'`{n}`' for n in rule['fields'])} of items of `{rule['list']}` (by `{rule['key']}`) cannot change"
    elif check == "onlyContainerImagesChange":
        when = f"when {condition_text(rule['when'])}, " if "when" in rule else ""
        text = f"{when}only container images may change in `{rule['field']}.spec`"
    elif check == "keysReferTo":
        text = f"keys of `{rule['field']}` must name items of `{rule['list']}` (by `{rule['key']}`)"
    elif check == "noDuplicateItems":
        text = f"`{rule['field']}` names each item once"
    elif check == "ownedPods":
        text = f"pods named in `{rule['field']}` must exist, not be terminating and be owned by this object (needs pod lookups)"
    elif check == "subsetReplicas":
        text = (f"subset replicas must fit `{rule['replicas']}`: explicit replicas add up to at most the total (exactly, "
                "when every subset sets them); with minReplicas/maxReplicas the total is required, min <= max, and one "
                "subset has no maxReplicas")
    elif check == "deleteProtection":
        text = ("DELETE is refused when the label policy.kruise.io/delete-protection is `Always`, or `Cascading` "
                f"while `{rule['replicas']}` > 0")
    elif check == "volumeClaimTemplatesOnlyGrow":
        when = f"when {condition_text(rule['when'])}, " if "when" in rule else ""
        text = (f"{when}`{rule['field']}` cannot be added, removed, renamed or shrunk, nor change their storage "
                "class or access modes")
    elif check == "volumeClaimExpansionAllowed":
        when = f"when {condition_text(rule['when'])}, " if "when" in rule else ""
        text = (f"{when}a claim of `{rule['field']}` whose storage size changes needs a StorageClass (the default "
                "one when unnamed) without `allowVolumeExpansion: false` (reads StorageClasses)")
    elif check == "intOrRangeItems":
        text = f"each item of `{rule['field']}` is an integer >= 0 or a range `\"<first>-<last>\"` with first <= last"
    elif check == "kubernetesValidation":
        parts = [f"the pod template `{p}`" for p in rule.get("podTemplates", [])]
        parts += [f"each claim of `{p}`" for p in rule.get("volumeClaimTemplates", [])]
        if "podOf" in rule:
            parts.append("a pod of " + ", ".join(f"`{p}`" for p in rule["podOf"].values()))
        if "placements" in rule:
            placements = rule["placements"]
            parts.append(f"a pod placed by each item of `{placements['list']}` (`{placements['nodeSelectorTerm']}` "
                         f"as its required node affinity, `{placements['tolerations']}`)")
        text = ("Kubernetes' own validation of " + "; ".join(parts) + " (a server-side dry-run create; only a 422 "
                "from object validation refuses, fields prefixed by the template's path)")
    else:  # pragma: no cover
        text = json.dumps(rule)
    if rule.get("versions") and set(rule["versions"]) != set(rule.get("_all_versions", rule["versions"])):
        versions = f" ({', '.join(rule['versions'])} only)"
    return f"- **{rule['id']}** [{'/'.join(rule['operations'])}]: {text}{gate}{versions}"


def kind_doc(inputs: Inputs, kind: Kind) -> str:
    raw = kind.raw
    storage = kind.storage_version
    lines = [markdown_header([kind.file, *inputs.definitions_files] + ([kind.rules_file] if kind.rules_file else [])),
             f"# {kind.name}", "", raw["description"], ""]
    versions = ", ".join(f"{v['name']}{' (storage)' if v['storage'] else ''}" for v in kind.versions)
    short = ", ".join(f"`{s}`" for s in raw.get("shortNames", [])) or "none"
    lines += [f"- Group: `{kind.group}`", f"- Versions: {versions}", f"- Scope: {raw['scope']}",
              f"- Resource: `{kind.plural}`, short names: {short}"]
    subresources = raw.get("subresources", {})
    parts = []
    if subresources.get("status"):
        parts.append("status")
    if "scale" in subresources:
        scale = subresources["scale"]
        parts.append(f"scale (replicas `{scale['specReplicasPath']}`, status `{scale['statusReplicasPath']}`"
                     + (f", selector `{scale['labelSelectorPath']}`" if "labelSelectorPath" in scale else "") + ")")
    lines.append(f"- Subresources: {', '.join(parts) or 'none'}")
    if kind.conversion_webhook:
        lines.append(f"- Conversion: webhook `{inputs.webhooks['conversionPath']}` between {', '.join(kind.version_names)}")
    lines.append("")
    columns = raw.get("printerColumns", [])
    if columns:
        default_view = " ".join(["NAME"] + [c["name"] for c in columns if not c.get("priority")])
        command = raw["shortNames"][-1] if raw.get("shortNames") else kind.plural
        lines += ["## kubectl get", "", f"`kubectl get {command}` prints `{default_view}`; `-o wide` adds the "
                  "priority 1 columns.", "", "| Column | JSON path | Type | Priority | Description |",
                  "|---|---|---|---|---|"]
        for column in columns:
            lines.append(f"| {column['name']} | `{column['jsonPath']}` | {column['type']} | "
                         f"{column.get('priority', 0)} | {_cell(column.get('description', ''))} |")
        lines.append("")
    versions_of: dict[str, list[str]] = {}
    per_version = {}
    for version in kind.version_names:
        found: set[str] = set()
        _paths(kind.trees[version], "", found)
        per_version[version] = found
    for path in set().union(*per_version.values()):
        versions_of[path] = [v for v in kind.version_names if path in per_version[v]]
    multi = len(kind.version_names) > 1
    # The union of all versions, in the storage version's order (others' extra fields appended).
    merged = kind.trees[storage]
    for section in ("spec", "status"):
        node = merged["properties"].get(section)
        if node is None:
            continue
        lines += [f"## {section.capitalize()}", ""]
        if node.get("description"):
            lines += [node["description"], ""]
        lines += [
                  "| Field | Type |" + (" Versions |" if multi else "") + " Default | Constraints | Description |",
                  "|---|---|" + ("---|" if multi else "") + "---|---|---|"]
        lines += field_rows(node, section, versions_of, kind.version_names)
        lines.append("")
    if kind.rules:
        lines += ["## Admission rules", "",
                  f"Checked by the validating webhook in addition to the fields above ({kind.rules_file}).", ""]
        for rule in kind.rules:
            lines.append(rule_text({**rule, "_all_versions": kind.version_names}))
        lines.append("")
    if kind.template_defaults and "sidecarContainers" in kind.template_defaults:
        spec = kind.template_defaults
        lines += ["## Container and volume defaults", "",
                  "The mutating webhook gives these containers and volumes Kubernetes' defaults, as OpenKruise's "
                  "`SetDefaultsSidecarSetV1beta1` does (an `imagePullPolicy` from the image tag, probes, ports, "
                  f"quantities), on every create and update ({kind.rules_file}).", ""]
        lines += [f"- `{path}` (containers)" for path in spec.get("sidecarContainers", [])]
        lines += [f"- `{path}` (volumes)" for path in spec.get("podVolumes", [])]
        lines.append("")
    elif kind.template_defaults:
        spec = kind.template_defaults
        lines += ["## Template defaults", "",
                  "The mutating webhook gives these templates the defaults Kubernetes v1.20 gives pod templates and "
                  "claims, as OpenKruise's `SetDefaultPodSpec` does (containers without an `imagePullPolicy` get "
                  "`Always`), on create and on an update that changes them, unless the "
                  f"`{spec['unlessFeatureGate']}` feature gate is on ({kind.rules_file}).", ""]
        lines += [f"- `{path}` (pod template)" for path in spec.get("podTemplates", [])]
        lines += [f"- `{path}` (claim templates)" for path in spec.get("volumeClaimTemplates", [])]
        lines.append("")
    if kind.computed_annotations:
        lines += ["## Computed annotations", "",
                  f"Written by the mutating webhook after the defaults, on every create and update ({kind.rules_file}).",
                  ""]
        lines += [f"- `{key}`: {name}" for key, name in kind.computed_annotations.items()]
        lines.append("")
    if raw.get("example"):
        lines += ["## Example", "", "```yaml", dump_yaml(raw["example"], sort_keys=False).rstrip(), "```", ""]
    return "\n".join(lines)


def index_doc(inputs: Inputs) -> str:
    lines = [markdown_header(["schema/", "policies/"]), "# API reference", "",
             "| Kind | Group | Versions | Scope | Short names |", "|---|---|---|---|---|"]
    for kind in inputs.kinds:
        lines.append(f"| [{kind.name}]({kind.name.lower()}.md) | `{kind.group}` | {', '.join(kind.version_names)} | "
                     f"{kind.raw['scope']} | {', '.join(kind.raw.get('shortNames', [])) or '-'} |")
    lines += ["", "## Kubernetes compatibility", "",
              "The chart renders one variant of the CRDs and webhook configurations, chosen from the `kubeVersion` value "
              "or the cluster version (policies/compatibility.yaml).", "",
              "| Variant | Kubernetes | CRD API | Admission API | Needs API-server gates |", "|---|---|---|---|---|"]
    for variant in inputs.variants:
        until = f" < {variant.until[0]}.{variant.until[1]}" if variant.until else ""
        gates = ", ".join(g["name"] for g in variant.gates) or "-"
        lines.append(f"| {variant.name} | >= {variant.since[0]}.{variant.since[1]}{until} | {variant.crd_api_version} | "
                     f"{variant.admission_api_version} | {gates} |")
    plain = ", ".join(f"`crds/{crds.variant_dir(inputs, v)}/` ({v.name})" for v in inputs.variants)
    lines += ["", f"Plain CRD manifests for kubectl users: {plain}. Their conversion webhook points at the Service "
              f"in namespace `{inputs.webhooks['plainManifestsNamespace']}`; the chart uses its values instead."]
    fields = sorted(inputs.compatibility["fields"])
    lines += ["", "Optional fields emitted per variant:", "",
              "| Field | " + " | ".join(v.name for v in inputs.variants) + " |",
              "|---|" + "---|" * len(inputs.variants)]
    for name in fields:
        lines.append(f"| `{name}` | " + " | ".join("yes" if v.supports(name) else "-" for v in inputs.variants) + " |")
    lines += ["", "## Webhooks", "", "| Name | Configuration | Path | Operations | Failure policy |", "|---|---|---|---|---|"]
    variant = inputs.variants[-1]
    listed = set()
    for configuration, items in webhook_gen.entries(inputs, variant).items():
        for entry, _ in items:
            if entry["name"] in listed:   # the same entry under another chart value (its selectors differ)
                continue
            listed.add(entry["name"])
            ops = ", ".join(sorted({op for rule in entry["rules"] for op in rule["operations"]}))
            lines.append(f"| {entry['name']} | {inputs.webhooks['configurations'][configuration]} | "
                         f"`{entry['clientConfig']['service']['path']}` | {ops} | {entry['failurePolicy']} |")
    for extra in inputs.webhooks.get("extra", []):
        closed = extra.get("failClosedNamespaces")
        if closed:
            label = f"{closed['label']['key']}={closed['label']['value']}"
            lines += ["", f"With `{closed['when']}=true`, {extra['name']} receives every object outside the "
                          f"namespaces labelled `{label}`, and {closed['name']} (failurePolicy Fail) every object "
                          f"inside them; otherwise:"]
        split = extra.get("perWorkload")
        if split:
            since = next((f"{v.since[0]}.{v.since[1]}" for v in inputs.variants if v.supports("webhook.objectSelector")),
                         None)
            picks = ", ".join(f"{webhook_gen.per_workload_name(extra['name'], kind)} (pods labelled `{label}`)"
                              for kind, label in split["podLabels"].items())
            lines += ["", f"From Kubernetes {since} on (objectSelector), {extra['name']} (every pod) is rendered only "
                          f"with `{split['unless']}=true`; otherwise one entry per workload receives only that "
                          f"workload's pods: {picks}. Older versions get {extra['name']} only."]
    gated = [e for e in inputs.webhooks.get("extra", []) if e.get("enabledByFeatureGate")]
    for gate in dict.fromkeys(e["enabledByFeatureGate"] for e in gated):
        names = [e for e in gated if e["enabledByFeatureGate"] == gate]
        since = {e.get("since") for e in names} - {None}
        selector = {e.get("objectSelector") for e in names} - {None}
        lines += ["", f"{', '.join(e['name'] for e in names)}: rendered only with feature gate {gate} "
                      f"(`featureGates.{gate}`, as the manager resolves it)"
                      + (f", from Kubernetes {', '.join(sorted(since))} on" if since else "")
                      + (f"; objectSelector {', '.join(sorted(selector))} (policies/webhooks.yaml)" if selector else "")
                      + "."]
    lines.append("")
    return "\n".join(lines)


def generate(inputs: Inputs) -> dict[str, str]:
    files = {f"{DOCS_DIR}/README.md": index_doc(inputs)}
    for kind in inputs.kinds:
        files[f"{DOCS_DIR}/{kind.name.lower()}.md"] = kind_doc(inputs, kind)
    return files
