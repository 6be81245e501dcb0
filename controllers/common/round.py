"""A reconcile round: what the kind's steps have decided so far.

Upstream reconciles make API calls between their steps; here each call becomes an action appended to the
round, in the order upstream would make it. Shared mechanisms return what they decide (`inplace.PodUpdate`,
`inplace.PodRefresh`, ...) and a step emits that into the round; the round's plan is `finish()` with
`requeue_after`. A kind extends the round with its own state (Advanced StatefulSet: the pods by ordinal).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

from . import inplace
from .actions import earliest


DRAINS_SEEN = "drainsSeen"  # the key of Round.drains_seen in a workload's memory


def seen_drains(memory: Any) -> Mapping[str, str]:
    """The drains seen by the previous round, from Context.memory."""
    return (memory or {}).get(DRAINS_SEEN) or {} if isinstance(memory, dict) else {}


@dataclass(kw_only=True)
class Round:
    now: datetime
    actions: list = field(default_factory=list)
    delays: list[float | None] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # condition type → the round's first message
    holding: set[str] = field(default_factory=set)  # pods whose in-place update starts this round
    # When earlier rounds first saw in-place drains stored (inplace.RefreshResult.drain_seen), from the workload's
    # memory (Context.memory); and this round's, handed on in the plan's (`memory`).
    seen_drains: Mapping[str, str] = field(default_factory=dict)
    drains_seen: dict[str, str] = field(default_factory=dict)

    def emit(self, *actions: Any) -> None:
        self.actions.extend(actions)

    def wait(self, seconds: float | None) -> None:
        """Look again after `seconds` at the latest (None: nothing to wait for)."""
        self.delays.append(seconds)

    def fail(self, condition: str, message: str) -> None:
        """Report a failure as the workload condition `condition`; the first message of the round wins."""
        self.failures.setdefault(condition, message)

    @property
    def requeue_after(self) -> float | None:
        return earliest(*self.delays)

    def refresh_pod(self, pod: dict, lifecycle_spec: dict | None, update_revision: str,
                    **options: Any) -> inplace.PodRefresh:
        """inplace.refresh_pod at this round's time, with the drains seen before; remembers the ones seen now."""
        res = inplace.refresh_pod(pod, lifecycle_spec, update_revision, self.now, drains_seen=self.seen_drains,
                                  **options)
        if res.drain_seen:
            self.drains_seen[res.drain_seen[0]] = res.drain_seen[1]
        return res

    def memory(self, pods: Iterable[dict], **more: Any) -> dict | None:
        """What the plan hands on to the next round (Plan.memory): the kind's `more`, and the drains seen, this
        round or before (a round that refreshed no pod forgets none), of the `pods` whose grace still runs."""
        pending = {key for pod in pods if (key := inplace.pending_drain_key(pod))}
        drains = {k: v for k, v in {**self.seen_drains, **self.drains_seen}.items() if k in pending}
        out = {k: v for k, v in more.items() if v}
        if drains:
            out[DRAINS_SEEN] = drains
        return out or None

    def finish(self) -> list:
        """The actions as sent: `inplace.hold` keeps the drains of the pods whose update starts this round."""
        return inplace.hold(self.actions, self.holding)
