"""What a kubelet would report for a pod: a pure function of the pod and the time.

The simulator keeps no per-pod memory of its own. Everything it needs (which container ran which image,
how often it restarted, when it started) is read back from the pod's own status, so a restarted
simulator carries on exactly where it stopped: level-based, like the controllers it serves.

Behaviour modelled, as a real kubelet shows it:
- a bound pod goes Pending → Running, every container started, with a containerID, an imageID
  (a deterministic digest of the image reference) and a startedAt;
- a container is ready once running, or after its readinessProbe's initialDelaySeconds;
- an in-place image change restarts only that container: new containerID and imageID, restartCount + 1,
  lastState.terminated, and a short not-ready blip;
- Ready = every container ready AND every readinessGate condition True;
- an image whose tag is `broken` never pulls: each pull attempt fails (ErrImagePull) and is retried after a
  doubling back-off (ImagePullBackOff in between), and the container is never ready;
- graceful deletion: the simulated process exits after `sim.ack-kruise.io/shutdown-seconds` (default 0,
  a well-behaved app), never later than the grace period, and the pod object is then removed;
- a pod in a terminal phase (Failed, e.g. evicted, or Succeeded) stays as it is: a kubelet never brings it
  back to Running.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

JSON = dict[str, Any]

SHUTDOWN_SECONDS_ANNOTATION = "sim.ack-kruise.io/shutdown-seconds"
BROKEN_TAG = "broken"
# How long a container restarted in place stays not ready, as a real app briefly does while starting.
RESTART_NOT_READY_SECONDS = 1.0
# A failed pull is retried after a back-off that doubles up to a cap, as a real kubelet does (10 s to 5 min
# there; shorter here so that tests see several attempts). ErrImagePull shows for a second after each attempt.
PULL_BACKOFF_INITIAL_SECONDS = 2
PULL_BACKOFF_MAX_SECONDS = 60
ERR_IMAGE_PULL_SECONDS = 1
OWNED_CONDITIONS = ("Initialized", "ContainersReady", "Ready")
TERMINAL_PHASES = ("Failed", "Succeeded")


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def fmt_time(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s: str | None) -> datetime | None:
    if not s:
        return None
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def _split_image(image: str) -> tuple[str, str, str]:
    """`registry:5000/ns/name:tag@sha256:d` → (repository, tag, digest); a missing tag is `latest`
    unless the reference is pinned by digest."""
    ref, _, digest = image.partition("@")
    repo, tag = ref, ""
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        repo, tag = ref[:colon], ref[colon + 1:]
    if not tag and not digest:
        tag = "latest"
    return repo, tag, digest


def image_tag(image: str) -> str:
    return _split_image(image)[1]


def image_id(image: str) -> str:
    """A fake but stable digest per image reference, in the form containerd reports."""
    repo, tag, digest = _split_image(image)
    if not digest:
        digest = "sha256:" + hashlib.sha256(f"{repo}:{tag}".encode()).hexdigest()
    return f"{repo}@{digest}"


def container_id(pod_uid: str, name: str, restart_count: int) -> str:
    """Deterministic per (pod, container, incarnation): a re-run of the model gives the same id."""
    digest = hashlib.sha256(f"{pod_uid}/{name}/{restart_count}".encode()).hexdigest()
    return f"containerd://{digest}"


def qos_class(containers: list[JSON]) -> str:
    requests_any, limits_all_equal = False, True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            requests_any = True
        for r in ("cpu", "memory"):
            if r not in lim or (r in req and req[r] != lim[r]):
                limits_all_equal = False
    if not requests_any:
        return "BestEffort"
    return "Guaranteed" if limits_all_equal else "Burstable"


@dataclass
class KubeletView:
    """What the simulated kubelet wants done for one pod."""

    status: JSON | None = None  # a strategic-merge patch for /status, None when nothing changes
    remove: bool = False  # the pod's processes have exited after deletion: remove the object
    wake_after: float | None = None  # seconds until the answer changes by time alone
    wake_reasons: list[str] = field(default_factory=list)

    def wake(self, seconds: float, why: str) -> None:
        if self.wake_after is None or seconds < self.wake_after:
            self.wake_after = max(seconds, 0.05)
        self.wake_reasons.append(why)


def pull_attempts(elapsed: float) -> tuple[int, float, float]:
    """For an image failing to pull for `elapsed` seconds: the attempts made so far, the seconds since the
    last one, and the back-off after it (the seconds from the last attempt to the next)."""
    attempts, at, backoff = 1, 0.0, float(PULL_BACKOFF_INITIAL_SECONDS)
    while backoff < PULL_BACKOFF_MAX_SECONDS and at + backoff <= elapsed:
        attempts, at, backoff = attempts + 1, at + backoff, min(backoff * 2, PULL_BACKOFF_MAX_SECONDS)
    if at + backoff <= elapsed:  # at the cap: one attempt every PULL_BACKOFF_MAX_SECONDS
        more = int((elapsed - at) // backoff)
        attempts, at = attempts + more, at + more * backoff
    return attempts, elapsed - at, backoff


def _container_status(c: JSON, old: JSON | None, pod_uid: str, now: datetime, pod_started: datetime,
                      view: KubeletView) -> JSON:
    name, image = c["name"], c["image"]
    restarts = (old or {}).get("restartCount", 0)
    was_running = bool(old and old.get("containerID") and "running" in (old.get("state") or {}))

    if image_tag(image) == BROKEN_TAG:
        # Pulling since the old container stopped (an in-place change to this image) or the pod started.
        since = now if was_running else (parse_time(((old or {}).get("lastState") or {}).get("terminated", {})
                                                    .get("finishedAt")) or pod_started)
        _, into, backoff = pull_attempts((now - since).total_seconds())
        if into < ERR_IMAGE_PULL_SECONDS:
            reason = "ErrImagePull"
            view.wake(ERR_IMAGE_PULL_SECONDS - into, f"{name}: backs off pulling {image}")
        else:
            reason = "ImagePullBackOff"
            view.wake(backoff - into, f"{name}: pulls {image} again")
        status = {
            "name": name, "image": image, "imageID": "", "ready": False, "restartCount": restarts,
            "started": False,
            "state": {"waiting": {"reason": reason,
                                  "message": f'Back-off pulling image "{image}"' if reason == "ImagePullBackOff"
                                  else f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}"'}},
        }
        if was_running:
            status["lastState"] = {"terminated": _terminated(old, finished=now)}
        elif old and old.get("lastState"):
            status["lastState"] = old["lastState"]
        return status

    if was_running and old.get("image") == image:
        started = parse_time(old["state"]["running"].get("startedAt")) or now
        status = {k: old[k] for k in ("name", "image", "imageID", "containerID", "restartCount", "lastState")
                  if k in old}
        status["state"] = {"running": {"startedAt": fmt_time(started)}}
    else:
        # First start, a start after a failed pull, or an in-place image change: a new container. A start after
        # a container that ran (lastState) is a restart too, as the kubelet counts it: otherwise the new container
        # would get the old one's id, which containerd never reuses (and completion is judged by a new id).
        if was_running or (not (old or {}).get("state", {}).get("running")
                           and ((old or {}).get("lastState") or {}).get("terminated")):
            restarts += 1
        started = now
        status = {
            "name": name, "image": image, "imageID": image_id(image),
            "containerID": container_id(pod_uid, name, restarts), "restartCount": restarts,
            "state": {"running": {"startedAt": fmt_time(started)}},
        }
        if was_running:
            status["lastState"] = {"terminated": _terminated(old, finished=now)}
        elif old and old.get("lastState"):
            status["lastState"] = old["lastState"]

    ready_at = started
    probe = c.get("readinessProbe")
    if probe:
        ready_at += timedelta(seconds=probe.get("initialDelaySeconds", 0))
    if status["restartCount"] > 0:
        ready_at += timedelta(seconds=RESTART_NOT_READY_SECONDS)
    ready = now >= ready_at
    if not ready:
        view.wake((ready_at - now).total_seconds(), f"{name}: becomes ready")
    status["ready"] = ready
    status["started"] = True
    return status


def _terminated(old: JSON, finished: datetime | None = None) -> JSON:
    running = (old.get("state") or {}).get("running") or {}
    t = {"exitCode": 0, "reason": "Completed", "containerID": old.get("containerID", "")}
    if running.get("startedAt"):
        t["startedAt"] = running["startedAt"]
    t["finishedAt"] = fmt_time(finished or now_utc())
    return t


def _condition(ctype: str, ok: bool, old: dict[str, JSON], now: datetime, reason: str = "", message: str = "") -> JSON:
    value = "True" if ok else "False"
    prev = old.get(ctype)
    cond: JSON = {"type": ctype, "status": value, "lastProbeTime": None}
    cond["lastTransitionTime"] = prev["lastTransitionTime"] if prev and prev.get("status") == value and prev.get(
        "lastTransitionTime") else fmt_time(now)
    # Explicit nulls: a strategic merge must drop the reason of a condition that became True.
    cond["reason"], cond["message"] = (reason, message) if not ok and reason else (None, None)
    return cond


def _gates_message(pod: JSON, conditions: dict[str, JSON]) -> str:
    for gate in pod["spec"].get("readinessGates") or []:
        ctype = gate["conditionType"]
        if ctype not in conditions:
            return f'corresponding condition of pod readiness gate "{ctype}" does not exist.'
        if conditions[ctype].get("status") != "True":
            return f'the status of pod readiness gate "{ctype}" is not "True", but {conditions[ctype].get("status")}'
    return ""


def observe(pod: JSON, host_ip: str, pod_ip: str, now: datetime | None = None) -> KubeletView:
    """The kubelet's view of a pod bound to a simulated node."""
    now = now or now_utc()
    view = KubeletView()
    meta, spec, cur = pod["metadata"], pod["spec"], pod.get("status") or {}

    if meta.get("deletionTimestamp"):
        deadline = parse_time(meta["deletionTimestamp"]) or now
        grace = meta.get("deletionGracePeriodSeconds", 0) or 0
        shutdown = float((meta.get("annotations") or {}).get(SHUTDOWN_SECONDS_ANNOTATION, 0) or 0)
        exit_at = deadline - timedelta(seconds=grace) + timedelta(seconds=min(shutdown, grace))
        if now >= exit_at:
            view.remove = True
        else:
            view.wake((exit_at - now).total_seconds(), "process exits after SIGTERM")
        return view
    if cur.get("phase") in TERMINAL_PHASES:
        return view

    old_by_name = {s["name"]: s for s in cur.get("containerStatuses") or []}
    started = parse_time(cur.get("startTime")) or now
    statuses = [_container_status(c, old_by_name.get(c["name"]), meta["uid"], now, started, view)
                for c in spec["containers"]]
    init_statuses = []
    for c in spec.get("initContainers") or []:
        cid = container_id(meta["uid"], c["name"], 0)
        init_statuses.append({
            "name": c["name"], "image": c["image"], "imageID": image_id(c["image"]), "containerID": cid,
            "ready": True, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "containerID": cid}},
        })

    conditions = {c["type"]: c for c in cur.get("conditions") or []}
    not_ready = [s["name"] for s in statuses if not s["ready"]]
    containers_ready = not not_ready
    gates_msg = _gates_message(pod, conditions)
    msg_containers = f"containers with unready status: [{' '.join(not_ready)}]"
    owned = [
        _condition("Initialized", True, conditions, now),
        _condition("ContainersReady", containers_ready, conditions, now, "ContainersNotReady", msg_containers),
        _condition("Ready", containers_ready and not gates_msg, conditions, now,
                   "ContainersNotReady" if not containers_ready else "ReadinessGatesNotReady",
                   msg_containers if not containers_ready else gates_msg),
    ]
    phase = _phase(statuses)

    desired: JSON = {
        "phase": phase,
        "hostIP": host_ip,
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": cur.get("startTime") or fmt_time(now),
        "qosClass": cur.get("qosClass") or qos_class(spec["containers"]),
        "containerStatuses": statuses,
        "conditions": owned,
    }
    if init_statuses:
        desired["initContainerStatuses"] = init_statuses

    current_owned = [conditions[t] for t in OWNED_CONDITIONS if t in conditions]
    unchanged = (
        all(cur.get(k) == desired[k] for k in ("phase", "hostIP", "podIP", "podIPs", "startTime", "qosClass"))
        and _same_statuses(cur.get("containerStatuses"), statuses)
        and _same_statuses(cur.get("initContainerStatuses"), init_statuses or None)
        and _same_conditions(current_owned, owned)
    )
    if not unchanged:
        patch = dict(desired)
        # Container statuses merge by name; spell out every state key so that a merge cannot keep
        # `state.running` next to a new `state.waiting`.
        patch["containerStatuses"] = [_with_explicit_states(s) for s in statuses]
        if init_statuses:
            patch["initContainerStatuses"] = [_with_explicit_states(s) for s in init_statuses]
        # Conditions merge by type, so readiness-gate conditions written by controllers stay untouched.
        view.status = {"status": patch}
    return view


def _with_explicit_states(status: JSON) -> JSON:
    out = dict(status)
    for key in ("state", "lastState"):
        states = out.get(key) or {}
        out[key] = {k: states.get(k) for k in ("waiting", "running", "terminated")}
    return out


def _phase(statuses: list[JSON]) -> str:
    """The kubelet's getPhase for restartPolicy Always: a container waiting to be pulled again after it
    ran counts as stopped, not as waiting, so a pod that ran stays Running."""
    running = sum(1 for s in statuses if "running" in s["state"])
    stopped = sum(1 for s in statuses if "terminated" in s["state"]
                  or ("waiting" in s["state"] and "terminated" in (s.get("lastState") or {})))
    waiting = len(statuses) - running - stopped
    if waiting:
        return "Pending"
    return "Running" if running or stopped else "Pending"


def _without_empty(value: Any) -> Any:
    """The API server echoes Go zero values (`lastState: {}`) that we never send; ignore them."""
    if isinstance(value, dict):
        return {k: _without_empty(v) for k, v in value.items() if v not in ({}, None, [])}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value


def _same_statuses(a: list[JSON] | None, b: list[JSON] | None) -> bool:
    return _without_empty(a or []) == _without_empty(b or [])


def _same_conditions(a: list[JSON], b: list[JSON]) -> bool:
    def norm(cs: list[JSON]) -> list[tuple]:
        return sorted((c["type"], c.get("status"), c.get("reason") or "", c.get("message") or "") for c in cs)
    return norm(a) == norm(b)
