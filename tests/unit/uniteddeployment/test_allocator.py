"""The allocators (openkruise-1.9/daemonset-uniteddeployment.md B7, B8) on plain values; the vectors are the
spec's worked examples, upstream's unit tests (`TestCapacityAllocator`, ...) and its e2e sequences (B12)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.uniteddeployment.allocator import (MAX_INT32, AllocationError, SubsetSpec, SubsetState,
                                                    adaptive_allocation, min_max_allocation, parse_subset_replicas,
                                                    reservation_allocation, specific_allocation)


@pytest.mark.parametrize("total,value,expected", [
    (3, "25%", 1), (1, "25%", 0), (5, "50%", 3), (5, "10%", 1), (10, "33%", 3), (4, 2, 2), (None, 2, 2),
    (7, "0%", 0), (7, "100%", 7),
])
def test_parse_rounds_half_up(total, value, expected) -> None:
    assert parse_subset_replicas(total, value) == expected


@pytest.mark.parametrize("total,value,message", [
    (3, -1, "should not be less than 0"), (None, "10%", "should not be string when unitedDeployment replicas is empty"),
    (3, "10", "with a suffix '%'"), (3, "x%", "correct percent value"), (3, "101%", "in range [0, 100]"),
])
def test_parse_errors(total, value, message) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_subset_replicas(total, value)


def subsets(*names: str, **fields) -> list[SubsetSpec]:
    return [SubsetSpec(n, *(fields.get(n, (None, None, None)))) for n in names]


# ---------------------------------------------------------------------------------------------- specific (B7.2)

@pytest.mark.parametrize("replicas,current,specified,expected", [
    (5, {"t1": 1, "t2": 4, "t3": 2, "t4": 2}, {}, {"t1": 1, "t2": 2, "t3": 1, "t4": 1}),
    (19, {"t1": 0, "t2": 10}, {}, {"t1": 9, "t2": 10}),
    (21, {"t1": 0, "t2": 10}, {}, {"t1": 10, "t2": 11}),
    (27, {"t1": 1, "t2": 4, "t3": 2, "t4": 2}, {"t1": 4, "t3": 4}, {"t1": 4, "t2": 10, "t3": 4, "t4": 9}),
])
def test_specific_worked_examples(replicas, current, specified, expected) -> None:
    specs = [SubsetSpec(name, specified.get(name)) for name in current]
    assert specific_allocation(replicas, specs, current) == expected


def test_specific_e2e_sequence() -> None:
    """B12 #2 "united deployment with specific allocator": 25%, 25%, nil; 3 → {1,1,1}, 4 → {1,1,2}, 1 → {0,0,1}."""
    specs = [SubsetSpec("s0", "25%"), SubsetSpec("s1", "25%"), SubsetSpec("s2")]
    current: dict[str, int] = {}
    for replicas, expected in ((3, [1, 1, 1]), (4, [1, 1, 2]), (1, [0, 0, 1])):
        current = specific_allocation(replicas, specs, current)
        assert list(current.values()) == expected


@pytest.mark.parametrize("replicas,specs,message", [
    (3, [SubsetSpec("a", 2), SubsetSpec("b", 2)], r"specified subsets' replica \(4\) is greater than UnitedDeployment replica \(3\)"),
    (5, [SubsetSpec("a", 2), SubsetSpec("b", 2)], r"specified subsets' replica \(4\) is less than UnitedDeployment replica \(5\)"),
    (None, [SubsetSpec("a", 2), SubsetSpec("b")], "all subsets must be specified when UnitedDeployment replica is unspecified"),
])
def test_specific_errors(replicas, specs, message) -> None:
    with pytest.raises(AllocationError, match=message):
        specific_allocation(replicas, specs, {})


def test_specific_without_replicas_uses_every_subset_value() -> None:
    assert specific_allocation(None, [SubsetSpec("a", 2), SubsetSpec("b", 3)], {}) == {"a": 2, "b": 3}


@settings(max_examples=200, deadline=None)
@given(replicas=st.integers(0, 60), current=st.lists(st.integers(0, 20), min_size=1, max_size=6),
       specified=st.lists(st.one_of(st.none(), st.integers(0, 5)), min_size=6, max_size=6))
def test_specific_sums_to_replicas(replicas, current, specified) -> None:
    names = [f"s{i}" for i in range(len(current))]
    specs = [SubsetSpec(n, specified[i]) for i, n in enumerate(names)]
    try:
        got = specific_allocation(replicas, specs, dict(zip(names, current)))
    except AllocationError:
        return
    assert sum(got.values()) == replicas and min(got.values()) >= 0
    for spec in specs:
        if spec.replicas is not None:
            assert got[spec.name] == spec.replicas


# ---------------------------------------------------------------------------------------------- min/max (B7.3)

@pytest.mark.parametrize("replicas,expected", [(10, [2, 2, 2, 2, 2]), (14, [5, 3, 2, 2, 2]), (5, [2, 2, 1, 0, 0])])
def test_capacity_allocator(replicas, expected) -> None:
    specs = [SubsetSpec(f"s{i}", None, 2, 5 if i < 4 else None) for i in range(5)]
    assert list(min_max_allocation(replicas, specs).values()) == expected


def test_elastic_e2e_sequence() -> None:
    """B12 #1 "united deployment with elastic allocator": (1,2), (1,2), (1,∞): 3 → {1,1,1}, 7 → {2,2,3}, 1 → {1,0,0}."""
    specs = [SubsetSpec("s0", None, 1, 2), SubsetSpec("s1", None, 1, 2), SubsetSpec("s2", None, 1)]
    assert [list(min_max_allocation(r, specs).values()) for r in (3, 7, 1)] == [[1, 1, 1], [2, 2, 3], [1, 0, 0]]


def test_min_max_percentages_and_errors() -> None:
    specs = [SubsetSpec("a", None, "10%", "50%"), SubsetSpec("b")]
    assert min_max_allocation(10, specs) == {"a": 5, "b": 5}
    with pytest.raises(AllocationError, match=r"subset\[0\].maxReplicas\(1\) must be more than or equal to minReplicas\(2\)"):
        min_max_allocation(10, [SubsetSpec("a", None, 2, 1), SubsetSpec("b")])
    assert min_max_allocation(None, [SubsetSpec("a", None, 0)]) == {"a": 0}  # v1.9.0: nil replicas is 0


@settings(max_examples=200, deadline=None)
@given(replicas=st.integers(0, 60), bounds=st.lists(st.tuples(st.integers(0, 5), st.one_of(st.none(), st.integers(5, 10))),
                                                    min_size=1, max_size=5))
def test_min_max_never_exceeds_max_nor_replicas(replicas, bounds) -> None:
    specs = [SubsetSpec(f"s{i}", None, low, high) for i, (low, high) in enumerate(bounds)]
    got = min_max_allocation(replicas, specs)
    assert sum(got.values()) <= replicas
    assert all(got[s.name] <= (s.max_replicas if s.max_replicas is not None else MAX_INT32) for s in specs)
    if any(s.max_replicas is None for s in specs):
        assert sum(got.values()) == replicas


# ---------------------------------------------------------------------------------------------- adaptive (B8.1)

def test_adaptive_without_bounds_fills_the_first_subset() -> None:
    specs = [SubsetSpec("a", None, 0), SubsetSpec("b", None, 0)]
    assert adaptive_allocation(4, specs, {}) == {"a": 4, "b": 0}


def test_adaptive_basic_trace() -> None:
    """B8.1's trace of B12 #3 "adaptive united deployment basic": s0 max 2, s1 max 2, s2 unlimited."""
    specs = [SubsetSpec("s0", None, 0, 2), SubsetSpec("s1", None, 0, 2), SubsetSpec("s2", None, 0)]
    ok = lambda ready: SubsetState(exists=True, ready=ready)  # noqa: E731
    assert adaptive_allocation(3, specs, {}) == {"s0": 2, "s1": 1, "s2": 0}
    # s1's pod stays pending: unschedulable, frozen at 0 ready
    stuck = {"s0": ok(2), "s1": SubsetState(exists=True, ready=0, unschedulable=True), "s2": ok(0)}
    assert adaptive_allocation(3, specs, stuck) == {"s0": 2, "s1": 0, "s2": 1}
    stuck["s2"] = ok(1)
    assert adaptive_allocation(5, specs, stuck) == {"s0": 2, "s1": 0, "s2": 3}
    stuck["s2"] = ok(3)
    assert adaptive_allocation(4, specs, stuck) == {"s0": 2, "s1": 0, "s2": 2}
    # recovered: s1 may take replicas again; s2 keeps its 2 running pods
    healthy = {"s0": ok(2), "s1": ok(0), "s2": ok(2)}
    assert adaptive_allocation(4, specs, healthy) == {"s0": 2, "s1": 0, "s2": 2}
    assert adaptive_allocation(5, specs, healthy) == {"s0": 2, "s1": 1, "s2": 2}
    assert adaptive_allocation(4, specs, healthy) == {"s0": 2, "s1": 0, "s2": 2}  # the pending pod goes first
    assert adaptive_allocation(3, specs, healthy) == {"s0": 2, "s1": 0, "s2": 1}


def test_adaptive_unschedulable_subset_keeps_its_min() -> None:
    """B12 #4: s0 min 1 max 2, unschedulable with no ready pod, keeps its pending pod."""
    specs = [SubsetSpec("s0", None, 1, 2), SubsetSpec("s1", None, 0)]
    states = {"s0": SubsetState(exists=True, ready=0, unschedulable=True), "s1": SubsetState(exists=True, ready=2)}
    assert adaptive_allocation(3, specs, states) == {"s0": 1, "s1": 2}
    assert adaptive_allocation(4, specs, states) == {"s0": 1, "s1": 3}


# ---------------------------------------------------------------------------------------------- reservation (B8.2)

def test_reservation_keeps_reserved_pods_and_adds_temporary_ones() -> None:
    """B12 #5: s0, s1 unschedulable with 2 reserved pods each, s2 free: R=2 → {2,2,2}; R=4 → {2,2,4}."""
    specs = [SubsetSpec("s0", None, 0), SubsetSpec("s1", None, 0), SubsetSpec("s2", None, 0)]
    states = {"s0": SubsetState(True, 0, 2, True, True, 2), "s1": SubsetState(True, 0, 2, True, True, 2),
              "s2": SubsetState(True, 2, 2)}
    assert reservation_allocation(2, specs, states) == {"s0": 2, "s1": 2, "s2": 2}
    assert reservation_allocation(4, specs, states) == {"s0": 2, "s1": 2, "s2": 4}
    # s0 fixed: its pods are healthy, nothing reserved → all of R goes to s0 and the temporary pods go
    fixed = {"s0": SubsetState(True, 2, 2), "s1": SubsetState(True, 0, 2, True, True, 2), "s2": SubsetState(True, 2, 2)}
    assert reservation_allocation(4, specs, fixed) == {"s0": 4, "s1": 0, "s2": 0}


def test_reservation_does_not_grow_a_subset_whose_pods_are_refused_before_they_time_out() -> None:
    """B12 #6 with s0's and s1's pending pods created in different seconds: s0 times out first. Upstream hands
    its shortfall to s1, whose pod times out a second later, and s1 ends with 2 reserved pods ({1,2,2}); held
    back, s1 stays at 1 and the shortfall goes to s2 at once: {1,1,1}, then {1,1,2} when s1 times out."""
    specs = [SubsetSpec("s0", None, 1), SubsetSpec("s1", None, 1), SubsetSpec("s2", None, 0)]
    s0_timed_out = SubsetState(True, 0, 1, True, False, 1)
    s1_refused = SubsetState(True, 0, 1, refused=1)
    assert reservation_allocation(2, specs, {"s0": s0_timed_out, "s1": s1_refused, "s2": SubsetState(True)}) == {
        "s0": 1, "s1": 1, "s2": 1}
    s1_timed_out = SubsetState(True, 0, 1, True, False, 1)
    assert reservation_allocation(2, specs, {"s0": s0_timed_out, "s1": s1_timed_out, "s2": SubsetState(True, 1, 1)}) \
        == {"s0": 1, "s1": 1, "s2": 2}
    # once the scheduler places its pods, the subset grows again
    assert reservation_allocation(2, specs, {"s0": s0_timed_out, "s1": SubsetState(True, 1, 1),
                                             "s2": SubsetState(True)}) == {"s0": 1, "s1": 2, "s2": 0}


def test_reservation_new_subsets_take_everything() -> None:
    specs = [SubsetSpec("a", None, 0), SubsetSpec("b", None, 0)]
    assert reservation_allocation(3, specs, {}) == {"a": 3, "b": 0}
