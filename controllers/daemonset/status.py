"""The status block (`daemonset_controller.go updateDaemonSetStatus, storeDaemonSetStatus`).

Computed over every node the controller knows and the pods mapped to each (terminating ones included); pods on
nodes that no longer exist are ignored. Only the OLDEST pod of a node counts (scheduled first, then creation
time, then name), so during a surge a node counts as updated only once its old pod is gone.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from controllers.common.nodes import node_name
from controllers.common.pods import is_pod_ready
from controllers.common.status import min_ready_requeue

from .eligibility import Eligibility, eligibility_by_node
from .pods import is_daemon_pod_available, is_pod_updated, sorted_by_creation
from .spec import DaemonSetView, view

JSON = dict[str, Any]

COUNTERS = ("desiredNumberScheduled", "currentNumberScheduled", "numberMisscheduled", "numberReady",
            "updatedNumberScheduled", "numberAvailable", "numberUnavailable")


def counted_pods(ds: JSON | DaemonSetView, nodes: list[JSON], node_pods: Mapping[str, list[JSON]],
                 eligibility: Mapping[str, Eligibility] | None = None) -> list[JSON]:
    """The pod each node that should run one counts in the status: its oldest."""
    ds = view(ds)
    eligibility = eligibility if eligibility is not None else eligibility_by_node(nodes, ds)
    return [sorted_by_creation(node_pods[node_name(n)])[0] for n in nodes
            if eligibility[node_name(n)].should_run and node_pods.get(node_name(n))]


def counters(ds: JSON | DaemonSetView, nodes: list[JSON], node_pods: Mapping[str, list[JSON]], hash_: str,
             now: datetime, eligibility: Mapping[str, Eligibility] | None = None) -> dict[str, int]:
    """The seven counters of updateDaemonSetStatus."""
    ds = view(ds)
    eligibility = eligibility if eligibility is not None else eligibility_by_node(nodes, ds)
    generation = ds.template_generation
    desired = current = misscheduled = ready = updated = available = 0
    for node in nodes:
        name = node_name(node)
        pods = node_pods.get(name) or []
        if eligibility[name].should_run:
            desired += 1
            if pods:
                current += 1
                pod = sorted_by_creation(pods)[0]
                if is_pod_ready(pod):
                    ready += 1
                    if is_daemon_pod_available(pod, ds.min_ready_seconds, now):
                        available += 1
                if is_pod_updated(pod, hash_, generation):
                    updated += 1
        elif pods:
            misscheduled += 1
    return {"desiredNumberScheduled": desired, "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled, "numberReady": ready, "updatedNumberScheduled": updated,
            "numberAvailable": available, "numberUnavailable": desired - available}


def compute_status(ds: JSON | DaemonSetView, nodes: list[JSON], node_pods: Mapping[str, list[JSON]], hash_: str,
                   now: datetime, *, full_sync: bool,
                   eligibility: Mapping[str, Eligibility] | None = None) -> JSON:
    """The status to store: the stored one with the counters and the update revision replaced.

    - observedGeneration becomes metadata.generation only on the final write of a full pass (`full_sync`);
      the early writes while expectations are unsatisfied keep the stored value.
    - updateRevision is the current hash. The manager reads and writes the storage version, v1beta1; the
      conversion webhook shows it to v1alpha1 clients as daemonSetHash. (Writing daemonSetHash too, which
      v1beta1's schema prunes, made every status write look like more than a count to the runtime's pacing,
      controllers/runtime/pacing.py: a 50-pod rollout wrote its status 20 to 40 times instead of about 15.)
    - collisionCount passes through (the revision step bumps it); conditions pass through: the DaemonSet
      controller never writes any.
    """
    ds = view(ds)
    status = dict(ds.status)
    status.update(counters(ds, nodes, node_pods, hash_, now, eligibility))
    status["updateRevision"] = hash_
    if full_sync:
        status["observedGeneration"] = ds.generation
    return status


def status_needs_write(ds: JSON | DaemonSetView, new_status: JSON) -> bool:
    """storeDaemonSetStatus skips the write when the counters and updateRevision are unchanged and
    observedGeneration >= generation (a status lagging only in other fields is not rewritten)."""
    ds = view(ds)
    old = ds.status
    if any(int(old.get(k) or 0) != int(new_status.get(k) or 0) for k in COUNTERS):
        return True
    if (old.get("updateRevision") or old.get("daemonSetHash") or "") != new_status.get("updateRevision"):
        return True
    return ds.stored_observed_generation < ds.generation


def status_requeue_after(ds: JSON | DaemonSetView, nodes: list[JSON], node_pods: Mapping[str, list[JSON]],
                         now: datetime, eligibility: Mapping[str, Eligibility] | None = None) -> float | None:
    """When the next counted pod that is ready but not yet available becomes available by time alone, so that
    numberAvailable follows (the shared `min_ready_requeue`). Upstream requeues after all of minReadySeconds
    whenever numberReady != numberAvailable; this wakes up when the first such pod is due, never later."""
    ds = view(ds)
    min_ready = ds.min_ready_seconds
    return min_ready_requeue(counted_pods(ds, nodes, node_pods, eligibility), min_ready, now, ready=is_pod_ready,
                             available=lambda p: is_daemon_pod_available(p, min_ready, now))
