"""A workload's status writes that only move its counters, paced: a burst, then one a second.

While a workload's pods churn (a scale-up of 1,000 pods on a fast client), every round changes a counter or two
(readyReplicas, availableReplicas, ...) and would write the status for it: 130 to 200 writes for a 1,000-pod
scale-up at QPS 500, a fifth of a request per pod on top of the two a pod needs. kube-controller-manager batches
the same churn (the Job controller's pod updates and the EndpointSlice controller's writes wait up to a second);
so does the runtime here, with a token bucket per workload:

- a status write that changes anything but counters (observedGeneration, revisions, conditions, collisionCount,
  selectors, ...) is never held back: what `kubectl rollout status`, rollbacks and the next round read lands at once;
- a write of counters only goes out while the workload has a token (`BURST`, refilled at `PER_SECOND`); without
  one, the round drops it and asks to be run again when the next token is due. The round then writes the status
  as it is by then (level-based: nothing is queued, nothing can be lost), so a counter lags by at most a second,
  and only for a workload that wrote more than `BURST` statuses in the last few seconds.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

from controllers.common.actions import WORKLOAD, Patch, Plan, earliest

BURST = 10
PER_SECOND = 1.0
NOT_COUNTERS = frozenset({"observedGeneration", "collisionCount"})  # integers, but not counts of pods


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def counters_only(stored: dict | None, new: dict | None) -> bool:
    """Whether `new` differs from the `stored` status only in integer fields that count pods (or nodes)."""
    stored, new = stored or {}, new or {}
    for key in stored.keys() | new.keys():
        before, after = stored.get(key), new.get(key)
        if before == after:
            continue
        if key in NOT_COUNTERS or not _is_count(after) or not (before is None or _is_count(before)):
            return False
    return True


def _status_write(action: Any) -> bool:
    return isinstance(action, Patch) and action.resource == WORKLOAD and action.subresource == "status"


class StatusPacer:
    """One token bucket per workload uid; `forget` it when the workload is gone."""

    def __init__(self, burst: int = BURST, per_second: float = PER_SECOND,
                 clock: Callable[[], float] = time.monotonic):
        self.burst, self.per_second, self.clock = burst, per_second, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # uid → (tokens, when counted)

    def pace(self, uid: str, stored_status: dict | None, plan: Plan) -> tuple[Plan, bool]:
        """The plan to run now, and whether its status write was held back (the plan then asks for a requeue when
        the next token is due)."""
        at = next((i for i, a in enumerate(plan.actions) if _status_write(a)), None)
        if at is None:
            return plan, False
        now = self.clock()
        tokens, then = self._buckets.get(uid, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.per_second)
        if tokens < 1 and counters_only(stored_status, (plan.actions[at].body or {}).get("status")):
            self._buckets[uid] = (tokens, now)
            actions = plan.actions[:at] + plan.actions[at + 1:]
            return replace(plan, actions=actions,
                           requeue_after=earliest(plan.requeue_after, (1 - tokens) / self.per_second)), True
        self._buckets[uid] = (max(tokens - 1, 0.0), now)
        return plan, False

    def forget(self, uid: str) -> None:
        self._buckets.pop(uid, None)
