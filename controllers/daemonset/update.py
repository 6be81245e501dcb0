"""The rolling update (`daemonset_update.go rollingUpdate, updatedDesiredNodeCounts, filterDaemonPodsToUpdate,
filterDaemonPodsNodeToUpdate, inPlaceUpdatePods, canPodInPlaceUpdate`), as OpenKruise v1.9.0 decides it.

Runs only when not paused, the strategy is RollingUpdate, and manage left nothing outstanding (see
`round.decide`). Without surge it picks old pods to replace within maxUnavailable (unavailable old pods are
replaced outside the budget, as upstream); with surge it picks nodes to get a new pod next to the old one and
old pods whose new pod is available. Partition counts nodes and is scaled on the STORED desiredNumberScheduled;
nodes are updated in reverse name order, after nodes already updated or in progress.

One deliberate difference: upstream walks the candidate nodes in Go map order (random); here they are walked in
the order `nodes_to_update` returns (updated, in progress, then reverse node name), so the decision is
reproducible and, when the budget is short, the highest node names go first, as the partition order does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

from controllers.common.inplace import can_update_in_place
from controllers.common.keys import CONTROLLER_REVISION_HASH_LABEL, INPLACE_UPDATE_READY
from controllers.common.nodes import node_labels, node_name
from controllers.common.objects import labels_of, name_of
from controllers.common.pods import has_readiness_gate, is_pod_available
from controllers.common.revision import equal_to_revision_hash
from controllers.common.selectors import selector_matches

from . import decisions as why
from .decisions import NodeCreation, PodDeletion, PodUpdate
from .eligibility import Eligibility, eligibility_by_node
from .pods import find_updated_pods_on_node, is_nil_or_pre_deleting, is_pre_deleting
from .spec import DaemonSetView, strategy_count, view

JSON = dict[str, Any]


@dataclass(frozen=True)
class Budgets:
    desired: int
    max_unavailable: int
    max_surge: int


def budgets(ds: JSON | DaemonSetView, nodes: list[JSON], eligibility: Mapping[str, Eligibility] | None = None
            ) -> Budgets:
    """updatedDesiredNodeCounts: maxUnavailable and maxSurge of the FRESH count of nodes that should run the
    pod, rounded up; both 0 (with at least one node) means maxUnavailable 1. Raises ValueError for a malformed
    value, as upstream returns an error."""
    ds = view(ds)
    eligibility = eligibility if eligibility is not None else eligibility_by_node(nodes, ds)
    desired = sum(1 for n in nodes if eligibility[node_name(n)].should_run)
    max_unavailable = strategy_count(ds, ds.max_unavailable_raw, desired)
    max_surge = strategy_count(ds, ds.max_surge_raw, desired)
    if desired > 0 and max_unavailable == 0 and max_surge == 0:
        max_unavailable = 1
    return Budgets(desired, max_unavailable, max_surge)


def update_map(nodes: list[JSON], node_pods: Mapping[str, list[JSON]],
               eligibility: Mapping[str, Eligibility]) -> dict[str, list[JSON]]:
    """The node → pods map the rolling update works on: every node that should run the pod (an empty list when
    it has none) plus every existing node that holds pods (misscheduled ones included); nodes that no longer
    exist are dropped (updatedDesiredNodeCounts + filterDaemonPodsToUpdate)."""
    existing = {node_name(n) for n in nodes}
    result = {n: list(p) for n, p in node_pods.items() if n in existing}
    for n in nodes:
        name = node_name(n)
        if eligibility[name].should_run:
            result.setdefault(name, [])
    return result


def nodes_to_update(ds: JSON | DaemonSetView, nodes: list[JSON], pods_map: Mapping[str, list[JSON]], hash_: str
                    ) -> list[str]:
    """filterDaemonPodsNodeToUpdate: the nodes the update may touch, in order. Walking node names from the
    highest: nodes already updated (or with duplicates), then nodes in progress (no live old pod), then nodes
    matching rollingUpdate.selector (with a selector; the others never) or all the rest; at most
    len(nodes) - partition of them. Raises ValueError for a malformed partition."""
    ds = view(ds)
    partition = ds.partition()
    selector = ds.update_selector
    labels_by_node = {node_name(n): node_labels(n) for n in nodes}
    generation = ds.template_generation
    names = sorted(pods_map)
    updated: list[str] = []
    updating: list[str] = []
    selected: list[str] = []
    rest: list[str] = []
    for name in reversed(names):
        new, old, ok = find_updated_pods_on_node(pods_map[name], hash_, generation)
        if not ok or new is not None:
            updated.append(name)
        elif is_nil_or_pre_deleting(old):
            updating.append(name)
        elif selector is not None and selector_matches(selector, labels_by_node.get(name, {})):
            selected.append(name)
        else:
            rest.append(name)
    ordered = updated + updating + (selected if selector is not None else rest)
    max_update = len(names) - partition
    if max_update <= 0:
        return []
    return ordered[:max_update]


# ---------------------------------------------------------------------------------------------------------
# In place

def pod_old_revision(pod: JSON, revisions: list[JSON]) -> JSON | None:
    """The old ControllerRevision whose controller-revision-hash label the pod carries (EqualToRevisionHash)."""
    for revision in revisions:
        hash_ = labels_of(revision).get(CONTROLLER_REVISION_HASH_LABEL) or ""
        if equal_to_revision_hash(pod, hash_):
            return revision
    return None


def can_pod_update_in_place(pod: JSON, current_revision: JSON | None, old_revisions: list[JSON],
                            can_update: Callable[[JSON, JSON], bool] | None = None) -> bool:
    """canPodInPlaceUpdate: the pod has the InPlaceUpdateReady readiness gate (pods created before the switch to
    InPlaceIfPossible lack it and are recreated), carries the hash of an old revision, and the change from that
    revision to the current one is in-place-able (`can_update(old, current)`; default common/inplace's)."""
    if not has_readiness_gate(pod, INPLACE_UPDATE_READY) or current_revision is None:
        return False
    old = pod_old_revision(pod, old_revisions)
    if old is None:
        return False
    return bool((can_update or can_update_in_place)(old, current_revision))


# ---------------------------------------------------------------------------------------------------------
# rollingUpdate

@dataclass
class RollingUpdateDecision:
    """What the rolling update asks for. `delete` and `create` go through `manage.sync_nodes` (preDelete hook,
    burst cap); `update_in_place` are old pods to move to the current revision in place (already capped at
    burst); `skipped_in_place` are in-place-able pods beyond the burst, left for the next pass."""
    budgets: Budgets
    nodes: list[str]
    delete: list[PodDeletion] = field(default_factory=list)
    create: list[NodeCreation] = field(default_factory=list)
    update_in_place: list[PodUpdate] = field(default_factory=list)
    skipped_in_place: list[str] = field(default_factory=list)


def rolling_update(ds: JSON | DaemonSetView, nodes: list[JSON], node_pods: Mapping[str, list[JSON]], hash_: str,
                   now: datetime, *, eligibility: Mapping[str, Eligibility] | None = None,
                   in_place_ok: Callable[[JSON], bool] | None = None) -> RollingUpdateDecision:
    """rollingUpdate. `in_place_ok(pod)` says whether an old pod can be updated in place (build it with
    `can_pod_update_in_place`); it is asked only for rollingUpdateType InPlaceIfPossible, and None means no pod
    can. Raises ValueError for malformed maxUnavailable, maxSurge or partition."""
    ds = view(ds)
    eligibility = eligibility if eligibility is not None else eligibility_by_node(nodes, ds)
    budget = budgets(ds, nodes, eligibility)
    pods_map = update_map(nodes, node_pods, eligibility)
    order = nodes_to_update(ds, nodes, pods_map, hash_)
    generation = ds.template_generation
    min_ready = ds.min_ready_seconds
    decision = RollingUpdateDecision(budget, order)

    if budget.max_surge == 0:
        num_unavailable = 0
        allowed: list[PodDeletion] = []
        candidates: list[PodDeletion] = []
        for node in order:
            new, old, ok = find_updated_pods_on_node(pods_map[node], hash_, generation)
            if not ok:
                num_unavailable += 1  # manage prunes the duplicates
                continue
            if is_nil_or_pre_deleting(old) == is_nil_or_pre_deleting(new):
                num_unavailable += 1  # an empty node, or both a live old and a live new pod
            elif new is not None:
                if not is_pod_available(new, min_ready, now):
                    num_unavailable += 1
                if is_pre_deleting(new):
                    num_unavailable += 1  # upstream may count such a node twice
            elif not is_pod_available(old, min_ready, now):
                allowed.append(PodDeletion(name_of(old), node, why.UPDATE_UNAVAILABLE))
            elif num_unavailable >= budget.max_unavailable:
                continue
            else:
                candidates.append(PodDeletion(name_of(old), node, why.UPDATE))
        remaining = min(max(budget.max_unavailable - num_unavailable, 0), len(candidates))
        to_replace = allowed + candidates[:remaining]
        if ds.in_place_if_possible:
            pods_by_name = {name_of(p): p for ps in pods_map.values() for p in ps}
            in_place = [r for r in to_replace if in_place_ok is not None and in_place_ok(pods_by_name[r.name])]
            burst = ds.burst_replicas()
            decision.update_in_place = [PodUpdate(r.name, r.node, r.reason) for r in in_place[:burst]]
            decision.skipped_in_place = [r.name for r in in_place[burst:]]
            in_place_names = {r.name for r in in_place}
            decision.delete = [r for r in to_replace if r.name not in in_place_names]
        else:
            decision.delete = to_replace
        return decision

    num_surge = 0
    allowed_new: list[NodeCreation] = []
    candidate_new: list[NodeCreation] = []
    for node in order:
        new, old, ok = find_updated_pods_on_node(pods_map[node], hash_, generation)
        if not ok:
            num_surge += 1
            continue
        if is_nil_or_pre_deleting(old):
            continue  # manage creates the pod this node lacks
        if new is None:
            if not is_pod_available(old, min_ready, now):
                allowed_new.append(NodeCreation(node, why.SURGE_REPLACE_UNAVAILABLE))
            elif num_surge >= budget.max_surge:
                continue
            else:
                candidate_new.append(NodeCreation(node, why.SURGE_UPDATE))
        elif not is_pod_available(new, min_ready, now) or is_pre_deleting(new):
            num_surge += 1
        else:
            decision.delete.append(PodDeletion(name_of(old), node, why.SURGE_NEW_AVAILABLE))
    remaining = min(max(budget.max_surge - num_surge, 0), len(candidate_new))
    decision.create = allowed_new + candidate_new[:remaining]
    return decision
