"""Chart helpers generated from the policies: templates/generated/_compat.tpl (which variant of the API
to render for the target Kubernetes version, what it supports, which API-server gates it needs) and
templates/generated/_webhook.tpl (webhook service reference and annotations)."""
from __future__ import annotations

import json

from . import chart
from .inputs import Inputs
from .yamlio import template_header


ARGOCD_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
CRD_SYNC_OPTIONS = "Prune=false,Delete=false"
"""What the kept CRDs tell Argo CD (https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/:
options in the annotation are joined with commas)."""


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
        f'{{{{- include "{p}.values.check" . -}}}}',
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
    lines += chart_objects_helpers(inputs)
    return "\n".join(lines)


def chart_objects_helpers(inputs: Inputs) -> list[str]:
    """{p}.compat.apiVersion (list $ "<Kind>"): the API version of one of the chart's own objects for the target
    version; {p}.compat.podField (list $ "<field>"): "true" if the target version accepts that pod field.
    Both from policies/compatibility.yaml `chartObjects`."""
    p = chart.chart_name(inputs)
    objects = inputs.compatibility.get("chartObjects") or {}
    lines = [
        "{{/*",
        f'{p}.compat.apiVersion: the API version of a chart object of kind (index . 1) for the target version, e.g.',
        f'  apiVersion: {{{{ include "{p}.compat.apiVersion" (list $ "PodDisruptionBudget") }}}}',
        "Kinds: policies/compatibility.yaml `chartObjects.apiVersions`.",
        "*/}}",
        f'{{{{- define "{p}.compat.apiVersion" -}}}}',
        f'{{{{- $version := include "{p}.kubeVersion" (index . 0) -}}}}',
    ]
    keyword = "if"
    for kind, steps in sorted((objects.get("apiVersions") or {}).items()):
        for step in reversed(steps):
            test = f'(eq (index . 1) "{kind}") (semverCompare ">={step["since"]}.0-0" $version)'
            lines.append(f"{{{{- {keyword} and {test} -}}}}")
            lines.append(step["apiVersion"])
            keyword = "else if"
    if keyword != "if":
        lines.append("{{- else -}}")
    message = f"{p}.compat.apiVersion: no API version of %s for Kubernetes %s"
    lines.append(f'{{{{- fail (printf "{message}" (index . 1) $version) -}}}}')
    if keyword != "if":
        lines.append("{{- end -}}")
    lines += [
        "{{- end -}}",
        "",
        "{{/*",
        f'{p}.compat.podField: "true" if the target version accepts the pod field (index . 1), e.g.',
        f'  {{{{- if include "{p}.compat.podField" (list $ "topologySpreadConstraints") }}}}',
        "Fields: policies/compatibility.yaml `chartObjects.podFields`.",
        "*/}}",
        f'{{{{- define "{p}.compat.podField" -}}}}',
        f'{{{{- $version := include "{p}.kubeVersion" (index . 0) -}}}}',
        "{{- $since := dict " + " ".join(f'"{name}" "{since}"' for name, since
                                         in sorted((objects.get("podFields") or {}).items())) + " -}}",
        "{{- if not (hasKey $since (index . 1)) -}}",
        f'{{{{- fail (printf "{p}.compat.podField: unknown pod field %s (policies/compatibility.yaml)"'
        " (index . 1)) -}}",
        "{{- end -}}",
        '{{- if semverCompare (printf ">=%s.0-0" (get $since (index . 1))) $version -}}true{{- end -}}',
        "{{- end -}}",
        "",
    ]
    return lines


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
        "{{/* Annotations of the CRDs. Argument: (dict \"context\" $ \"conversion\" <the CRD has a conversion",
        "webhook>).",
        "With crds.keep, Helm keeps them on uninstall (helm.sh/resource-policy) and Argo CD neither prunes them nor",
        "deletes them with the Application (sync options Prune=false,Delete=false: Argo CD ignores Helm's policy,",
        "argoproj/argo-cd#17819); deleting a CRD deletes every object of its kind. Sync options given in",
        "crds.annotations are added to those, not put in their place. */}}",
        f'{{{{- define "{p}.crd.annotations" -}}}}',
        "{{- $annotations := dict -}}",
        "{{- if .context.Values.crds.keep -}}",
        '{{- $_ := set $annotations "helm.sh/resource-policy" "keep" -}}',
        f'{{{{- $_ := set $annotations "{ARGOCD_SYNC_OPTIONS}" "{CRD_SYNC_OPTIONS}" -}}}}',
        "{{- end -}}",
        '{{- if and .conversion (eq .context.Values.webhook.certificates.mode "cert-manager") -}}',
        '{{- $_ := set $annotations "cert-manager.io/inject-ca-from"'
        f' (printf "%s/%s" (include "{p}.namespace" .context)'
        " .context.Values.webhook.certificates.certManager.certificateName) -}}",
        "{{- end -}}",
        "{{- range $key, $value := .context.Values.crds.annotations -}}",
        f'{{{{- if and (eq $key "{ARGOCD_SYNC_OPTIONS}") (hasKey $annotations $key) -}}}}',
        '{{- $_ := set $annotations $key (printf "%s,%s" (get $annotations $key) $value) -}}',
        "{{- else -}}",
        "{{- $_ := set $annotations $key $value -}}",
        "{{- end -}}",
        "{{- end -}}",
        "{{- with $annotations }}{{ toYaml . | trim }}{{ end -}}",
        "{{- end -}}",
        "",
    ])


def generate(inputs: Inputs) -> dict[str, str]:
    templates = chart.GENERATED_TEMPLATES.format(chart=chart.chart_name(inputs))
    return {f"{templates}/_compat.tpl": compat_tpl(inputs), f"{templates}/_webhook.tpl": webhook_tpl(inputs)}
