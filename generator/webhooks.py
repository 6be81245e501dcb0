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
        if "values" in expression:   # Exists and DoesNotExist take none
            expression["values"] = [chart.RELEASE_NAMESPACE if v == "$releaseNamespace" else v
                                    for v in expression["values"]]
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


def _values(path: str) -> str:
    return f"$.Values.{path}"


def _gate_on(prefix: str, gate: str) -> str:
    """A template test that holds when the manager resolves `gate` on: the featureGates value with its
    `requires` and `implies`, by the chart's gateOn helper (as for the RBAC of gated controllers)."""
    return f'include "{prefix}.gateOn" (dict "root" $ "gate" "{gate}")'


def _minor(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def _condition(*tests: str) -> str | None:
    """A template test that holds when every test does (None: always)."""
    tests = tuple(t for t in tests if t)
    if not tests:
        return None
    return tests[0] if len(tests) == 1 else "and " + " ".join(t if " " not in t else f"({t})" for t in tests)


def per_workload_name(name: str, kind: str) -> str:
    """mpod.kb.io -> mpod-cloneset.kb.io"""
    first, _, rest = name.partition(".")
    return f"{first}-{kind.lower()}.{rest}"


def per_workload_selector(base: dict | None, label: str) -> dict:
    """The pods carrying `label` (set by one workload's controller on every pod it creates), within `base`."""
    selector = copy.deepcopy(base) if base else {}
    selector["matchExpressions"] = [{"key": label, "operator": "Exists"}, *selector.get("matchExpressions", [])]
    return selector


def with_namespace_label(base: dict | None, label: dict, present: bool) -> dict:
    """`base` narrowed to the namespaces that have (or lack) the label key=value."""
    selector = copy.deepcopy(base) if base else {}
    expression = {"key": label["key"], "operator": "In" if present else "NotIn", "values": [label["value"]]}
    selector["matchExpressions"] = [*selector.get("matchExpressions", []), expression]
    return selector


def _extra_entries(inputs: Inputs, variant: Variant, extra: dict) -> list[tuple[dict, str | None]]:
    """One webhook entry, or, where the variant has objectSelector and `perWorkload` is set, one entry per
    pod-creating workload (selected by the label its controller puts on every pod) unless the `unless`
    value asks for every pod. With `failClosedNamespaces` and its `when` value, instead: the entry for every
    object outside the namespaces with the label, and a failurePolicy Fail entry for those inside."""
    policy = inputs.webhooks
    namespace_selector = policy["namespaceSelectors"].get(extra.get("namespaceSelector"))
    object_selector = (policy.get("objectSelectors") or {}).get(extra.get("objectSelector"))
    enabled = _values(extra["enabledBy"]) if extra.get("enabledBy") else ""
    if extra.get("since") and variant.until is not None and variant.until <= _minor(extra["since"]):
        return []   # every API server of the variant is older
    if extra.get("enabledByFeatureGate"):
        enabled = _condition(enabled, _gate_on(chart.chart_name(inputs), extra["enabledByFeatureGate"])) or ""

    def make(name: str, selector: dict | None, namespaces: dict | None = namespace_selector,
             failure_policy: str = extra["failurePolicy"]) -> dict:
        return _entry(inputs, variant, name=name, path=extra["path"], rules=extra["rules"],
                      failure_policy=failure_policy, namespace_selector=namespaces, object_selector=selector)

    items: list[tuple[dict, str | None]] = []
    fail_closed = extra.get("failClosedNamespaces")
    otherwise = ""
    if fail_closed:
        when = _values(fail_closed["when"])
        otherwise = f"not {when}"
        label = fail_closed["label"]
        items += [(make(extra["name"], object_selector, with_namespace_label(namespace_selector, label, False)),
                   _condition(enabled, when)),
                  (make(fail_closed["name"], object_selector, with_namespace_label(namespace_selector, label, True),
                        "Fail"), _condition(enabled, when))]
    split = extra.get("perWorkload")
    if not split or not variant.supports("webhook.objectSelector"):
        return items + [(make(extra["name"], object_selector), _condition(enabled, otherwise))]
    every_pod = _values(split["unless"])
    items.append((make(extra["name"], object_selector), _condition(enabled, otherwise, every_pod)))
    for kind, label in split["podLabels"].items():
        items.append((make(per_workload_name(extra["name"], kind), per_workload_selector(object_selector, label)),
                      _condition(enabled, otherwise, f"not {every_pod}")))
    return items


def entries(inputs: Inputs, variant: Variant) -> dict[str, list[tuple[dict, str | None]]]:
    """{'mutating': [(entry, condition: a template test, or None when always rendered)], 'validating': [...]}."""
    policy = inputs.webhooks
    result: dict[str, list[tuple[dict, str | None]]] = {"mutating": [], "validating": []}
    for extra in policy.get("extra", []):
        result[extra["configuration"]].extend(_extra_entries(inputs, variant, extra))
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
    index = 0
    while index < len(items):
        condition = items[index][1]
        group = []
        while index < len(items) and items[index][1] == condition:   # adjacent entries share one `if`
            group.append(chart.to_template(dump_yaml([items[index][0]]), prefix, None))
            index += 1
        body = "".join(group)
        text += f"{{{{- if {condition} }}}}\n{body}{{{{- end }}}}\n" if condition else body
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
