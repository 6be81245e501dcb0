"""Replica allocation over subsets (openkruise-1.9/daemonset-uniteddeployment.md B7, B8; upstream `allocator.go`).
Pure functions on plain values: a subset is described by what the allocator reads of it.

- `parse_subset_replicas`: an int, or "N%" of the UnitedDeployment's replicas rounded half up (B7.1);
- `specific_allocation`: subsets with `replicas`; the rest is spread over the others, the remainder going to the
  unspecified subsets that already have the most replicas (B7.2);
- `min_max_allocation`: `minReplicas`/`maxReplicas`, filled greedily in topology order (B7.3, "elastic");
- `adaptive_allocation`: min/max adjusted by what runs and what cannot be scheduled (B8.1);
- `reservation_allocation`: Adaptive with reserveUnschedulablePods (B8.2).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

MAX_INT32 = 2**31 - 1


class AllocationError(ValueError):
    """The allocation cannot be made (upstream: Warning `Failed SpecifySubsetReplicas`, no subset changes)."""


def parse_subset_replicas(total: int | None, value: Any) -> int:
    """ParseSubsetReplicas: an int >= 0 as is; "N%" (0 <= N <= 100) of `total`, rounded half up; ValueError
    otherwise, with upstream's message."""
    if isinstance(value, bool):
        raise ValueError(f"invalid subset replicas {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"subsetReplicas ({value}) should not be less than 0")
        return value
    if not isinstance(value, str):
        raise ValueError(f"invalid subset replicas {value!r}")
    if total is None or total < 0:
        raise ValueError("subsetReplicas (" + value + ") should not be string when unitedDeployment replicas is empty")
    if not value.endswith("%"):
        raise ValueError(f"subsetReplicas ({value}) only support int value or percentage value with a suffix '%'")
    try:
        percent = int(value[:-1])
    except ValueError:
        raise ValueError(f"subsetReplicas ({value}) should be correct percent value") from None
    if percent < 0 or percent > 100:
        raise ValueError(f"subsetReplicas ({value}) should be in range [0, 100]")
    # floor(total * percent / 100 + 0.5) in integers: round half up.
    return (total * percent * 2 + 100) // 200


def _parse_or(total: int, value: Any, fallback: int) -> int:
    if value is None:
        return fallback
    try:
        return parse_subset_replicas(total, value)
    except ValueError:
        return fallback  # upstream logs it and goes on; the webhook refuses it first


@dataclass(frozen=True)
class SubsetSpec:
    """A topology subset as the allocators read it (`replicas`, `minReplicas`, `maxReplicas` as stored)."""

    name: str
    replicas: Any = None
    min_replicas: Any = None
    max_replicas: Any = None

    @classmethod
    def from_dict(cls, subset: dict) -> "SubsetSpec":
        return cls(subset.get("name") or "", subset.get("replicas"), subset.get("minReplicas"),
                   subset.get("maxReplicas"))


def specific_allocation(replicas: int | None, subsets: Sequence[SubsetSpec],
                        current: dict[str, int]) -> dict[str, int]:
    """specificAllocator (B7.2). `current`: the spec.replicas of each existing subset workload."""
    infos = sorted(((current.get(s.name, 0), s.name) for s in subsets))
    expected = -1 if replicas is None else replicas
    specified: dict[str, int] = {}
    for s in subsets:
        if s.replicas is None:
            continue
        try:
            specified[s.name] = parse_subset_replicas(expected, s.replicas)
        except ValueError:
            continue  # logged and skipped upstream
    total = sum(specified.values())
    if expected != -1:
        if total > expected:
            raise AllocationError(f"specified subsets' replica ({total}) is greater than UnitedDeployment replica "
                                  f"({expected})")
        if total < expected and len(specified) == len(subsets):
            raise AllocationError(f"specified subsets' replica ({total}) is less than UnitedDeployment replica "
                                  f"({expected})")
    elif len(specified) != len(subsets):
        raise AllocationError("all subsets must be specified when UnitedDeployment replica is unspecified")
    result = dict(specified)
    unspecified = [name for _, name in infos if name not in specified]
    if unspecified:
        average, remainder = divmod(expected - total, len(unspecified))
        for name in reversed(unspecified):  # the most replicas first, then the later name
            if remainder > 0:
                result[name] = average + 1
                remainder -= 1
            else:
                result[name] = average
    return {s.name: result[s.name] for s in subsets}


def min_max_bounds(replicas: int | None, subsets: Sequence[SubsetSpec]) -> list[tuple[int, int]]:
    """(min, max) per subset: unset or unparsable min is 0, max unlimited (MaxInt32)."""
    total = replicas or 0
    return [(_parse_or(total, s.min_replicas, 0), _parse_or(total, s.max_replicas, MAX_INT32)) for s in subsets]


def fill(replicas: int | None, names: Sequence[str], bounds: Sequence[tuple[int, int]]) -> dict[str, int]:
    """The two passes of minMaxAllocator: every subset's min in topology order while replicas last, then up to
    each max in the same order."""
    total = replicas or 0
    given = [0] * len(names)
    allocated = 0
    for i, (low, _) in enumerate(bounds):
        given[i] = max(0, min(low, total - allocated))
        allocated += given[i]
    if allocated < total:
        for i, (low, high) in enumerate(bounds):
            add = max(0, min(high - low, total - allocated))
            given[i] += add
            allocated += add
    return dict(zip(names, given))


def checked_bounds(replicas: int | None, subsets: Sequence[SubsetSpec]) -> list[tuple[int, int]]:
    """calculateRawMinMaxMap: the bounds, or AllocationError when a min exceeds its max."""
    bounds = min_max_bounds(replicas, subsets)
    for index, (low, high) in enumerate(bounds):
        if low > high:
            raise AllocationError(f"subset[{index}].maxReplicas({high}) must be more than or equal to "
                                  f"minReplicas({low})")
    return bounds


def min_max_allocation(replicas: int | None, subsets: Sequence[SubsetSpec]) -> dict[str, int]:
    """minMaxAllocator (B7.3)."""
    return fill(replicas, [s.name for s in subsets], checked_bounds(replicas, subsets))


@dataclass(frozen=True)
class SubsetState:
    """What Adaptive reads of an existing subset: its workload's ready and desired replicas, whether it is
    unschedulable now, whether its Schedulable condition is False ("marked"), its reserved pods, and its pods the
    scheduler has refused that have not yet been pending for rescheduleCriticalSeconds (reservation mode only)."""

    exists: bool = False
    ready: int = 0
    spec_replicas: int = 0
    unschedulable: bool = False
    marked: bool = False
    reserved: int = 0
    refused: int = 0


def adaptive_allocation(replicas: int | None, subsets: Sequence[SubsetSpec],
                        states: dict[str, SubsetState]) -> dict[str, int]:
    """adaptiveAllocator (B8.1): an unschedulable subset is frozen at its ready pods (never below its min); a
    schedulable one keeps its ready pods while its max allows, so new replicas never move running pods."""
    bounds = []
    for (low, high), s in zip(checked_bounds(replicas, subsets), subsets):
        state = states.get(s.name) or SubsetState()
        if state.exists and state.unschedulable:
            low, high = max(state.ready, low), min(state.ready, high)
        elif state.ready > low:
            low = min(state.ready, high)
        bounds.append((low, high))
    return fill(replicas, [s.name for s in subsets], bounds)


def reservation_allocation(replicas: int | None, subsets: Sequence[SubsetSpec],
                           states: dict[str, SubsetState]) -> dict[str, int]:
    """allocateByMinMaxMapAndReservation (B8.2): an unschedulable subset keeps its replicas (its pending pods are
    reserved), but only its healthy part uses up the total; the shortfall goes to later subsets.

    One difference from upstream: a subset whose pods the scheduler refuses right now, not yet long enough to
    time out, does not grow beyond its workload's replicas in pass 2; the rest goes to later subsets. Upstream
    grows it, and whether it does depends on sub-second timing: two subsets whose pending pods were created in
    different seconds (creationTimestamp's resolution) time out in different rounds, and the first one's
    shortfall lands on the second, where it is reserved for good ({1,2,2} instead of {1,1,2} in upstream's
    "reserved pods and min replicas" case). Held back, the outcome is the one upstream's e2e expects, every time.
    Its companion is in `adaptive.reservation_adaptive`: a subset's refused pods are reserved together, so an
    earlier subset's shortfall arrives in one round."""
    remaining = replicas or 0
    bounds = checked_bounds(replicas, subsets)
    alloc = {s.name: 0 for s in subsets}
    caps: dict[str, int] = {}
    for s in subsets:
        state = states.get(s.name) or SubsetState()
        free = not state.exists or (not state.unschedulable and not state.marked)
        caps[s.name] = MAX_INT32 if free else state.spec_replicas - state.reserved

    def allocate(name: str, to: int, left: int) -> int:
        add = min(to - alloc[name], left)
        alloc[name] += add
        caps[name] -= add
        return max(0, add + min(caps[name], 0))

    for s, (low, _) in zip(subsets, bounds):
        if remaining <= 0:
            break
        remaining -= allocate(s.name, low, remaining)
    for s, (_, high) in zip(subsets, bounds):
        if remaining <= 0:
            break
        state = states.get(s.name) or SubsetState()
        if state.exists and state.unschedulable:
            target = state.spec_replicas
        elif state.exists and state.refused:
            target = min(high, max(alloc[s.name], state.spec_replicas))
        else:
            target = high
        remaining -= allocate(s.name, target, remaining)
    return alloc
