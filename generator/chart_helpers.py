"""Chart helpers generated from the policies: templates/generated/_compat.tpl (which variant of the API
to render for the target Kubernetes version, what it supports, which API-server gates it needs) and
templates/generated/_webhook.tpl (webhook service reference and annotations)."""
from __future__ import annotations

import json

from . import chart
from .inputs import Inputs
from .yamlio import template_header


def _range(since: tuple[int, int]) -> str:
    return f">={since[0]}.{since[1]}.0-0"


def compat_tpl(inputs: Inputs) -> str:
    p = chart.chart_name(inputs)
    variants = inputs.variants
    lines = [template_header([inputs.compatibility_file]).rstrip("\n"), ""]
    lines += [
        "{{/*",
        f'{p}.kubeVersion: the Kubernetes version to render for. The `kubeVersion` value wins over the cluster\'s',
        "version so that offline and GitOps renders are deterministic.",
        "*/}}",
        f'{{{{- define "{p}.kubeVersion" -}}}}',
        "{{- default .Capabilities.KubeVersion.Version .Values.kubeVersion -}}",
        "{{- end -}}",
        "",
        "{{/*",
        f"{p}.apiVariant: the variant of the CRDs and webhook configurations for that version:",
    ]
    for variant in variants:
        until = f" <{variant.until[0]}.{variant.until[1]}" if variant.until else ""
        lines.append(f"  {variant.name}: Kubernetes >={variant.since[0]}.{variant.since[1]}{until} ({variant.profile} profile)")
    lines += [
        "*/}}",
        f'{{{{- define "{p}.apiVariant" -}}}}',
        f'{{{{- $version := include "{p}.kubeVersion" . -}}}}',
    ]
    for index, variant in enumerate(reversed(variants)):
        keyword = "if" if index == 0 else "else if"
        lines.append(f'{{{{- {keyword} semverCompare "{_range(variant.since)}" $version -}}}}')
        lines.append(variant.name)
    oldest = variants[0].since
    lines += [
        "{{- else -}}",
        f'{{{{- fail (printf "{p} needs Kubernetes >={oldest[0]}.{oldest[1]}; the target version is %s" $version) -}}}}',
        "{{- end -}}",
        "{{- end -}}",
        "",
        "{{/*",
        f"{p}.apiProfile: the API versions in use: legacy (apiextensions/admissionregistration v1beta1) or v1.",
        "*/}}",
        f'{{{{- define "{p}.apiProfile" -}}}}',
        "{{- $profiles := dict " + " ".join(f'"{v.name}" "{v.profile}"' for v in variants) + " -}}",
        f'{{{{- get $profiles (include "{p}.apiVariant" .) -}}}}',
        "{{- end -}}",
        "",
        "{{/*",
        f'{p}.compat.supports: "true" if the target version accepts an optional CRD/webhook field, e.g.',
        f'  {{{{ if include "{p}.compat.supports" (list $ "webhook.objectSelector") }}}}',
        "Fields: policies/compatibility.yaml `fields`.",
        "*/}}",
        f'{{{{- define "{p}.compat.supports" -}}}}',
        "{{- $fields := dict " + " ".join(
            f'"{v.name}" (list {" ".join(chr(34) + f + chr(34) for f in sorted(v.fields))})' for v in variants) + " -}}",
        f'{{{{- if has (index . 1) (get $fields (include "{p}.apiVariant" (index . 0))) -}}}}true{{{{- end -}}}}',
        "{{- end -}}",
        "",
        "{{/*",
        f"{p}.compat.check: fails when the target version needs a kube-apiserver feature gate that the values",
        "do not confirm. Templates that depend on such a gate include it.",
        "*/}}",
        f'{{{{- define "{p}.compat.check" -}}}}',
    ]
    needs_conversion = any(kind.conversion_webhook for kind in inputs.kinds)
    gates: dict[str, tuple[dict, list[str]]] = {}
    for variant in variants:
        for gate in variant.gates:
            gates.setdefault(gate["name"], (gate, []))[1].append(variant.name)
    if needs_conversion and gates:
        lines.append(f'{{{{- $variant := include "{p}.apiVariant" . -}}}}')
        lines.append(f'{{{{- $version := include "{p}.kubeVersion" . -}}}}')
        for name, (gate, names) in sorted(gates.items()):
            variant_list = " ".join(f'"{n}"' for n in names)
            message = " ".join(gate["message"].split()).replace('"', '\\"').replace("{{version}}", "%s")
            lines.append(f"{{{{- if and (has $variant (list {variant_list})) (not .Values.{gate['value']}) -}}}}")
            lines.append(f'{{{{- fail (printf "{message}" $version) -}}}}')
            lines.append("{{- end -}}")
    lines += ["{{- end -}}", ""]
    return "\n".join(lines)


def webhook_tpl(inputs: Inputs) -> str:
    p = chart.chart_name(inputs)
    sources = [inputs.webhooks_file, *(f for f in inputs.chart_values_files if f != inputs.feature_gates_file)]
    return "\n".join([
        template_header(sources).rstrip("\n"),
        "",
        "{{/* The namespace of every namespaced object: namespaceOverride, or the release namespace. */}}",
        f'{{{{- define "{p}.namespace" -}}}}',
        "{{- default .Release.Namespace .Values.namespaceOverride -}}",
        "{{- end -}}",
        "",
        "{{/* The Service in front of the manager's webhook server: name and port from values, namespace from",
        "webhook.service.namespace or the chart's namespace. */}}",
        f'{{{{- define "{p}.webhook.serviceName" -}}}}',
        "{{- .Values.webhook.service.name -}}",
        "{{- end -}}",
        "",
        f'{{{{- define "{p}.webhook.serviceNamespace" -}}}}',
        f'{{{{- default (include "{p}.namespace" .) .Values.webhook.service.namespace -}}}}',
        "{{- end -}}",
        "",
        f'{{{{- define "{p}.webhook.servicePort" -}}}}',
        "{{- .Values.webhook.service.port -}}",
        "{{- end -}}",
        "",
        "{{/* The objects that carry a caBundle, by name (RBAC resourceNames): the webhook configurations and the",
        "CRDs with a conversion webhook (a JSON list). */}}",
        f'{{{{- define "{p}.webhook.mutatingConfigurationName" -}}}}',
        inputs.webhooks["configurations"]["mutating"],
        "{{- end -}}",
        "",
        f'{{{{- define "{p}.webhook.validatingConfigurationName" -}}}}',
        inputs.webhooks["configurations"]["validating"],
        "{{- end -}}",
        "",
        f'{{{{- define "{p}.conversionCRDNames" -}}}}',
        json.dumps(sorted(kind.crd_name for kind in inputs.kinds if kind.conversion_webhook)),
        "{{- end -}}",
        "",
        "{{/* Annotations of objects that carry a caBundle. The chart never renders caBundle itself: in",
        "cert-manager mode the cainjector fills it from the Certificate, otherwise the manager does. */}}",
        f'{{{{- define "{p}.webhook.annotations" -}}}}',
        '{{- if eq .Values.webhook.certificates.mode "cert-manager" -}}',
        f'cert-manager.io/inject-ca-from: {{{{ printf "%s/%s" (include "{p}.namespace" .)'
        " .Values.webhook.certificates.certManager.certificateName | quote }}",
        "{{- end -}}",
        "{{- end -}}",
        "",
        "{{/* Annotations of the CRDs. Argument: (dict \"context\" $ \"conversion\" <the CRD has a conversion webhook>). */}}",
        f'{{{{- define "{p}.crd.annotations" -}}}}',
        "{{- $lines := list -}}",
        "{{- if .context.Values.crds.keep -}}",
        '{{- $lines = append $lines "helm.sh/resource-policy: keep" -}}',
        "{{- end -}}",
        "{{- if .conversion -}}",
        f'{{{{- with include "{p}.webhook.annotations" .context -}}}}',
        "{{- $lines = append $lines . -}}",
        "{{- end -}}",
        "{{- end -}}",
        "{{- with .context.Values.crds.annotations -}}",
        "{{- $lines = append $lines (toYaml . | trim) -}}",
        "{{- end -}}",
        '{{- join "\\n" $lines -}}',
        "{{- end -}}",
        "",
    ])


def generate(inputs: Inputs) -> dict[str, str]:
    templates = chart.GENERATED_TEMPLATES.format(chart=chart.chart_name(inputs))
    return {f"{templates}/_compat.tpl": compat_tpl(inputs), f"{templates}/_webhook.tpl": webhook_tpl(inputs)}
