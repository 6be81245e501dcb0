"""UnitedDeployment reconcile: observed state in, a `Plan` out (`uniteddeployment_controller.go Reconcile`,
openkruise-1.9/daemonset-uniteddeployment.md B5).

    plan = reconcile(ud, {<the four workload resources>, controllerrevisions.apps, pods}, context)

`observed` holds the subset workloads of every kind this UnitedDeployment controls, its ControllerRevisions, and
the pods its selector matches in its namespace (the subset workloads' pods: their selectors are the
UnitedDeployment's plus the subset name). The steps, in upstream's order:
1. the revision of `spec.template` (common/revision: reuse, rollback, collisions); pods and workloads carry its
   name in `apps.kruise.io/controller-revision-hash`; condition UnitedDeploymentUpdated;
2. the existing subsets: the template kind's workloads by label `apps.kruise.io/subset-name` (a duplicate is
   deleted, so are the workloads of the other three kinds);
3. Adaptive: each existing subset's Schedulable condition and whether it is unschedulable (`adaptive`);
4. the allocation (`allocator`: reservation, adaptive, min/max or specific); on error a Warning
   `Failed SpecifySubsetReplicas` and nothing else (no status write, as upstream);
5. the partitions (B10), then the subsets: created for new topology subsets, deleted when dropped, updated when
   the revision, replicas, partition or patch differ, or a rollout is still running (B9.4);
6. the status (B4), written when it changed.
"""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from controllers import schema
from controllers.common.actions import PODS, REVISIONS, Context, Create, Delete, Event, Patch, Plan, earliest, patch_pod
from controllers.common.objects import is_terminating, labels_of, meta, name_of, uid_of
from controllers.common.pods import is_pod_active, is_pod_ready
from controllers.common.revision import resolve_revisions, sort_revisions, template_revision_data, truncate_history
from controllers.common.selectors import selector_matches, selector_string
from controllers.common.status import status_changed
from controllers.common.strategicmerge import StrategicMergeError
from controllers.common.times import as_utc, format_time, parse_time
from controllers.common.view import typed

from . import allocator
from .adapters import (ADAPTERS, API_VERSION, KIND, RESERVED_POD_LABEL, REVISION_LABEL, SUBSET_NAME_LABEL,
                       SUBSET_PATCH_ANNOTATION, Adapter, adapter_for, subset_patch_text, subset_workload)
from .adaptive import SubsetAdaptive, default_adaptive, reservation_adaptive, set_condition

JSON = dict[str, Any]

UPDATED = "UnitedDeploymentUpdated"
PROVISIONED = "SubsetProvisioned"
SUBSET_UPDATED = "SubsetUpdated"
SUBSET_FAILURE = "SubsetFailure"
SUBSET_TYPES = {"cloneSetTemplate": "CloneSet", "advancedStatefulSetTemplate": "AdvancedStatefulSet",
                "statefulSetTemplate": "StatefulSet", "deploymentTemplate": "Deployment"}
STATEFULSET_POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"


def set_ud_condition(conditions: list[JSON], ctype: str, status: str, reason: str, message: str,
                     now: datetime) -> list[JSON]:
    """SetUnitedDeploymentCondition: unchanged when status and reason are equal (even if the message differs);
    the same status with another reason keeps the old transition time."""
    old = next((c for c in conditions if c.get("type") == ctype), None)
    if old is not None and old.get("status") == status and (old.get("reason") or "") == reason:
        return conditions
    since = old.get("lastTransitionTime") if old is not None and old.get("status") == status else format_time(now)
    new = {"type": ctype, "status": status, "lastTransitionTime": since}
    new.update({k: v for k, v in (("reason", reason), ("message", message)) if v})  # omitempty, as Go writes it
    return [c for c in conditions if c.get("type") != ctype] + [new]


def _subsets_of(workloads: list[JSON]) -> tuple[dict[str, JSON], list[JSON]]:
    """getExistingSubsets: workloads by subset name (the oldest kept) and the duplicates to delete; workloads
    without the label are ignored."""
    by_name: dict[str, JSON] = {}
    duplicates: list[JSON] = []
    ordered = sorted(workloads, key=lambda w: (str(meta(w).get("creationTimestamp") or ""), name_of(w)))
    for workload in ordered:
        subset = labels_of(workload).get(SUBSET_NAME_LABEL)
        if subset is None or is_terminating(workload):
            continue
        if subset in by_name:
            duplicates.append(workload)
        else:
            by_name[subset] = workload
    return by_name, duplicates


def _ordinal(pod: JSON) -> int | None:
    name = name_of(pod)
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _workload_name(ud_name: str, subset: str, names: Any, taken: set[str]) -> str:
    prefix = f"{ud_name}-{subset}-"
    if len(prefix) > 253 - 5:
        prefix = f"{ud_name}-"  # upstream's fallback when the prefix is no valid name
    for _ in range(10_000):
        name = prefix + names.suffix()
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("no free subset workload name")


def reconcile(ud: dict, observed: dict[str, list[dict]], context: Context) -> Plan:
    now = as_utc(context.now)
    if is_terminating(ud):
        return Plan([])
    read = schema.as_read(typed(ud, API_VERSION, KIND), schema.feature_gates(dict(context.gates or {})))
    spec = read.get("spec") or {}
    adapter = adapter_for(spec.get("template") or {})
    selector = spec.get("selector") or {}
    if adapter is None or not selector.get("matchLabels"):
        return Plan([])  # the webhook refuses both; nothing can be provisioned
    old_status = ud.get("status") or {}
    status: JSON = copy.deepcopy(old_status)
    actions: list = []
    topology = (spec.get("topology") or {})
    subsets = [s for s in topology.get("subsets") or [] if isinstance(s, dict) and s.get("name")]
    strategy = topology.get("scheduleStrategy") or {}
    adaptive = strategy.get("type") == "Adaptive"
    timers = strategy.get("adaptive") or {}
    critical = float(timers.get("rescheduleCriticalSeconds", 30))
    duration = float(timers.get("unschedulableDuration", 300))
    reservation = adaptive and bool(timers.get("reserveUnschedulablePods"))

    # initStatus: an entry per topology subset (never removed, as upstream)
    statuses = [dict(s) for s in status.get("subsetStatuses") or [] if isinstance(s, dict)]
    had_statuses = bool(statuses)
    known = {s.get("name") for s in statuses}
    for subset in subsets:
        if subset["name"] not in known:
            entry: JSON = {"name": subset["name"]}
            if reservation and had_statuses:
                # a subset added to a running UnitedDeployment starts marked (B8.2: "created")
                entry["conditions"] = set_condition([], "False", "created", "newly-created subsets in reservation "
                                                    "strategy", now)
            statuses.append(entry)
    status_by_name = {s.get("name"): s for s in statuses}

    # 1. revisions
    template = (ud.get("spec") or {}).get("template") or {}
    workload_labels = (meta(template.get(adapter.template) or {}).get("labels")) or {}
    revs = resolve_revisions(parent=ud, api_version=API_VERSION, kind=KIND, data=template_revision_data(template),
                             template_labels=workload_labels, revisions=observed.get(REVISIONS, []),
                             collision_count=int(old_status.get("collisionCount") or 0),
                             current_revision_name=old_status.get("currentRevision"))
    actions.extend(revs.actions)
    expected = name_of(revs.update)
    current = name_of(revs.current)
    conditions = [dict(c) for c in status.get("conditions") or [] if isinstance(c, dict)]
    if current == expected:
        conditions = set_ud_condition(conditions, UPDATED, "True", "UnitedDeploymentRevisionUpdated",
                                      f"updated to revision {expected}", now)
    else:
        conditions = set_ud_condition(conditions, UPDATED, "False", "UnitedDeploymentRevisionUpdating",
                                      f"updating to revision {expected}", now)
    updated_condition = next((c for c in conditions if c.get("type") == UPDATED), None)
    updated_since = parse_time((updated_condition or {}).get("lastTransitionTime"))

    # 2. existing subsets
    existing, duplicates = _subsets_of(observed.get(adapter.resource, []))
    deletions: list[JSON] = list(duplicates)
    others = [(a, w) for a in ADAPTERS.values() if a is not adapter for w in observed.get(a.resource, [])
              if not is_terminating(w)]
    pods = [p for p in observed.get(PODS, []) if selector_matches(selector, labels_of(p))]
    pods_of = {name: [p for p in pods if labels_of(p).get(SUBSET_NAME_LABEL) == name] for name in existing}

    # 3. Adaptive
    waits: list[float | None] = []
    states: dict[str, allocator.SubsetState] = {}
    per_subset: dict[str, SubsetAdaptive] = {}
    for subset in subsets:
        name = subset["name"]
        workload = existing.get(name)
        if workload is None:
            continue
        entry = status_by_name[name]
        conds = [dict(c) for c in entry.get("conditions") or []]
        if reservation:
            # pods on their way out count for nothing: a recreate-update would otherwise count the old reserved
            # pods next to their replacements, and hand the difference to later subsets for good
            live = [p for p in pods_of[name] if not is_terminating(p)]
            result = reservation_adaptive(conds, workload, live, expected, updated_since, critical, duration, now)
        elif adaptive:
            result = default_adaptive(conds, workload, pods_of[name], critical, duration, now)
        else:
            wl_status = workload.get("status") or {}
            result = SubsetAdaptive(allocator.SubsetState(True, int(wl_status.get("readyReplicas") or 0),
                                                          int((workload.get("spec") or {}).get("replicas") or 0)),
                                    conds)
        per_subset[name] = result
        states[name] = result.state
        if result.conditions:
            entry["conditions"] = result.conditions
        waits.extend(result.waits)

    # 4. allocation
    specs = [allocator.SubsetSpec.from_dict(s) for s in subsets]
    try:
        if reservation:
            nexts = allocator.reservation_allocation(spec.get("replicas"), specs, states)
        elif adaptive:
            nexts = allocator.adaptive_allocation(spec.get("replicas"), specs, states)
        elif any(s.min_replicas is not None or s.max_replicas is not None for s in specs):
            nexts = allocator.min_max_allocation(spec.get("replicas"), specs)
        else:
            current_replicas = {n: int((w.get("spec") or {}).get("replicas") or 0) for n, w in existing.items()}
            nexts = allocator.specific_allocation(spec.get("replicas"), specs, current_replicas)
    except allocator.AllocationError as error:
        return Plan(actions + [Event("Warning", "Failed SpecifySubsetReplicas",
                                     f"Specified subset replicas is ineffective: {error}")])
    if reservation:
        for name, state in states.items():
            if not state.unschedulable and state.marked and nexts.get(name, 0) > state.spec_replicas:
                entry = status_by_name[name]
                entry["conditions"] = set_condition(entry.get("conditions") or [], "False", "reschedule",
                                                    "subset just recovered scaled up", now)
    for name, result in per_subset.items():
        for pod_name, reserved in sorted(result.reserved_labels.items()):
            actions.append(patch_pod(pod_name, {"metadata": {"labels": {RESERVED_POD_LABEL: str(reserved).lower()}}}))

    # 5. partitions (B10) and the subsets
    update_strategy = spec.get("updateStrategy") or {}
    manual = (update_strategy.get("manualUpdate") or {}).get("partitions") or {}
    partitions = {}
    for subset in subsets:
        p = manual.get(subset["name"], 0) if update_strategy.get("type", "Manual") == "Manual" else 0
        partitions[subset["name"]] = min(int(p or 0), nexts[subset["name"]])

    provisioned = False
    manage: list = []
    for other, workload in others:
        manage.append(Delete(other.resource, name_of(workload), uid_of(workload)))
    if others:
        manage.append(Event("Normal", "SuccessfulUpdateSubset", f"Delete {len(others)} Subset (other kinds)"))
    topology_names = {s["name"] for s in subsets}
    dropped = [w for n, w in existing.items() if n not in topology_names] + deletions
    for workload in dropped:
        manage.append(Delete(adapter.resource, name_of(workload), uid_of(workload)))
    if dropped:
        manage.append(Event("Normal", "SuccessfulUpdateSubset",
                            f"Delete {len(dropped)} Subset ({SUBSET_TYPES[adapter.template]})"))
    provisioned = bool(others or dropped)
    taken = {name_of(w) for w in observed.get(adapter.resource, [])}
    created = 0
    for subset in subsets:
        if subset["name"] in existing:
            continue
        try:
            body = subset_workload(ud, adapter, subset, expected, nexts[subset["name"]], partitions[subset["name"]],
                                   name=_workload_name(name_of(ud), subset["name"], context.names, taken))
        except StrategicMergeError as error:
            manage.append(Event("Warning", "FailedUpdateSubset", f"Error creating PodSet ({SUBSET_TYPES[adapter.template]})"
                                f" for subset {subset['name']}: {error}"))
            continue
        manage.append(Create(adapter.resource, body))
        created += 1
    if created:
        manage.append(Event("Normal", "SuccessfulUpdateSubset",
                            f"Create {created} Subset ({SUBSET_TYPES[adapter.template]})"))
        provisioned = True
        if adaptive:
            waits.append(critical)
    failed = False
    for subset in subsets:
        name = subset["name"]
        workload = existing.get(name)
        if workload is None:
            continue
        update, grew = _subset_update(ud, adapter, subset, workload, pods_of[name], expected, nexts[name],
                                      partitions[name], per_subset.get(name) if reservation else None)
        if update is None:
            continue
        if isinstance(update, Event):
            manage.append(update)
            failed = True
            continue
        manage.extend(update)
        if adaptive and grew:
            waits.append(critical)  # look again once the new pods had their chance to be scheduled
    actions.extend(manage)
    if provisioned:
        conditions = set_ud_condition(conditions, PROVISIONED, "True", "", "", now)
    if not failed:
        conditions = set_ud_condition(conditions, SUBSET_UPDATED, "True", "", "", now)
    conditions = [c for c in conditions if c.get("type") != SUBSET_FAILURE]

    # 6. status (B4)
    replicas = reserved = ready = updated = updated_ready = 0
    for name, workload in existing.items():
        wl_status = workload.get("status") or {}
        subset_reserved = per_subset[name].state.reserved if name in per_subset else 0
        replicas += max(0, int(wl_status.get("replicas") or 0) - subset_reserved)
        reserved += subset_reserved
        ready += int(wl_status.get("readyReplicas") or 0)
        for pod in pods_of[name]:
            if is_pod_active(pod) and labels_of(pod).get(REVISION_LABEL) == expected:
                updated += 1
                updated_ready += is_pod_ready(pod)
        entry = status_by_name.get(name)
        if entry is not None:
            entry.update(replicas=int(wl_status.get("replicas") or 0),
                         readyReplicas=int(wl_status.get("readyReplicas") or 0),
                         partition=partitions.get(name, 0), reservedPods=subset_reserved)
    current_revision = old_status.get("currentRevision") or current
    if expected != current_revision and updated_ready >= replicas:
        current_revision = expected
    label_selector = selector_string(selector)
    if reservation:
        label_selector += f",{RESERVED_POD_LABEL}=false"
    status.update(observedGeneration=meta(ud).get("generation"), replicas=replicas, reservedPods=reserved,
                  readyReplicas=ready, updatedReplicas=updated, updatedReadyReplicas=updated_ready,
                  subsetReplicas=nexts, subsetStatuses=statuses, currentRevision=current_revision,
                  collisionCount=revs.collision_count,
                  updateStatus={"updatedRevision": expected, "currentPartitions": partitions},
                  labelSelector=label_selector, conditions=conditions)
    if status_changed(old_status, status) or old_status.get("observedGeneration") != status["observedGeneration"]:
        actions.append(Patch("workload", "", {"status": _merge_patch_of(old_status, status)}, subresource="status"))

    # revision history (cleanExpiredRevision), once the round got this far
    limit = int(spec.get("revisionHistoryLimit", 10))
    actions.extend(truncate_history(sort_revisions(revs.owned), {current, expected, current_revision}, limit))
    return Plan(actions, requeue_after=earliest(*waits))


def _subset_update(ud: JSON, adapter: Adapter, subset: JSON, workload: JSON, pods: list[JSON], expected: str,
                   replicas: int, partition: int, reservation: SubsetAdaptive | None) -> tuple[Any, bool]:
    """B9.4: (the actions updating one subset workload, or a Warning event, or None; did it grow)."""
    wl_spec = workload.get("spec") or {}
    wl_status = workload.get("status") or {}
    spec_replicas = int(wl_spec.get("replicas") or 0) if wl_spec.get("replicas") is not None else 1
    drift = (labels_of(workload).get(REVISION_LABEL) != expected
             or spec_replicas != replicas
             or (adapter.has_partition and adapter.partition_of(workload, pods) != partition)
             or (meta(workload).get("annotations") or {}).get(SUBSET_PATCH_ANNOTATION, "") != subset_patch_text(subset))
    rolling = int(wl_status.get("updatedReplicas") or 0) < int(wl_status.get("replicas") or 0)
    if not drift and not rolling:
        return None, False
    max_unavailable = None
    if reservation is not None and reservation.state.unschedulable:
        # B8.2: reserved pods must not block the rollout of an unschedulable subset
        max_unavailable = (reservation.state.spec_replicas - int(wl_status.get("readyReplicas") or 0)
                           + reservation.update_timeout_pods)
    try:
        desired = subset_workload(ud, adapter, subset, expected, replicas, partition, existing=workload,
                                  max_unavailable=max_unavailable)
    except StrategicMergeError as error:
        return Event("Warning", "FailedUpdateSubset", f"Error updating PodSet ({SUBSET_TYPES[adapter.template]}) "
                     f"{name_of(workload)} when updating: {error}"), False
    ops = [{"op": "add", "path": "/metadata/labels", "value": desired["metadata"]["labels"]},
           {"op": "add", "path": "/metadata/annotations", "value": desired["metadata"]["annotations"]}]
    if uid_of(workload):
        # The subset workload as seen: one deleted and recreated under the name meanwhile is not overwritten (the
        # patch is atomic: a failed test applies none of it).
        ops.append({"op": "test", "path": "/metadata/uid", "value": uid_of(workload)})
    ops.append({"op": "replace", "path": "/spec", "value": desired["spec"]})
    if ops_unchanged(workload, desired) or (not drift and _contained(desired, workload)):
        # a rollout still running re-applies the template (upstream's Update); when the workload already holds
        # all of it (the API server only added defaults), that write would change nothing
        return None, False
    actions: list = [Patch(adapter.resource, name_of(workload), ops, "json")]  # type: ignore[arg-type]
    if adapter.resource == "statefulsets.apps":
        # PostUpdate deleteStuckPods (kubernetes#67250): pods at or above the partition, at an old revision and
        # not ready, would never be replaced by the StatefulSet controller
        for pod in pods:
            ordinal = _ordinal(pod)
            if (ordinal is not None and ordinal >= partition and labels_of(pod).get(REVISION_LABEL) != expected
                    and not is_pod_ready(pod) and not is_terminating(pod)):
                actions.append(Delete(PODS, name_of(pod), uid_of(pod)))
    return actions, replicas > spec_replicas


def _merge_patch_of(old: JSON, new: JSON) -> JSON:
    """The whole status as a merge patch: map entries of subsets no longer allocated are removed (null)."""
    body = copy.deepcopy(new)
    for key in set(old.get("subsetReplicas") or {}) - set(new.get("subsetReplicas") or {}):
        body["subsetReplicas"][key] = None
    old_partitions = (old.get("updateStatus") or {}).get("currentPartitions") or {}
    for key in set(old_partitions) - set(new["updateStatus"]["currentPartitions"]):
        body["updateStatus"]["currentPartitions"][key] = None
    return body


def _contained(want: Any, have: Any) -> bool:
    """`have` holds every field of `want` with the same value (it may hold more: defaults)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and _contained(v, have[k]) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(want) == len(have) and all(map(_contained, want, have))
    return want == have


def ops_unchanged(workload: JSON, desired: JSON) -> bool:
    """Nothing to write: the labels, annotations and spec are already what `desired` says (a running rollout
    re-applies the same spec; upstream's Update is then a no-op)."""
    return (meta(workload).get("labels") == desired["metadata"]["labels"]
            and meta(workload).get("annotations") == desired["metadata"]["annotations"]
            and workload.get("spec") == desired["spec"])
