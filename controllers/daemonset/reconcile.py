"""Advanced DaemonSet reconcile: observed state in, a `Plan` out (`daemonset_controller.go syncDaemonSet`,
spec A6), built from the decision layer (`round.decide`) and the shared mechanisms of `controllers/common`.

    plan = reconcile(daemonset, {pods, nodes, controllerrevisions.apps}, context)

`daemonset` is the stored apps.kruise.io/v1beta1 object; `pods` the pods it controls (the runtime has claimed
them: adopted orphans its selector matches, released the others), every phase, terminating ones included;
`nodes` every node of the cluster; `revisions` its ControllerRevisions.

The steps, in upstream order:
1. early exits: being deleted (no finalizer: the garbage collector removes the pods); an empty selector
   (Warning `SelectingAll`); an invalid one;
2. resolve the revision of the template (`common/revision`: create one, or bump an identical old one on a
   rollback; a name held by another object bumps collisionCount); the hash pods carry is its short hash;
3. `round.decide`: manage (creations and deletions per node, partitionedScaling, failed-pod backoff), and only
   when that left nothing outstanding, the in-place refresh of every pod and the rolling update;
4. the status, written only when it changed (storeDaemonSetStatus's rule), before the pod actions, so that it
   is written even when one of them fails; observedGeneration moves only on a pass that got to the update;
5. the pod actions: preDelete holds (`common/lifecycle`), deletions with the pod's uid as precondition,
   in-place updates (`common/inplace`), creations (the runtime sends them in slow-start batches), events;
6. on a full pass, truncate the revision history (revisionHistoryLimit);
7. with PreDownloadImageForDaemonSetUpdate, image pre-download (`common/predownload`): last, so that a refused
   ImagePullJob never holds the rollout back.

The failed-pod backoff (upstream: flowcontrol.Backoff in the controller's memory, 1 s doubling to 15 min, keyed
uid/observedGeneration/node) is kept out of the function: the previous round hands it on through
`Context.memory` / `Plan.memory`, which the runtime keeps per DaemonSet in memory, as upstream does (lost on a
restart, as upstream's). It cannot be derived from the observed pods: the failed pod it paces is deleted, and
how many failed before is known nowhere else.
"""
from __future__ import annotations

from typing import Any

from controllers.common import inplace, lifecycle, predownload
from controllers.common.intstr import scaled_value
from controllers.common.actions import (NODES, PODS, REVISIONS, Context, Event, Plan, create_pod, delete_pod,
                                        earliest, update_status)
from controllers.common.keys import CONTROLLER_REVISION_HASH_LABEL, INPLACE_UPDATE_READY
from controllers.common.newpods import pod_from_template
from controllers.common.names import RandomNames
from controllers.common.objects import is_terminating, labels_of, name_of, uid_of
from controllers.common.ownership import is_controlled_by
from controllers.common.pods import has_readiness_gate
from controllers.common.revision import (equal_to_revision_hash, live_revision_names, resolve_revisions, short_hash,
                                         template_revision_data, truncate_history)
from controllers.common.round import Round, seen_drains
from controllers.common.selectors import is_valid_selector, selector_matches
from controllers.common.times import as_utc

from .decisions import PodDeletion, SyncDecision
from .eligibility import eligibility_by_node
from .manage import gc_backoff, sync_nodes
from .pods import daemon_pod_template, nodes_to_daemon_pods, pin_to_node
from .round import MANAGE, decide
from .spec import API_VERSION, KIND, DaemonSetView
from .status import compute_status, status_needs_write, status_requeue_after

JSON = dict[str, Any]

SELECTING_ALL = "This daemon set is selecting all pods. A non-empty selector is required."


def _claimed(ds: DaemonSetView, pods: list[JSON]) -> list[JSON]:
    """The pods the DaemonSet controls and selects (the runtime claimed them), in name order."""
    return [p for p in sorted(pods, key=name_of)
            if is_controlled_by(p, ds.obj) and selector_matches(ds.selector, labels_of(p))]


def _in_place_ok(update: JSON, revisions: list[JSON]):
    """canPodInPlaceUpdate: the pod has the InPlaceUpdateReady gate, carries the hash of one of the DaemonSet's
    revisions, and the change from that revision to `update` is images and metadata only."""
    def ok(pod: JSON) -> bool:
        if not has_readiness_gate(pod, INPLACE_UPDATE_READY):
            return False
        old = next((r for r in revisions if equal_to_revision_hash(pod, name_of(r))), None)
        return old is not None and old is not update and inplace.can_update_in_place(old, update)
    return ok


def _new_pod(ds: DaemonSetView, owner: JSON, template: JSON, node: str, names: Any, taken: set[str], now) -> JSON:
    """A9.2: the template (daemon tolerations, revision label, InPlaceUpdateReady gate for InPlaceIfPossible)
    pinned to `node`, named `<name>-<5 random chars>` (generateName `<name>-`), controlled by the DaemonSet."""
    for _ in range(10_000):
        name = f"{ds.name}-{names.suffix()}"
        if name not in taken:
            break
    taken.add(name)
    pod = pod_from_template(owner, template, api_version=API_VERSION, kind=KIND, name=name, labels={}, now=now)
    return pin_to_node(pod, node)


def _emit_sync(r: Round, ds: DaemonSetView, sync: SyncDecision, pods_by_name: dict[str, JSON], owner: JSON,
               template: JSON, names: Any, taken: set[str]) -> None:
    """syncNodes: the preDelete holds, the deletions (all at once), the creations (slow start by the runtime)."""
    hook = ds.pre_delete_hook
    for held in sync.hold:
        pod = pods_by_name.get(held.name)
        if pod is not None:
            r.emit(*lifecycle.update_pod_lifecycle(pod, held.state, lifecycle.marks_pod_not_ready(hook), r.now))
    for deletion in sync.delete:
        pod = pods_by_name.get(deletion.name)
        if pod is None:
            continue
        r.emit(delete_pod(deletion.name, uid_of(pod), deletion.reason),
               Event("Normal", "SuccessfulDelete", f"Deleted pod: {deletion.name}"))
    for creation in sync.create:
        pod = _new_pod(ds, owner, template, creation.node, names, taken, r.now)
        r.emit(create_pod(pod), Event("Normal", "SuccessfulCreate", f"Created pod: {name_of(pod)}"))


def _predownload(ds: DaemonSetView, owner: JSON, revs: Any, hash_: str, jobs: list[JSON]) -> list:
    """The pre-download step of syncDaemonSet (`daemonset_predownload_image.go`): while the stored status shows
    the rollout unfinished (or of another hash), against every old revision. The min-updated-ready annotation is
    not applied (upstream parses it and leaves a todo); there is no in-place check, nor a minimum of pods."""
    if not ds.gate("PreDownloadImageForDaemonSetUpdate"):
        return []
    status, pods = ds.status, ds.stored_desired_number_scheduled
    rolled_out = (int(status.get("updatedNumberScheduled") or 0) == pods
                  and (status.get("updateRevision") or status.get("daemonSetHash") or "") == hash_)
    try:
        partition = ds.partition()
        raw = (ds.rolling_update or {}).get("maxUnavailable")
        max_unavailable = scaled_value(1 if raw is None else raw, pods, round_up=True)
    except ValueError:
        return []  # upstream returns the error: nothing this round
    rollout = predownload.Rollout(
        rolled_out=rolled_out, due=True,
        skip=predownload.skip_reason(pods=pods, partition=partition, max_unavailable=max_unavailable,
                                     minimum_replicas=None),
        old_revisions=[r for r in revs.owned if r is not revs.update])
    return predownload.plan_predownload(owner, API_VERSION, KIND, revs.update, rollout, jobs)


def reconcile(daemonset: dict, observed: dict[str, list[dict]], context: Context) -> Plan:
    """Everything the DaemonSet needs now, in execution order (see the module docstring)."""
    now = as_utc(context.now)
    ds = DaemonSetView(daemonset, context.gates)
    # 1.
    if ds.deleting:
        return Plan([])
    selector = ds.selector
    if isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return Plan([Event("Warning", "SelectingAll", SELECTING_ALL)])
    if not is_valid_selector(ds.selector):
        return Plan([])  # a non-transient error: logged upstream, never retried
    nodes = list(observed.get(NODES, []))
    revisions = list(observed.get(REVISIONS, []))
    pods = _claimed(ds, observed.get(PODS, []))
    owner = {**daemonset, "apiVersion": API_VERSION, "kind": KIND}
    r = Round(now=now, seen_drains=seen_drains(context.memory))

    # 2.
    revs = resolve_revisions(parent=owner, api_version=API_VERSION, kind=KIND,
                             data=template_revision_data(ds.template), template_labels=ds.template_labels,
                             revisions=revisions, collision_count=ds.collision_count, current_revision_name=None,
                             annotations=ds.annotations)
    r.emit(*revs.actions)
    update = revs.update
    hash_ = short_hash(name_of(update))

    # 3.
    backoff = gc_backoff(dict((context.memory or {}).get("backoff") or {}), now)
    decision = decide(ds, nodes, pods, hash_, now, backoff=backoff, in_place_ok=_in_place_ok(update, revs.owned))
    full_pass = decision.phase != MANAGE
    r.wait(decision.requeue_after)
    pods_by_name = {name_of(p): p for p in pods}
    # refreshInPlaceStates: finish in-place updates, InPlaceUpdateReady=True once the containers restarted.
    # Upstream refreshes only in a full pass; a round that still creates pods (the runtime caps the creates of a
    # round, so a rollout's or a new node's pods take several) refreshes the pods it created before, whose only
    # refresh is InPlaceUpdateReady=True: it then rides in their one status write with KruisePodReady (issue
    # 21's floor: 2 requests a pod, not 3).
    for pod in pods:
        if is_terminating(pod) or not (full_pass or inplace.never_refreshed(pod)):
            continue
        refreshed = r.refresh_pod(pod, None, name_of(update))
        r.emit(*refreshed.actions)
        r.wait(refreshed.requeue_after)

    # 4.
    node_pods = nodes_to_daemon_pods(pods)
    eligibility = eligibility_by_node(nodes, ds)
    status = compute_status(ds, nodes, node_pods, hash_, now, full_sync=full_pass, eligibility=eligibility)
    if revs.collision_count != ds.collision_count:
        status["collisionCount"] = revs.collision_count
    if status_needs_write(ds, status) or revs.collision_count != ds.collision_count:
        r.emit(update_status(status))
    r.wait(status_requeue_after(ds, nodes, node_pods, now, eligibility))

    # 5.
    r.emit(*(Event(e.type, e.reason, e.message) for e in decision.events))
    names = context.names or RandomNames()
    taken = set(pods_by_name)
    template = daemon_pod_template(ds, hash_)
    _emit_sync(r, ds, decision.sync, pods_by_name, owner, template, names, taken)
    recreate: list[PodDeletion] = []
    for planned in decision.update_in_place:
        pod = pods_by_name[planned.name]
        res = inplace.plan_pod_update(
            pod, revs.owned, update, policy=inplace.IN_PLACE_IF_POSSIBLE, lifecycle_spec=None, now=now,
            pod_revision_labels={CONTROLLER_REVISION_HASH_LABEL: hash_}, in_place_only_error="",
            always_set_updating=False)
        if res is None:  # not in-place-able after all: it joins the deletions (A11.4)
            recreate.append(PodDeletion(planned.name, planned.node, planned.reason))
            continue
        if res.started:
            r.holding.add(planned.name)
        r.emit(*res.actions)
        r.wait(res.requeue_after)
        if res.error:
            r.emit(Event("Warning", "FailedUpdatePodInPlace", f"failed to update pod {planned.name} in-place"
                                                               f"(revision {name_of(update)}): {res.error}"))
    if recreate:
        _emit_sync(r, ds, sync_nodes(ds, recreate, [], pods_by_name), pods_by_name, owner, template, names, taken)

    # 6.
    if full_pass:
        live = live_revision_names(revs.owned, pods, name_of(update), name_of(update))
        r.emit(*truncate_history(revs.owned, live, ds.revision_history_limit))

    # 7.
    r.emit(*_predownload(ds, owner, revs, hash_, observed.get(predownload.IMAGE_PULL_JOBS, [])))
    return Plan(r.finish(), earliest(r.requeue_after), r.memory(pods, backoff=decision.backoff))
