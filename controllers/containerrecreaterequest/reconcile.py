"""The manager's ContainerRecreateRequest controller (kruise-daemon.md §3.3, upstream
`pkg/controller/containerrecreaterequest/crr_controller.go`): a pure reconcile, one request and its pod in,
a plan out.

    plan = reconcile(crr, {pods: [the pod named by spec.podName, if any]}, context)

The daemon does the recreating; this controller does what needs the API server's view:
1. a completed or deleted request: give the pod's readiness back (KruisePodReady message and the finalizer
   that guards it), drop the `active` label (so the daemon stops listing it), delete it after its TTL;
2. complete a request whose pod is gone (deleted, or another pod under the name), that no daemon took within
   a minute, or whose activeDeadlineSeconds passed;
3. while Recreating: copy the recreated containers' pod status into the sync-container-statuses annotation
   (the daemon counts a container Succeeded from it: the kubelet's readiness is not in CRI), and with
   unreadyGracePeriodSeconds hold the pod not-ready (KruisePodReady False, the finalizer first so the hold is
   always released) and record when, in the unready-acquired annotation the daemon waits on.
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from controllers.common.actions import PODS, WORKLOAD, Context, Delete, Patch, Plan, earliest
from controllers.common.keys import KRUISE_POD_READY
from controllers.common.objects import finalizers_of, is_terminating, uid_of
from controllers.common.podreadiness import add_not_ready_key, remove_not_ready_key
from controllers.common.pods import container_statuses_of, has_readiness_gate
from controllers.common.times import as_utc, format_time, parse_time, seconds_until

from . import api

JSON = dict[str, Any]


def select_pod(crr: JSON, pods: list[JSON]) -> list[JSON]:
    """The `named` watch's choice: the pod spec.podName names, in the request's namespace."""
    name = api.spec(crr).get("podName")
    return [p for p in pods if p["metadata"]["name"] == name]


def complete(message: str, now) -> Patch:
    """A merge patch of the status: containerRecreateStates stay the daemon's."""
    body = {"status": api.completed_status(format_time(now), message)}
    return Patch(WORKLOAD, "", body, "merge", "status")


def _finalizers_patch(crr: JSON, finalizers: list[str]) -> Patch:
    # resourceVersion: a concurrent change to the list fails the patch instead of being overwritten.
    meta = {"finalizers": finalizers or None, "resourceVersion": crr["metadata"].get("resourceVersion")}
    return Patch(WORKLOAD, "", {"metadata": meta}, "merge")


def _release_pod_not_ready(crr: JSON, pod: JSON | None, now) -> list:
    """releasePodNotReady: our message leaves KruisePodReady (True again once none is left), then the
    finalizer goes."""
    actions: list = []
    if pod is not None:
        patch = remove_not_ready_key(pod, api.pod_key(crr), now, api.USER_AGENT)
        if patch:
            actions.append(patch)
    finalizers = [f for f in finalizers_of(crr) if f != api.UNREADY_ACQUIRED_KEY]
    actions.append(_finalizers_patch(crr, finalizers))
    return actions


def _acquire_pod_not_ready(crr: JSON, pod: JSON, now) -> list:
    """acquirePodNotReady: with the KruisePodReady gate, the finalizer first, then our message makes the pod
    not ready; without the gate the pod cannot be held (upstream only logs). Either way the time is recorded,
    which is what the daemon waits on."""
    actions: list = []
    if has_readiness_gate(pod, KRUISE_POD_READY):
        if api.UNREADY_ACQUIRED_KEY not in finalizers_of(crr):
            actions.append(_finalizers_patch(crr, [*finalizers_of(crr), api.UNREADY_ACQUIRED_KEY]))
        patch = add_not_ready_key(pod, api.pod_key(crr), now, api.USER_AGENT)
        if patch:
            actions.append(patch)
    annotations = {api.UNREADY_ACQUIRED_KEY: format_time(now)}
    actions.append(Patch(WORKLOAD, "", {"metadata": {"annotations": annotations}}, "merge"))
    return actions


def synced_container_statuses(crr: JSON, pod: JSON) -> list[JSON]:
    """syncContainerStatuses: for each requested container running since the request was made, what the pod
    says of it (the kubelet's readiness, which CRI does not know)."""
    created = api.created(crr)
    by_name = {s.get("name"): s for s in container_statuses_of(pod)}
    out = []
    for container in api.spec(crr).get("containers") or []:
        cs = by_name.get(container.get("name"))
        started = parse_time((((cs or {}).get("state") or {}).get("running") or {}).get("startedAt"))
        if cs is None or started is None or created is None or started < created:
            continue
        out.append({"name": cs["name"], "ready": bool(cs.get("ready")), "restartCount": cs.get("restartCount", 0),
                    "containerID": cs.get("containerID", "")})
    return out


def _deadlines(crr: JSON, now) -> float | None:
    """Seconds to the next moment the request must be looked at again without any event."""
    created = api.created(crr)
    if created is None:
        return None
    waits = []
    if not api.phase(crr):
        waits.append(seconds_until(created + timedelta(seconds=api.DAEMON_RESPONSE_SECONDS), now))
    deadline = api.spec(crr).get("activeDeadlineSeconds")
    if deadline:
        waits.append(seconds_until(created + timedelta(seconds=deadline), now))
    return earliest(*waits)


def _finished(crr: JSON, pod: JSON | None, now) -> Plan:
    actions: list = []
    if api.UNREADY_ACQUIRED_KEY in finalizers_of(crr):
        actions += _release_pod_not_ready(crr, pod, now)
    if api.is_deleting(crr):
        return Plan(actions)
    if api.ACTIVE_LABEL in api.labels(crr):
        actions.append(Patch(WORKLOAD, "", {"metadata": {"labels": {api.ACTIVE_LABEL: None}}}, "merge"))
        return Plan(actions)
    ttl = api.spec(crr).get("ttlSecondsAfterFinished")
    completed = parse_time(api.status(crr).get("completionTime"))
    if ttl is None or completed is None:
        return Plan(actions)
    left = seconds_until(completed + timedelta(seconds=ttl), now)
    if left <= 0:
        actions.append(Delete(WORKLOAD, crr["metadata"]["name"], uid_of(crr)))
        return Plan(actions)
    return Plan(actions, requeue_after=left)


def reconcile(crr: JSON, observed: dict[str, list[JSON]], context: Context) -> Plan:
    now = as_utc(context.now)
    pods = select_pod(crr, observed.get(PODS, []))
    pod = pods[0] if pods else None
    if api.is_deleting(crr) or api.is_completed(crr):
        return _finished(crr, pod, now)
    if pod is None or is_terminating(pod) or uid_of(pod) != api.labels(crr).get(api.POD_UID_LABEL):
        return Plan([complete(api.POD_GONE, now)])
    created = api.created(crr) or now
    age = seconds_until(now, created)
    if not api.phase(crr) and age >= api.DAEMON_RESPONSE_SECONDS:
        return Plan([complete(api.DAEMON_SILENT, now)])
    deadline = api.spec(crr).get("activeDeadlineSeconds")
    if deadline and age >= deadline:
        return Plan([complete(api.DEADLINE_EXCEEDED, now)])
    if api.phase(crr) != api.RECREATING:
        return Plan([], requeue_after=_deadlines(crr, now))

    actions: list = []
    synced = synced_container_statuses(crr, pod)
    if list(api.synced_statuses(crr).values()) != synced:
        value = json.dumps(synced, separators=(",", ":"))
        annotations = {api.SYNC_CONTAINER_STATUSES_ANNOTATION: value}
        actions.append(Patch(WORKLOAD, "", {"metadata": {"annotations": annotations}}, "merge"))
    if api.strategy(crr).get("unreadyGracePeriodSeconds") and not api.annotations(crr).get(api.UNREADY_ACQUIRED_KEY):
        actions += _acquire_pod_not_ready(crr, pod, now)
    return Plan(actions, requeue_after=_deadlines(crr, now))
