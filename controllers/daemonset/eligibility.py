"""Which nodes should run the daemon pod (`nodeShouldRunDaemonPod`, `Predicates` and `NewPod` of
`pkg/controller/daemonset/daemonset_controller.go` / `daemonset_util.go`, as Kubernetes v1.20's own DaemonSet
controller decides it).

The DaemonSet's pod is simulated from its template plus the default daemon tolerations
(`AddOrUpdateDaemonPodTolerations`), then checked against the node: nodeName, nodeSelector and required node
affinity, NoSchedule and NoExecute taints. Node readiness and `spec.unschedulable` are never read: a NotReady,
unreachable or cordoned node keeps its daemon pod, as its taints are tolerated by default.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from controllers.common.nodes import (NO_EXECUTE, NO_SCHEDULE, add_or_update_toleration, find_untolerated_taint,
                                      node_matches_affinity, node_name, node_taints)

from .spec import DaemonSetView, view

JSON = dict[str, Any]

# k8s.io/api/core/v1 well-known taints (TaintNodeNotReady, ...).
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"


def default_daemon_tolerations(host_network: bool) -> list[JSON]:
    """The tolerations every daemon pod gets (daemon/util AddOrUpdateDaemonPodTolerations), in upstream order."""
    tolerations = [
        {"key": TAINT_NOT_READY, "operator": "Exists", "effect": NO_EXECUTE},
        {"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": NO_EXECUTE},
        {"key": TAINT_DISK_PRESSURE, "operator": "Exists", "effect": NO_SCHEDULE},
        {"key": TAINT_MEMORY_PRESSURE, "operator": "Exists", "effect": NO_SCHEDULE},
        {"key": TAINT_PID_PRESSURE, "operator": "Exists", "effect": NO_SCHEDULE},
        {"key": TAINT_UNSCHEDULABLE, "operator": "Exists", "effect": NO_SCHEDULE},
    ]
    if host_network:
        tolerations.append({"key": TAINT_NETWORK_UNAVAILABLE, "operator": "Exists", "effect": NO_SCHEDULE})
    return tolerations


def with_daemon_tolerations(pod_spec: JSON) -> JSON:
    """A copy of a pod spec with the default daemon tolerations added or updated (AddOrUpdateDaemonPodTolerations)."""
    spec = copy.deepcopy(pod_spec)
    tolerations = list(spec.get("tolerations") or [])
    for toleration in default_daemon_tolerations(bool(spec.get("hostNetwork"))):
        tolerations = add_or_update_toleration(tolerations, toleration)
    spec["tolerations"] = tolerations
    return spec


def simulated_pod(ds: JSON | DaemonSetView) -> JSON:
    """NewPod: the template's metadata and spec, the DaemonSet's namespace, the default daemon tolerations.
    (Upstream caches it per DaemonSet UID and generation; that is only a speed-up.)"""
    ds = view(ds)
    template = ds.template
    metadata = copy.deepcopy(template.get("metadata") or {})
    metadata["namespace"] = ds.namespace
    return {"metadata": metadata, "spec": with_daemon_tolerations(template.get("spec") or {})}


@dataclass(frozen=True)
class Eligibility:
    """nodeShouldRunDaemonPod's two answers.

    should_run: a daemon pod should be created on the node if it has none.
    should_continue_running: a daemon pod already there may stay (False: delete it).
    """
    should_run: bool
    should_continue_running: bool


def predicates(pod: JSON, node: JSON) -> tuple[bool, bool, bool]:
    """Predicates: (fitsNodeName, fitsNodeAffinity, fitsTaints) of a pod on a node."""
    spec = pod.get("spec") or {}
    fits_node_name = not spec.get("nodeName") or spec.get("nodeName") == node_name(node)
    fits_affinity = node_matches_affinity(spec, node)
    untolerated = find_untolerated_taint(node_taints(node), spec.get("tolerations"),
                                         lambda t: t.get("effect") in (NO_EXECUTE, NO_SCHEDULE))
    return fits_node_name, fits_affinity, untolerated is None


def node_should_run_daemon_pod(node: JSON, ds: JSON | DaemonSetView, pod: JSON | None = None) -> Eligibility:
    """nodeShouldRunDaemonPod. `pod` is `simulated_pod(ds)`; pass it when checking many nodes to build it once."""
    ds = view(ds)
    pod = pod if pod is not None else simulated_pod(ds)
    template_node = (ds.template.get("spec") or {}).get("nodeName") or ""
    if template_node and template_node != node_name(node):
        return Eligibility(False, False)
    fits_node_name, fits_affinity, fits_taints = predicates(pod, node)
    if not fits_node_name or not fits_affinity:
        return Eligibility(False, False)
    if not fits_taints:
        # Scheduled daemon pods continue running when they tolerate every NoExecute taint: a NoSchedule-only
        # taint keeps the pod there (misscheduled) but no new one is created.
        untolerated_no_execute = find_untolerated_taint(node_taints(node), (pod.get("spec") or {}).get("tolerations"),
                                                        lambda t: t.get("effect") == NO_EXECUTE)
        return Eligibility(False, untolerated_no_execute is None)
    return Eligibility(True, True)


def eligibility_by_node(nodes: list[JSON], ds: JSON | DaemonSetView) -> dict[str, Eligibility]:
    """node name → Eligibility for every node, with the simulated pod built once."""
    ds = view(ds)
    pod = simulated_pod(ds)
    return {node_name(n): node_should_run_daemon_pod(n, ds, pod) for n in nodes}


def _true_conditions(node: JSON) -> set:
    return {c.get("type") for c in (node.get("status") or {}).get("conditions") or []
            if isinstance(c, dict) and c.get("status") == "True"}


def _without_heartbeat(node: JSON) -> JSON:
    node = dict(node)
    metadata = {k: v for k, v in (node.get("metadata") or {}).items() if k not in ("resourceVersion", "managedFields")}
    node["metadata"] = metadata
    node["status"] = {k: v for k, v in (node.get("status") or {}).items() if k != "conditions"}
    return node


def node_change_matters(old: JSON | None, new: JSON | None) -> bool:
    """Not shouldIgnoreNodeUpdate: a node added or deleted matters; an update matters unless only heartbeat data
    changed (the same set of True condition types, and everything but the conditions, resourceVersion and
    managedFields' timestamps equal). The runtime's `cluster` watch asks it before waking every DaemonSet."""
    if old is None or new is None:
        return True
    if _true_conditions(old) != _true_conditions(new):
        return True
    return _without_heartbeat(old) != _without_heartbeat(new)
