"""`make chaos [QUICK=1]`: the chaos suite on a sandbox of its own (no real node), results in chaos/results.md.

    python -m chaos                # every scenario, several seeds per kind (FULL below)
    python -m chaos --quick        # one sequence of a few scenarios (QUICK below), results in chaos/.state/
    python -m chaos --scenario etcd --sequences 2   # one scenario, all kinds, seeds 1-2
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from kube import KubeClient, load_config
from sandbox.cluster import Sandbox, SandboxOptions

from .proxy import CuttableProxy
from .replicas import TwoReplicas
from .scenarios import SCENARIOS, Faults, Scenario
from .kinds import KINDS
from .sequence import HIGH, LOW, OPERATIONS, SIMULATED_NODES, FaultRound, Outcome, Sequence, Supervisor

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Run:
    scenario: Scenario
    kinds: tuple[str, ...]
    seeds: tuple[int, ...]


ALL_KINDS = tuple(KINDS)
# A killed leader's successor waits out its Lease: 5 s instead of the chart's 15 s takes 10 s off each kill's
# convergence and keeps the whole run within its 20 minutes (issue 19); the same as the tests' QUICK_TAKEOVER.
MANAGER_ARGS = ("--lease-duration", "5")
# The kinds of a seed run in parallel on one sandbox, one fault hitting all of them at once: 7 seeds of 3
# operations are 21 kruise-manager kills during each kind's operations; 2 restarts or expiries of the others.
FULL = [Run(SCENARIOS["certificate"], ALL_KINDS, (1,)), Run(SCENARIOS["partition"], ALL_KINDS, (1, 2)),
        Run(SCENARIOS["kill"], ALL_KINDS, tuple(range(1, 8))), Run(SCENARIOS["leader"], ALL_KINDS, (1,))] + \
    [Run(SCENARIOS[name], ALL_KINDS, (1, 2)) for name in ("apiserver", "etcd", "compaction")]
# `make test`'s share: 3 kills during a CloneSet's and an Advanced StatefulSet's operations, one etcd restart
# and one watch expiry (about 30 s each). An API server restart costs 80-100 s on a busy machine (its SIGTERM
# stop, its start, a manager that lost its Lease started again): only in the full run. (Advanced DaemonSet and
# UnitedDeployment kills are in `make test` already: tests/e2e/daemonset/test_manager_killed.py,
# tests/e2e/uniteddeployment/test_manager_killed.py.)
QUICK = [Run(SCENARIOS["kill"], ("CloneSet", "Advanced StatefulSet"), (1,)),
         Run(SCENARIOS["etcd"], ("CloneSet",), (1,)), Run(SCENARIOS["compaction"], ("Advanced StatefulSet",), (1,))]


def measured(o: Outcome) -> str:
    """What the fault itself measured, e.g. ", admission requests 312, admission failed 0"."""
    return "".join(f", {k} {v:g}" for k, v in o.measured.items())


def summed(rows: list[Outcome]) -> str:
    """The faults' own measures over `rows`: durations (s) at their worst, counts added up."""
    keys = [k for o in rows for k in o.measured]
    out = []
    for key in dict.fromkeys(keys):
        values = [o.measured[key] for o in rows if key in o.measured]
        out.append(f"{key} {max(values) if key.endswith('(s)') else sum(values):g}")
    return ", ".join(out) or "–"


def render(outcomes: list[Outcome], seconds: float, command: str) -> str:
    seeds = sorted({o.seed for o in outcomes})
    lines = ["# Chaos results", "",
             f"`{command}`, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {seconds / 60:.1f} min; seeds "
             f"{seeds[0]}–{seeds[-1]}, the kinds of a seed in parallel (one fault hits every kind at once: "
             "the kinds start each operation together and the fault comes at a random point of the leader's, a "
             "kind drawn from the seed; `fault after` is how far each kind's own operation was then). "
             "A sandbox without a real node (kube-apiserver, etcd, "
             f"kube-controller-manager and kube-scheduler v1.20.2, {SIMULATED_NODES} simulated nodes, kruise-manager "
             "as a host process, its Lease 5 s); one fault in each operation, at a random point of its progress.", "",
             "Scenarios:", ""]
    lines += [f"- `{s.name}`: {s.title}" for s in SCENARIOS.values() if any(o.scenario == s.name for o in outcomes)]
    lines += ["",
              f"Each sequence: {LOW} pods at v1 (or {HIGH} when the scenario faults the rollout only); scale-up to "
              f"{HIGH}; image rollout in place (maxUnavailable 50%); scale-down to {LOW} (an Advanced DaemonSet scales "
              "by the nodes labelled for it, a SidecarSet by the CloneSet it injects, and its rollout is its sidecar's "
              "image). Lost: pods missing at the "
              "end; duplicated: live pods above what the operation allows; needlessly recreated: deletions the "
              "operation had no reason for; converge: from the fault to status and pods converged; manager "
              "restarts: kruise-manager exited after the fault (it could not renew its Lease) and was started "
              "again, as the kubelet would; watch expired: a watch on the pods from just before the fault was "
              "answered 410 Gone after it.", "",
              "## Summary", "",
              "| scenario | kind | operation | faults | lost | duplicated | needlessly recreated | "
              "manager restarts | watch expired | converge median / max (s) | measured by the fault |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple[str, str, str], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.scenario, o.kind, o.operation), []).append(o)
    for (scenario, kind, op), rows in groups.items():
        times = [o.converge_seconds for o in rows if o.converge_seconds is not None]
        stuck = len(rows) - len(times)
        conv = (f"{statistics.median(times):.1f} / {max(times):.1f}" if times else "–") + \
            (f" ({stuck} never)" if stuck else "")
        probed = [o.watch_expired for o in rows if o.watch_expired is not None]
        expired = f"{sum(probed)} of {len(probed)}" if probed else "–"
        lines.append(f"| {scenario} | {kind} | {op} | {len(rows)} | {sum(o.lost for o in rows)} | "
                     f"{sum(o.duplicated for o in rows)} | {sum(o.recreated for o in rows)} | "
                     f"{sum(o.manager_restarts for o in rows)} | {expired} | {conv} | {summed(rows)} |")
    lines += ["", "## Every fault", "",
              "| scenario | kind | operation | seed | fault after | lost | duplicated | recreated | "
              "manager restarts | watch expired | converge (s) | measured by the fault |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for o in outcomes:
        conv = f"{o.converge_seconds:.1f}" if o.converge_seconds is not None else "never"
        expired = "–" if o.watch_expired is None else "yes" if o.watch_expired else "no"
        lines.append(f"| {o.scenario} | {o.kind} | {o.operation} | {o.seed} | {o.fault_after} | {o.lost} | "
                     f"{o.duplicated} | {o.recreated} | {o.manager_restarts} | {expired} | {conv} | {summed([o])} |")
    return "\n".join(lines) + "\n"


async def run_all(box: Sandbox, runs: list[Run], proxy: CuttableProxy | None = None,
                  progress: Callable[[list[Outcome]], None] = lambda outcomes: None) -> list[Outcome]:
    """Every run's sequences; `progress` gets the outcomes so far after each seed."""
    def manager_alive() -> bool:
        return bool(box.status().get("kruise-manager"))

    supervisor = Supervisor(manager_alive, box.start_manager)
    outcomes: list[Outcome] = []
    async with KubeClient(load_config(box.state().kubeconfig), user_agent="chaos") as client:
        async def read_revision() -> str:
            """etcd's revision now (a list with a limit bypasses the watch cache)."""
            return (await client.get("/api/v1/pods", limit=1))["metadata"]["resourceVersion"]

        for run in runs:
            scenario = run.scenario
            faults = Faults(box, proxy)
            if scenario.manager_args:
                args = tuple(box.state().options.get("manager_args") or ()) + scenario.manager_args
                await asyncio.to_thread(box.restart_manager, args)
                supervisor.start = functools.partial(box.restart_manager, args)  # a manager started again keeps them
            if scenario.two_replicas:
                faults = Faults(box, proxy, TwoReplicas(box))
                await asyncio.to_thread(faults.replicas.up)
                supervisor.alive, supervisor.start = faults.replicas.alive, faults.replicas.start_exited
            for seed in run.seeds:
                draw = random.Random(f"{scenario.name}-{seed}")
                rounds = {op: FaultRound(lambda: scenario.inject(faults), list(run.kinds), draw.choice(run.kinds),
                                         supervisor, read_revision if scenario.probe_watch else None,
                                         scenario.exclusive)
                          for op in OPERATIONS if op in scenario.operations}
                sequences = []
                for label in run.kinds:
                    namespace = f"chaos-{scenario.name}-{label.split()[-1].lower()}-{seed}"
                    await client.create("/api/v1/namespaces", {"metadata": {"name": namespace}})
                    sequences.append(Sequence(client, scenario.name, label, namespace, seed, rounds, supervisor,
                                              probe_watch=scenario.probe_watch))
                results = await asyncio.gather(*(s.run() for s in sequences), return_exceptions=True)
                for sequence, got in zip(sequences, results):
                    if isinstance(got, BaseException):  # reported as a fault that never converged
                        print(f"  {scenario.name}: {sequence.kind_label} seed {seed} failed: {got!r}", flush=True)
                        got = [Outcome(scenario.name, sequence.kind_label, f"failed: {type(got).__name__}", seed, 0)]
                    for o in got:
                        print(f"  {o.scenario}: {o.kind} {o.operation} seed {o.seed}: fault after {o.fault_after}, "
                              f"lost {o.lost}, duplicated {o.duplicated}, recreated {o.recreated}, manager "
                              f"restarts {o.manager_restarts}, watch expired {o.watch_expired}, converged in "
                              f"{o.converge_seconds}{measured(o)}", flush=True)
                    outcomes += got
                for s in sequences:
                    await client.delete(f"/api/v1/namespaces/{s.namespace}")
                progress(outcomes)
            if scenario.manager_args:
                await asyncio.to_thread(box.restart_manager)  # back to the sandbox's own arguments
                supervisor.start = box.start_manager
            if faults.replicas is not None:
                await asyncio.to_thread(faults.replicas.down)  # the sandbox's own manager again
                supervisor.alive, supervisor.start = manager_alive, box.start_manager
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the few sequences `make test` runs")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append",
                        help="only these scenarios (repeatable), on every kind")
    parser.add_argument("--sequences", type=int, default=None, help="seeds per kind (with --scenario; default 1)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.scenario:
        seeds = tuple(range(args.first_seed, args.first_seed + (args.sequences or 1)))
        runs = [Run(SCENARIOS[name], ALL_KINDS, seeds) for name in args.scenario]
    else:
        runs = QUICK if args.quick else FULL
    out = args.out or (HERE / "results.md" if runs is FULL else HERE / ".state" / "quick-results.md")
    command = "python -m chaos" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    t0 = time.monotonic()
    box = Sandbox(Path(tempfile.mkdtemp(prefix="ack-kruise-chaos-")))
    # The manager talks to the API server through the suite's proxy (the partition cuts it): its kubeconfig, named
    # now, is written once the API server's port is known, before the manager starts.
    proxied = box.state_dir / "kubeconfig-through-proxy"
    box.up(SandboxOptions(real_node=False, simulated_nodes=SIMULATED_NODES, with_manager=False,
                          manager_args=MANAGER_ARGS + ("--kubeconfig", str(proxied))))
    proxy = None
    try:
        state = box.state()
        proxy = CuttableProxy(int(state.apiserver_url.rsplit(":", 1)[1])).start()
        proxied.write_text(Path(state.kubeconfig).read_text().replace(
            state.apiserver_url, f"https://127.0.0.1:{proxy.port}"))
        box.start_manager()

        def write_so_far(so_far: list[Outcome]) -> None:
            """results so far, marked as such: an interrupted run still leaves what it measured"""
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(render(so_far, time.monotonic() - t0, command + " (interrupted: results so far)"))

        outcomes = asyncio.run(run_all(box, runs, proxy, write_so_far))
    finally:
        box.down(quiet=True)
        if proxy is not None:
            proxy.stop()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(outcomes, time.monotonic() - t0, command))
    print(f"wrote {out}")
    return 0 if all(o.clean for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
