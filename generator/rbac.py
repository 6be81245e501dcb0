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
# `reads`: looked up on demand (a webhook's lookup at admission time), never watched.
LOOKUP = ("get", "list")


def grants(controllers: dict, gate: str | None = None) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource or resource/subresource) → verbs, in the order of the resource table, of the
    controllers behind `gate` and of the parts of others `gated` by it (None: of those behind no gate, without
    their gated parts). `readsWorkloadOnly`: a controller that only reads its workload (the NodeImage
    controller's nodes) gets no status or finalizers grant on it."""
    resources = controllers["resources"]
    found: dict[tuple[str, str], set[str]] = {}

    def grant(target: str, verbs: tuple[str, ...] | list[str]) -> None:
        key, _, sub = target.partition("/")
        res = resources[key]
        name = res["plural"] + (f"/{sub}" if sub else "")
        found.setdefault((res["apiVersion"].rpartition("/")[0], name), set()).update(verbs)

    for controller in controllers["controllers"].values():
        part = (controller.get("gated") or {}).get(gate) if gate else None
        if part is not None:
            for watched in part.get("watches", []):
                grant(watched, READ)
            for read in part.get("reads", []):
                grant(read, LOOKUP)
            for target, verbs in part.get("writes", {}).items():
                grant(target, verbs)
        if controller.get("featureGate") != gate:
            continue
        workload = controller["workload"]
        grant(workload, READ)
        if not controller.get("readsWorkloadOnly"):
            grant(f"{workload}/status", ("get", "update", "patch"))
            grant(f"{workload}/finalizers", ("update",))
        for watched in controller["watches"]:
            grant(watched, READ)
        for read in controller.get("reads", []):
            grant(read, LOOKUP)
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


def gates_of(controllers: dict) -> list[str]:
    """The gates some controller, or part of one, is behind."""
    found = {c["featureGate"] for c in controllers["controllers"].values() if c.get("featureGate")}
    found.update(g for c in controllers["controllers"].values() for g in c.get("gated") or {})
    return sorted(found)


def gate_on_expression(feature_gates: dict, gate: str) -> str:
    """A Helm condition on `$gates` (the featureGates value) that holds when the manager resolves `gate` on
    (controllers/schema.py `Schema.gates`): given on with every `requires` not off, or implied by such a gate."""
    def given_on(name: str) -> str:
        required = [f'(ne (toString (index $gates "{r}")) "false")' for r in feature_gates[name].get("requires", [])]
        on = f'(eq (toString (index $gates "{name}")) "true")'
        return f"(and {on} {' '.join(required)})" if required else on

    alternatives = [given_on(gate)] + [given_on(n) for n, g in sorted(feature_gates.items())
                                       if gate in g.get("implies", [])]
    return f"(or {' '.join(alternatives)})" if len(alternatives) > 1 else alternatives[0]


def gate_on_tpl(inputs: Inputs) -> list[str]:
    """`<chart>.gateOn` (dict "root" $ "gate" "<name>"): "true" when the manager resolves the gate on."""
    p = chart.chart_name(inputs)
    lines = ["{{/*", f'{p}.gateOn (dict "root" $ "gate" "<name>"): "true" when the manager resolves the gate on',
             "(policies/feature-gates.yaml `requires` and `implies`), else empty.", "*/}}",
             f'{{{{- define "{p}.gateOn" -}}}}', "{{- $gates := .root.Values.featureGates -}}"]
    related = sorted(n for n, g in inputs.feature_gates.items() if g.get("requires") or g.get("implies"))
    related += sorted({i for g in inputs.feature_gates.values() for i in g.get("implies", [])} - set(related))
    for i, name in enumerate(sorted(set(related))):
        lines.append(f'{{{{- {"if" if i == 0 else "else if"} eq .gate "{name}" -}}}}')
        lines.append(f"{{{{- if {gate_on_expression(inputs.feature_gates, name)} }}}}true{{{{ end -}}}}")
    lines.append("{{- else if eq (toString (index $gates .gate)) \"true\" }}true" if related
                 else "{{- if eq (toString (index $gates .gate)) \"true\" }}true")
    lines.append("{{- end -}}")
    lines.append("{{- end }}")
    return lines


def rules_tpl(inputs: Inputs) -> str:
    p = chart.chart_name(inputs)
    lines = [template_header([inputs.controllers_file, inputs.feature_gates_file]).rstrip("\n"), "",
             *gate_on_tpl(inputs), "",
             "{{/*", f"{p}.controllerRules: what the controllers read and write (ClusterRole rules).", "*/}}",
             f'{{{{- define "{p}.controllerRules" }}}}']
    def emit(found: list[tuple[str, list[str], list[str]]]) -> None:
        for group, names, verbs in found:
            lines.extend([f'- apiGroups: [{group or chr(34) * 2}]', f"  resources: [{', '.join(names)}]",
                          f"  verbs: [{', '.join(verbs)}]"])

    emit(rules(inputs.controllers))
    # Controllers, or parts of them, behind a feature gate (the manager runs them only with it on): their grants
    # only with it, as the manager resolves it.
    for gate in gates_of(inputs.controllers):
        lines.append(f'{{{{- if include "{p}.gateOn" (dict "root" . "gate" "{gate}") }}}}')
        emit(rules(inputs.controllers, gate))
        lines.append("{{- end }}")
    lines.append("{{- end }}")
    return "\n".join(lines) + "\n"


def generate(inputs: Inputs) -> dict[str, str]:
    if not inputs.controllers:
        return {}
    templates = chart.GENERATED_TEMPLATES.format(chart=chart.chart_name(inputs))
    return {f"{templates}/_controller_rules.tpl": rules_tpl(inputs)}
