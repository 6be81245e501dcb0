"""manage(): the per-node create and delete decisions, and syncNodes()'s preDelete filter and burst cap
(`daemonset_controller.go manage, podsShouldBeOnNode, syncNodes, syncWithPreparingDelete`,
`daemonset_util.go GetNodesNeedingPods, getUnscheduledPodsWithoutNode`).

Pure: the failed-pod backoff that upstream keeps in memory (flowcontrol.Backoff, 1 s doubling to 15 min) is
passed in and handed back (`FailedPodsBackoff`), and `now` is a parameter.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from controllers.common.lifecycle import PREPARING_DELETE as STATE_PREPARING_DELETE
from controllers.common.lifecycle import is_pod_hooked, marks_pod_not_ready, state_of
from controllers.common.keys import CONTROLLER_REVISION_HASH_LABEL
from controllers.common.nodes import node_name
from controllers.common.objects import is_terminating, labels_of, meta, name_of
from controllers.common.pods import is_pod_available, is_pod_ready, phase_of
from controllers.common.times import as_utc

from . import decisions as why
from .decisions import Event, NodeCreation, PodDeletion, PreDeleteHold, Requeue, SyncDecision
from .eligibility import Eligibility, eligibility_by_node
from .pods import find_updated_pods_on_node, is_pre_deleting, pod_available_waiting_seconds, sorted_by_creation
from .spec import ROLLING_UPDATE, DaemonSetView, view

JSON = dict[str, Any]

# daemonset_controller.go: failedPodsBackoff = flowcontrol.NewBackOff(1*time.Second, 15*time.Minute).
BACKOFF_INITIAL = timedelta(seconds=1)
BACKOFF_MAX = timedelta(minutes=15)


# ---------------------------------------------------------------------------------------------------------
# The failed-pods backoff (client-go flowcontrol.Backoff without jitter)

@dataclass(frozen=True)
class BackoffEntry:
    delay: timedelta
    last_update: datetime


FailedPodsBackoff = Mapping[str, BackoffEntry]


def failed_pods_backoff_key(ds: DaemonSetView, node: str) -> str:
    """failedPodsBackoffKey: uid/status.observedGeneration/node."""
    return f"{ds.uid}/{ds.stored_observed_generation}/{node}"


def _expired(entry: BackoffEntry, now: datetime) -> bool:
    """hasExpired: not updated for more than twice the maximum delay."""
    return as_utc(now) - as_utc(entry.last_update) > 2 * BACKOFF_MAX


def in_backoff(entry: BackoffEntry | None, now: datetime) -> bool:
    """IsInBackOffSinceUpdate: less than the current delay since the last update."""
    return entry is not None and as_utc(now) - as_utc(entry.last_update) < entry.delay


def next_backoff(entry: BackoffEntry | None, now: datetime) -> BackoffEntry:
    """Next: the first failure (or one after a long quiet time) waits 1 s, each further one twice as long, up to
    15 min."""
    if entry is None or _expired(entry, now):
        return BackoffEntry(BACKOFF_INITIAL, as_utc(now))
    return BackoffEntry(min(entry.delay * 2, BACKOFF_MAX), as_utc(now))


def gc_backoff(backoff: FailedPodsBackoff, now: datetime) -> dict[str, BackoffEntry]:
    """GC (upstream runs it every minute): drop the entries that have expired."""
    return {k: e for k, e in backoff.items() if not _expired(e, now)}


# ---------------------------------------------------------------------------------------------------------
# podsShouldBeOnNode

@dataclass
class NodeDecision:
    create: list[NodeCreation] = field(default_factory=list)
    delete: list[PodDeletion] = field(default_factory=list)


def pods_should_be_on_node(ds: DaemonSetView, node: str, eligibility: Eligibility, pods: list[JSON] | None,
                           hash_: str, now: datetime, backoff: dict[str, BackoffEntry], requeue: Requeue,
                           events: list[Event]) -> NodeDecision:
    """podsShouldBeOnNode. `pods` is None when the node has no entry in the node → pods map (no pod maps to
    it), which is not the same as an entry whose pods are all terminating: then no pod is created without
    surge until they are gone. Updates `backoff`, `requeue` and `events` in place."""
    result = NodeDecision()
    exists = pods is not None
    pods = pods or []
    if eligibility.should_run and not exists:
        result.create.append(NodeCreation(node, why.MISSING))
    elif eligibility.should_continue_running:
        running: list[JSON] = []
        for pod in pods:
            if is_terminating(pod):
                continue
            if phase_of(pod) == "Failed":
                key = failed_pods_backoff_key(ds, node)
                entry = backoff.get(key)
                if in_backoff(entry, now):
                    requeue.push(entry.delay.total_seconds())
                    continue
                backoff[key] = next_backoff(entry, now)
                events.append(Event("Warning", "FailedDaemonPod", f"Found failed daemon pod "
                                    f"{meta(pod).get('namespace') or ds.namespace}/{name_of(pod)} on node {node}, "
                                    "will try to kill it"))
                result.delete.append(PodDeletion(name_of(pod), node, why.FAILED))
            elif is_pre_deleting(pod):
                result.delete.append(PodDeletion(name_of(pod), node, why.PREPARING_DELETE))
            else:
                running.append(pod)  # Succeeded pods count as running, as upstream

        if not ds.allow_surge():
            if len(running) > 1:
                for pod in sorted_by_creation(running)[1:]:
                    result.delete.append(PodDeletion(name_of(pod), node, why.EXCESS))
            return result

        if len(running) <= 1:
            if not running and eligibility.should_run:
                result.create.append(NodeCreation(node, why.MISSING))
            return result

        oldest_new = oldest_old = None
        for pod in sorted_by_creation(running):
            if labels_of(pod).get(CONTROLLER_REVISION_HASH_LABEL) == hash_:
                if oldest_new is None:
                    oldest_new = pod
                    continue
            elif oldest_old is None:
                oldest_old = pod
                continue
            result.delete.append(PodDeletion(name_of(pod), node, why.SURGE_EXCESS))
        if oldest_new is not None and oldest_old is not None:
            if not is_pod_ready(oldest_old):
                result.delete.append(PodDeletion(name_of(oldest_old), node, why.SURGE_OLD_NOT_READY))
            elif is_pod_available(oldest_new, ds.min_ready_seconds, now):
                result.delete.append(PodDeletion(name_of(oldest_old), node, why.SURGE_NEW_AVAILABLE))
            elif is_pod_ready(oldest_new) and ds.min_ready_seconds > 0:
                requeue.push(pod_available_waiting_seconds(oldest_new, ds.min_ready_seconds, now))
    elif exists:
        for pod in pods:
            if not is_terminating(pod):
                result.delete.append(PodDeletion(name_of(pod), node, why.MISSCHEDULED))
    return result


# ---------------------------------------------------------------------------------------------------------
# Partitioned scaling

def nodes_needing_pods(new_pods: int, desire: int, partition: int, progressive: bool,
                       nodes: list[NodeCreation]) -> list[NodeCreation]:
    """GetNodesNeedingPods: without partitionedScaling every node, in node-name order; with it, only
    desire - newPods - partition of them (the first in node-name order), the others get no pod at all."""
    ordered = sorted(nodes, key=lambda c: c.node)
    if not progressive:
        return ordered
    partition = max(min(partition, desire), 0)
    max_create = min(max(desire - new_pods - partition, 0), len(nodes))
    return ordered[:max_create] if max_create > 0 else []


def unscheduled_pods_without_node(node_names: set[str], node_pods: Mapping[str, list[JSON]]) -> list[PodDeletion]:
    """getUnscheduledPodsWithoutNode: pods not bound yet (no spec.nodeName) pinned to a node that does not exist;
    pod GC never deletes those. Upstream includes terminating ones too (their deletion is a no-op)."""
    result = []
    for node, pods in node_pods.items():
        if node in node_names:
            continue
        for pod in pods:
            if not (pod.get("spec") or {}).get("nodeName"):
                result.append(PodDeletion(name_of(pod), node, why.NODE_GONE))
    return result


@dataclass
class ManageDecision:
    """manage(): the creations (after partitionedScaling) and deletions it asks syncNodes for, the new failed-pod
    backoff, the FailedDaemonPod events, and the requeue it pushed."""
    create: list[NodeCreation]
    delete: list[PodDeletion]
    backoff: dict[str, BackoffEntry]
    events: list[Event]
    requeue_after: float | None
    partition_error: str | None = None


def manage(ds: JSON | DaemonSetView, nodes: list[JSON], node_pods: Mapping[str, list[JSON]], hash_: str,
           now: datetime, backoff: FailedPodsBackoff | None = None,
           eligibility: Mapping[str, Eligibility] | None = None) -> ManageDecision:
    """manage(ds, nodeList, hash): `node_pods` is `pods.nodes_to_daemon_pods(claimed pods)`; nodes in the
    given (cache) order."""
    ds = view(ds)
    eligibility = eligibility if eligibility is not None else eligibility_by_node(nodes, ds)
    new_backoff = dict(backoff or {})
    requeue = Requeue()
    events: list[Event] = []
    create: list[NodeCreation] = []
    delete: list[PodDeletion] = []
    desire = new_pods = 0
    template_generation = ds.template_generation
    for node in nodes:
        name = node_name(node)
        decision = pods_should_be_on_node(ds, name, eligibility[name], node_pods.get(name), hash_, now,
                                          new_backoff, requeue, events)
        create += decision.create
        delete += decision.delete
        if eligibility[name].should_run:
            desire += 1
        new, _, ok = find_updated_pods_on_node(node_pods.get(name), hash_, template_generation)
        if ok and new is not None:
            new_pods += 1
    delete += unscheduled_pods_without_node({node_name(n) for n in nodes}, node_pods)

    partition_error = None
    if ds.update_type == ROLLING_UPDATE and ds.rolling_update is not None and ds.partition_raw is not None:
        try:
            partition = ds.partition()
        except ValueError as error:  # upstream logs it and leaves creation unlimited
            partition_error = str(error)
        else:
            if partition != 0:
                create = nodes_needing_pods(new_pods, desire, partition, ds.partitioned_scaling, create)
    return ManageDecision(create, delete, new_backoff, events, requeue.after, partition_error)


# ---------------------------------------------------------------------------------------------------------
# syncNodes: the preDelete filter and the burst cap

def sync_nodes(ds: JSON | DaemonSetView, delete: Iterable[PodDeletion], create: Iterable[NodeCreation],
               pods_by_name: Mapping[str, JSON]) -> SyncDecision:
    """syncNodes before it calls the API: with a preDelete hook, pods the hook holds (syncWithPreparingDelete:
    ANY of its labels or finalizers present) move to PreparingDelete instead of being deleted, and pods no
    longer there are skipped; then creations and deletions are each capped at burstReplicas (a percent of the
    STORED desiredNumberScheduled, rounded down: "10%" of 5 nodes is 0, nothing is ever created). Creations
    then go out in slow-start batches 1, 2, 4, ... (the runtime's), deletions all at once."""
    ds = view(ds)
    delete = list(delete)
    hold: list[PreDeleteHold] = []
    hook = ds.pre_delete_hook
    if hook is not None:
        kept = []
        for d in delete:
            pod = pods_by_name.get(d.name)
            if pod is None:
                continue
            if not is_pod_hooked(hook, pod):
                kept.append(d)
                continue
            hold.append(PreDeleteHold(d.name, d.node, d.reason, STATE_PREPARING_DELETE, marks_pod_not_ready(hook),
                                      needs_write=state_of(pod) != STATE_PREPARING_DELETE))
        delete = kept
    burst = ds.burst_replicas()
    return SyncDecision(create=list(create)[:burst], delete=delete[:burst], hold=hold)
