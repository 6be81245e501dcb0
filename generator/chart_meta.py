"""Chart.yaml: the generator maintains `kubeVersion`, `home`, `sources` and `maintainers` (policies/
compatibility.yaml `chart`) and the Artifact Hub annotations `artifacthub.io/crds` and
`artifacthub.io/crdsExamples` (from the schema's kinds and examples), and keeps every other key and comment
as it is. A missing Chart.yaml is created with minimal metadata."""
from __future__ import annotations

import io

from . import chart
from .inputs import Inputs
from .yamlio import GENERATE_COMMAND, dump_yaml

MANAGED_NOTE = (f"kubeVersion, home, sources, maintainers and the artifacthub.io/crds* annotations are maintained "
                f"by `{GENERATE_COMMAND}` from schema/ and policies/compatibility.yaml")
METADATA_KEYS = ("home", "sources", "maintainers")
"""Chart.yaml keys copied from policies/compatibility.yaml `chart`, written right before kubeVersion."""


def _yaml():
    from ruamel.yaml import YAML  # imported lazily: only this step needs a round-trip parser

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def crds_annotation(inputs: Inputs) -> str:
    entries = [{"kind": kind.name, "version": kind.storage_version, "name": kind.crd_name,
                "displayName": kind.raw.get("displayName", kind.name), "description": kind.raw["description"]}
               for kind in inputs.kinds]
    return dump_yaml(entries, sort_keys=False)


def examples_annotation(inputs: Inputs) -> str:
    return dump_yaml([kind.raw["example"] for kind in inputs.kinds if kind.raw.get("example")], sort_keys=False)


def chart_yaml(inputs: Inputs, current: str | None) -> str:
    from ruamel.yaml.scalarstring import LiteralScalarString

    yaml = _yaml()
    name = chart.chart_name(inputs)
    if current is None:
        description = inputs.compatibility["chart"].get("description", name)
        current = (f"apiVersion: v2\nname: {name}\ndescription: {description}\ntype: application\n"
                   "version: 0.1.0\nappVersion: \"0.1.0\"\n")
    note = f"# {MANAGED_NOTE}"
    document = yaml.load("".join(line for line in current.splitlines(keepends=True) if line.rstrip() != note))
    document["kubeVersion"] = inputs.compatibility["chart"]["kubeVersion"]
    for key in METADATA_KEYS:
        document.pop(key, None)
        if key in inputs.compatibility["chart"]:
            document.insert(list(document).index("kubeVersion"), key, inputs.compatibility["chart"][key])
    annotations = document.get("annotations")
    if annotations is None:
        document["annotations"] = annotations = type(document)()
    annotations["artifacthub.io/crds"] = LiteralScalarString(crds_annotation(inputs))
    annotations["artifacthub.io/crdsExamples"] = LiteralScalarString(examples_annotation(inputs))
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    lines = buffer.getvalue().splitlines(keepends=True)
    at = next(index for index, line in enumerate(lines) if line.startswith((*METADATA_KEYS, "kubeVersion:")))
    return "".join(lines[:at] + [note + "\n"] + lines[at:])


def generate(inputs: Inputs, current: str | None) -> dict[str, str]:
    return {f"{chart.CHART_DIR.format(chart=chart.chart_name(inputs))}/Chart.yaml": chart_yaml(inputs, current)}
