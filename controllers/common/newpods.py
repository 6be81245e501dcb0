"""A new pod from a workload's template (`kubecontroller.GetPodFromTemplate`, plus the lifecycle state every
kruise workload writes on the pods it creates).

Each kind adds only its identity: its revision and identity labels, its claims' volumes, and what else its pods
carry (CloneSet: the InPlaceUpdateReady readiness gate; Advanced StatefulSet: hostname and subdomain).
"""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from . import lifecycle
from .objects import meta
from .ownership import controller_ref

JSON = dict[str, Any]


def claim_volumes(claims: list[tuple[str, str]], volumes: list[JSON]) -> list[JSON]:
    """updateStorage: a volume per claim, (volume name, claim name), in order, then the other `volumes` (a
    template volume of a claim's name is replaced)."""
    names = {volume for volume, _ in claims}
    return ([{"name": volume, "persistentVolumeClaim": {"claimName": claim}} for volume, claim in claims]
            + [v for v in volumes if isinstance(v, dict) and v.get("name") not in names])


def pod_from_template(owner: JSON, template: JSON, *, api_version: str, kind: str, name: str,
                      labels: dict[str, str], now: datetime, state: str | None = None,
                      claims: list[tuple[str, str]] | None = None, readiness_gates: tuple[str, ...] = ()) -> JSON:
    """A pod named `name` from `template`, controlled by `owner` (a `kind` of `api_version` unless the owner
    object says otherwise), in the owner's namespace, with generateName `<owner>-`:
    - labels: the template's, then `labels` (the kind's revision and identity labels), then the lifecycle
      `state`'s, if any; annotations: the template's, then the lifecycle timestamp; the template's finalizers;
    - spec: a copy of the template's, with `claim_volumes(claims, ...)` when there are claims, and each
      condition type of `readiness_gates` added as a readiness gate unless the template has it."""
    tmeta = template.get("metadata") or {}
    owner_name = meta(owner).get("name") or ""
    pod_labels = dict(tmeta.get("labels") or {})
    pod_labels.update(labels)
    annotations = dict(tmeta.get("annotations") or {})
    if state is not None:
        state_label, state_annotation = lifecycle.state_labels(state, now)
        pod_labels.update(state_label)
        annotations.update(state_annotation)
    metadata: JSON = {
        "name": name,
        "generateName": f"{owner_name}-",
        "labels": pod_labels,
        "annotations": annotations,
        "ownerReferences": [controller_ref(owner, api_version, kind)],
    }
    if meta(owner).get("namespace"):
        metadata["namespace"] = meta(owner)["namespace"]
    if tmeta.get("finalizers"):
        metadata["finalizers"] = list(tmeta["finalizers"])
    spec = copy.deepcopy(template.get("spec") or {})
    if readiness_gates:
        gates = spec.setdefault("readinessGates", [])
        for condition_type in readiness_gates:
            if not any(g.get("conditionType") == condition_type for g in gates):
                gates.append({"conditionType": condition_type})
    if claims:
        spec["volumes"] = claim_volumes(claims, spec.get("volumes") or [])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
