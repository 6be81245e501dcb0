"""What every workload reconcile must be, whatever its kind: level-based, idempotent and pure.

- the same observed state gives the same plan (whatever the order the objects come in), and that plan acts only
  on the pods and PVCs it was shown;
- a converged workload asks for nothing, however much time passes;
- the inputs are never modified.

A kind's `test_reconcile_properties.py` drives its fake cluster (a `tests/unit/world.BaseWorld`) and asks these
at every point of its random walks. `reconcile` is the kind's reconcile on an observed state,
`(workload, pods, pvcs, revisions) -> Plan` at the world's clock; by default the world's own `run_reconcile` with
the world's `context()`.
"""
from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any, Callable

from controllers.common import actions as A

from ..world import BaseWorld, owned_objects

JSON = dict[str, Any]
Reconcile = Callable[[JSON, list[JSON], list[JSON], list[JSON]], A.Plan]


def observed(world: BaseWorld) -> tuple[JSON, list[JSON], list[JSON], list[JSON]]:
    """What the runtime would hand the reconcile: the workload and the pods, PVCs and revisions it owns."""
    return world.workload, list(world.pods.values()), list(world.pvcs.values()), list(world.revisions.values())


def _run(world: BaseWorld) -> Reconcile:
    return lambda workload, pods, pvcs, revisions: world.run_reconcile(
        workload, owned_objects(pods, pvcs, revisions), world.context())


def assert_same_state_same_plan(world: BaseWorld, first: Reconcile | None = None, second: Reconcile | None = None,
                                normalize: Callable[[A.Plan], Any] = lambda plan: plan) -> A.Plan:
    """Fresh copies of the observed state, then the world's own objects with the pods and PVCs in reverse order,
    give the same plan (up to `normalize`, e.g. for random names; `second` defaults to `first`). Returns it."""
    first = first or _run(world)
    workload, pods, pvcs, revisions = observed(world)
    plan = first(*copy.deepcopy((workload, pods, pvcs, revisions)))
    again = (second or first)(workload, list(reversed(pods)), list(reversed(pvcs)), revisions)
    assert normalize(plan) == normalize(again)
    for action in plan.actions:
        if action.what in ("patch pods", "patch pods/status", "delete pods"):
            assert action.name in world.pods  # never acts on pods it did not see
        if action.what in ("patch persistentvolumeclaims", "delete persistentvolumeclaims"):
            assert action.name in world.pvcs
    return plan


def assert_converged_asks_for_nothing(world: BaseWorld, rounds: int = 3,
                                      every: timedelta = timedelta(minutes=5)) -> None:
    """Once settled, time passing and the kubelet reporting again ask for nothing, not even a requeue."""
    world.settle()
    for _ in range(rounds):
        world.now += every
        world.kubelet()
        plan = world.reconcile()
        assert plan.actions == [] and plan.requeue_after is None


def assert_inputs_not_modified(world: BaseWorld, reconcile: Reconcile | None = None) -> None:
    """The reconcile reads the observed objects and never writes into them (the index's objects are shared)."""
    args = observed(world)
    before = copy.deepcopy(args)
    (reconcile or _run(world))(*args)
    assert args == before
