"""The faults of issue 19 that `make chaos` injects so far, each into the operations of a `Sequence`.

- kill: kruise-manager killed with SIGKILL and started again, in every operation (scale-up, rollout, scale-down);
- apiserver: kube-apiserver restarted (SIGTERM, started again, /readyz) in the middle of a rollout in place;
- etcd: etcd restarted the same way (its data stays), in the middle of a rollout in place;
- compaction: watch expiry in the middle of a rollout (`Sandbox.expire_watches`): etcd's history compacted past
  every revision kube-apiserver has seen, then etcd restarted, so that the API server's own watches resume from
  compacted revisions, its watch caches list again and drop every client's watch, and every client that resumes
  from where it was gets 410 Gone. (Compaction alone expires nothing at once: etcd keeps serving a watch that is
  already running, and kube-apiserver's watch caches keep answering from memory.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sandbox.cluster import Sandbox

from .sequence import OPERATIONS


@dataclass(frozen=True)
class Scenario:
    name: str  # the short name on the command line and in the results
    title: str
    inject: Callable[[Sandbox], object]  # blocks until the fault is over
    operations: tuple[str, ...] = OPERATIONS
    probe_watch: bool = False  # report whether watches from before the fault were answered 410 Gone


def _kill_manager(box: Sandbox) -> None:
    box.kill_manager()
    box.restart_manager()


ROLLOUT = ("rollout in place",)
SCENARIOS = {s.name: s for s in (
    Scenario("kill", "kruise-manager killed (SIGKILL) and restarted", _kill_manager),
    Scenario("apiserver", "kube-apiserver restarted mid-rollout",
             lambda box: box.restart_component("kube-apiserver"), ROLLOUT, probe_watch=True),
    Scenario("etcd", "etcd restarted mid-rollout", lambda box: box.restart_component("etcd"), ROLLOUT,
             probe_watch=True),
    Scenario("compaction", "watch expiry mid-rollout: etcd compacted past every revision kube-apiserver has seen "
             "(the API server paused meanwhile), then restarted", lambda box: box.expire_watches(), ROLLOUT,
             probe_watch=True),
)}
