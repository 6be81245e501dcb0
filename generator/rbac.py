"""templates/generated/_controller_rules.tpl: the manager ClusterRole's rules for the controllers, from
policies/controllers.yaml, as controller-tools derives RBAC from markers. Each controller may read its
workload, patch its status and update its finalizers (blockOwnerDeletion on what it owns needs that), read
what it watches, and write what the table says. templates/rbac.yaml includes it next to the hand-written
rules that are not about controllers (events, webhook configurations, CRDs, Secrets, Leases)."""
from __future__ import annotations

from . import chart
from .inputs import Inputs
from .policies import VERBS
from .yamlio import template_header

READ = ("get", "list", "watch")


def grants(controllers: dict, gate: str | None = None) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource or resource/subresource) → verbs, in the order of the resource table, of the
    controllers behind `gate` (None: of those behind no gate). `readsWorkloadOnly`: a controller that only reads
    its workload (the NodeImage controller's nodes) gets no status or finalizers grant on it."""
    resources = controllers["resources"]
    found: dict[tuple[str, str], set[str]] = {}

    def grant(target: str, verbs: tuple[str, ...] | list[str]) -> None:
        key, _, sub = target.partition("/")
        res = resources[key]
        name = res["plural"] + (f"/{sub}" if sub else "")
        found.setdefault((res["apiVersion"].rpartition("/")[0], name), set()).update(verbs)

    for controller in controllers["controllers"].values():
        if controller.get("featureGate") != gate:
            continue
        workload = controller["workload"]
        grant(workload, READ)
        if not controller.get("readsWorkloadOnly"):
            grant(f"{workload}/status", ("get", "update", "patch"))
            grant(f"{workload}/finalizers", ("update",))
        for watched in controller["watches"]:
            grant(watched, READ)
        for target, verbs in controller["writes"].items():
            grant(target, verbs)
    order = {key: i for i, key in enumerate(resources)}

    def position(item: tuple[tuple[str, str], set[str]]) -> tuple:
        (group, name), _ = item
        plural, _, sub = name.partition("/")
        key = f"{plural}.{group}" if group else plural
        return (order.get(key, len(order)), sub)

    return dict(sorted(found.items(), key=position))


def rules(controllers: dict, gate: str | None = None) -> list[tuple[str, list[str], list[str]]]:
    """(apiGroup, resources, verbs): resources of one group with the same verbs share a rule. For a gate, only
    what the controllers behind no gate do not already have."""
    merged: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    base = grants(controllers) if gate else {}
    for (group, name), verbs in grants(controllers, gate).items():
        verbs = verbs - base.get((group, name), set())
        if not verbs:
            continue
        merged.setdefault((group, tuple(v for v in VERBS if v in verbs)), []).append(name)
    return [(group, names, list(verbs)) for (group, verbs), names in merged.items()]


def rules_tpl(inputs: Inputs) -> str:
    p = chart.chart_name(inputs)
    lines = [template_header([inputs.controllers_file]).rstrip("\n"), "",
             "{{/*", f"{p}.controllerRules: what the controllers read and write (ClusterRole rules).", "*/}}",
             f'{{{{- define "{p}.controllerRules" }}}}']
    def emit(found: list[tuple[str, list[str], list[str]]]) -> None:
        for group, names, verbs in found:
            lines.extend([f'- apiGroups: [{group or chr(34) * 2}]', f"  resources: [{', '.join(names)}]",
                          f"  verbs: [{', '.join(verbs)}]"])

    emit(rules(inputs.controllers))
    # Controllers behind a feature gate (the manager runs them only with it on): their grants only with it.
    for gate in sorted({c["featureGate"] for c in inputs.controllers["controllers"].values() if c.get("featureGate")}):
        lines.append(f'{{{{- if eq (toString (index .Values.featureGates "{gate}")) "true" }}}}')
        emit(rules(inputs.controllers, gate))
        lines.append("{{- end }}")
    lines.append("{{- end }}")
    return "\n".join(lines) + "\n"


def generate(inputs: Inputs) -> dict[str, str]:
    if not inputs.controllers:
        return {}
    templates = chart.GENERATED_TEMPLATES.format(chart=chart.chart_name(inputs))
    return {f"{templates}/_controller_rules.tpl": rules_tpl(inputs)}
