"""`make chaos [QUICK=1]`: the chaos suite on a sandbox of its own (no real node), results in chaos/results.md.

    python -m chaos                # 7 sequences per kind: 21 kills of kruise-manager per kind (about 15 min)
    python -m chaos --quick        # 1 sequence per kind: 3 kills per kind (about 2 min), results in chaos/.state/
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from kube import KubeClient, load_config
from sandbox.cluster import Sandbox, SandboxOptions

from .kills import HIGH, KINDS, LOW, Outcome, Sequence

HERE = Path(__file__).resolve().parent


def render(outcomes: list[Outcome], seconds: float, seeds: list[int]) -> str:
    lines = ["# Chaos results", "",
             f"`python -m chaos{'' if len(seeds) > 1 else ' --quick'}`, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} "
             f"UTC, {seconds / 60:.1f} min; seeds {seeds[0]}–{seeds[-1]}. A sandbox without a real node (kube-apiserver, "
             "etcd, kube-controller-manager and kube-scheduler v1.20.2, three simulated nodes), kruise-manager killed "
             "with SIGKILL and restarted once in each operation, at a random point of its progress.", "",
             f"Each sequence: {LOW} pods at v1; scale-up to {HIGH}; image rollout in place (maxUnavailable 50%); "
             f"scale-down to {LOW}. Lost: pods missing at the end; duplicated: live pods above what the operation "
             "allows, or two live pods of one name; needlessly recreated: deletions the operation had no reason for; "
             "converge: from the kill to status and pods converged.", "",
             "## Summary", "",
             "| kind | operation | kills | lost | duplicated | needlessly recreated | converge median / max (s) |",
             "|---|---|---|---|---|---|---|"]
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.kind, o.operation), []).append(o)
    for (kind, op), rows in groups.items():
        times = [o.converge_seconds for o in rows if o.converge_seconds is not None]
        stuck = len(rows) - len(times)
        conv = (f"{statistics.median(times):.1f} / {max(times):.1f}" if times else "–") + \
            (f" ({stuck} never)" if stuck else "")
        lines.append(f"| {kind} | {op} | {len(rows)} | {sum(o.lost for o in rows)} | "
                     f"{sum(o.duplicated for o in rows)} | {sum(o.recreated for o in rows)} | {conv} |")
    lines += ["", "## Every kill", "",
              "| kind | operation | seed | killed after | lost | duplicated | recreated | converge (s) |",
              "|---|---|---|---|---|---|---|---|"]
    for o in outcomes:
        conv = f"{o.converge_seconds:.1f}" if o.converge_seconds is not None else "never"
        lines.append(f"| {o.kind} | {o.operation} | {o.seed} | {o.kill_after} | {o.lost} | {o.duplicated} | "
                     f"{o.recreated} | {conv} |")
    return "\n".join(lines) + "\n"


async def run_all(box: Sandbox, seeds: list[int]) -> list[Outcome]:
    def kill_manager() -> None:
        box.kill_manager()
        box.restart_manager()

    outcomes: list[Outcome] = []
    async with KubeClient(load_config(box.state().kubeconfig), user_agent="chaos") as client:
        for seed in seeds:
            for label in KINDS:
                namespace = f"chaos-{label.split()[-1].lower()}-{seed}"
                await client.create("/api/v1/namespaces", {"metadata": {"name": namespace}})
                got = await Sequence(client, label, namespace, seed, kill_manager).run()
                for o in got:
                    print(f"  {o.kind} {o.operation} seed {o.seed}: lost {o.lost}, duplicated {o.duplicated}, "
                          f"recreated {o.recreated}, converged in {o.converge_seconds}", flush=True)
                outcomes += got
                await client.delete(f"/api/v1/namespaces/{namespace}")
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one sequence per kind")
    parser.add_argument("--sequences", type=int, default=None, help="sequences per kind (default 7, quick 1)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    count = args.sequences or (1 if args.quick else 7)
    seeds = list(range(args.first_seed, args.first_seed + count))
    out = args.out or (HERE / ".state" / "quick-results.md" if args.quick else HERE / "results.md")
    t0 = time.monotonic()
    box = Sandbox(Path(tempfile.mkdtemp(prefix="ack-kruise-chaos-")))
    box.up(SandboxOptions(real_node=False, simulated_nodes=3, with_manager=True))
    try:
        outcomes = asyncio.run(run_all(box, seeds))
    finally:
        box.down(quiet=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(outcomes, time.monotonic() - t0, seeds))
    print(f"wrote {out}")
    bad = [o for o in outcomes if o.lost or o.duplicated or o.recreated or o.converge_seconds is None]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
