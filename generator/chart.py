"""Turning manifests into chart templates: placeholder tokens for the parts that depend on values, and the
wrapper that renders a manifest only for its Kubernetes variant."""
from __future__ import annotations

from .inputs import Inputs, Variant
from .yamlio import dump_yaml, template_header

CHART_DIR = "charts/{chart}"
GENERATED_TEMPLATES = "charts/{chart}/templates/generated"

# Placeholders dumped into YAML and then replaced by template expressions.
SERVICE_NAME = "__AK_SERVICE_NAME__"
SERVICE_NAMESPACE = "__AK_SERVICE_NAMESPACE__"
SERVICE_PORT = "__AK_SERVICE_PORT__"
RELEASE_NAMESPACE = "__AK_RELEASE_NAMESPACE__"
WEBHOOK_TIMEOUT = "__AK_WEBHOOK_TIMEOUT__"
ANNOTATIONS = "__AK_ANNOTATIONS__"


def chart_name(inputs: Inputs) -> str:
    return inputs.compatibility["chart"]["name"]


def tokens(prefix: str) -> dict[str, str]:
    return {
        SERVICE_NAME: f'{{{{ include "{prefix}.webhook.serviceName" $ }}}}',
        SERVICE_NAMESPACE: f'{{{{ include "{prefix}.webhook.serviceNamespace" $ }}}}',
        SERVICE_PORT: f'{{{{ include "{prefix}.webhook.servicePort" $ }}}}',
        RELEASE_NAMESPACE: f'{{{{ include "{prefix}.namespace" $ }}}}',
        WEBHOOK_TIMEOUT: "{{ $.Values.webhook.timeoutSeconds }}",
    }


def annotations_block(helper: str, indent: int) -> str:
    """Lines replacing `annotations: __AK_ANNOTATIONS__`: the helper's output, or nothing when empty."""
    pad = " " * indent
    return (f"{pad}{{{{- with include {helper} }}}}\n"
            f"{pad}annotations:\n"
            f"{pad}  {{{{- . | nindent {indent + 2} }}}}\n"
            f"{pad}{{{{- end }}}}")


def labels_block(prefix: str, indent: int) -> str:
    """The chart's labels (app.kubernetes.io/*, helm.sh/chart), so that `kubectl get -l
    app.kubernetes.io/instance=<release>` finds the cluster-wide objects too."""
    pad = " " * indent
    return f"{pad}labels:\n{pad}  {{{{- include \"{prefix}.labels\" $ | nindent {indent + 2} }}}}"


def to_template(text: str, prefix: str, annotations_helper: str | None) -> str:
    """Replace the placeholders of dumped YAML by template expressions; escape any literal `{{`. The
    `annotations: __AK_ANNOTATIONS__` line of an object's metadata becomes its annotations (when the helper
    gives any) and the chart's labels."""
    text = text.replace("{{", '{{ "{{" }}')
    for token, expression in tokens(prefix).items():
        text = text.replace(token, expression)
    lines = []
    for line in text.splitlines():
        if line.strip() == f"annotations: {ANNOTATIONS}":
            indent = len(line) - len(line.lstrip())
            if annotations_helper is not None:
                lines.append(annotations_block(annotations_helper, indent))
                lines.append(labels_block(prefix, indent))
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def variant_template(body: str, variant: Variant, prefix: str, sources: list[str], *,
                     condition: str = "", checks: bool = False) -> str:
    """Wrap a manifest so it renders only for `variant` (and `condition`, e.g. `.Values.crds.enabled`)."""
    test = f'(eq (include "{prefix}.apiVariant" $) "{variant.name}")'
    if condition:
        test = f"and {condition} {test}"
    check = f'{{{{- include "{prefix}.compat.check" $ }}}}\n' if checks else ""
    return (template_header(sources) + f"{{{{- if {test} }}}}\n" + check + body + "{{- end }}\n")


def dump_template(manifest: dict, prefix: str, annotations_helper: str | None) -> str:
    return to_template(dump_yaml(manifest), prefix, annotations_helper)
