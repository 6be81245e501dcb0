"""Chart values: values.yaml (defaults with their descriptions) and values.schema.json, both from
schema/chart-values/*.yaml. Each file there owns some top-level keys, so the chart's own values can be
described next to the generator's (crds, webhook, kubeVersion, compatibility)."""
from __future__ import annotations

import json
import textwrap
from typing import Any

from apischema.values import QUANTITY

from . import chart
from .errors import SchemaError
from .inputs import Inputs
from .yamlio import dump_json, json_comment, template_header, yaml_header

_JSON_TYPES = {"string": "string", "date-time": "string", "boolean": "boolean", "int32": "integer",
               "int64": "integer", "number": "number"}
_COPIED = ("enum", "minimum", "maximum", "minLength", "maxLength", "pattern", "minItems", "maxItems")


def resolved_values(inputs: Inputs) -> dict:
    return inputs.values_tree


def default_of(node: dict) -> Any:
    """The default of a value; objects take their properties' defaults. Every leaf needs one."""
    if node["type"] == "object" and node.get("properties"):
        return {name: default_of(child) for name, child in node["properties"].items()}
    if "default" not in node:
        file, path = node["_origin"]
        raise SchemaError(file, path, "every chart value needs a default")
    return node["default"]


def to_json_schema(node: dict) -> dict:
    kind = node["type"]
    if kind in _JSON_TYPES:
        out: dict = {"type": _JSON_TYPES[kind]}
    elif kind in ("int-or-string", "int-or-percent"):
        out = {"type": ["integer", "string"]}
    elif kind == "quantity":
        # JSON Schema applies `pattern` to strings and `minimum` to numbers only: 0.5 and "500m" pass.
        out = {"type": ["number", "string"], "minimum": 0, "pattern": QUANTITY}
    elif kind == "object":
        out = {"type": "object", "additionalProperties": bool(node.get("preserveUnknownFields"))}
        if node.get("properties"):
            out["properties"] = {name: to_json_schema(child) for name, child in node["properties"].items()}
            required = [name for name, child in node["properties"].items() if child.get("required")]
            if required:
                out["required"] = required
    elif kind == "map":
        out = {"type": "object", "additionalProperties": to_json_schema(node["values"])}
    elif kind == "array":
        out = {"type": "array", "items": to_json_schema(node["items"])}
    else:
        out = {"type": "object"}
    for key in _COPIED:
        if key in node:
            out[key] = node[key]
    if node.get("description"):
        out["description"] = node["description"]
    if "default" in node:
        out["default"] = node["default"]
    return out


def values_schema(inputs: Inputs, root: dict) -> str:
    schema = to_json_schema(root)
    schema.pop("default", None)
    # Helm passes `global` to every chart; a strict root must allow it (helm/helm#10392).
    schema.setdefault("properties", {})["global"] = {"type": "object", "description": "Values shared with subcharts."}
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["title"] = f"{chart.chart_name(inputs)} values"
    schema["$comment"] = json_comment(inputs.chart_values_files)
    return dump_json(schema)


def _scalar(value: Any) -> str:
    """JSON is valid YAML and leaves no doubt about types ("" vs null, "1" vs 1)."""
    return json.dumps(value, sort_keys=True)


def _render(node: dict, indent: int, lines: list[str]) -> None:
    for name, child in node.get("properties", {}).items():
        pad = " " * indent
        if lines and lines[-1] != "" and indent == 0:
            lines.append("")
        wrapped = textwrap.wrap(child.get("description", ""), 100 - indent - 5, break_on_hyphens=False)
        for number, text in enumerate(wrapped):
            lines.append(f"{pad}# {'-- ' if number == 0 else '   '}{text}")
        if child["type"] == "object" and child.get("properties"):
            lines.append(f"{pad}{name}:")
            _render(child, indent + 2, lines)
        else:
            lines.append(f"{pad}{name}: {_scalar(default_of(child))}")


def values_yaml(inputs: Inputs, root: dict) -> str:
    lines: list[str] = []
    _render(root, 0, lines)
    header = yaml_header(inputs.chart_values_files) + "# Describe new values in schema/chart-values/ (format: schema/README.md).\n\n"
    return header + "\n".join(lines) + "\n"


_REQUIRED_LEAVES = ("int32", "int64", "number", "boolean")


def required_paths(node: dict, path: str = "") -> list[tuple[str, str]]:
    """(path, "object" | "value") of every value the templates dereference: objects with properties and
    number or boolean leaves. Helm's null deletes a value's default, and the templates then fail on a nil
    pointer or render 0/false silently; strings, lists and maps may be emptied that way (they mean none)."""
    out: list[tuple[str, str]] = []
    for name, child in node.get("properties", {}).items():
        sub = f"{path}.{name}" if path else name
        if child["type"] == "object" and child.get("properties"):
            out.append((sub, "object"))
            out += required_paths(child, sub)
        elif child["type"] in _REQUIRED_LEAVES:
            out.append((sub, "value"))
    return out


def values_check_tpl(inputs: Inputs, root: dict) -> str:
    """{chart}.values.check: fails, naming the value, when a value the templates need is null or missing."""
    p = chart.chart_name(inputs)
    entries = []
    for path, kind in required_paths(root):
        if path.startswith("featureGates."):
            continue   # null drops one gate from --feature-gates: the manager then uses that gate's default
        entries.append(f'(list "{path}" "{kind}")')
    rows = "\n".join(f"  {entry}" for entry in entries)
    return (template_header(inputs.chart_values_files)
            + "{{/*\n"
            + f"{p}.values.check: every value the templates dereference is there. In Helm values null deletes a\n"
            + "default, so `resources: null` would end in a nil-pointer error and `replicas: null` in 0.\n"
            + "Called by the variant helper, which every template uses first.\n*/}}\n"
            + f'{{{{- define "{p}.values.check" -}}}}\n'
            + "{{- $values := .Values -}}\n"
            + "{{- range $entry := list\n" + rows + " -}}\n"
            + "{{- $node := $values -}}\n"
            + "{{- $missing := false -}}\n"
            + '{{- range $key := splitList "." (index $entry 0) -}}\n'
            + "{{- if and (not $missing) (kindIs \"map\" $node) -}}\n"
            + "{{- if hasKey $node $key -}}{{- $node = get $node $key -}}{{- else -}}{{- $missing = true -}}{{- end -}}\n"
            + "{{- else -}}\n{{- $missing = true -}}\n{{- end -}}\n"
            + "{{- end -}}\n"
            + '{{- if or $missing (kindIs "invalid" $node) (and (eq (index $entry 1) "object") (not (kindIs "map" $node))) -}}\n'
            + '{{- fail (printf "%s is null or missing: null in Helm values deletes the chart\'s default. Give %s a value,'
            + ' or leave it out to keep the default (helm show values shows it)." (index $entry 0) (index $entry 0)) -}}\n'
            + "{{- end -}}\n{{- end -}}\n{{- end -}}\n")


# The chart README's values table lies between these lines; the rest of the README is written by hand.
TABLE_BEGIN = ("<!-- values table: generated by `make generate` from schema/chart-values/ and "
               "policies/feature-gates.yaml; edit those, not this table -->")
TABLE_END = "<!-- end of the values table -->"


def leaf_values(node: dict, path: str = "") -> list[tuple[str, dict]]:
    """(dotted path, node) of every value an operator sets: objects with properties are walked."""
    out: list[tuple[str, dict]] = []
    for name, child in node.get("properties", {}).items():
        sub = f"{path}.{name}" if path else name
        if child["type"] == "object" and child.get("properties"):
            out += leaf_values(child, sub)
        else:
            out.append((sub, child))
    return out


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def values_table(root: dict) -> str:
    """The README's values table: one row per value, its default as values.yaml writes it, its description."""
    rows = ["| value | default | description |", "|---|---|---|"]
    for path, node in leaf_values(root):
        rows.append(f"| `{path}` | `{_cell(_scalar(default_of(node)))}` | {_cell(node.get('description', ''))} |")
    return "\n".join(rows) + "\n"


def readme(inputs: Inputs, root: dict, current: str, file: str) -> str:
    """The chart README with its values table replaced (the markers must be there, once each)."""
    if current.count(TABLE_BEGIN) != 1 or current.count(TABLE_END) != 1 or \
            current.index(TABLE_BEGIN) > current.index(TABLE_END):
        raise SchemaError(file, "values table", f"needs the values-table markers, once each and in order:\n{TABLE_BEGIN}\n{TABLE_END}")
    before, rest = current.split(TABLE_BEGIN, 1)
    after = rest.split(TABLE_END, 1)[1]
    return f"{before}{TABLE_BEGIN}\n{values_table(root)}{TABLE_END}{after}"


def generate(inputs: Inputs, current_readme: str | None = None) -> dict[str, str]:
    """values.yaml, values.schema.json, the values check and, when the chart has a README (`current_readme`),
    its values table."""
    root = resolved_values(inputs)
    default_of(root)   # every leaf has a default
    base = chart.CHART_DIR.format(chart=chart.chart_name(inputs))
    templates = chart.GENERATED_TEMPLATES.format(chart=chart.chart_name(inputs))
    files = {f"{base}/values.yaml": values_yaml(inputs, root),
             f"{base}/values.schema.json": values_schema(inputs, root),
             f"{templates}/_values.tpl": values_check_tpl(inputs, root)}
    if current_readme is not None:
        files[f"{base}/README.md"] = readme(inputs, root, current_readme, f"{base}/README.md")
    return files
