"""Which pods go first: update order and scale-in order, shared by the workloads.

- `active_pods_less` mirrors `k8s.io/kubernetes/pkg/controller` ActivePods.Less (the default update order).
- `priority_sort` mirrors `pkg/util/updatesort/priority_sort.go` (weightPriority / orderPriority).
- `scatter_sort` mirrors `pkg/util/updatesort/scatter_sort.go`.
- `sort_for_deletion` mirrors `pkg/controller/cloneset/utils/pod_sorter.go` ActivePodsWithRanks with the
  same-node ranker (the topology-spread ranker needs Node objects, which a pure reconcile does not have).

All functions work on indexes into a `pods` list, like upstream, so the caller keeps its own bookkeeping.
Sorts are stable. One deliberate difference: upstream's priority sort breaks ties by descending index (natural
for StatefulSet ordinals, arbitrary for CloneSet); here ties keep the incoming order, so a caller that wants
"highest ordinal first" passes its indexes in that order.
"""
from __future__ import annotations

import math
import struct
from datetime import datetime
from functools import cmp_to_key
from typing import Any, Callable

from .keys import POD_DELETION_COST_ANNOTATION
from .objects import annotations_of, creation_time, labels_of
from .pods import is_pod_ready, max_container_restarts, node_name_of, phase_of, pod_ready_time
from .selectors import selector_matches

JSON = dict[str, Any]

_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def _after_or_zero(t1: datetime | None, t2: datetime | None) -> bool:
    """afterOrZero: a zero time counts as after any other."""
    if t1 is None or t2 is None:
        return t1 is None
    return t1 > t2


def _less_prefix(a: JSON, b: JSON) -> bool | None:
    """Unassigned < assigned, then Pending < Unknown < Running; None when these do not decide."""
    na, nb = node_name_of(a), node_name_of(b)
    if na != nb and (not na or not nb):
        return not na
    pa, pb = _PHASE_ORDINAL.get(phase_of(a), 0), _PHASE_ORDINAL.get(phase_of(b), 0)
    if pa != pb:
        return pa < pb
    return None


def _less_suffix(a: JSON, b: JSON) -> bool:
    """Ready for less time first, then more restarts first, then newer first."""
    if is_pod_ready(a) and is_pod_ready(b):
        ra, rb = pod_ready_time(a), pod_ready_time(b)
        if ra != rb:
            return _after_or_zero(ra, rb)
    ca, cb = max_container_restarts(a), max_container_restarts(b)
    if ca != cb:
        return ca > cb
    ta, tb = creation_time(a), creation_time(b)
    if ta != tb:
        return _after_or_zero(ta, tb)
    return False


def active_pods_less(a: JSON, b: JSON) -> bool:
    """ActivePods.Less: the pod that is "less" is further from serving, so it is updated (or deleted) first."""
    decided = _less_prefix(a, b)
    if decided is not None:
        return decided
    if is_pod_ready(a) != is_pod_ready(b):
        return not is_pod_ready(a)
    return _less_suffix(a, b)


def _sorted_by_less(items: list, less: Callable[[Any, Any], bool]) -> list:
    return sorted(items, key=cmp_to_key(lambda x, y: -1 if less(x, y) else (1 if less(y, x) else 0)))


def _newest_first(t: datetime | None) -> tuple[int, float]:
    """afterOrZero as a sort key: a zero time first, then the latest first."""
    return (0, 0.0) if t is None else (1, -t.timestamp())


def _prefix_key(pod: JSON) -> tuple:
    return (bool(node_name_of(pod)), _PHASE_ORDINAL.get(phase_of(pod), 0))


def _suffix_key(pod: JSON) -> tuple:
    ready_time = _newest_first(pod_ready_time(pod)) if is_pod_ready(pod) else (0, 0.0)
    return (ready_time, -max_container_restarts(pod), _newest_first(creation_time(pod)))


def active_pods_key(pod: JSON) -> tuple:
    """A sort key that orders pods exactly like `active_pods_less` (computed once per pod, so sorting
    thousands of pods stays cheap). The comparator is kept as the readable reference."""
    return (*_prefix_key(pod), is_pod_ready(pod), _suffix_key(pod))


def sort_active_indexes(pods: list[JSON], indexes: list[int]) -> list[int]:
    """The default update order of CloneSet (GetPodsSortFunc)."""
    keys = {i: active_pods_key(pods[i]) for i in indexes}
    return sorted(indexes, key=keys.__getitem__)


# ---------------------------------------------------------------------------------------------------------
# priorityStrategy

def _weight(strategy: JSON, labels: dict[str, str]) -> int:
    return sum(int(p.get("weight") or 0) for p in strategy.get("weightPriority") or []
               if selector_matches(p.get("matchSelector") or {}, labels))


def _int_suffix(value: str) -> int:
    """getIntFromStringSuffix: the trailing digits of a label value ("pod-12" → 12), 0 when none."""
    digits = ""
    for ch in reversed(value):
        if not ch.isdigit() or not ch.isascii():
            break
        digits = ch + digits
    try:
        return int(digits) if digits else 0
    except ValueError:
        return 0


def _order(strategy: JSON, labels: dict[str, str]) -> tuple[int, int]:
    for level, p in enumerate(strategy.get("orderPriority") or []):
        key = p.get("orderedKey")
        if key in labels:
            return level, _int_suffix(labels[key])
    return -1, 0  # v1.8.3 quirk: a pod without any of the keys sorts before pods that have one


def priority_sort(pods: list[JSON], indexes: list[int], strategy: JSON | None) -> list[int]:
    """Highest summed weight first; or by orderedKey level, then highest trailing number first."""
    if not strategy or not (strategy.get("weightPriority") or strategy.get("orderPriority")):
        return list(indexes)
    if strategy.get("weightPriority"):
        return sorted(indexes, key=lambda i: -_weight(strategy, labels_of(pods[i])))
    return sorted(indexes, key=lambda i: (_order(strategy, labels_of(pods[i]))[0],
                                          -_order(strategy, labels_of(pods[i]))[1]))


# ---------------------------------------------------------------------------------------------------------
# scatterStrategy

def _f32(x: float) -> float:
    """Round to float32, as the Go code compares float32 ratios."""
    return struct.unpack("f", struct.pack("f", x))[0]


def _round_half_away(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def _scatter_group(matched: int, unmatched: int) -> dict[str, int]:
    group_num = min(matched, unmatched)
    return {"groupNum": group_num,
            "matchedGroupSize": _round_half_away(matched / group_num),
            "unmatchedGroupSize": _round_half_away(unmatched / group_num),
            "unmatchedRemainder": 0}


def _group_by_density(total_matched: int, total_unmatched: int, update_matched: int, update_unmatched: int) -> dict:
    total_group = _scatter_group(total_matched, total_unmatched)
    update_group = _scatter_group(update_matched, update_unmatched)
    if _f32(_f32(total_unmatched) / _f32(total_matched)) >= _f32(_f32(update_unmatched) / _f32(update_matched)):
        return update_group
    group = {"matchedGroupSize": total_group["matchedGroupSize"],
             "unmatchedGroupSize": total_group["unmatchedGroupSize"]}
    if update_matched // group["matchedGroupSize"] < update_unmatched // group["unmatchedGroupSize"]:
        group["groupNum"] = update_matched // group["matchedGroupSize"]
    else:
        group["groupNum"] = update_unmatched // group["unmatchedGroupSize"]
    group["unmatchedRemainder"] = update_unmatched - group["groupNum"] * group["unmatchedGroupSize"]
    return group


def _scatter_terms(pods: list[JSON], indexes: list[int], strategy: list[JSON]) -> list[JSON]:
    if len(strategy) == 1:
        return strategy
    counts: dict[tuple[str, str], int] = {}
    terms: list[JSON] = []
    for term in strategy:
        for i in indexes:
            if labels_of(pods[i]).get(term.get("key")) == term.get("value") and term.get("key") in labels_of(pods[i]):
                key = (term.get("key"), term.get("value"))
                if key not in counts:
                    terms.append({"key": key[0], "value": key[1]})
                    counts[key] = 0
                counts[key] += 1
    return sorted(terms, key=lambda t: -counts[(t["key"], t["value"])])


def _scatter_by_term(term: JSON, pods: list[JSON], indexes: list[int]) -> list[int]:
    key, value = term.get("key"), term.get("value")
    matched = [i for i in indexes if labels_of(pods[i]).get(key) == value]
    unmatched = [i for i in indexes if labels_of(pods[i]).get(key) != value]
    if len(matched) <= 1 or len(unmatched) <= 1:
        return list(indexes)
    total_matched = sum(1 for p in pods if p is not None and labels_of(p).get(key) == value)
    total_unmatched = sum(1 for p in pods if p is not None) - total_matched

    # The last matched pod goes to the very end; the rest are spread between the unmatched ones.
    last = matched.pop()
    total_matched -= 1
    group = _group_by_density(total_matched, total_unmatched, len(matched), len(unmatched))
    out: list[int] = []
    if group["unmatchedRemainder"] > 0:
        out.extend(unmatched[:group["unmatchedRemainder"]])
        unmatched = unmatched[group["unmatchedRemainder"]:]
    for _ in range(group["groupNum"]):
        for src, size in ((matched, group["matchedGroupSize"]), (unmatched, group["unmatchedGroupSize"])):
            take = src[:size] if len(src) >= size else src[:]
            out.extend(take)
            del src[:len(take)]
    out.extend(matched)
    out.extend(unmatched)
    out.append(last)
    return out


def scatter_sort(pods: list[JSON], indexes: list[int], strategy: list[JSON] | None) -> list[int]:
    """Spread pods carrying a label value over the whole rollout instead of updating them back to back."""
    if not strategy or len(indexes) <= 1:
        return list(indexes)
    indexes = list(indexes)
    for term in _scatter_terms(pods, indexes, strategy):
        indexes = _scatter_by_term(term, pods, indexes)
    return indexes


# ---------------------------------------------------------------------------------------------------------
# Scale-in order

def _deletion_cost(pod: JSON) -> int:
    """controller.kubernetes.io/pod-deletion-cost; 0 when missing or invalid (no "+", no leading zeros)."""
    value = annotations_of(pod).get(POD_DELETION_COST_ANNOTATION)
    if not value:
        return 0
    if not (value[0] == "-" or value == "0" or ("1" <= value[0] <= "9")):
        return 0
    try:
        cost = int(value)
    except ValueError:
        return 0
    return cost if -(2**31) <= cost < 2**31 else 0


def _ranked_less(a: JSON, b: JSON, ranks: dict[int, float], available: Callable[[JSON], bool] | None) -> bool:
    decided = _less_prefix(a, b)
    if decided is not None:
        return decided
    if available is not None and available(a) != available(b):
        return not available(a)
    if is_pod_ready(a) != is_pod_ready(b):
        return not is_pod_ready(a)
    ca, cb = _deletion_cost(a), _deletion_cost(b)
    if ca != cb:
        return ca < cb
    ra, rb = ranks.get(id(a), 0.0), ranks.get(id(b), 0.0)
    if ra != rb:
        return ra > rb
    return _less_suffix(a, b)


def deletion_key(pod: JSON, rank: float = 0.0, available: bool | None = None) -> tuple:
    """A sort key equal to `_ranked_less` (ActivePodsWithRanks.Less)."""
    return (*_prefix_key(pod), True if available is None else available, is_pod_ready(pod), _deletion_cost(pod),
            -rank, _suffix_key(pod))


def _same_node_ranks(pods: list[JSON]) -> dict[int, float]:
    """NewSameNodeRanker: pods sharing a node with others rank higher (deleted first), except the best one."""
    by_node: dict[str, list[JSON]] = {}
    for p in pods:
        if node_name_of(p):
            by_node.setdefault(node_name_of(p), []).append(p)
    ranks: dict[int, float] = {}
    for group in by_node.values():
        if len(group) <= 1:
            continue
        ordered = sorted(group, key=deletion_key)[:-1]
        for i, p in enumerate(ordered):
            ranks[id(p)] = float(len(ordered) - i)
    return ranks


def sort_for_deletion(pods: list[JSON], available: Callable[[JSON], bool] | None = None) -> list[JSON]:
    """The pods in the order they should be deleted when scaling in (first = delete first)."""
    ranks = _same_node_ranks(pods)
    keys = {id(p): deletion_key(p, ranks.get(id(p), 0.0), available(p) if available else None) for p in pods}
    return sorted(pods, key=lambda p: keys[id(p)])


def sort_for_deletion_reference(pods: list[JSON], available: Callable[[JSON], bool] | None = None) -> list[JSON]:
    """The same order through the comparator, as upstream writes it (used to check `sort_for_deletion`)."""
    ranks = _same_node_ranks(pods)
    return _sorted_by_less(list(pods), lambda x, y: _ranked_less(x, y, ranks, available))
