"""Advanced StatefulSet reconcile: observed state in, a `Plan` out (`pkg/controller/statefulset/
stateful_set_control.go UpdateStatefulSet`, itself Kubernetes' `pkg/controller/statefulset` with kruise's
additions).

    plan = reconcile(statefulset, pods, pvcs, revisions, now)

`statefulset` is the stored apps.kruise.io/v1beta1 object; `pods` the pods it controls (terminating ones
included); `pvcs` the PVCs of its namespace named `<template>-<statefulset>-<ordinal>` (whatever their owners);
`revisions` its ControllerRevisions.

The steps, in upstream order:
1. resolve the current and update ControllerRevisions (create one, or bump an identical old one on rollback);
2. take the members among the pods it controls (named `<statefulset>-<ordinal>`, selected by the selector);
   the runtime's ClaimPods (`common.ownership.claim_pods` with `is_member`) has adopted and released before;
3. lay the members out by ordinal: the replicas (ordinals in range, reserved ones skipped) and the condemned;
4. unless the StatefulSet is being deleted: scale (`scale.py`), then, for RollingUpdate, update (`update.py`);
   OrderedReady stops at the first step that has to wait;
5. the status, written only when it changed; it goes before the pod actions so that it is written even when
   one of them fails (upstream updates the status whatever the outcome of the round); a create that failed in
   the previous round shows as the FailedCreatePod condition;
6. truncate the revision history.
Everything is level-based: the same observed state gives the same plan, and a converged StatefulSet asks for
nothing.
"""
from __future__ import annotations

from typing import Any

from controllers.common.actions import PODS, PVCS, REVISIONS, ActionFailure, Context, Create, Plan, earliest, update_status
from controllers.common.ownership import is_controlled_by
from controllers.common.round import seen_drains
from controllers.common.objects import labels_of, meta, name_of
from controllers.common.times import as_utc
from controllers.common.revision import (live_revision_names, resolve_revisions, template_from_revision,
                                         template_revision_data, truncate_history)
from controllers.common.selectors import is_valid_selector, selector_matches
from controllers.common.status import status_changed, with_conditions

from .ordinals import OrdinalRange, parent_and_ordinal, pod_name
from .round import Round, lay_out
from .scale import process_condemned, process_replicas
from .spec import API_VERSION, KIND, ROLLING_UPDATE, StatefulSetView
from .status import CONDITION_TYPES, FAILED_CREATE_POD, calculate_status, min_ready_requeue
from .update import rolling_update

JSON = dict[str, Any]


def is_member(statefulset: JSON, pod: JSON) -> bool:
    """isMemberOf, strictly: the pod is named `<statefulset>-<ordinal>` (ClaimPods' filter, with the selector)."""
    name = meta(statefulset).get("name") or ""
    parent, ordinal = parent_and_ordinal(name_of(pod))
    return parent == name and ordinal >= 0 and name_of(pod) == pod_name(name, ordinal)


def _members(sts: StatefulSetView, pods: list[JSON]) -> list[tuple[int, JSON]]:
    """(ordinal, pod) of the set's members. The runtime has claimed the pods (adopting orphans, releasing pods
    that no longer match); anything else it is handed is left alone."""
    return [(parent_and_ordinal(name_of(pod))[1], pod) for pod in sorted(pods, key=name_of)
            if is_controlled_by(pod, sts.obj) and is_member(sts.obj, pod)
            and selector_matches(sts.selector, labels_of(pod))]


def _failed_create(last_failure: ActionFailure | None, actions: list) -> str | None:
    """The FailedCreatePod message: the previous plan failed to create a pod (or its claims) and this round
    creates again. Upstream sets the condition in the round whose create failed; here the executor meets the
    error after the status is written, so it shows from the next round on, for as long as creates fail."""
    if last_failure is None or last_failure.action not in ("create pods", "create persistentvolumeclaims"):
        return None
    # `actions` is the round's: markers such as inplace.Undrain sit among the actions until `finish`.
    if not any(isinstance(a, Create) and a.resource == PODS for a in actions):
        return None
    return f"StatefulPodControl failed to create Pod error: {last_failure.message}"


def reconcile(statefulset: dict, observed: dict[str, list[dict]], context: Context) -> Plan:
    """Everything the StatefulSet needs now, in execution order, from its pods, PVCs and revisions.
    `context.last_failure`: how the previous plan failed; `context.gates`: the manager's feature gates (None: all
    at their defaults; StatefulSetStartOrdinal is read)."""
    pods, pvcs, revisions = (observed.get(r, []) for r in (PODS, PVCS, REVISIONS))
    now, last_failure = as_utc(context.now), context.last_failure
    sts = StatefulSetView(statefulset, context.gates)
    if not is_valid_selector(sts.selector):
        return Plan([], None)  # a non-transient error: upstream logs it and does not retry

    # 1.
    revs = resolve_revisions(parent=statefulset, api_version=API_VERSION, kind=KIND,
                             data=template_revision_data(sts.template), template_labels=sts.template_labels,
                             revisions=revisions, collision_count=sts.collision_count,
                             current_revision_name=sts.current_revision, annotations=sts.annotations)
    actions: list = list(revs.actions)
    update_name, current_name = name_of(revs.update), name_of(revs.current)

    # 2.
    members = _members(sts, pods)

    # 3.
    rng = OrdinalRange.of(sts.start_ordinal, sts.replicas, sts.reserved)
    current_template = template_from_revision(revs.current) or sts.template
    slots, condemned = lay_out(sts, members, rng, update_name, current_name, current_template, sts.template, now)
    by_name = {name_of(c): c for c in pvcs}
    r = Round(sts=sts, now=now, range=rng, current=revs.current, update=revs.update, revisions=revs.owned,
              current_template=current_template, update_template=sts.template, slots=slots, condemned=condemned,
              pvcs=by_name, scale_budget=sts.scale_max_unavailable, seen_drains=seen_drains(context.memory))

    # 4.
    if not sts.deleting:
        if process_replicas(r) and process_condemned(r) and sts.update_type == ROLLING_UPDATE:
            rolling_update(r)

    if (message := _failed_create(last_failure, r.actions)) is not None:
        r.fail(FAILED_CREATE_POD, message)

    # 5.
    replicas = [(s.ordinal, s.pod) for s in slots if s.pod is not None]
    status = calculate_status(sts, replicas, condemned, missing=len(slots) - len(replicas), update_revision=update_name,
                              current_revision=current_name, collision_count=revs.collision_count, pvcs=by_name,
                              now=now)
    status = with_conditions(status, sts.status, r.failures, CONDITION_TYPES, now)
    if status_changed(sts.status, status):
        actions.append(update_status(status))
    actions += r.finish()

    # 6.
    live = live_revision_names(revs.owned, pods, status["currentRevision"], update_name)
    actions += truncate_history(revs.owned, live, sts.revision_history_limit)
    member_pods = [p for _, p in replicas + condemned]
    return Plan(actions, earliest(*r.delays, min_ready_requeue(sts, member_pods, now)), r.memory(pods))
