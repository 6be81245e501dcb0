"""The chaos suite's accounting (chaos/sequence.py) on plain pod dicts: what a watch, or a list again after a
410, tells it about pods deleted, created and live at once; the results table (chaos/__main__.py); one fault
shared by the kinds running at once (FaultRound), the manager started again once (Supervisor); the kinds'
manifests (chaos/kinds.py)."""
from __future__ import annotations

import asyncio

from chaos.__main__ import render
from chaos.kinds import KINDS, SIDECAR, daemon_label
from chaos.sequence import FaultRound, Outcome, Pods, Supervisor, retried
from chaos.traced_manager import acts


def pod(name: str, uid: str, deleting: bool = False) -> dict:
    meta = {"name": name, "namespace": "ns", "uid": uid}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-04T10:00:00Z"
    return {"metadata": meta, "spec": {"containers": [{"image": "app:v1"}]}}


def test_a_deletion_counts_once_whether_seen_terminating_or_gone():
    pods = Pods()
    pods.on_pod(("ns", "a"), pod("a", "1"))
    pods.on_pod(("ns", "b"), pod("b", "2"))
    pods.reset()
    pods.on_pod(("ns", "a"), pod("a", "1", deleting=True))
    pods.on_pod(("ns", "a"), None)
    pods.on_pod(("ns", "b"), None)
    assert pods.deleted == {"1", "2"} and not pods.live and pods.most == 2


def test_a_pod_replaced_while_the_watch_was_down_is_a_deletion_not_a_duplicate():
    # After a 410 the informer lists again: pod "web-0" has a new uid, its old one's deletion was never seen.
    pods = Pods()
    pods.on_pod(("ns", "web-0"), pod("web-0", "old"))
    pods.reset()
    pods.on_pod(("ns", "web-0"), pod("web-0", "new"))
    assert set(pods.live) == {"new"} and pods.deleted == {"old"} and pods.created == {"new"}
    assert pods.most == 1


def test_more_live_pods_than_allowed_is_what_duplicated_counts():
    pods = Pods()
    for i in range(3):
        pods.on_pod(("ns", f"p{i}"), pod(f"p{i}", str(i)))
    assert pods.most == 3


def test_the_results_table_sums_per_scenario_kind_and_operation():
    outcomes = [Outcome("kill", "CloneSet", "scale-up", 1, 2, converge_seconds=10.0),
                Outcome("kill", "CloneSet", "scale-up", 2, 0, recreated=1, converge_seconds=20.0,
                        manager_restarts=0),
                Outcome("compaction", "CloneSet", "rollout in place", 1, 3, converge_seconds=None,
                        manager_restarts=1, watch_expired=True),
                Outcome("certificate", "CloneSet", "scale-up", 1, 0, converge_seconds=3.0,
                        measured={"admission requests": 100, "admission failed": 0, "takeover (s)": 5.5}),
                Outcome("certificate", "CloneSet", "scale-up", 2, 0, converge_seconds=4.0,
                        measured={"admission requests": 50, "admission failed": 2, "takeover (s)": 6.5})]
    text = render(outcomes, 120, "python -m chaos")
    assert "| kill | CloneSet | scale-up | 2 | 0 | 0 | 1 | 0 | – | 15.0 / 20.0 | – |" in text
    assert "| compaction | CloneSet | rollout in place | 1 | 0 | 0 | 0 | 1 | 1 of 1 | – (1 never) | – |" in text
    assert "| compaction | CloneSet | rollout in place | 1 | 3 | 0 | 0 | 0 | 1 | yes | never | – |" in text
    # the faults' own measures: counts added up, durations at their worst
    assert "| 3.5 / 4.0 | admission requests 150, admission failed 2, takeover (s) 6.5 |" in text
    assert not outcomes[1].clean and not outcomes[2].clean and outcomes[0].clean
    assert outcomes[3].clean and not outcomes[4].clean  # a failed admission request is a fault's cost too


def test_one_fault_round_fires_once_at_the_leaders_point_and_records_each_kinds_progress():
    faults: list[str] = []
    progress = {"CloneSet": 0, "UnitedDeployment": 0}

    async def scenario() -> None:
        fault = FaultRound(lambda: faults.append("kill"), list(progress), "UnitedDeployment", Supervisor())

        async def sequence(kind: str, point: int) -> None:
            await fault.arrive(kind, lambda: progress[kind])
            while not (fault.fired.is_set() or fault.leader == kind and progress[kind] >= point):
                progress[kind] += 1  # its pods changing
                await asyncio.sleep(0)
            await fault.fire()

        await asyncio.gather(sequence("CloneSet", 0), sequence("UnitedDeployment", 3))
        assert fault.fault_after["UnitedDeployment"] == 3 and fault.fault_after["CloneSet"] >= 1

    asyncio.run(scenario())
    assert faults == ["kill"]


def test_a_round_waits_for_every_kind_but_not_for_one_that_failed():
    async def scenario() -> list[str]:
        fault = FaultRound(lambda: None, ["CloneSet", "SidecarSet"], "CloneSet", Supervisor())
        order: list[str] = []

        async def arrives() -> None:
            await fault.arrive("CloneSet", lambda: 0)
            order.append("past the barrier")

        waiting = asyncio.create_task(arrives())
        await asyncio.sleep(0.01)
        order.append("SidecarSet failed")
        fault.leave("SidecarSet")
        await waiting
        return order

    assert asyncio.run(scenario()) == ["SidecarSet failed", "past the barrier"]


def test_the_supervisor_starts_one_manager_however_many_sequences_find_it_gone():
    running: list[int] = []

    async def scenario() -> Supervisor:
        supervisor = Supervisor(lambda: bool(running), lambda: running.append(1))
        await asyncio.gather(*(supervisor.ensure() for _ in range(5)))
        return supervisor

    assert asyncio.run(scenario()).restarts == 1 and running == [1]


def test_each_kind_rolls_out_the_image_its_pods_are_checked_on():
    sidecar_pod = {"spec": {"containers": [{"name": "main", "image": "registry.example/app:v1"},
                                           {"name": SIDECAR, "image": "registry.example/sidecar:v2"}]}}
    sidecarset = KINDS["SidecarSet"]
    assert sidecarset.pod_image(sidecar_pod) == sidecarset.image("v2")
    assert KINDS["CloneSet"].pod_image(sidecar_pod) == KINDS["CloneSet"].image("v1")
    assert sidecarset.sidecarset("ns", "chaos")["spec"]["containers"] == [
        {"name": SIDECAR, "image": "registry.example/sidecar:v1"}]
    united = KINDS["UnitedDeployment"]
    manifest = united.manifest("chaos", 2, "ns")
    assert manifest["spec"]["template"]["cloneSetTemplate"]["spec"]["updateStrategy"]["type"] == "InPlaceIfPossible"
    assert united.rollout_patch("x:v2") == {"spec": {"template": {"cloneSetTemplate": {"spec": {"template": {
        "spec": {"containers": [{"name": "main", "image": "x:v2"}]}}}}}}}
    daemon = KINDS["Advanced DaemonSet"].manifest("chaos", 2, "ns")
    assert "replicas" not in daemon["spec"] and daemon_label("ns") in daemon["spec"]["template"]["spec"]["nodeSelector"]


def test_the_leader_proof_counts_acts_not_dry_runs_nor_every_replicas_own_writes():
    assert acts("POST", "/api/v1/namespaces/ns/pods", None)
    assert acts("PATCH", "/apis/apps.kruise.io/v1alpha1/namespaces/ns/clonesets/c/status", {})
    assert not acts("POST", "/api/v1/namespaces/ns/pods", {"dryRun": "All"})  # a webhook's kubernetesValidation
    assert not acts("PUT", "/apis/coordination.k8s.io/v1/namespaces/kruise-system/leases/kruise-manager", None)
    assert not acts("PATCH", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/m", None)
    assert not acts("GET", "/api/v1/namespaces/ns/pods", None)


def test_a_manager_that_exits_during_a_long_fault_is_started_again_meanwhile_unless_the_fault_is_exclusive():
    import threading

    def run(exclusive: bool) -> tuple[bool, int]:
        running = [1]
        back = threading.Event()

        def fault() -> None:  # the manager exits during the fault (it lost its Lease), which then lasts a while
            running.clear()
            back.wait(2)

        def start() -> None:
            running.append(1)
            back.set()

        async def scenario() -> int:
            supervisor = Supervisor(lambda: bool(running), start)
            await FaultRound(fault, ["CloneSet"], "CloneSet", supervisor, exclusive=exclusive).fire()
            return supervisor.restarts

        restarts = asyncio.run(scenario())
        return back.is_set(), restarts

    assert run(exclusive=False) == (True, 1)  # started again while the fault still ran
    assert run(exclusive=True) == (False, 0)  # a kill's own restart is the fault's: nobody else starts one


def test_the_suites_own_change_is_tried_again_while_the_webhook_is_unreachable_but_not_when_refused():
    from kube import ApiError

    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ApiError(500, {"message": "failed calling webhook: connection refused"}, "PATCH", "/x")
        return "done"

    async def refused() -> None:
        raise ApiError(422, {"message": "spec.replicas: Invalid value"}, "PATCH", "/x")

    assert asyncio.run(retried(flaky, timeout=10)) == "done" and len(calls) == 3
    try:
        asyncio.run(retried(refused, timeout=10))
    except ApiError as e:
        assert e.status == 422
    else:
        raise AssertionError("a refusal is not transient")
