"""The executor's grouping: pod creations in slow-start batches, other pod actions concurrently per pod,
workload-level actions alone; the first failure stops the plan."""
from __future__ import annotations

import asyncio

from controllers.common import actions as A
from controllers.kube import ApiError
from controllers.runtime.events import EventRecorder
from controllers.runtime.executor import Executor, PlanFailed, WorkloadRef, coalesce_status_patches, units
from controllers.runtime.expectations import Expectations

REF = WorkloadRef("apps.kruise.io/v1alpha1", "clonesets", "CloneSet", "ns", "web", "uid-1")


class FakeClient:
    def __init__(self, fail_on: set[str] = frozenset()):
        self.calls: list[tuple[str, str]] = []
        self.in_flight = self.peak = 0
        self.batches: list[int] = []
        self.fail_on = fail_on
        self.bodies: list[tuple[str, dict]] = []

    async def _call(self, verb: str, path: str, body=None) -> dict:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        name = (body or {}).get("metadata", {}).get("name") or path.rsplit("/", 1)[-1]
        self.calls.append((verb, name))
        if name in self.fail_on:
            raise ApiError(403, {"message": "quota"}, verb, path)
        return {"metadata": {"name": name, "resourceVersion": "7"}}

    async def create(self, path, body, **_):
        return await self._call("POST", path, body)

    async def delete(self, path, body=None, **_):
        return await self._call("DELETE", path)

    async def patch(self, path, body, content_type=None, **_):
        self.bodies.append((path, body))
        return await self._call("PATCH", path)


def pod(name: str) -> A.CreatePod:
    return A.CreatePod({"metadata": {"name": name}})


def run(plan: A.Plan, client: FakeClient) -> Exception | None:
    async def go():
        events = EventRecorder(client, "test")
        try:
            await Executor(client, Expectations(), events, "cloneset").execute(REF, plan)
        except PlanFailed as e:
            return e
    return asyncio.run(go())


def test_units_attach_events_and_pvcs():
    plan = [A.CreatePVC({"metadata": {"name": "data-web-a"}}), pod("web-a"), A.Event("Normal", "SuccessfulCreate", "a"),
            A.DeletePod("web-b", "u", "scale in"), A.Event("Normal", "SuccessfulDelete", "b")]
    grouped = units(plan)
    assert [len(u) for u in grouped] == [3, 2]
    assert isinstance(grouped[0][1], A.CreatePod) and isinstance(grouped[0][2], A.Event)


def test_creations_go_in_slow_start_batches():
    client = FakeClient()
    assert run(A.Plan([pod(f"p{i}") for i in range(10)]), client) is None
    assert len(client.calls) == 10 and client.peak == 4, "batches of 1, 2, 4, 3"


def test_a_failed_batch_stops_the_creations():
    client = FakeClient(fail_on={"p1"})
    error = run(A.Plan([pod(f"p{i}") for i in range(10)]), client)
    assert isinstance(error, PlanFailed)
    assert sorted(n for _, n in client.calls) == ["p0", "p1", "p2"], "batch 1 then batch 2, then stop"


def test_pod_patches_run_concurrently_in_order_per_pod():
    client = FakeClient()
    plan = []
    for i in range(6):
        plan += [A.PatchPodStatus(f"p{i}", {"status": {}}), A.PatchPod(f"p{i}", {"metadata": {}})]
    plan.append(A.UpdateStatus({"replicas": 6}))
    assert run(A.Plan(plan), client) is None
    assert client.peak == 6, "six pods' chains at once"
    order = [n for _, n in client.calls]
    assert order[-1] == "status", "the workload status goes last, alone"


def condition(kind: str, status: str) -> dict:
    return {"type": kind, "status": status}


def test_adjacent_status_patches_of_one_pod_become_one_request():
    client = FakeClient()
    plan = [A.PatchPodStatus("p0", {"status": {"conditions": [condition("KruisePodReady", "True")]}}),
            A.PatchPodStatus("p1", {"status": {"conditions": [condition("KruisePodReady", "True")]}}),
            A.PatchPodStatus("p0", {"status": {"conditions": [condition("InPlaceUpdateReady", "True")]}}),
            A.PatchPod("p0", {"metadata": {"labels": {"x": "y"}}})]
    assert run(A.Plan(plan), client) is None
    # (the fake client names a /status request "status")
    assert sorted(client.calls) == [("PATCH", "p0"), ("PATCH", "status"), ("PATCH", "status")], \
        "p0's two status patches in one request, then its label patch; p1's one"


def test_coalesced_status_patches_keep_the_later_condition_of_each_type():
    chain = [A.PatchPodStatus("p", {"status": {"conditions": [condition("A", "True"), condition("Ready", "True")]}}),
             A.PatchPodStatus("p", {"status": {"conditions": [condition("Ready", "False"), condition("B", "True")]}}),
             A.Event("Normal", "X", "between"),
             A.PatchPodStatus("p", {"status": {"conditions": [condition("C", "True")]}})]
    out = coalesce_status_patches(chain)
    assert len(out) == 3, "only adjacent patches merge: an Event in between keeps its place"
    assert out[0].patch == {"status": {"conditions": [condition("A", "True"), condition("Ready", "False"),
                                                      condition("B", "True")]}}
    assert out[2] is chain[3]


def report(observed: dict) -> A.ScaleFailureReport:
    return A.ScaleFailureReport({"replicas": 1, "conditions": []}, observed, "FailedScale")


def test_a_refused_create_writes_the_round_status_with_failed_scale():
    client = FakeClient(fail_on={"p1"})
    error = run(A.Plan([pod("p0"), pod("p1"), A.UpdateStatus({"replicas": 2})], None, report({})), client)
    assert isinstance(error, PlanFailed) and error.message == "quota"
    [(path, body)] = client.bodies
    assert path.endswith("/clonesets/web/status")
    [written] = body["status"]["conditions"]
    assert (written["type"], written["status"], written["message"]) == ("FailedScale", "True", "quota")
    assert body["status"]["replicas"] == 1, "the round's status, not the UpdateStatus the failure skipped"


def test_a_failure_already_reported_writes_nothing_more():
    reported = {"replicas": 1, "conditions": [{"type": "FailedScale", "status": "True", "message": "quota",
                                               "lastTransitionTime": "2024-05-01T12:00:00Z"}]}
    client = FakeClient(fail_on={"p0"})
    assert isinstance(run(A.Plan([pod("p0")], None, report(reported)), client), PlanFailed)
    assert client.bodies == [], "no status write, hence no watch event that would retry at once"


def test_other_failures_are_not_scale_failures():
    client = FakeClient(fail_on={"p0"})
    assert isinstance(run(A.Plan([A.PatchPod("p0", {"metadata": {}})], None, report({})), client), PlanFailed)
    assert [path for path, _ in client.bodies] == ["/api/v1/namespaces/ns/pods/p0"]


class CollidingClient(FakeClient):
    """A ControllerRevision of that name belongs to another owner; the workload has no status yet."""

    async def create(self, path, body, **_):
        await self._call("POST", path, body)
        raise ApiError(409, {"message": "already exists"}, "POST", path)

    async def get_or_none(self, path):
        return {"metadata": {"name": path.rsplit("/", 1)[-1], "ownerReferences": []}}

    async def get(self, path, **_):
        return {"metadata": {"name": "web"}}


def test_a_collision_on_a_new_workload_writes_the_planned_status_with_the_count():
    client = CollidingClient()
    planned = {"replicas": 0, "readyReplicas": 0, "collisionCount": 0}
    plan = A.Plan([A.CreateRevision({"metadata": {"name": "web-abc"}}), A.UpdateStatus(planned)])
    assert isinstance(run(plan, client), PlanFailed)
    [(path, body)] = client.bodies
    assert path.endswith("/status") and body == {"status": {**planned, "collisionCount": 1}}, \
        "the CRD requires the counters: a status with collisionCount alone is refused"
