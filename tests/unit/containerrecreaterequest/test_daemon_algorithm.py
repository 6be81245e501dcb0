"""The kruise-daemon's ContainerRecreateRequest algorithm (daemon/crr.py) on plain dicts and runtime
containers: which request is picked, the containers' states, and what one round does (kruise-daemon.md §3.4)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from daemon import crr as algo
from daemon.cri import EXITED, RUNNING, ContainerInfo

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=timezone.utc)
T0 = NOW.timestamp()


def request(name="r", phase=None, containers=("app",), strategy=None, states=None, synced=None, annotations=None,
            created="2026-12-03T11:59:00Z", **spec) -> dict:
    ann = dict(annotations or {})
    if synced is not None:
        ann["crr.apps.kruise.io/sync-container-statuses"] = json.dumps(synced)
    crr = {"metadata": {"name": name, "namespace": "ns", "creationTimestamp": created, "annotations": ann,
                        "labels": {"crr.apps.kruise.io/pod-uid": "uid-1"}},
           "spec": {"podName": "pod", "strategy": {"failurePolicy": "Fail", **(strategy or {})},
                    "containers": [{"name": c, "statusContext": {"containerID": f"containerd://{c}-1",
                                                                "restartCount": 0}} for c in containers], **spec},
           "status": {}}
    if phase:
        crr["status"]["phase"] = phase
    if states is not None:
        crr["status"]["containerRecreateStates"] = states
    return crr


def running(name, attempt=1, started_ago=60.0, restart=None) -> ContainerInfo:
    return ContainerInfo(id=f"{name}-{attempt}", name=name, state=RUNNING, created_at=T0 - started_ago - 1 + attempt,
                         started_at=T0 - started_ago, restart_count=attempt - 1 if restart is None else restart)


def exited(name, attempt=1) -> ContainerInfo:
    return ContainerInfo(id=f"{name}-{attempt}", name=name, state=EXITED, created_at=T0 - 100 + attempt,
                         started_at=T0 - 100, finished_at=T0 - 1, restart_count=attempt - 1)


# ---- pick -------------------------------------------------------------------------------------------
def test_pick_prefers_recreating_then_older_and_marks_other_new_ones_pending():
    new_old = request("a", created="2026-12-03T11:00:00Z")
    new_young = request("b", created="2026-12-03T11:30:00Z")
    recreating = request("c", phase="Recreating", created="2026-12-03T11:50:00Z")
    done = request("d", phase="Completed", created="2026-12-03T10:00:00Z")
    picked, pending = algo.pick([new_young, done, new_old, recreating])
    assert picked["metadata"]["name"] == "c"
    assert [c["metadata"]["name"] for c in pending] == ["a", "b"]
    picked, pending = algo.pick([new_young, new_old])
    assert picked["metadata"]["name"] == "a" and [c["metadata"]["name"] for c in pending] == ["b"]


def test_pick_skips_deleting_and_completed():
    deleting = request("a")
    deleting["metadata"]["deletionTimestamp"] = "2026-12-03T11:59:30Z"
    assert algo.pick([deleting, request("b", phase="Completed")]) == (None, [])


# ---- states ----------------------------------------------------------------------------------------------
def test_state_pending_while_the_original_container_runs():
    states = algo.current_states(request(), [running("app")], "containerd", NOW)
    assert states == [{"name": "app", "phase": "Pending"}]


def test_state_not_found_on_node():
    assert algo.current_states(request(), [], "containerd", NOW) == [
        {"name": "app", "phase": "Pending", "message": "not found container on Node"}]


def test_state_recreating_when_exited_keeps_is_killed():
    crr = request(states=[{"name": "app", "phase": "Recreating", "isKilled": True}])
    assert algo.current_states(crr, [exited("app")], "containerd", NOW) == [
        {"name": "app", "phase": "Recreating", "isKilled": True}]


def test_state_succeeded_only_when_pod_says_ready_with_new_id_and_min_started_passed():
    new = running("app", attempt=2, started_ago=10)
    prev = [{"name": "app", "phase": "Recreating", "isKilled": True}]
    not_ready = request(states=prev, synced=[{"name": "app", "ready": False, "containerID": "containerd://app-2"}])
    assert algo.current_states(not_ready, [new], "containerd", NOW)[0]["phase"] == "Recreating"
    stale = request(states=prev, synced=[{"name": "app", "ready": True, "containerID": "containerd://app-1"}])
    assert algo.current_states(stale, [new], "containerd", NOW)[0]["phase"] == "Recreating"
    ready = [{"name": "app", "ready": True, "containerID": "containerd://app-2"}]
    too_young = request(states=prev, synced=ready, strategy={"minStartedSeconds": 15})
    assert algo.current_states(too_young, [new], "containerd", NOW)[0]["phase"] == "Recreating"
    old_enough = request(states=prev, synced=ready, strategy={"minStartedSeconds": 5})
    assert algo.current_states(old_enough, [new], "containerd", NOW) == [
        {"name": "app", "phase": "Succeeded", "isKilled": True}]


def test_state_restart_count_alone_counts_as_recreated():
    same_id_more_restarts = running("app", attempt=1, restart=1)
    assert algo.current_states(request(), [same_id_more_restarts], "containerd", NOW)[0]["phase"] == "Recreating"


def test_a_start_after_creation_is_no_proof_of_restart_v190():
    # Started after the request was made, same id and restart count: still Pending (v1.9.0 fix #2483).
    young = running("app", attempt=1, started_ago=5)
    assert algo.current_states(request(), [young], "containerd", NOW)[0]["phase"] == "Pending"


def test_force_recreate_kills_a_container_already_restarted():
    restarted = running("app", attempt=2)
    assert algo.current_states(request(strategy={"forceRecreate": True}), [restarted], "containerd", NOW) == [
        {"name": "app", "phase": "Pending"}]
    killed = request(strategy={"forceRecreate": True}, states=[{"name": "app", "phase": "Recreating", "isKilled": True}])
    assert algo.current_states(killed, [restarted], "containerd", NOW)[0]["phase"] == "Recreating"


def test_final_states_are_kept():
    crr = request(states=[{"name": "app", "phase": "Failed", "message": "x"}])
    assert algo.current_states(crr, [], "containerd", NOW) == [{"name": "app", "phase": "Failed", "message": "x"}]


# ---- one round -------------------------------------------------------------------------------------------
def test_round_writes_changed_states_before_anything_else():
    step = algo.manage(request(), [running("app")], "containerd", NOW)
    assert step == algo.Step(states=[{"name": "app", "phase": "Pending"}])


def test_round_kills_one_container_at_a_time_unordered():
    crr = request(containers=("app", "sidecar"), states=[{"name": "app", "phase": "Pending"},
                                                          {"name": "sidecar", "phase": "Pending"}])
    step = algo.manage(crr, [running("app"), running("sidecar")], "containerd", NOW)
    assert step.kill == "app"
    assert step.states == [{"name": "app", "phase": "Recreating", "isKilled": True},
                           {"name": "sidecar", "phase": "Pending"}]
    # Next round: app is restarting; unordered goes on to the sidecar at once.
    crr["status"]["containerRecreateStates"] = step.states
    step = algo.manage(crr, [exited("app"), running("sidecar")], "containerd", NOW)
    assert step.kill == "sidecar"


def test_round_ordered_waits_for_the_previous_container_to_succeed():
    crr = request(containers=("app", "sidecar"), strategy={"orderedRecreate": True},
                  states=[{"name": "app", "phase": "Recreating", "isKilled": True},
                          {"name": "sidecar", "phase": "Pending"}])
    step = algo.manage(crr, [exited("app"), running("sidecar")], "containerd", NOW)
    assert step.kill is None and step.states is None and not step.complete


def test_round_completes_when_all_succeeded_and_on_first_failure_with_fail():
    done = request(states=[{"name": "app", "phase": "Succeeded", "isKilled": True}])
    assert algo.manage(done, [running("app", 2)], "containerd", NOW).complete
    failed = request(containers=("app", "sidecar"), states=[{"name": "app", "phase": "Failed"},
                                                             {"name": "sidecar", "phase": "Pending"}])
    assert algo.manage(failed, [running("sidecar")], "containerd", NOW) == algo.Step(complete=True)


def test_round_ignore_goes_on_after_a_failure():
    crr = request(containers=("app", "sidecar"), strategy={"failurePolicy": "Ignore"},
                  states=[{"name": "app", "phase": "Failed"}, {"name": "sidecar", "phase": "Pending"}])
    assert algo.manage(crr, [running("sidecar")], "containerd", NOW).kill == "sidecar"


def test_round_requeues_after_min_started_seconds():
    crr = request(strategy={"minStartedSeconds": 5}, states=[{"name": "app", "phase": "Recreating", "isKilled": True}])
    assert algo.manage(crr, [running("app", 2, started_ago=1)], "containerd", NOW).requeue_after == 5.0


def test_kill_failure_marks_the_container_failed():
    states = algo.kill_failed([{"name": "app", "phase": "Recreating", "isKilled": True}], "app", "boom")
    assert states == [{"name": "app", "phase": "Failed", "message": "kill container error: boom"}]


# ---- unready grace, runtime, grace period ----------------------------------------------------------------
def test_unready_grace_waits_for_the_manager_then_for_the_grace():
    crr = request(strategy={"unreadyGracePeriodSeconds": 3})
    assert algo.unready_wait(crr, NOW) == (False, None, "")
    crr["metadata"]["annotations"]["crr.apps.kruise.io/unready-acquired"] = "2026-12-03T11:59:59Z"
    go, wait, error = algo.unready_wait(crr, NOW)
    assert not go and abs(wait - 2.1) < 1e-6 and not error
    assert algo.unready_wait(crr, NOW + timedelta(seconds=3)) == (True, None, "")
    crr["metadata"]["annotations"]["crr.apps.kruise.io/unready-acquired"] = "yesterday"
    assert algo.unready_wait(crr, NOW)[2].startswith("failed to parse")


def test_runtime_of_needs_one_prefix():
    assert algo.runtime_of(request(containers=("app", "sidecar"))) == ("containerd", "")
    mixed = request(containers=("app", "sidecar"))
    mixed["spec"]["containers"][1]["statusContext"]["containerID"] = "docker://x"
    assert algo.runtime_of(mixed)[0] is None


def test_grace_seconds_falls_back_to_30():
    assert algo.grace_seconds(request()) == 30
    assert algo.grace_seconds(request(strategy={"terminationGracePeriodSeconds": 3})) == 3
