"""The leader scenario: two kruise-manager replicas instead of the sandbox's one, and the leader killed under load.

Both replicas run the suite's `traced_manager` (each write it sends, dry runs and every replica's own
Lease and certificate writes left out, lands in a file of its own) with the sandbox's manager arguments (a 5 s
Lease). The API server reaches their webhooks through a TCP proxy of the suite's own (`proxy.py`) that plays the
Service in front of the Deployment: each new connection goes to the first replica that accepts it, and both
replicas point the webhook configurations at it (`--webhook-url-base`), so neither rewrites what the other wrote.

The fault (`kill_leader`): the leader, found by its own leader_election_master_status metric, is killed with
SIGKILL and started again at once, as the kubelet restarts a crashed container (the new process is a follower).
It reports
- `takeover (s)`: from the dead leader's last renewal to the other replica's acquisition, both by the Lease's own
  clock (renewTime, acquireTime): never less than the Lease's duration, at most one retry period more;
- `follower writes`: the writes the other replica sent while it followed (from its start to the kill): 0 when
  one actor acts at a time.
"""
from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from kube import KubeClient, load_config, resource_path
from sandbox import kruise, processes, tools
from sandbox.cluster import Sandbox
from sandbox.processes import ProcessRecord

from .proxy import CuttableProxy, free_port

LEASE = ("kruise-system", "kruise-manager")
TAKEOVER_TIMEOUT = 60.0


@dataclass
class Replica:
    name: str
    writes_file: Path
    record: ProcessRecord | None = None
    webhook: int = 0
    health: int = 0
    metrics: int = 0
    started: float = field(default_factory=time.time)

    def alive(self) -> bool:
        return self.record is not None and self.record.alive()

    def leads(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return False
        return any(line.startswith("leader_election_master_status{") and 'name="kruise-manager"' in line
                   and line.rsplit(" ", 1)[1].strip() in ("1", "1.0") for line in text.splitlines())

    def writes_between(self, start: float, end: float) -> list[str]:
        try:
            lines = self.writes_file.read_text().splitlines()
        except OSError:
            return []
        return [line for line in lines if start <= float(line.split(" ", 1)[0]) <= end]


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class TwoReplicas:
    def __init__(self, box: Sandbox):
        self.box = box
        logs = box.state_dir / "logs"
        self.replicas = [Replica(f"kruise-manager-{n}", logs / f"kruise-manager-{n}.writes") for n in "ab"]
        self.front: CuttableProxy | None = None
        self.args: tuple[str, ...] = ()

    def up(self) -> None:
        """The sandbox's manager makes way for the two replicas (one started after the other is ready, so
        that the second finds the certificate and the webhook configurations as they must be)."""
        self.front = CuttableProxy(lambda: [r.webhook for r in self.replicas if r.alive()]).start()
        self.args = tuple(self.box.state().options.get("manager_args") or ()) + (
            "--webhook-url-base", f"https://127.0.0.1:{self.front.port}")
        self.box.kill_manager()
        for replica in self.replicas:
            self._start(replica)

    def _start(self, replica: Replica) -> None:
        state = self.box.state()
        replica.webhook, replica.health, replica.metrics = free_port(), free_port(), free_port()
        argv = kruise.manager_argv(state.kubeconfig, replica.webhook, replica.health, replica.metrics, *self.args)
        argv[1:3] = ["-m", "chaos.traced_manager"]
        replica.started = time.time()
        replica.record = processes.start(replica.name, argv, self.box.state_dir / "logs" / f"{replica.name}.log",
                                         env={**os.environ, "ACK_KRUISE_WRITES_FILE": str(replica.writes_file)},
                                         cwd=tools.REPO_ROOT)
        kruise.wait_ready(replica.health, replica.record)

    def alive(self) -> bool:
        return all(r.alive() for r in self.replicas)

    def start_exited(self) -> None:
        for replica in self.replicas:
            if not replica.alive():
                self._start(replica)

    def down(self) -> None:
        processes.stop([r.record for r in self.replicas if r.record is not None])
        if self.front is not None:
            self.front.stop()
        self.box.start_manager()  # the sandbox's own manager again

    async def _lease(self) -> dict:
        async with KubeClient(load_config(self.box.state().kubeconfig), user_agent="chaos") as client:
            return (await client.get(resource_path("coordination.k8s.io/v1", "leases", LEASE[0], LEASE[1])))["spec"]

    def kill_leader(self) -> dict[str, float]:
        deadline = time.monotonic() + TAKEOVER_TIMEOUT
        leader = None
        while leader is None and time.monotonic() < deadline:
            leader = next((r for r in self.replicas if r.alive() and r.leads()), None)
            if leader is None:
                time.sleep(0.2)  # the election under way (a poll, with the deadline above)
        if leader is None:
            raise RuntimeError("neither replica leads")
        follower = next(r for r in self.replicas if r is not leader)
        _sigkill(leader.record)
        killed_at = time.time()
        before = asyncio.run(self._lease())  # read after the kill: its renewTime is the dead leader's last
        dead_identity = before["holderIdentity"]
        self._start(leader)  # at once, as the kubelet would: a follower now
        lease = before
        while lease.get("holderIdentity") == dead_identity and time.monotonic() < deadline:
            time.sleep(0.2)
            lease = asyncio.run(self._lease())
        measured = {"follower writes": float(len(follower.writes_between(follower.started, killed_at)))}
        if lease.get("holderIdentity") != dead_identity:
            # The last renewal by the dead leader: the Lease as it stood when it died, or a renewal just before.
            last = _parse_time(before["renewTime"])
            measured["takeover (s)"] = round((_parse_time(lease["acquireTime"]) - last).total_seconds(), 2)
        return measured


def _sigkill(record: ProcessRecord | None) -> None:
    if record is not None and record.alive():
        os.kill(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while record.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
