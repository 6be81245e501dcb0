"""The faults of issue 19 that `make chaos` injects so far, each into the operations of a `Sequence`.

- kill: kruise-manager killed with SIGKILL and started again, in every operation (scale-up, rollout, scale-down);
- apiserver: kube-apiserver restarted (SIGTERM, started again, /readyz) in the middle of a rollout in place;
- etcd: etcd restarted the same way (its data stays), in the middle of a rollout in place;
- compaction: watch expiry in the middle of a rollout (`Sandbox.expire_watches`): etcd's history compacted past
  every revision kube-apiserver has seen, then etcd restarted, so that the API server's own watches resume from
  compacted revisions, its watch caches list again and drop every client's watch, and every client that resumes
  from where it was gets 410 Gone. (Compaction alone expires nothing at once: etcd keeps serving a watch that is
  already running, and kube-apiserver's watch caches keep answering from memory.)
- certificate: in every operation, the manager's serving certificate (valid 20 s, renewed 8 s before it
  expires) rotating while four clients send admission requests without pause (`admission.py`);
- leader: two manager replicas, the leader killed (SIGKILL) and started again in every operation (`replicas.py`):
  the time to take over, by the Lease's clock, and the writes the follower sent while it followed;
- partition: kruise-manager cut off from kube-apiserver for 30 s, then reconnected, in the middle of a rollout:
  a TCP proxy of the suite's own between them on loopback (`proxy.py`) stops passing bytes both ways.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import time

from sandbox.cluster import Sandbox

from .admission import CERT_ARGS, rotate_under_load
from .proxy import CuttableProxy
from .replicas import TwoReplicas
from .sequence import OPERATIONS

PARTITION_SECONDS = 30.0


@dataclass(frozen=True)
class Faults:
    """What a fault acts on: the sandbox, and the proxy between its manager and API server (None: the manager
    talks to the API server directly, and the partition cannot be run)."""

    box: Sandbox
    proxy: CuttableProxy | None = None
    replicas: TwoReplicas | None = None  # the leader scenario's two managers (replicas.py)


@dataclass(frozen=True)
class Scenario:
    name: str  # the short name on the command line and in the results
    title: str
    inject: Callable[[Faults], object]  # blocks until the fault is over
    operations: tuple[str, ...] = OPERATIONS
    probe_watch: bool = False  # report whether watches from before the fault were answered 410 Gone
    manager_args: tuple[str, ...] = ()  # added to the manager's arguments for this scenario's runs
    two_replicas: bool = False  # two manager replicas (TwoReplicas) instead of the sandbox's one
    # False: the fault starts and stops no process, and a manager that exits meanwhile (it lost its Lease) is
    # started again during the fault, as the kubelet would (FaultRound)
    exclusive: bool = True


def _kill_manager(faults: Faults) -> None:
    faults.box.kill_manager()
    faults.box.restart_manager()


def _partition(faults: Faults) -> None:
    """The fault lasts PARTITION_SECONDS by definition: a wait in the fault, not in a test."""
    if faults.proxy is None:
        raise RuntimeError("the partition needs the manager behind the suite's proxy (python -m chaos sets it up)")
    faults.proxy.cut()
    try:
        time.sleep(PARTITION_SECONDS)
    finally:
        faults.proxy.reconnect()


def _rotate_under_load(faults: Faults) -> dict[str, float]:
    return rotate_under_load(faults.box.state().kubeconfig,
                             lambda: faults.box.state().ports["kruise-manager-webhook"])


def _kill_leader(faults: Faults) -> dict[str, float]:
    if faults.replicas is None:
        raise RuntimeError("the leader scenario needs two manager replicas (python -m chaos starts them)")
    return faults.replicas.kill_leader()


ROLLOUT = ("rollout in place",)
SCENARIOS = {s.name: s for s in (
    Scenario("kill", "kruise-manager killed (SIGKILL) and restarted", _kill_manager),
    Scenario("apiserver", "kube-apiserver restarted mid-rollout",
             lambda f: f.box.restart_component("kube-apiserver"), ROLLOUT, probe_watch=True),
    Scenario("etcd", "etcd restarted mid-rollout", lambda f: f.box.restart_component("etcd"), ROLLOUT,
             probe_watch=True),
    Scenario("compaction", "watch expiry mid-rollout: etcd compacted past every revision kube-apiserver has seen "
             "(the API server paused meanwhile), then restarted", lambda f: f.box.expire_watches(), ROLLOUT,
             probe_watch=True),
    Scenario("certificate", "the serving certificate rotating (valid 20 s, renewed 8 s before expiry) under admission "
             "load: 4 clients sending dry-run creates through the webhooks from before a rotation until 40 answers "
             "after it", _rotate_under_load, manager_args=CERT_ARGS, exclusive=False),
    Scenario("leader", "two kruise-manager replicas, the leader killed (SIGKILL) and restarted in every "
             "operation: the other takes over", _kill_leader, two_replicas=True),
    Scenario("partition", f"kruise-manager cut off from kube-apiserver for {PARTITION_SECONDS:.0f} s mid-rollout "
             "(a TCP proxy of the suite's own stops passing bytes), then reconnected", _partition, ROLLOUT,
             exclusive=False),
)}
