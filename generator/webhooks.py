"""Mutating and validating webhook configurations, one chart template per variant.

No caBundle is rendered: the manager (self-managed certificates) or cert-manager's cainjector fills it in,
and a field absent from the manifest does not show up as GitOps drift.
"""
from __future__ import annotations

import copy

from . import chart
from .inputs import Inputs, Kind, Variant
from .yamlio import dump_yaml


def webhook_path(action: str, kind: Kind) -> str:
    """/mutate-apps-kruise-io-v1alpha1-cloneset, or /mutate-apps-kruise-io-statefulset for multi-version kinds
    (the paths OpenKruise serves)."""
    group = kind.group.replace(".", "-")
    if len(kind.version_names) == 1:
        return f"/{action}-{group}-{kind.version_names[0]}-{kind.name.lower()}"
    return f"/{action}-{group}-{kind.name.lower()}"


def _selector(raw: dict) -> dict:
    selector = copy.deepcopy(raw)
    for expression in selector.get("matchExpressions", []):
        expression["values"] = [chart.RELEASE_NAMESPACE if v == "$releaseNamespace" else v
                                for v in expression.get("values", [])]
    return selector


def _entry(inputs: Inputs, variant: Variant, *, name: str, path: str, rules: list[dict], failure_policy: str,
           namespace_selector: dict | None = None, object_selector: dict | None = None) -> dict:
    policy = inputs.webhooks
    service = {"name": chart.SERVICE_NAME, "namespace": chart.SERVICE_NAMESPACE, "path": path}
    if variant.supports("webhook.service.port"):
        service["port"] = chart.SERVICE_PORT
    entry = {"name": name, "clientConfig": {"service": service}, "failurePolicy": failure_policy,
             "rules": rules, "sideEffects": policy.get("sideEffects", "None")}
    if variant.supports("webhook.admissionReviewVersions"):
        entry["admissionReviewVersions"] = list(policy["admissionReviewVersions"])
    if variant.supports("webhook.timeoutSeconds"):
        entry["timeoutSeconds"] = chart.WEBHOOK_TIMEOUT
    if variant.supports("webhook.matchPolicy") and "matchPolicy" in policy:
        entry["matchPolicy"] = policy["matchPolicy"]
    if namespace_selector is not None:
        entry["namespaceSelector"] = _selector(namespace_selector)
    if object_selector is not None and variant.supports("webhook.objectSelector"):
        entry["objectSelector"] = _selector(object_selector)
    return entry


def entries(inputs: Inputs, variant: Variant) -> dict[str, list[tuple[dict, str | None]]]:
    """{'mutating': [(entry, enabledBy value or None)], 'validating': [...]}."""
    policy = inputs.webhooks
    result: dict[str, list[tuple[dict, str | None]]] = {"mutating": [], "validating": []}
    for extra in policy.get("extra", []):
        entry = _entry(inputs, variant, name=extra["name"], path=extra["path"], rules=extra["rules"],
                       failure_policy=extra["failurePolicy"],
                       namespace_selector=policy["namespaceSelectors"].get(extra.get("namespaceSelector")),
                       object_selector=(policy.get("objectSelectors") or {}).get(extra.get("objectSelector")))
        result[extra["configuration"]].append((entry, extra.get("enabledBy")))
    kinds = {k.name: k for k in inputs.kinds}
    for kind_name, operations in policy["workloads"].items():
        kind = kinds[kind_name]
        for configuration, action, prefix in (("mutating", "mutate", "m"), ("validating", "validate", "v")):
            ops = operations.get(action)
            if not ops:
                continue
            rules = [{"apiGroups": [kind.group], "apiVersions": kind.version_names, "operations": list(ops),
                      "resources": [kind.plural]}]
            entry = _entry(inputs, variant, name=f"{prefix}{kind.name.lower()}.kb.io",
                           path=webhook_path(action, kind), rules=rules,
                           failure_policy=policy.get("workloadFailurePolicy", "Fail"))
            result[configuration].append((entry, None))
    return result


def _configuration(inputs: Inputs, variant: Variant, configuration: str,
                   items: list[tuple[dict, str | None]], prefix: str) -> str:
    kind = "MutatingWebhookConfiguration" if configuration == "mutating" else "ValidatingWebhookConfiguration"
    head = {"apiVersion": variant.admission_api_version, "kind": kind,
            "metadata": {"name": inputs.webhooks["configurations"][configuration], "annotations": chart.ANNOTATIONS}}
    text = chart.dump_template(head, prefix, f'"{prefix}.webhook.annotations" $')
    text += "webhooks:\n"
    for entry, enabled_by in items:
        item = chart.to_template(dump_yaml([entry]), prefix, None)
        if enabled_by:
            text += f"{{{{- if $.Values.{enabled_by} }}}}\n{item}{{{{- end }}}}\n"
        else:
            text += item
    return text


def generate(inputs: Inputs) -> dict[str, str]:
    name = chart.chart_name(inputs)
    templates = chart.GENERATED_TEMPLATES.format(chart=name)
    sources = [inputs.webhooks_file, inputs.compatibility_file]
    files = {}
    for variant in inputs.variants:
        groups = entries(inputs, variant)
        body = "---\n".join(_configuration(inputs, variant, configuration, groups[configuration], name)
                            for configuration in ("mutating", "validating") if groups[configuration])
        # The API-server gate check also runs here, so it is not skipped when crds.enabled=false.
        checks = bool(variant.gates) and any(kind.conversion_webhook for kind in inputs.kinds)
        files[f"{templates}/webhooks/{variant.name}.yaml"] = chart.variant_template(body, variant, name, sources,
                                                                                  checks=checks)
    return files
