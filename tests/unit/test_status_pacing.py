"""The runtime paces a workload's status writes that only move counters (controllers/runtime/pacing.py)."""
from controllers.common.actions import Patch, Plan, create_pod, update_status
from controllers.runtime.pacing import StatusPacer, counters_only

STORED = {"observedGeneration": 2, "replicas": 3, "readyReplicas": 1, "updateRevision": "r-2",
          "conditions": [{"type": "Progressing", "status": "True"}]}


def test_only_integer_counts_are_counters():
    assert counters_only(STORED, {**STORED, "readyReplicas": 2, "availableReplicas": 2})
    assert counters_only(STORED, dict(STORED)), "an unchanged status"
    assert not counters_only(STORED, {**STORED, "observedGeneration": 3}), "what rollout status waits for"
    assert not counters_only(STORED, {**STORED, "collisionCount": 1}), "it changes the revision hashes"
    assert not counters_only(STORED, {**STORED, "updateRevision": "r-3"})
    assert not counters_only(STORED, {**STORED, "conditions": []})
    assert not counters_only(STORED, {**STORED, "paused": True}), "a boolean is not a count"
    assert not counters_only({k: v for k, v in STORED.items() if k != "updateRevision"}, STORED)
    assert counters_only(None, {"replicas": 1}) and not counters_only(None, {"observedGeneration": 1})


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def _plan(status, *others):
    return Plan([*others, update_status(status)], requeue_after=30.0)


def test_a_burst_then_one_counters_write_a_second_and_the_held_round_asks_to_run_again():
    clock = Clock()
    pacer = StatusPacer(burst=3, per_second=1.0, clock=clock)
    counts = {**STORED, "readyReplicas": 2}
    for _ in range(3):
        plan, held = pacer.pace("a", STORED, _plan(counts))
        assert not held and plan.of_type(Patch, "workload", "status")
    create = create_pod({"metadata": {"name": "p"}})
    plan, held = pacer.pace("a", STORED, _plan(counts, create))
    assert held and plan.actions == [create], "the pods' actions still run; only the status waits"
    assert plan.requeue_after == 1.0, "when the next token is due (not the reconcile's own 30 s)"
    clock.t += 0.5
    plan, held = pacer.pace("a", STORED, _plan(counts))
    assert held and plan.actions == [] and plan.requeue_after == 0.5
    clock.t += 0.5
    plan, held = pacer.pace("a", STORED, _plan(counts))
    assert not held, "a token a second"
    assert not pacer.pace("b", STORED, _plan(counts))[1], "every workload has its own bucket"


def test_what_is_not_a_counter_is_never_held_back():
    clock = Clock()
    pacer = StatusPacer(burst=1, per_second=1.0, clock=clock)
    pacer.pace("a", STORED, _plan({**STORED, "readyReplicas": 2}))
    for change in ({"observedGeneration": 3}, {"updateRevision": "r-3"}, {"conditions": []}):
        plan, held = pacer.pace("a", STORED, _plan({**STORED, **change}))
        assert not held and plan.of_type(Patch, "workload", "status"), change
    plan = Plan([create_pod({"metadata": {"name": "p"}})])
    assert pacer.pace("a", STORED, plan) == (plan, False), "no status write: nothing to pace"


def test_a_forgotten_workload_starts_with_a_full_bucket():
    clock = Clock()
    pacer = StatusPacer(burst=1, per_second=1.0, clock=clock)
    counts = {**STORED, "readyReplicas": 2}
    pacer.pace("a", STORED, _plan(counts))
    assert pacer.pace("a", STORED, _plan(counts))[1]
    pacer.forget("a")
    assert not pacer.pace("a", STORED, _plan(counts))[1]


def test_the_objects_of_a_churning_workload_wake_it_once_the_batch_is_over_its_own_changes_at_once():
    """After a round that had nothing to do but a status write it held back, the events of the workload's pods
    wait ROUND_BATCH_SECONDS (controllers/runtime/workload.py `sync`); other workloads' do not."""
    import asyncio
    import time

    from controllers.runtime.workload import WorkloadController
    from controllers.cloneset.handlers import KIND as CLONESET

    async def scenario():
        controller = WorkloadController(CLONESET, client=None)
        controller._batching["churning"] = time.monotonic() + 0.05
        controller._wake(["churning", "calm"])
        at_once = set(controller.queue._dirty)
        await asyncio.sleep(0.1)
        return at_once, set(controller.queue._dirty)
    assert asyncio.run(scenario()) == ({"calm"}, {"calm", "churning"})
