"""`make bench`: how fast our controllers roll out and what the manager costs, against kube-controller-manager's
native controllers and the ceiling of a tight client loop, all in one run on this machine.

    python -m bench.run            # `make bench`: N = 100 and 1000, both client-limit profiles, 3 rounds
                                   # (about 70 min), then Advanced DaemonSet vs DaemonSet on 50 nodes, 5 rounds
    python -m bench.run --quick    # `make bench QUICK=1`: N = 100 at 500/500 only, one round (about 4 min)
    python -m bench.run --sizes 1000 --contenders deployment,cloneset --no-rollouts \
        --daemonset-rounds 0 --sidecarset-rounds 0   # the scale-up targets only (about 20 min)
    python -m bench.run --contenders none --out bench/.state/results-daemonset.md   # only the DaemonSets
    python -m bench.run --contenders none --daemonset-rounds 0 --profiles high \
        --out bench/.state/results-sidecarset.md                              # only the SidecarSet figures

QUICK runs one profile because one does not fit in 2 minutes at 20/30: there, a CloneSet recreating 100 pods
alone takes 35 s (7 requests per pod at 20 requests/s). `--profiles default --sizes 100` is the other half.

Every cell (profile, N, contender) runs `--rounds` times (3; QUICK: 1), each round every contender once in an
order rotating from round to round, so that a slow minute of the shared machine does not always land on the same
contender; the report gives medians, ranges and the median of each round's ratio to the native contender. A
contender starts only once the previous one's namespace is gone and kruise-manager and kube-controller-manager
have gone quiet again (the deletion digested).

One sandbox per client-limit profile (restarted between profiles), without a real node: kube-apiserver, etcd,
kube-controller-manager and kube-scheduler v1.20.2, three simulated nodes, and kruise-manager. The same QPS and
burst go to kube-controller-manager (--kube-api-qps/--kube-api-burst), to kruise-manager
(--rest-config-qps/--rest-config-burst) and to the raw client loop. Results go to bench/results.md (table),
bench/results.png (pods ready over time) and bench/.state/results.json (everything, for `python -m
bench.report` to render again); a QUICK run writes to bench/.state/quick/ instead.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from kube import ApiError, KubeClient, load_config

from . import cost, daemonset as ds, report, scenarios as S, sidecarset as ss
from .measure import PodWatch, nth

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STATE = HERE / ".state"
QUIET_WINDOW, QUIET_WINDOWS = 1.0, 2  # the manager is done when two 1 s windows in a row use < 0.02 cores
CEILING_PODS = 1000  # the simulator's ceiling is a rate: measured with enough pods for it to show, even for N = 100


@dataclass(frozen=True)
class Profile:
    name: str
    qps: float
    burst: int
    what: str


PROFILES = {
    "default": Profile("default", 20, 30, "kube-controller-manager's defaults (OpenKruise's are 30/50)"),
    "high": Profile("high", 500, 500, "high enough that the API server itself is the bound"),
}


@dataclass
class Config:
    command: str
    contenders: tuple
    sizes: tuple[int, ...]
    profiles: tuple[Profile, ...]
    idle_seconds: float
    rounds: int
    rollouts: bool
    daemonset_rounds: int
    sidecarset_rounds: int
    sidecarset_sizes: tuple[int, ...]
    sidecarset_pairs: int
    quick: bool
    trace: bool
    out_md: Path
    out_png: Path
    out_json: Path


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---- the sandbox ----------------------------------------------------------------------------------
class Box:
    """One sandbox for one profile, and what the harness needs of it."""

    def __init__(self, profile: Profile, trace: bool, simulated_nodes: int = 3, name: str | None = None,
                 audit: bool = False, real_node: bool = False, kubelet_api_qps: tuple[float, int] | None = None):
        from sandbox.cluster import Sandbox, SandboxOptions
        self.profile, self.trace = profile, trace
        self.sandbox = Sandbox(STATE / (name or profile.name))
        self.options = SandboxOptions(
            real_node=real_node, simulated_nodes=simulated_nodes, with_manager=True, kcm_qps=profile.qps,
            kubelet_api_qps=kubelet_api_qps,
            kcm_burst=profile.burst,
            manager_args=("--rest-config-qps", f"{profile.qps:g}", "--rest-config-burst", str(profile.burst),
                          # the chart's default (the sandbox checks every 2 s, for the certificate tests)
                          "--cert-check-interval", "60"),
            apiserver_args=ds.audit_args(self.sandbox.state_dir / "audit") if audit else ())
        self.trace_file = str(self.sandbox.state_dir / "trace.json")

    def up(self) -> None:
        self.sandbox.down(quiet=True)  # a sandbox left over by an interrupted run, maybe with other limits
        t0 = time.monotonic()
        self.sandbox.up(self.options)
        if self.trace:
            self._swap_in_traced_manager()
        self.started_s = time.monotonic() - t0

    def _swap_in_traced_manager(self) -> None:
        from sandbox import kruise, processes, tools
        state = self.sandbox.state()
        old = [p for p in state.processes if p.name == "kruise-manager"]
        processes.stop(old)
        argv = list(old[0].argv)
        i = argv.index("-m")
        argv[i + 1:i + 2] = ["bench.traced_manager"]
        record = processes.start("kruise-manager", argv, Path(old[0].log), cwd=tools.REPO_ROOT,
                                 env={**os.environ, "ACK_KRUISE_TRACE_FILE": self.trace_file})
        state.processes = [p for p in state.processes if p.name != "kruise-manager"] + [record]
        state.save()
        kruise.wait_ready(state.ports["kruise-manager-health"], record)

    def restart_manager(self) -> None:
        self.sandbox.restart_manager()
        if self.trace:
            self._swap_in_traced_manager()

    def down(self) -> None:
        self.sandbox.down(quiet=True)

    @property
    def state(self):
        return self.sandbox.state()

    def pid(self, name: str) -> int:
        return next(p.pid for p in self.state.processes if p.name == name)

    def pids(self) -> dict[str, int]:
        return {p.name: p.pid for p in self.state.processes}

    @property
    def metrics_port(self) -> int:
        return self.state.ports["kruise-manager-metrics"]


def cpu_of(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        try:
            out[name] = cost.cpu_seconds(pid)
        except OSError:
            pass
    out["bench"] = cost.cpu_seconds(os.getpid())
    return out


class Meter:
    """Everything measured around one phase: manager and KCM usage, every component's CPU, manager requests."""

    def __init__(self, box: Box):
        self.box = box

    def start(self) -> "Meter":
        self.pids = self.box.pids()
        self.cpu0 = cpu_of(self.pids)
        self.counters0 = cost.manager_counters(self.box.metrics_port)
        self.manager = cost.Sampler(self.pids["kruise-manager"]).start()
        self.trace0 = self._trace()
        return self

    def _trace(self):
        if not self.box.trace:
            return None
        from .traced_manager import read
        return read(self.box.trace_file)

    async def stop(self) -> dict:
        usage = await self.manager.stop()
        cpu1 = cpu_of(self.pids)
        counters = cost.manager_counters(self.box.metrics_port)
        out = {"manager": usage.to_dict(),
               "cpu": {k: round(v - self.cpu0.get(k, 0.0), 2) for k, v in cpu1.items()},
               "requests": cost.delta(counters["requests"], self.counters0["requests"]),
               "webhook_requests": cost.delta(counters["webhook_requests"], self.counters0["webhook_requests"]),
               "webhooks": cost.delta(counters["webhooks"], self.counters0["webhooks"]),
               "reconciles": cost.delta(counters["reconciles"], self.counters0["reconciles"]),
               "reconcile_seconds": cost.delta(counters["reconcile_seconds"], self.counters0["reconcile_seconds"])}
        if self.trace0 is not None:
            await asyncio.sleep(0.6)  # the tracer writes every 0.5 s
            t = self._trace()
            t.subtract(self.trace0)
            out["trace"] = {k: v for k, v in t.most_common() if v > 0}
        return out


# ---- one contender ---------------------------------------------------------------------------------
def timeout_for(n: int, qps: float, requests_per_pod: float = 8) -> float:
    return max(120.0, n * requests_per_pod / qps + 60)


async def finish(box: Box, watch: PodWatch, meter: Meter, n: int) -> dict:
    """After the pods are all there: wait until the manager is quiet too (its remaining writes, e.g. lifecycle
    labels and events, queue behind the pod writes at 20 QPS), so that its CPU and requests count the whole
    run and the next phase starts clean. `manager_busy_s`: when it went quiet, from the phase start."""
    at_done = watch.now()
    quiet = QUIET_WINDOWS * QUIET_WINDOW
    settled = await cost.settle(box.pid("kruise-manager"), window=QUIET_WINDOW, windows=QUIET_WINDOWS,
                                timeout=timeout_for(n, box.profile.qps))
    out = await meter.stop()
    out["manager_busy_s"] = at_done + max(0.0, settled - quiet)
    return out


async def quiet(box: Box, timeout: float = 120) -> float:
    """Waits until kruise-manager and kube-controller-manager are both quiet (the previous run's deletions and
    trailing writes digested), so that none of it lands in the next run's window or CPU; returns the seconds."""
    t0 = time.monotonic()
    await asyncio.gather(cost.settle(box.pid("kruise-manager"), timeout=timeout),
                         cost.settle(box.pid("kube-controller-manager"), timeout=timeout))
    return time.monotonic() - t0


def round_order(contenders: tuple, round_index: int) -> list:
    """Every round runs every contender once; the order rotates, so that none always runs first (or last)."""
    k = round_index % len(contenders) if contenders else 0
    return list(contenders[k:] + contenders[:k])


def scale_times(phase, n: int) -> dict:
    """When the N-th pod was created and Ready, and the median pod's (and the 90th percentile's) time to Ready:
    what a user waiting for a scale-up sees before the tail."""
    ready = list(phase.first_ready.values())
    return {"created_s": nth(list(phase.first_seen.values()), n), "ready_s": nth(ready, n),
            "median_ready_s": nth(ready, (n + 1) // 2), "p90_ready_s": nth(ready, -(-9 * n // 10))}


async def run_contender(box: Box, client: KubeClient, c: S.Contender, n: int, cfg: Config,
                        watch_idle: bool, round_index: int = 0) -> list[dict]:
    p = box.profile
    ns = f"bench-{c.key}-{n}-r{round_index}"
    results: list[dict] = []
    await S.delete_namespace(client, ns)  # left over from an interrupted run
    await S.create_namespace(client, ns)
    watch = await PodWatch(client, ns).start()
    current = {"profile": p.name, "n": n, "round": round_index, "contender": c.key, "label": c.label,
               "kind": "scale", "controller": c.controller, "load": os.getloadavg()[0]}
    try:
        raw = None
        if c.key == "raw":  # its own process, as the controllers are, started and connected beforehand
            raw = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.raw_client", "--kubeconfig", box.state.kubeconfig, "--namespace", ns,
                "--pods", str(n), "--qps", f"{p.qps:g}", "--burst", str(p.burst), cwd=REPO,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            if (await raw.stdout.readline()).strip() != b"ready":
                raise RuntimeError("bench.raw_client did not start")
        meter = Meter(box).start()
        phase = watch.begin()
        if raw:
            raw.stdin.write(b"go\n")
            await raw.stdin.drain()
        else:
            await S.create_workload(client, c, ns, n)
        try:
            await watch.until(lambda w: w.ready >= n, timeout_for(n, p.qps), f"{c.key} scale-up", stall=60)
        finally:
            if raw and await raw.wait() != 0:
                raise RuntimeError(f"bench.raw_client exited with {raw.returncode}")
        current.update(await finish(box, watch, meter, n))
        current.update(**scale_times(phase, n), series=phase.series(column=2))
        results.append(current)
        log(f"[{p.name}] N={n} round {round_index} {c.key}: all created {current['created_s']:.1f}s, median pod "
            f"Ready {current['median_ready_s']:.1f}s, all ready {current['ready_s']:.1f}s (load {current['load']:.1f})")

        if watch_idle:
            usage = await cost.idle_usage(box.pid("kruise-manager"), cfg.idle_seconds)
            results.append({"profile": p.name, "n": n, "contender": c.key, "kind": "watching", **usage.to_dict()})
            log(f"[{p.name}] manager idle while watching {n} pods: {usage.rss_peak / 2**20:.0f} MB, "
                f"{usage.cores:.3f} cores")

        for r in c.rollouts if cfg.rollouts else ():
            current = {"profile": p.name, "n": n, "round": round_index, "contender": r.key, "label": r.label,
                       "kind": "rollout", "controller": c.controller, "load": os.getloadavg()[0]}
            meter = Meter(box).start()
            phase = watch.begin(r.image)
            await S.start_rollout(client, c, r, ns)
            await watch.until(lambda w: w.done >= n, timeout_for(n, p.qps, 12), f"{r.key} rollout", stall=60)
            current.update(await finish(box, watch, meter, n))
            current.update(done_s=nth(list(phase.first_done.values()), n), min_ready=phase.min_ready(),
                           series=phase.series(column=3))
            results.append(current)
            log(f"[{p.name}] N={n} {r.key}: complete {current['done_s']:.1f}s (min ready {current['min_ready']})")

        if watch_idle:
            # The same pods watched by a manager that never saw them change: what the data itself costs,
            # without the allocator's high-water mark from the runs above.
            current = {"profile": p.name, "n": n, "contender": c.key, "kind": "watching-restarted"}
            box.restart_manager()
            settled = await cost.settle(box.pid("kruise-manager"))
            usage = await cost.idle_usage(box.pid("kruise-manager"), cfg.idle_seconds)
            current.update(settle_s=settled, **usage.to_dict())
            results.append(current)
            log(f"[{p.name}] restarted manager idle while watching {n} pods: {usage.rss_peak / 2**20:.0f} MB, "
                f"{usage.cores:.3f} cores")
    except Exception as e:  # a contender that fails is reported as failed; the others still run
        current["error"] = f"{type(e).__name__}: {e}"
        results.append(current)
        log(f"[{p.name}] N={n} {current['contender']}: FAILED: {current['error']}")
    finally:
        await watch.stop()
        try:
            took = await S.delete_namespace(client, ns)
        except (ApiError, TimeoutError) as e:  # the next run has a namespace of its own; this one goes later
            took = float("nan")
            log(f"[{p.name}] N={n} {c.key}: namespace {ns} not deleted yet: {e}")
        settled = await quiet(box)
        log(f"[{p.name}] N={n} {c.key}: namespace deleted in {took:.1f}s, controllers quiet {settled:.1f}s later")
    return results


async def measure_profile(box: Box, cfg: Config) -> dict:
    from .nodesim_ceiling import measure as nodesim_ceiling
    p = box.profile
    out: dict = {"name": p.name, "qps": p.qps, "burst": p.burst, "what": p.what, "rounds": cfg.rounds,
                 "sandbox_start_s": box.started_s, "runs": []}
    async with KubeClient(load_config(box.state.kubeconfig), max_connections=32, user_agent="bench") as client:
        # The manager's start-up (leader election, first lists) is not idle time.
        settled = await cost.settle(box.pid("kruise-manager"))
        usage = await cost.idle_usage(box.pid("kruise-manager"), cfg.idle_seconds)
        out["idle"] = {"settle_s": settled, **usage.to_dict()}
        log(f"[{p.name}] manager idle, no workloads: {usage.rss_peak / 2**20:.0f} MB, {usage.cores:.3f} cores")

        big = max(cfg.sizes)
        await quiet(box)
        for n in cfg.sizes:
            for i in range(cfg.rounds):
                for c in round_order(cfg.contenders, i):
                    out["runs"] += await run_contender(box, client, c, n, cfg, round_index=i,
                                                       watch_idle=(c is S.CLONESET and n == big and i == 0))

        # Last, so that its pods (which the manager watches too) do not add to the manager's figures above.
        ceiling_pods = max(big, CEILING_PODS)
        ns = f"bench-nodesim-ceiling-{ceiling_pods}"
        ceiling = await nodesim_ceiling(ceiling_pods, ns, 64, box.state.kubeconfig)
        await S.delete_namespace(client, ns)
        out["nodesim_ceiling"] = ceiling
        log(f"[{p.name}] simulator ceiling: {ceiling_pods} bound pods all Ready in {ceiling['ready_s']:.1f}s "
            f"({ceiling['ready_per_s']:.0f} pods/s)")
    return out


# ---- generator and chart ----------------------------------------------------------------------------
def _timed(argv: list[str], repeat: int = 3, **kw) -> dict:
    times = []
    for _ in range(repeat):
        t0 = time.monotonic()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
        times.append(time.monotonic() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "runs": len(times)}


def _executable(name: str) -> str:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


def measure_tools() -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as out:
        generate = _timed([_executable("ack-kruise"), "generate", "--out-dir", out], cwd=REPO)
    helm = _timed([_executable("helm"), "template", "ack-kruise", str(REPO / "charts" / "ack-kruise")], cwd=REPO)
    return {"generate": generate, "helm_template": helm}


# ---- where and what ---------------------------------------------------------------------------------
def _out(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=REPO).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict:
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration):
        mem_kb = 0
    return {"cpu": model, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "load_before": os.getloadavg()}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    def pkg(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "?"

    from sandbox import tools
    try:
        kube = _out([tools.find("kube-apiserver"), "--version"]).replace("Kubernetes ", "")
    except Exception:
        kube = "?"
    commit = _out(["git", "rev-parse", "--short", "HEAD"])
    dirty = bool(_out(["git", "status", "--porcelain", "--untracked-files=no"]))
    return {"ack-kruise": f"{pkg('ack-kruise')} ({commit}{', with uncommitted changes' if dirty else ''})",
            "kubernetes": kube, "python": platform.python_version(), "kopf": pkg("kopf"),
            "aiohttp": pkg("aiohttp"), "helm": _out([_executable("helm"), "version", "--short"])}


# ---- main -------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="N = 100 at 500/500 only, short idle windows, one DaemonSet round without in place "
                        "(about 4 minutes)")
    p.add_argument("--sizes", help="comma-separated pod counts (default 100,1000; --quick: 100)")
    p.add_argument("--profiles", help="comma-separated: default (20/30), high (500/500); default both "
                                      "(--quick: high)")
    p.add_argument("--contenders", help=f"comma-separated subset of: {', '.join(c.key for c in S.CONTENDERS)} "
                                        "(default all; none: only the DaemonSets)")
    p.add_argument("--idle-seconds", type=float, help="length of each idle measurement (default 30; --quick: 3)")
    p.add_argument("--rounds", type=int, help="runs of every cell, contenders interleaved (default 3; --quick: 1)")
    p.add_argument("--no-rollouts", action="store_true", help="scale-ups only (no image rollouts)")
    p.add_argument("--daemonset-rounds", type=int,
                   help=f"rounds of the Advanced DaemonSet vs DaemonSet comparison on {ds.NODES} simulated nodes, "
                        "a sandbox of its own per profile (default 5; --quick: 1; 0: skip it)")
    p.add_argument("--sidecarset-rounds", type=int,
                   help="rounds of the SidecarSet figures (pod webhook latency with 0, 1, 20 SidecarSets; a sidecar "
                        "upgrade across N pods), a sandbox of its own per profile (default 3; --quick: 1; 0: skip)")
    p.add_argument("--sidecarset-sizes", help="comma-separated pod counts for the sidecar upgrade (default 1000; "
                                              "--quick: 100)")
    p.add_argument("--sidecarset-pairs", type=int,
                   help="timed pod creates per SidecarSet count and round, each with and without the webhook "
                        "(default 200; --quick: 50)")
    p.add_argument("--trace", action="store_true",
                   help="run the manager under bench.traced_manager and record its requests by kind (profiling)")
    p.add_argument("--out", help="Markdown report, the plot next to it (default bench/results.md; --quick: "
                                 "bench/.state/quick/results.md, so that the published figures stay)")
    a = p.parse_args(argv)
    sizes = tuple(int(s) for s in a.sizes.split(",")) if a.sizes else ((100,) if a.quick else (100, 1000))
    names = a.profiles.split(",") if a.profiles else (["high"] if a.quick else list(PROFILES))
    unknown = [n for n in names if n not in PROFILES]
    if unknown:
        p.error(f"unknown profile(s) {', '.join(unknown)}; known: {', '.join(PROFILES)}")
    keys = [] if a.contenders == "none" else a.contenders.split(",") if a.contenders else [c.key for c in S.CONTENDERS]
    bad = [k for k in keys if k not in {c.key for c in S.CONTENDERS}]
    if bad:
        p.error(f"unknown contender(s) {', '.join(bad)}")
    out = Path(a.out) if a.out else (STATE / "quick" / "results.md" if a.quick else HERE / "results.md")
    given = [x for x in (argv if argv is not None else sys.argv[1:]) if x != "--out" and x != a.out]
    command = ("make bench" if not given else "make bench QUICK=1" if given == ["--quick"]
               else "python -m bench.run " + " ".join(given))
    return Config(command=command, contenders=tuple(c for c in S.CONTENDERS if c.key in keys), sizes=sizes, profiles=tuple(PROFILES[n] for n in names),
                  idle_seconds=a.idle_seconds or (3.0 if a.quick else 30.0),
                  rounds=a.rounds or (1 if a.quick else 3), rollouts=not a.no_rollouts,
                  daemonset_rounds=(1 if a.quick else 5) if a.daemonset_rounds is None else a.daemonset_rounds,
                  sidecarset_rounds=(1 if a.quick else 3) if a.sidecarset_rounds is None else a.sidecarset_rounds,
                  sidecarset_sizes=tuple(int(x) for x in a.sidecarset_sizes.split(",")) if a.sidecarset_sizes
                  else ((100,) if a.quick else (1000,)),
                  sidecarset_pairs=a.sidecarset_pairs or (50 if a.quick else 200),
                  quick=a.quick, trace=a.trace,
                  out_md=out, out_png=out.with_suffix(".png"), out_json=out.parent / ".results.json"
                  if out.resolve().parent != HERE else STATE / f"{out.stem}.json")


def write_results(cfg: Config, results: dict, t0: float) -> None:
    """The raw data, the report and its plot, of every part measured so far."""
    results["machine"]["load_after"] = os.getloadavg()
    results["total_s"] = time.monotonic() - t0
    cfg.out_json.parent.mkdir(parents=True, exist_ok=True)
    cfg.out_md.parent.mkdir(parents=True, exist_ok=True)
    cfg.out_json.write_text(json.dumps(results, indent=1))
    text = report.markdown(results, png_name=cfg.out_png.name)
    cfg.out_md.write_text(text)
    report.plot(results, cfg.out_png)
    print(text)


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    try:
        import matplotlib  # noqa: F401  (checked now, not after half an hour of measuring)
    except ImportError:
        log("matplotlib is missing (the plot needs it): pip install -e '.[bench]' (make setup installs it)")
        return 2
    t0 = time.monotonic()
    results: dict = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
                     "versions": versions(), "quick": cfg.quick, "sizes": list(cfg.sizes), "rounds": cfg.rounds,
                     "command": cfg.command, "profiles": []}
    log("timing `ack-kruise generate` and `helm template`")
    results["tools"] = measure_tools()
    try:
        for profile in cfg.profiles if cfg.contenders else ():
            box = Box(profile, cfg.trace)
            log(f"[{profile.name}] starting a sandbox with client QPS {profile.qps:g} / burst {profile.burst}")
            box.up()
            try:
                results["profiles"].append(asyncio.run(measure_profile(box, cfg)))
            finally:
                box.down()
        if cfg.daemonset_rounds:
            results["daemonset"] = []
        for profile in cfg.profiles if cfg.daemonset_rounds else ():
            box = Box(profile, cfg.trace, simulated_nodes=ds.NODES, name=f"{profile.name}-daemonset", audit=True)
            log(f"[{profile.name}] starting a sandbox with {ds.NODES} simulated nodes for the DaemonSets")
            box.up()
            try:
                # QUICK keeps to the comparison itself: the in-place contender has no native counterpart.
                contenders = (ds.NATIVE, ds.ADVANCED) if cfg.quick else ds.CONTENDERS
                results["daemonset"].append(asyncio.run(ds.measure(box, cfg.daemonset_rounds, log, contenders)))
            finally:
                box.down()
        if cfg.sidecarset_rounds:
            results["sidecarset"] = []
        for profile in cfg.profiles if cfg.sidecarset_rounds else ():
            box = Box(profile, cfg.trace, name=f"{profile.name}-sidecarset")
            log(f"[{profile.name}] starting a sandbox for the SidecarSet figures")
            box.up()
            try:
                results["sidecarset"].append(asyncio.run(ss.measure(
                    box, cfg.sidecarset_sizes, cfg.sidecarset_rounds, cfg.sidecarset_pairs, log)))
            finally:
                box.down()
    except BaseException as error:
        # An hour of figures is not lost to a failure in a later part: the report says where the run stopped.
        results["stopped"] = f"{type(error).__name__}: {error}"
        log(f"stopped ({results['stopped']}); writing what was measured before")
        raise
    finally:
        write_results(cfg, results, t0)
    for target, measured, met in report.targets(results) if results["profiles"] else ():
        log(f"{report.yes_no(met).strip('*').upper()}: {target}: {measured}")
    log(f"done in {results['total_s']:.0f}s: {cfg.out_md}, {cfg.out_png} (raw data: {cfg.out_json})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
