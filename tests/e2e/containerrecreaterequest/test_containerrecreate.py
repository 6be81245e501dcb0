"""ContainerRecreateRequest on the real node: the kruise-daemon stops containers through containerd's CRI and
the kubelet restarts them. Each test is one case of upstream's `test/e2e/apps/containerrecreate.go`
("ContainerRecreateRequest", kruise-daemon.md §6.3), with its timings; names follow upstream's.
"""
from __future__ import annotations

import json

from controllers.common.times import parse_time
from tests.kube import container_status, is_ready, wait_for

from .helpers import Recreations, condition, container_id, finished_at, started_at

POST_START_SLEEP = {"lifecycle": {"postStart": {"exec": {"command": ["sleep", "5"]}}}}
PRE_STOP_SLEEP = {"lifecycle": {"preStop": {"exec": {"command": ["sleep", "8"]}}}}


def _assert_recreated(crr: Recreations, before: dict, names: list[str]) -> dict:
    """Every named container has a new containerID and restartCount 1; the pod keeps its UID and IP, is Ready."""
    def done():
        pod = crr.pod(before["metadata"]["name"])
        return pod if is_ready(pod) and all(
            container_status(pod, n).get("restartCount") == 1 and container_id(pod, n) != container_id(before, n)
            for n in names) else None
    pod = wait_for(done, 60, f"{names} recreated in pod {before['metadata']['name']}", interval=0.2)
    assert pod["metadata"]["uid"] == before["metadata"]["uid"]
    assert pod["status"]["podIP"] == before["status"]["podIP"]
    return pod


def test_recreates_simple_containers(crr: Recreations):
    """Upstream "recreates simple containers"."""
    pods = crr.cloneset(2)
    pod0 = pods[0]
    created = crr.create("crr-0", pod0["metadata"]["name"], ["app"], strategy={"minStartedSeconds": 5},
                         ttlSecondsAfterFinished=3)
    labels = created["metadata"]["labels"]
    assert labels["crr.apps.kruise.io/pod-uid"] == pod0["metadata"]["uid"]
    assert labels["crr.apps.kruise.io/node-name"] == "real-node-0"
    assert labels["crr.apps.kruise.io/active"] == "true"
    assert created["spec"]["strategy"]["failurePolicy"] == "Fail"
    assert created["spec"]["containers"][0]["statusContext"] == {
        "containerID": container_id(pod0, "app"), "restartCount": 0}

    done = crr.completed("crr-0", 70)
    assert done["status"].get("completionTime")
    wait_for(lambda: "crr.apps.kruise.io/active" not in crr.get("crr-0")["metadata"].get("labels", {}), 5,
             "the active label removed")
    assert crr.states(done) == [{"name": "app", "phase": "Succeeded", "isKilled": True}]
    pod = _assert_recreated(crr, pod0, ["app"])
    completion = parse_time(done["status"]["completionTime"])
    assert (completion - started_at(pod, "app")).total_seconds() > 4, "minStartedSeconds 5 was not waited for"
    wait_for(lambda: not crr.exists("crr-0"), 6, "crr-0 deleted by its TTL (3 s)")

    pod1 = pods[1]
    crr.create("crr-1", pod1["metadata"]["name"], ["app", "sidecar"])
    done = crr.completed("crr-1", 60)
    assert crr.states(done) == [{"name": "app", "phase": "Succeeded", "isKilled": True},
                                {"name": "sidecar", "phase": "Succeeded", "isKilled": True}]
    _assert_recreated(crr, pod1, ["app", "sidecar"])


def test_recreates_containers_with_post_start_hook(crr: Recreations):
    """Upstream "recreates containers with postStartHook": unordered, the sidecar does not wait for app;
    ordered, it is killed only once app (5 s of postStart) is ready again."""
    pod0, pod1 = crr.cloneset(2, app=POST_START_SLEEP)
    crr.create("unordered", pod0["metadata"]["name"], ["app", "sidecar"])
    done = crr.completed("unordered", 70)
    assert [s["phase"] for s in crr.states(done)] == ["Succeeded", "Succeeded"]
    pod = _assert_recreated(crr, pod0, ["app", "sidecar"])
    gap = (finished_at(pod, "sidecar") - finished_at(pod, "app")).total_seconds()
    assert gap < 3, f"unordered: the sidecar was killed {gap}s after app"

    crr.create("ordered", pod1["metadata"]["name"], ["app", "sidecar"], strategy={"orderedRecreate": True})
    done = crr.completed("ordered", 70)
    assert [s["phase"] for s in crr.states(done)] == ["Succeeded", "Succeeded"]
    pod = _assert_recreated(crr, pod1, ["app", "sidecar"])
    gap = (finished_at(pod, "sidecar") - finished_at(pod, "app")).total_seconds()
    assert gap >= 5, f"ordered: the sidecar was killed {gap}s after app, before app was ready"


def test_recreates_containers_with_pre_stop_hook(crr: Recreations):
    """Upstream "recreates containers with preStopHook" (app's preStop sleeps 8 s)."""
    pod0, pod1, pod2 = crr.cloneset(3, app=PRE_STOP_SLEEP)

    # pod0: the preStop runs before the kill, and the kills are one after the other.
    first = crr.create("prestop", pod0["metadata"]["name"], ["app", "sidecar"])
    assert first["spec"]["containers"][0]["preStop"] == {"exec": {"command": ["sleep", "8"]}}
    done = crr.completed("prestop", 70)
    assert [s["phase"] for s in crr.states(done)] == ["Succeeded", "Succeeded"]
    pod = _assert_recreated(crr, pod0, ["app", "sidecar"])
    since = (finished_at(pod, "sidecar") - parse_time(first["metadata"]["creationTimestamp"])).total_seconds()
    assert since >= 8, f"the sidecar stopped {since}s after the request: app's preStop did not run first"

    # pod1: activeDeadlineSeconds 3 completes the request while app's preStop still runs; app is still recreated.
    crr.create("deadline", pod1["metadata"]["name"], ["app", "sidecar"], activeDeadlineSeconds=3)
    done = crr.completed("deadline", 5)
    assert done["status"]["message"] == "recreating has exceeded the activeDeadlineSeconds"
    assert [s["phase"] for s in crr.states(done)] == ["Pending", "Pending"]
    wait_for(lambda: container_status(crr.pod(pod1["metadata"]["name"]), "app").get("restartCount") == 1, 60,
             "app of pod1 restarted after the deadline")
    wait_for(lambda: is_ready(crr.pod(pod1["metadata"]["name"])), 30, "pod1 Ready")
    wait_for(lambda: crr.states(crr.get("deadline")) == [{"name": "app", "phase": "Recreating", "isKilled": True},
                                                         {"name": "sidecar", "phase": "Pending"}],
             30, "the kill of app recorded after completion", describe=lambda: crr.states(crr.get("deadline")))

    # pod2: unreadyGracePeriodSeconds holds the pod not-ready first; a 3 s grace cuts the preStop short.
    key = json.dumps([{"userAgent": "ContainerRecreateRequest", "key": f"{crr.ns}/unready"}], separators=(",", ":"))
    third = crr.create("unready", pod2["metadata"]["name"], ["app", "sidecar"],
                       strategy={"terminationGracePeriodSeconds": 3, "unreadyGracePeriodSeconds": 1})
    wait_for(lambda: (c := condition(crr.pod(pod2["metadata"]["name"]), "KruisePodReady")).get("status") == "False"
             and c.get("message") == key, 2, "KruisePodReady False with the request's key", interval=0.05)
    done = crr.completed("unready", 60)
    assert [s["phase"] for s in crr.states(done)] == ["Succeeded", "Succeeded"]
    wait_for(lambda: condition(crr.pod(pod2["metadata"]["name"]), "KruisePodReady").get("status") == "True", 3,
             "KruisePodReady True again", interval=0.05)
    pod = wait_for(lambda: p if is_ready(p := crr.pod(pod2["metadata"]["name"])) else None, 10, "pod2 Ready")
    since = (finished_at(pod, "app") - parse_time(third["metadata"]["creationTimestamp"])).total_seconds()
    assert since < 8, f"app stopped {since}s after the request: the 3 s grace did not cut the 8 s preStop"


def test_recreates_containers_by_force(crr: Recreations):
    """Upstream "recreates containers by force" (app's postStart sleeps 5 s)."""
    pod0, pod1 = crr.cloneset(2, app=POST_START_SLEEP)
    crr.create("force", pod0["metadata"]["name"], ["app", "sidecar"], strategy={"forceRecreate": True})
    done = crr.completed("force", 70)
    assert [s["phase"] for s in crr.states(done)] == ["Succeeded", "Succeeded"]
    pod = _assert_recreated(crr, pod0, ["app", "sidecar"])
    gap = (finished_at(pod, "sidecar") - finished_at(pod, "app")).total_seconds()
    assert gap < 3, f"forceRecreate: the sidecar was killed {gap}s after app"

    crr.create("force-ordered", pod1["metadata"]["name"], ["app", "sidecar"],
               strategy={"forceRecreate": True, "orderedRecreate": True})
    done = crr.completed("force-ordered", 70)
    assert [s["phase"] for s in crr.states(done)] == ["Succeeded", "Succeeded"]
    pod = _assert_recreated(crr, pod1, ["app", "sidecar"])
    gap = (finished_at(pod, "sidecar") - finished_at(pod, "app")).total_seconds()
    assert gap >= 5, f"forceRecreate + orderedRecreate: the sidecar was killed {gap}s after app"
