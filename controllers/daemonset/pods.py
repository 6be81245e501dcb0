"""Daemon pods: where each one belongs, which revision it runs, which one of a node counts, and the pod the
controller creates (`daemonset_util.go`, `daemonset_controller.go`, Kubernetes `pkg/controller/daemon/util`).
"""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Iterable

from controllers.common.keys import CONTROLLER_REVISION_HASH_LABEL, INPLACE_UPDATE_READY
from controllers.common.lifecycle import PREPARING_DELETE, state_of
from controllers.common.nodes import OBJECT_NAME_FIELD
from controllers.common.objects import creation_time, is_terminating, labels_of, name_of
from controllers.common.pods import get_condition, has_readiness_gate, is_pod_available, node_name_of
from controllers.common.times import as_utc, parse_time

from .eligibility import with_daemon_tolerations
from .spec import TEMPLATE_GENERATION_LABEL, DaemonSetView, view

JSON = dict[str, Any]


# ---------------------------------------------------------------------------------------------------------
# Where a pod belongs

def target_node_name(pod: JSON) -> str | None:
    """GetTargetNodeName: spec.nodeName, else the value of a required node affinity term
    `matchFields metadata.name In [x]` (exactly one value); None when neither (upstream logs and ignores it)."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if not isinstance(required, dict):
        return None
    for term in required.get("nodeSelectorTerms") or []:
        for req in (term or {}).get("matchFields") or []:
            if req.get("key") == OBJECT_NAME_FIELD and req.get("operator") == "In":
                values = req.get("values") or []
                return values[0] if len(values) == 1 else None
    return None


def nodes_to_daemon_pods(pods: Iterable[JSON]) -> dict[str, list[JSON]]:
    """getNodesToDaemonPods: the claimed pods (every phase, terminating ones included) by target node, in the
    given order. Pods without a target node are left out entirely, as upstream does."""
    result: dict[str, list[JSON]] = {}
    for pod in pods:
        node = target_node_name(pod)
        if node is None:
            continue
        result.setdefault(node, []).append(pod)
    return result


def creation_order_key(pod: JSON) -> tuple:
    """podByCreationTimestampAndPhase: scheduled pods first, then the oldest, then by name. A missing
    creationTimestamp (Go's zero time) is the oldest."""
    created = creation_time(pod)
    return (0 if node_name_of(pod) else 1, (0, 0.0) if created is None else (1, created.timestamp()), name_of(pod))


def sorted_by_creation(pods: Iterable[JSON]) -> list[JSON]:
    return sorted(pods, key=creation_order_key)


# ---------------------------------------------------------------------------------------------------------
# Revision and state of a pod

def is_pod_updated(pod: JSON, hash_: str, template_generation: int | None = None) -> bool:
    """daemon/util IsPodUpdated: label controller-revision-hash equals the current hash, or (legacy) label
    pod-template-generation equals the DaemonSet's deprecated template generation."""
    labels = labels_of(pod)
    hash_matches = bool(hash_) and labels.get(CONTROLLER_REVISION_HASH_LABEL) == hash_
    template_matches = template_generation is not None and labels.get(TEMPLATE_GENERATION_LABEL) == str(
        template_generation)
    return hash_matches or template_matches


def is_pre_deleting(pod: JSON | None) -> bool:
    """isPodPreDeleting: the lifecycle state label says PreparingDelete."""
    return pod is not None and state_of(pod) == PREPARING_DELETE


def is_nil_or_pre_deleting(pod: JSON | None) -> bool:
    """isPodNilOrPreDeleting."""
    return pod is None or is_pre_deleting(pod)


def find_updated_pods_on_node(pods: Iterable[JSON] | None, hash_: str,
                              template_generation: int | None = None) -> tuple[JSON | None, JSON | None, bool]:
    """findUpdatedPodsOnNode: (new, old, ok) among the non-terminating pods of a node; ok is False (and both
    None) when there is more than one new or more than one old pod, which manage prunes first."""
    new = old = None
    for pod in pods or []:
        if is_terminating(pod):
            continue
        if is_pod_updated(pod, hash_, template_generation):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def is_daemon_pod_available(pod: JSON, min_ready_seconds: int, now: datetime) -> bool:
    """isDaemonPodAvailable: available (ready for more than minReadySeconds) and, for a pod with the
    InPlaceUpdateReady readiness gate whose condition exists, that condition True (status only)."""
    if not is_pod_available(pod, min_ready_seconds, now):
        return False
    if has_readiness_gate(pod, INPLACE_UPDATE_READY):
        condition = get_condition(pod, INPLACE_UPDATE_READY)
        if condition is not None and condition.get("status") != "True":
            return False
    return True


def pod_available_waiting_seconds(pod: JSON, min_ready_seconds: int, now: datetime) -> float:
    """podAvailableWaitingTime: minReadySeconds minus the time since the Ready condition last changed (all of
    minReadySeconds when that time is unknown)."""
    since = parse_time((get_condition(pod, "Ready") or {}).get("lastTransitionTime"))
    if since is None:
        return float(min_ready_seconds)
    return min_ready_seconds - (as_utc(now) - since).total_seconds()


# ---------------------------------------------------------------------------------------------------------
# The pod the controller creates

def pin_to_node(pod: JSON, node: str) -> JSON:
    """ReplaceDaemonSetPodNodeNameNodeAffinity, as the pod builder's contribution: a copy of `pod` whose required
    node affinity is exactly one term `matchFields metadata.name In [node]`. The user's required terms are
    REPLACED (they were checked by eligibility already); preferred terms and pod (anti-)affinity are kept;
    spec.nodeName and schedulerName are left alone, so the default scheduler binds the pod."""
    pod = copy.deepcopy(pod)
    spec = pod.setdefault("spec", {})
    affinity = spec.get("affinity") if isinstance(spec.get("affinity"), dict) else {}
    node_affinity = affinity.get("nodeAffinity") if isinstance(affinity.get("nodeAffinity"), dict) else {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    required = dict(required) if isinstance(required, dict) else {}
    required["nodeSelectorTerms"] = [
        {"matchFields": [{"key": OBJECT_NAME_FIELD, "operator": "In", "values": [node]}]}]
    node_affinity = dict(node_affinity, requiredDuringSchedulingIgnoredDuringExecution=required)
    spec["affinity"] = dict(affinity, nodeAffinity=node_affinity)
    return pod


def daemon_pod_template(ds: JSON | DaemonSetView, hash_: str) -> JSON:
    """What syncNodes creates pods from, before pinning: daemon/util CreatePodTemplate (template + default daemon
    tolerations + label controller-revision-hash, + pod-template-generation with the legacy annotation) and, for
    RollingUpdate with rollingUpdateType InPlaceIfPossible, the InPlaceUpdateReady readiness gate appended
    (without de-duplication, as upstream). Name, owner reference and namespace are the pod builder's."""
    ds = view(ds)
    template = copy.deepcopy(ds.template)
    metadata = template.setdefault("metadata", {})
    spec = with_daemon_tolerations(template.get("spec") or {})
    labels = dict(metadata.get("labels") or {})
    if ds.template_generation is not None:
        labels[TEMPLATE_GENERATION_LABEL] = str(ds.template_generation)
    if hash_:
        labels[CONTROLLER_REVISION_HASH_LABEL] = hash_
    metadata["labels"] = labels
    if ds.in_place_if_possible:
        spec["readinessGates"] = list(spec.get("readinessGates") or []) + [{"conditionType": INPLACE_UPDATE_READY}]
    template["spec"] = spec
    return template
