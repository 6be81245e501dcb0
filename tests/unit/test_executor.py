"""The executor's grouping: pod creations in slow-start batches, other pod actions concurrently per pod,
workload-level actions alone; the first failure stops the plan."""
from __future__ import annotations

import asyncio
from dataclasses import replace
import json

from controllers.common import actions as A
from kube import ApiError
from controllers.runtime.events import EventRecorder
from controllers.runtime.executor import Executor, PlanFailed, WorkloadRef, coalesce_status_patches, fold_status_patches, units
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
        if isinstance(body, (str, bytes)):  # a body sent pre-encoded (ControllerRevisions, in Go's encoding)
            body = json.loads(body)
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


def pod(name: str) -> A.Create:
    return A.create_pod({"metadata": {"name": name}})


def run(plan: A.Plan, client: FakeClient) -> Exception | None:
    async def go():
        events = EventRecorder(client, "test")
        try:
            await Executor(client, Expectations(), events, "cloneset").execute(REF, plan)
        except PlanFailed as e:
            return e
    return asyncio.run(go())


def test_units_attach_events_and_pvcs():
    plan = [A.create_pvc({"metadata": {"name": "data-web-a"}}), pod("web-a"),
            A.Event("Normal", "SuccessfulCreate", "a"),
            A.delete_pod("web-b", "u", "scale in"), A.Event("Normal", "SuccessfulDelete", "b")]
    grouped = units(plan)
    assert [len(u) for u in grouped] == [3, 2]
    assert grouped[0][1].what == "create pods" and isinstance(grouped[0][2], A.Event)


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
        plan += [A.patch_pod_status(f"p{i}", {"status": {}}), A.patch_pod(f"p{i}", {"metadata": {}})]
    plan.append(A.update_status({"replicas": 6}))
    assert run(A.Plan(plan), client) is None
    assert client.peak == 6, "six pods' chains at once"
    order = [n for _, n in client.calls]
    assert order[-1] == "status", "the workload status goes last, alone"


def condition(kind: str, status: str) -> dict:
    return {"type": kind, "status": status}


def test_adjacent_status_patches_of_one_pod_become_one_request():
    client = FakeClient()
    plan = [A.patch_pod_status("p0", {"status": {"conditions": [condition("KruisePodReady", "True")]}}),
            A.patch_pod_status("p1", {"status": {"conditions": [condition("KruisePodReady", "True")]}}),
            A.patch_pod_status("p0", {"status": {"conditions": [condition("InPlaceUpdateReady", "True")]}}),
            A.patch_pod("p0", {"metadata": {"labels": {"x": "y"}}})]
    assert run(A.Plan(plan), client) is None
    # (the fake client names a /status request "status")
    assert sorted(client.calls) == [("PATCH", "status"), ("PATCH", "status")], \
        "p0's two status patches and its label patch in one request; p1's one"


def test_a_pods_metadata_rides_in_its_status_write_in_either_order():
    uid = {"uid": "u1"}
    ready = {"status": {"conditions": [condition("InPlaceUpdateReady", "True")]}}
    normal = {"metadata": {**uid, "labels": {"lifecycle-state": "Normal", "gone": None},
                           "annotations": {"since": "t"}}}
    after = coalesce_status_patches([A.patch_pod_status("p", ready, uid="u1"), A.patch_pod("p", normal)])
    before = coalesce_status_patches([A.patch_pod("p", normal), A.patch_pod_status("p", ready, uid="u1")])
    for out in (after, before):
        assert len(out) == 1 and out[0].subresource == "status" and out[0].patch_type == "strategic"
        # the null stays: it deletes the label on the server, as the separate patch would have
        assert out[0].body == {"metadata": {"uid": "u1", "labels": {"lifecycle-state": "Normal", "gone": None},
                                            "annotations": {"since": "t"}},
                               "status": {"conditions": [condition("InPlaceUpdateReady", "True")]}}


def test_only_plain_metadata_patches_of_the_same_pod_ride_in_a_status_write():
    status = A.patch_pod_status("p", {"status": {"conditions": [condition("Ready", "False")]}})
    kept_apart = [
        A.patch_pod("p", {"spec": {"containers": [{"name": "c", "image": "v2"}]}}),  # spec: not kept by /status
        A.patch_pod("p", {"metadata": {"labels": {"a": "b"}, "resourceVersion": "7"}}),  # a precondition of its own
        A.patch_pod("p", {"metadata": {"labels": {"a": "b"}}}, "merge"),
        A.patch_pod("q", {"metadata": {"labels": {"a": "b"}}}),  # another pod
        A.release_pod("p", {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": "w"}]}}),
    ]
    for other in kept_apart:
        assert len(coalesce_status_patches([status, other])) == 2, other
    with_finalizer = A.patch_pod("p", {"metadata": {"finalizers": ["a"]}})
    status_with_finalizer = replace(status, body={**status.body, "metadata": {"finalizers": ["b"]}})
    assert len(coalesce_status_patches([status_with_finalizer, with_finalizer])) == 2, \
        "two finalizer lists are merged by the API server, not here"
    assert len(coalesce_status_patches([status, with_finalizer])) == 1


def test_coalesced_status_patches_keep_the_later_condition_of_each_type():
    chain = [A.patch_pod_status("p", {"status": {"conditions": [condition("A", "True"), condition("Ready", "True")]}}),
             A.patch_pod_status("p", {"status": {"conditions": [condition("Ready", "False"), condition("B", "True")]}}),
             A.Event("Normal", "X", "between"),
             A.patch_pod_status("p", {"status": {"conditions": [condition("C", "True")]}})]
    out = coalesce_status_patches(chain)
    assert len(out) == 3, "only adjacent patches merge: an Event in between keeps its place"
    assert out[0].body == {"status": {"conditions": [condition("A", "True"), condition("Ready", "False"),
                                                      condition("B", "True")]}}
    assert out[2] is chain[3]


class CollidingClient(FakeClient):
    """A ControllerRevision of that name belongs to another owner; the workload has no status yet."""

    async def create(self, path, body, **_):
        await self._call("POST", path, body)
        raise ApiError(409, {"message": "already exists"}, "POST", path)

    async def get_or_none(self, path):
        return {"metadata": {"name": path.rsplit("/", 1)[-1], "ownerReferences": []}, "data": {"other": "template"}}

    async def get(self, path, **_):
        return {"metadata": {"name": "web"}}


def test_a_collision_on_a_new_workload_writes_the_planned_status_with_the_count():
    client = CollidingClient()
    planned = {"replicas": 0, "readyReplicas": 0, "collisionCount": 0}
    plan = A.Plan([A.create_revision({"metadata": {"name": "web-abc"}}), A.update_status(planned)])
    assert isinstance(run(plan, client), PlanFailed)
    [(path, body)] = client.bodies
    assert path.endswith("/status") and body == {"status": {**planned, "collisionCount": 1},
                                                 "metadata": {"uid": "uid-1"}}, \
        "the CRD requires the counters: a status with collisionCount alone is refused"
class OwnerClient(FakeClient):
    """FakeClient whose GET returns the workload as the API server has it now."""

    def __init__(self, owner: dict, **kw):
        super().__init__(**kw)
        self.owner = owner

    async def get(self, path, **_):
        self.calls.append(("GET", path.rsplit("/", 1)[-1]))
        return self.owner


def test_adoption_rereads_the_owner_and_adopts_nothing_for_a_deleted_or_replaced_one():
    adopt = A.adopt_pod("web-0", {"metadata": {"uid": "p", "ownerReferences": [{"uid": "uid-1"}]}})
    live = OwnerClient({"metadata": {"uid": "uid-1"}})
    assert run(A.Plan([adopt, A.adopt_pod("web-1", adopt.body)]), live) is None
    assert live.calls[0] == ("GET", "web") and sorted(live.calls[1:]) == [("PATCH", "web-0"), ("PATCH", "web-1")], \
        "one fresh read, then the adoptions"
    for owner in ({"metadata": {"uid": "uid-1", "deletionTimestamp": "2024-05-01T12:00:00Z"}},
                  {"metadata": {"uid": "uid-2"}}):
        client = OwnerClient(owner)
        assert isinstance(run(A.Plan([adopt]), client), PlanFailed)
        assert client.calls == [("GET", "web")], "nothing patched"


def test_a_release_of_a_pod_that_is_gone_or_replaced_is_not_an_error():
    class Refusing(FakeClient):
        async def patch(self, path, body, content_type=None, **_):
            status = 404 if path.endswith("gone") else 422
            raise ApiError(status, {"message": "no"}, "PATCH", path)

    release = [A.release_pod(n, {"metadata": {"uid": "p"}}) for n in ("gone", "replaced")]
    assert run(A.Plan(release), Refusing()) is None
    assert isinstance(run(A.Plan([A.adopt_pod("replaced", {})]), type("C", (Refusing, OwnerClient), {})(
        {"metadata": {"uid": "uid-1"}})), PlanFailed), "a refused adoption is an error (someone else adopted it)"


def test_a_revision_is_created_in_go_encoding_and_patched_with_a_legacy_fallback():
    class Revisions(FakeClient):
        def __init__(self):
            super().__init__()
            self.bodies: list = []

        async def create(self, path, body, **_):
            self.bodies.append(body)
            return {"metadata": {"name": "web-1", "resourceVersion": "1"}}

        async def patch(self, path, body, content_type=None, **_):
            self.calls.append(("PATCH", path.rsplit("/", 1)[-1]))
            raise ApiError(422, {"message": "data: field is immutable"}, "PATCH", path)  # a legacy revision

        async def get(self, path, **_):
            self.calls.append(("GET", path.rsplit("/", 1)[-1]))
            return {"metadata": {"name": "web-1"}, "data": {"b": 1}, "revision": 1}

        async def replace(self, path, body, **_):
            self.calls.append(("PUT", path.rsplit("/", 1)[-1]))
            self.bodies.append(body)
            return {"metadata": {"name": "web-1", "resourceVersion": "3"}}

    client = Revisions()
    revision = {"metadata": {"name": "web-1"}, "data": {"spec": {"b": "x > y", "a": 1}}, "revision": 1}
    assert run(A.Plan([A.create_revision(revision), A.Patch(A.REVISIONS, "web-1", {"revision": 2})]), client) is None
    assert client.bodies[0] == '{"data":{"spec":{"a":1,"b":"x \\u003e y"}},"metadata":{"name":"web-1"},"revision":1}'
    assert client.calls == [("PATCH", "web-1"), ("GET", "web-1"), ("PUT", "web-1")]
    assert client.bodies[1] == {"metadata": {"name": "web-1"}, "data": {"b": 1}, "revision": 2}


def test_a_revision_left_behind_with_the_same_data_is_adopted_not_a_collision():
    ours = {"uid": "uid-1", "controller": True, "kind": "CloneSet"}
    revision = {"metadata": {"name": "web-1", "ownerReferences": [ours]}, "data": {"spec": {"a": 1}}, "revision": 1}

    class Taken(FakeClient):
        def __init__(self, existing: dict):
            super().__init__()
            self.existing, self.patches = existing, []

        async def create(self, path, body, **_):
            raise ApiError(409, {"message": "already exists"}, "POST", path)

        async def get_or_none(self, path):
            return self.existing

        async def get(self, path, **_):
            return {"metadata": {"uid": "uid-1"}} if "clonesets" in path else self.existing

        async def patch(self, path, body, content_type=None, **_):
            self.patches.append((path.rsplit("/", 2)[-2:], body))
            return {"metadata": {"name": "web-1", "resourceVersion": "9"}}

    left = Taken({"metadata": {"name": "web-1", "resourceVersion": "5"}, "data": {"spec": {"a": 1}}})
    assert run(A.Plan([A.create_revision(revision)]), left) is None
    assert left.patches == [(["controllerrevisions", "web-1"],
                             {"metadata": {"ownerReferences": [ours], "resourceVersion": "5"}})]

    other = Taken({"metadata": {"name": "web-1", "resourceVersion": "5"}, "data": {"spec": {"a": 2}}})
    assert isinstance(run(A.Plan([A.create_revision(revision)]), other), PlanFailed)
    assert other.patches == [(["web", "status"], {"status": {"collisionCount": 1}, "metadata": {"uid": "uid-1"}})], \
        "a real collision"


def test_a_refused_action_says_which_and_why_for_the_next_round():
    client = FakeClient(fail_on={"p1"})
    error = run(A.Plan([pod("p0"), pod("p1"), A.update_status({"replicas": 2})]), client)
    assert isinstance(error, PlanFailed) and error.failure == A.ActionFailure("create pods", "quota")
    assert not any(path.endswith("/status") for path, _ in client.bodies), "the plan stopped at the refusal"


def test_readiness_patches_fold_into_the_plans_own_status_patch_of_the_pod():
    ready = [A.patch_pod_status("p0", {"status": {"conditions": [condition("KruisePodReady", "True")]}}),
             A.patch_pod_status("p1", {"status": {"conditions": [condition("KruisePodReady", "True")]}})]
    plan = [A.update_status({"replicas": 2}),  # an Advanced StatefulSet writes its status before its pod actions
            A.patch_pod_status("p0", {"status": {"conditions": [condition("InPlaceUpdateReady", "True"),
                                                              condition("KruisePodReady", "False")]}})]
    out = fold_status_patches(ready, plan)
    assert out[0] is ready[1], "a pod the plan does not patch keeps its own request, first"
    assert out[1] is plan[0]
    assert out[2].body == {"status": {"conditions": [condition("KruisePodReady", "False"),
                                                      condition("InPlaceUpdateReady", "True")]}}, \
        "one request for p0; the plan's own KruisePodReady wins"
    assert len(out) == 3


def test_the_workloads_own_status_write_is_expected_until_its_index_shows_it():
    """A round woken by a pod before the workload's own event would read the old status and write it back (a
    UnitedDeployment lost its Schedulable=False condition this way and flapped between zones)."""
    client, expectations = FakeClient(), Expectations()

    async def go():
        await Executor(client, expectations, EventRecorder(client, "test"), "cloneset").execute(
            REF, A.Plan([A.Patch(A.WORKLOAD, "", {"status": {"replicas": 1}}, subresource="status")]))
    asyncio.run(go())

    def workload(rv: str) -> dict:
        return {A.WORKLOAD: [{"metadata": {"name": "web", "namespace": "ns", "resourceVersion": rv}}]}
    assert expectations.unsatisfied(REF.uid, workload("6")) == ["update workload/ns/web"]
    assert expectations.unsatisfied(REF.uid, workload("7")) == []


# ---------------------------------------------------------------------------------------------------------
# Preconditions (issue 19): a write computed from what the round saw is conditional on it

def test_the_workload_status_write_is_conditional_on_the_version_the_round_saw():
    client = FakeClient()
    ref = WorkloadRef("apps.kruise.io/v1alpha1", "clonesets", "CloneSet", "ns", "web", "uid-1", "41")
    spec = A.Patch(A.WORKLOAD, "web", {"spec": {"scaleStrategy": {"podsToDelete": None}}})

    async def go(plan):
        await Executor(client, Expectations(), EventRecorder(client, "test"), "cloneset").execute(ref, plan)
    asyncio.run(go(A.Plan([A.update_status({"replicas": 1})])))
    assert client.bodies[-1] == ("/apis/apps.kruise.io/v1alpha1/namespaces/ns/clonesets/web/status",
                                 {"status": {"replicas": 1}, "metadata": {"uid": "uid-1", "resourceVersion": "41"}})
    # After its own write of the workload, the plan's status write is conditional on the version that returned.
    asyncio.run(go(A.Plan([spec, A.update_status({"replicas": 1})])))
    assert client.bodies[-2][1] == {"spec": {"scaleStrategy": {"podsToDelete": None}}, "metadata": {"uid": "uid-1"}}
    assert client.bodies[-1][1]["metadata"] == {"uid": "uid-1", "resourceVersion": "7"}


def test_pod_writes_carry_the_pods_uid():
    from datetime import datetime, timezone

    from controllers.common import inplace, podreadiness
    now = datetime(2024, 5, 1, tzinfo=timezone.utc)
    p = {"metadata": {"name": "p", "uid": "u-p", "labels": {}, "annotations": {}},
         "spec": {"containers": [{"name": "c", "image": "a:1"}],
                  "readinessGates": [{"conditionType": "InPlaceUpdateReady"}, {"conditionType": "KruisePodReady"}]},
         "status": {"conditions": [{"type": "KruisePodReady", "status": "True"}]}}
    writes = [inplace.set_ready_condition(p, "True", now), podreadiness.add_not_ready_key(p, "k", now),
              *inplace.start_update(p, inplace.UpdateSpec("x-2", {"c": "a:2"}), now).actions]
    assert [w.body["metadata"]["uid"] for w in writes] == ["u-p"] * 4
    fresh = {**p, "status": {"conditions": []}}
    assert podreadiness.ready_if_missing(fresh, now).body["metadata"]["uid"] == "u-p"


def test_a_round_creates_about_two_seconds_of_the_clients_budget():
    from controllers.runtime.executor import BURST_REPLICAS, MIN_CREATES_PER_ROUND, creates_per_round
    assert creates_per_round(20) == 40 and creates_per_round(500) == 500
    assert creates_per_round(None) == BURST_REPLICAS == creates_per_round(10_000)
    assert creates_per_round(2) == MIN_CREATES_PER_ROUND


def test_creates_beyond_the_cap_are_left_to_the_next_round_after_the_pods_status_writes():
    from controllers.runtime.executor import deferred_creates, steps
    plan = [A.patch_pod_status("old", {"status": {}})]
    for i in range(50):
        plan += [A.create_pvc({"metadata": {"name": f"data-p{i}"}}), pod(f"p{i}"),
                 A.Event("Normal", "SuccessfulCreate", f"p{i}")]
    plan.append(A.update_status({"replicas": 50}))
    sent = steps(plan, 20)
    assert [[a.name for a in chain] for chain in sent[0]] == [["old"]], "the readiness writes go first"
    creates = [chain for step in sent[1:-1] for chain in step]
    assert [len(step) for step in sent[1:-1]] == [1, 2, 4, 8, 5], "slow start, capped at 20"
    assert [getattr(a, "name", a.what) for a in creates[0]] == ["data-p0", "p0", "event"], \
        "a pod goes with its PVC and its event"
    assert sent[-1][0][0].what == "patch workload/status", "the rest of the plan still runs"
    assert deferred_creates(plan, 20) == 30 and deferred_creates(plan, None) == 0
    assert len([c for step in steps(plan) for c in step]) == 52, "no cap: every create"


def test_the_executor_caps_the_creates_at_its_clients_qps_and_says_how_many_wait():
    client = FakeClient()
    client.limiter = type("Limiter", (), {"qps": 6})()

    async def go():
        executor = Executor(client, Expectations(), EventRecorder(client, "test"), "cloneset")
        return await executor.execute(REF, A.Plan([pod(f"p{i}") for i in range(30)]))
    assert asyncio.run(go()) == 18
    assert len(client.calls) == 12
