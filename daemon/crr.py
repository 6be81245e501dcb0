"""The kruise-daemon's ContainerRecreateRequest algorithm (kruise-daemon.md §3.4, upstream
`pkg/daemon/containerrecreate/crr_daemon_controller.go`, `crr_daemon_util.go`), as pure functions: requests
and the runtime's containers in, what to do this round out. `daemon/recreator.py` carries it out.

One round for one pod (the queue key is `namespace/podName`, so a pod's requests are handled one at a time):
1. `pick`: the request to work on (by phase, Recreating first, then age); the others still new become Pending;
2. a picked request not yet Recreating becomes Recreating (one write, the next round goes on);
3. with unreadyGracePeriodSeconds, wait for the manager's unready-acquired time, then for the grace to pass;
4. `manage`: the containers' states from the runtime (`current_states`); if they changed, write them and stop;
   else walk them in order: at most one container is killed per round; orderedRecreate waits for the one
   killed before to succeed; the request completes when every container succeeded or failed (or at the first
   failure with failurePolicy Fail).
The kubelet restarts a killed container (the daemon never starts one); the manager copies the pod's view of it
(ready, containerID) into an annotation, whose change wakes the next round.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controllers.common.times import as_utc, parse_time, seconds_until
from controllers.containerrecreaterequest import api

from .cri import EXITED, ContainerInfo

JSON = dict[str, Any]

PHASE_WEIGHT = {api.COMPLETED: 1, api.RECREATING: 2, api.PENDING: 3, "": 4}
NOT_FOUND_ON_NODE = "not found container on Node"


def order(crrs: list[JSON]) -> list[JSON]:
    """Recreating before Pending before new, the older first (upstream's sort)."""
    return sorted(crrs, key=lambda c: (PHASE_WEIGHT.get(api.phase(c), 4), c["metadata"].get("creationTimestamp", ""),
                                       c["metadata"]["name"]))


def is_active(crr: JSON) -> bool:
    return not api.is_deleting(crr) and not api.is_completed(crr)


def pick(crrs: list[JSON]) -> tuple[JSON | None, list[JSON]]:
    """The request to work on, and the other new ones, which become Pending (they wait for it)."""
    active = [c for c in order(crrs) if is_active(c)]
    if not active:
        return None, []
    return active[0], [c for c in active[1:] if not api.phase(c)]


def runtime_of(crr: JSON) -> tuple[str | None, str]:
    """The runtime name every container's statusContext.containerID starts with (`containerd` of
    `containerd://<id>`), or None and why not."""
    prefixes = {(c.get("statusContext") or {}).get("containerID", "").partition("://")[0]
                for c in api.spec(crr).get("containers") or []}
    if len(prefixes) != 1 or not next(iter(prefixes)):
        return None, f"containers have different or no runtime types in statusContext: {sorted(prefixes)}"
    return next(iter(prefixes)), ""


def unready_wait(crr: JSON, now: datetime) -> tuple[bool, float | None, str]:
    """unreadyGracePeriodSeconds: (go on now, else seconds to wait or None to wait for the manager's write,
    an error that completes the request)."""
    grace = api.strategy(crr).get("unreadyGracePeriodSeconds")
    if not grace:
        return True, None, ""
    text = api.annotations(crr).get(api.UNREADY_ACQUIRED_KEY)
    if not text:
        return False, None, ""  # the manager sets it; that update wakes the next round
    acquired = parse_time(text)
    if acquired is None:
        return False, None, f"failed to parse unready-acquired time {text!r}"
    left = grace - seconds_until(as_utc(now), acquired)
    if left > 0:
        return False, left + 0.1, ""
    return True, None, ""


def _state(name: str, phase: str, is_killed: bool = False, message: str = "") -> JSON:
    """As upstream's JSON: isKilled and message are omitted when empty."""
    state: JSON = {"name": name, "phase": phase}
    if message:
        state["message"] = message
    if is_killed:
        state["isKilled"] = True
    return state


def newest(containers: list[ContainerInfo], name: str) -> ContainerInfo | None:
    found = [c for c in containers if c.name == name]
    return max(found, key=lambda c: c.created_at) if found else None


def current_states(crr: JSON, containers: list[ContainerInfo], runtime: str, now: datetime) -> list[JSON]:
    """getCurrentCRRContainersRecreateStates: each requested container's state from the runtime's view, the
    previous states and the manager's copy of the pod status (v1.9.0: a start after the request's creation is
    not taken as proof of a restart)."""
    previous = {s.get("name"): s for s in api.status(crr).get("containerRecreateStates") or []}
    synced = api.synced_statuses(crr)
    strategy = api.strategy(crr)
    min_started = strategy.get("minStartedSeconds") or 0
    now_seconds = as_utc(now).timestamp()
    states = []
    for container in api.spec(crr).get("containers") or []:
        name = container["name"]
        prev = previous.get(name)
        killed = bool(prev and prev.get("isKilled"))
        if prev and prev.get("phase") in (api.SUCCEEDED, api.FAILED):
            states.append(prev)
            continue
        current = newest(containers, name)
        if current is None:
            states.append(_state(name, api.PENDING, killed, NOT_FOUND_ON_NODE))
            continue
        if current.state == EXITED:
            states.append(_state(name, api.RECREATING, killed))
            continue
        if strategy.get("forceRecreate") and not killed:
            states.append(_state(name, api.PENDING))
            continue
        context = container.get("statusContext") or {}
        full_id = f"{runtime}://{current.id}"
        if full_id != context.get("containerID") or current.restart_count > int(context.get("restartCount") or 0):
            pod_view = synced.get(name) or {}
            started = current.started_at
            if (pod_view.get("containerID") == full_id and pod_view.get("ready") and started is not None
                    and now_seconds - started > min_started):
                states.append(_state(name, api.SUCCEEDED, killed))
            else:
                states.append(_state(name, api.RECREATING, killed))
            continue
        states.append(_state(name, api.PENDING, killed))
    return states


@dataclass(frozen=True)
class Step:
    """What the daemon does in this round of a Recreating request, in this order: kill `kill` (a container
    name; its state in `states` already says Recreating and killed), write `states`, complete."""

    states: list[JSON] | None = None
    kill: str | None = None
    complete: bool = False
    requeue_after: float | None = None


def manage(crr: JSON, containers: list[ContainerInfo], runtime: str, now: datetime) -> Step:
    states = current_states(crr, containers, runtime, now)
    if states != (api.status(crr).get("containerRecreateStates") or []):
        return Step(states=states)
    strategy = api.strategy(crr)
    ignore = strategy.get("failurePolicy") == api.IGNORE
    ordered = bool(strategy.get("orderedRecreate"))
    walked = [dict(s) for s in states]
    completed = 0
    for state in walked:
        phase = state["phase"]
        if phase == api.SUCCEEDED:
            completed += 1
            continue
        if phase == api.FAILED:
            completed += 1
            if ignore:
                continue
            return Step(complete=True)
        if phase == api.RECREATING:
            state["isKilled"] = True
            if ordered:
                break
            continue
        # Pending: kill it now, and no other this round.
        if newest(containers, state["name"]) is None:
            break
        state.update(phase=api.RECREATING, isKilled=True)
        state.pop("message", None)
        return Step(states=walked, kill=state["name"])
    if walked != states:
        return Step(states=walked)
    if completed == len(walked):
        return Step(complete=True)
    min_started = strategy.get("minStartedSeconds") or 0
    return Step(requeue_after=float(min_started) if min_started > 0 else None)


def kill_failed(states: list[JSON], name: str, error: str) -> list[JSON]:
    """The states after a failed kill: that container Failed with the error (the next round applies the
    failure policy)."""
    return [_state(name, api.FAILED, False, f"kill container error: {error}") if s["name"] == name else s
            for s in states]


def grace_seconds(crr: JSON) -> int:
    """The kill's grace period: the request's (the webhook copied the pod's), else 30."""
    grace = api.strategy(crr).get("terminationGracePeriodSeconds")
    return int(grace) if grace is not None else api.DEFAULT_TERMINATION_GRACE_SECONDS
