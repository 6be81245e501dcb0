"""A reconcile round: what the kind's steps have decided so far.

Upstream reconciles make API calls between their steps; here each call becomes an action appended to the
round, in the order upstream would make it. Shared mechanisms return what they decide (`inplace.PodUpdate`,
`inplace.PodRefresh`, ...) and a step emits that into the round; the round's plan is `finish()` with
`requeue_after`. A kind extends the round with its own state (Advanced StatefulSet: the pods by ordinal).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import inplace
from .actions import earliest


@dataclass(kw_only=True)
class Round:
    now: datetime
    actions: list = field(default_factory=list)
    delays: list[float | None] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # condition type → the round's first message
    holding: set[str] = field(default_factory=set)  # pods whose in-place update starts this round

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

    def finish(self) -> list:
        """The actions as sent: `inplace.hold` keeps the drains of the pods whose update starts this round."""
        return inplace.hold(self.actions, self.holding)
