"""The benchmark's Markdown report and plot, from the results `bench.run` collects.

    python -m bench.report [bench/.state/results.json]   # render bench/results.md and .png again
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Targets of issue 21 ("Performance at the physical floor"); the in-place rollout's is judged on the real node
# (`bench/realnode.py`): on simulated nodes a recreated pod costs nothing (see the notes).
MEDIAN_READY_TARGET = {"default": 2.1, "high": 1.2}  # CloneSet's median pod's time to Ready ÷ the Deployment's
MEDIAN_READY_FLOOR = {"default": 2.0}  # two rate-limited writes per pod against one
ALL_READY_TARGET = {"high": 1.2}       # CloneSet all Ready ÷ the Deployment's, where the scheduler bounds both
REQUESTS_TARGET = {"cloneset": 2.0, "cloneset-inplace": 3.0, "cloneset-recreate": 4.0, "asts": 2.0}
REQUESTS_SLACK = 0.1  # per pod: the workload's own writes (its status per round, a revision, 25 events) on top
CPU_TARGET_S = 10.0   # kruise-manager CPU seconds for the 1000-pod CloneSet scale-up at QPS 500
RSS_TARGET_MB = 100.0  # while watching 1000 pods right after scaling up to them
IDLE_CPU_TARGET = 0.02  # cores


# ---- small pure helpers (unit-tested) ----------------------------------------------------------------
def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def fmt_s(v: float | None) -> str:
    return "–" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.1f}")


def fmt_x(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}×"


def fmt_mb(v: float | None) -> str:
    return "–" if v is None else f"{v:.0f}"


NO_TARGET = "no target"


def yes_no(ok: bool | str | None) -> str:
    """A verdict as the report shows it (`NO_TARGET`: a figure reported without a target)."""
    return ok if isinstance(ok, str) else {True: "**met**", False: "**not met**", None: "not measured"}[ok]


def median_range(values: list[float]) -> tuple[float, float, float] | None:
    """(median, lowest, highest), None without values."""
    values = [v for v in values if v is not None]
    return (statistics.median(values), min(values), max(values)) if values else None


def shortfall(value: float, target: float, at_most: bool = True) -> str:
    """How far a measured value is from its target: "" when it meets it, else e.g. "12 % over the target"."""
    if (value <= target) if at_most else (value >= target):
        return ""
    percent = abs(value / target - 1) * 100
    # Under 1 %, one significant digit: a miss of 4.12 against 4.10 is "0.5 %", not "0 %".
    shown = f"{percent:.0f}" if percent >= 1 else f"{percent:.1g}"
    return f"{shown} % {'over' if at_most else 'under'} the target"


def verdict(v: tuple[float, float, float] | None, target: float, fmt=None,
            at_most: bool = True) -> tuple[str, bool | None]:
    """The measured text (median, range, and how far off or whether the range crosses the target) and met?"""
    if v is None:
        return "not measured", None
    fmt = fmt or fmt_x
    med, lo, hi = v
    text = fmt(med) if lo == hi else f"{fmt(med)} ({fmt(lo)}–{fmt(hi)})"
    short = shortfall(med, target, at_most)
    met = not short
    if short:
        text += f": {short}"
    elif (hi > target) if at_most else (lo < target):
        text += "; the range crosses the target"
    return text, met


def per_pod(requests: dict[str, float] | None, n: int) -> float | None:
    """API requests the manager sent per pod, leases and watches left out (they are per process, not per pod)."""
    if not requests or not n:
        return None
    return sum(v for k, v in requests.items() if k != "WATCH") / n


def highest_load(results: dict) -> str:
    loads = [r["load"] for p in results["profiles"] for r in p["runs"] if "load" in r]
    return f", {max(loads):.2f} at most when a run started" if loads else ""


def busy(run: dict) -> str:
    """When kruise-manager went quiet after one of its own runs (its last writes may trail the pods)."""
    return fmt_s(run.get("manager_busy_s")) if run.get("controller") == "manager" else ""


def find(profile: dict, n: int, contender: str, kind: str | None = None) -> dict | None:
    for r in profile.get("runs", []):
        if r["n"] == n and r["contender"] == contender and (kind is None or r["kind"] == kind):
            return r
    return None


def runs_of(profile: dict, n: int, contender: str, kind: str | None = None, failed: bool = False) -> list[dict]:
    """Every round's run of one cell: the successful ones (`failed`: the failed ones)."""
    return [r for r in profile.get("runs", []) if r["n"] == n and r["contender"] == contender
            and (kind is None or r["kind"] == kind) and bool(r.get("error")) == failed]


def paired(profile: dict, n: int, mine: str, theirs: str, key: str, kind: str | None = None) -> list[float]:
    """Each round's ratio of `key` between two contenders run in that round (rounds where both succeeded)."""
    other = {r.get("round", 0): r for r in runs_of(profile, n, theirs, kind)}
    out = []
    for r in runs_of(profile, n, mine, kind):
        o = other.get(r.get("round", 0))
        v = ratio(r.get(key), o.get(key)) if o else None
        if v is not None:
            out.append(v)
    return out


def med(runs: list[dict], get) -> tuple[float, float, float] | None:
    return median_range([get(r) for r in runs])


def rng(v: tuple[float, float, float] | None, fmt=None) -> str:
    """median (lowest–highest)"""
    fmt = fmt or fmt_s
    if not v:
        return "–"
    m, lo, hi = v
    return fmt(m) if lo == hi else f"{fmt(m)} ({fmt(lo)}–{fmt(hi)})"


def ok(run: dict | None) -> bool:
    return bool(run) and not run.get("error")


def profile_title(p: dict) -> str:
    return f"QPS {p['qps']:g} / burst {p['burst']}"


# ---- targets --------------------------------------------------------------------------------------
def targets(results: dict) -> list[tuple[str, str, bool | None]]:
    """(target, what was measured, met?) for every target of issue 21 this run measured. Ratios are the median
    of each round's ratio between contenders run in the same round (with their range)."""
    rows: list[tuple[str, str, bool | None]] = []
    big = max(results.get("sizes") or [0])
    note = "" if big >= 1000 else f" (QUICK run: N = {big}, not 1000)"
    for p in results["profiles"]:
        title, rounds = profile_title(p), f", {p.get('rounds', 1)} round(s)"
        target = MEDIAN_READY_TARGET.get(p["name"], 1.2)
        text, met = verdict(median_range(paired(p, big, "cloneset", "deployment", "median_ready_s", "scale")), target)
        floor = MEDIAN_READY_FLOOR.get(p["name"])
        if floor and met is not None:
            text += f" (floor {floor:g}×: two writes per pod against one)"
        rows.append((f"median pod's time to Ready, CloneSet vs Deployment scaling up to {big} pods, ≤ {target:g}×, "
                     f"{title}{rounds}{note}", text, met))
    for p in results["profiles"]:
        title = profile_title(p)
        target = ALL_READY_TARGET.get(p["name"])
        text, met = verdict(median_range(paired(p, big, "cloneset", "deployment", "ready_s", "scale")), target or 1e9)
        created = rng(median_range(paired(p, big, "cloneset", "deployment", "created_s", "scale")), fmt_x)
        if target is None:
            rows.append((f"all Ready, CloneSet vs Deployment, {big} pods, no target (floor 2×), {title}{note}",
                         f"{text.split(':')[0]}; all created {created}", None if text == "not measured" else NO_TARGET))
        else:
            rows.append((f"all Ready, CloneSet vs Deployment, {big} pods, ≤ {target:g}×, {title}{note}",
                         f"{text}; all created {created} (no target)", met))
    for p in results["profiles"]:
        for key, kind in (("cloneset", "scale"), ("asts", "scale"), ("cloneset-inplace", "rollout"),
                          ("cloneset-recreate", "rollout")):
            runs = runs_of(p, big, key, kind)
            if not runs:
                continue
            target = REQUESTS_TARGET[key]
            v = med(runs, lambda r: per_pod(r.get("requests"), r["n"]))
            text, met = verdict(v, target + REQUESTS_SLACK, fmt=lambda x: f"{x:.2f}")
            what = {"cloneset": "CloneSet create to Ready", "asts": "Advanced StatefulSet create",
                    "cloneset-inplace": "CloneSet in-place update", "cloneset-recreate": "CloneSet ReCreate"}[key]
            rows.append((f"kruise-manager requests per pod, {what}: {target:g} (+ {REQUESTS_SLACK:g} for the "
                         f"workload's own status, revision, events), {profile_title(p)}{note}", text, met))
    for p in results["profiles"]:
        if p["name"] != "high":
            continue
        v = med(runs_of(p, big, "cloneset", "scale"), lambda r: r["manager"]["cpu_seconds"])
        text, met = verdict(v, CPU_TARGET_S, fmt=lambda x: f"{x:.1f} s")
        rows.append((f"kruise-manager CPU for the {big}-pod CloneSet scale-up ≤ {CPU_TARGET_S:g} s, "
                     f"{profile_title(p)}{note}", text, met))
    for p in results["profiles"]:
        w, fresh = find(p, big, "cloneset", "watching"), find(p, big, "cloneset", "watching-restarted")
        measured = f"{fmt_mb(w['rss_peak_mb'])} MB after the {big}-pod scale-up" if w else "not measured"
        if w and w["rss_peak_mb"] > RSS_TARGET_MB:
            measured += f" ({shortfall(w['rss_peak_mb'], RSS_TARGET_MB)})"
        if fresh:
            measured += f"; {fmt_mb(fresh['rss_peak_mb'])} MB once restarted with the same pods"
        rows.append((f"manager RSS ≤ {RSS_TARGET_MB:g} MB while watching {big} pods right after scaling up to them, "
                     f"{profile_title(p)}{note}", measured, (w["rss_peak_mb"] <= RSS_TARGET_MB) if w else None))
    for p in results["profiles"]:
        idle, w = p.get("idle"), find(p, big, "cloneset", "watching")
        fresh = find(p, big, "cloneset", "watching-restarted")
        measured = []
        if idle:
            measured.append(f"no workloads {idle['cores']:.3f}")
        if w:
            measured.append(f"watching {big} pods {w['cores']:.3f}")
        if fresh:
            measured.append(f"restarted, watching {big} pods {fresh['cores']:.3f}")
        vals = [x["cores"] for x in (idle, w, fresh) if x]
        rows.append((f"idle CPU < {IDLE_CPU_TARGET} cores, {profile_title(p)}", ", ".join(measured) + " cores",
                     all(v < IDLE_CPU_TARGET for v in vals) if vals else None))
    for p in results["profiles"]:
        ceiling = p.get("nodesim_ceiling")
        fastest = max((r["n"] / r["ready_s"] for r in p["runs"] if r["kind"] == "scale" and ok(r) and r.get("ready_s")),
                      default=None)
        if ceiling and fastest:
            rows.append((f"the simulator is never the bottleneck, {profile_title(p)}",
                         f"its ceiling {ceiling['ready_per_s']:.0f} pods/s to Ready vs the fastest contender's "
                         f"{fastest:.0f} pods/s", ceiling["ready_per_s"] > fastest))
    return rows


# ---- Markdown ---------------------------------------------------------------------------------------
NATIVE = {"cloneset": "deployment", "asts": "statefulset"}


def _contenders(p: dict, n: int, kind: str) -> list[str]:
    return list(dict.fromkeys(r["contender"] for r in p["runs"] if r["n"] == n and r["kind"] == kind))


def _cpu(name: str):
    return lambda r: r["cpu"].get(name, 0.0)


def _scale_table(p: dict, sizes: list[int]) -> list[str]:
    lines = ["| N | contender | runs | all created (s) | median pod Ready (s) | all Ready (s) | vs native: median pod "
             "Ready / all Ready / all created | manager done (s) | manager CPU (s) | manager peak RSS (MB) | "
             "manager requests / pod | KCM CPU (s) | API server CPU (s) |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in sizes:
        for key in _contenders(p, n, "scale"):
            runs, failed = runs_of(p, n, key, "scale"), runs_of(p, n, key, "scale", failed=True)
            label = (runs or failed)[0]["label"]
            if not runs:
                lines.append(f"| {n} | {label} | 0 | **failed**: {failed[0]['error']} |" + " |" * 9)
                continue
            native = NATIVE.get(key)
            vs = " / ".join(rng(median_range(paired(p, n, key, native, k, "scale")), fmt_x)
                            for k in ("median_ready_s", "ready_s", "created_s")) if native else ""
            mgr = runs[0]["controller"] == "manager"
            lines.append(
                f"| {n} | {label} | {len(runs)}{f' ({len(failed)} failed)' if failed else ''} | "
                f"{rng(med(runs, lambda r: r['created_s']))} | {rng(med(runs, lambda r: r.get('median_ready_s')))} | "
                f"{rng(med(runs, lambda r: r['ready_s']))} | {vs} | "
                f"{rng(med(runs, lambda r: r.get('manager_busy_s'))) if mgr else ''} | "
                f"{rng(med(runs, lambda r: r['manager']['cpu_seconds']))} | "
                f"{fmt_mb(statistics.median(r['manager']['rss_peak_mb'] for r in runs))} | "
                f"{rng(med(runs, lambda r: per_pod(r.get('requests'), n)), _rp) if mgr else ''} | "
                f"{rng(med(runs, _cpu('kube-controller-manager')))} | {rng(med(runs, _cpu('kube-apiserver')))} |")
            lines += [f"|  | failed: {r['error']} |" + " |" * 11 for r in failed]
    return lines


def _rollout_table(p: dict, sizes: list[int]) -> list[str]:
    lines = ["| N | rollout | runs | complete (s) | vs Deployment's time | fewest pods ready | manager done (s) | "
             "manager CPU (s) | manager peak RSS (MB) | manager requests / pod | KCM CPU (s) | API server CPU (s) |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in sizes:
        for key in _contenders(p, n, "rollout"):
            runs, failed = runs_of(p, n, key, "rollout"), runs_of(p, n, key, "rollout", failed=True)
            label = (runs or failed)[0]["label"]
            if not runs:
                lines.append(f"| {n} | {label} | 0 | **failed**: {failed[0]['error']} |" + " |" * 8)
                continue
            mgr = runs[0]["controller"] == "manager"
            vs = rng(median_range(paired(p, n, key, "deployment-rolling", "done_s", "rollout")), fmt_x)
            lines.append(
                f"| {n} | {label} | {len(runs)}{f' ({len(failed)} failed)' if failed else ''} | "
                f"{rng(med(runs, lambda r: r['done_s']))} | {vs} | "
                f"{min(r['min_ready'] for r in runs)} of {n} | "
                f"{rng(med(runs, lambda r: r.get('manager_busy_s'))) if mgr else ''} | "
                f"{rng(med(runs, lambda r: r['manager']['cpu_seconds']))} | "
                f"{fmt_mb(statistics.median(r['manager']['rss_peak_mb'] for r in runs))} | "
                f"{rng(med(runs, lambda r: per_pod(r.get('requests'), n)), _rp) if mgr else ''} | "
                f"{rng(med(runs, _cpu('kube-controller-manager')))} | {rng(med(runs, _cpu('kube-apiserver')))} |")
            lines += [f"|  | failed: {r['error']} |" + " |" * 10 for r in failed]
    return lines


def _requests_breakdown(results: dict) -> list[str]:
    """The manager's requests by method per pod, for each of its runs (and by kind when traced); its webhooks'
    requests apart, for every run (they serve a Deployment's pods too)."""
    lines = ["| profile | N | run | " + " | ".join(("POST", "PATCH", "PUT", "DELETE", "GET")) + " | total / pod | "
             "webhooks' requests / pod |", "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for p in results["profiles"]:
        for r in p["runs"]:
            if r.get("kind") not in ("scale", "rollout") or r.get("error"):
                continue
            req, n = r.get("requests") or {}, r["n"]
            webhooks = per_pod(r.get("webhook_requests"), n) or 0
            if r.get("controller") != "manager":
                if "webhook_requests" in r:
                    lines.append(f"| {profile_title(p)} | {n} | {r['label']} |  |  |  |  |  |  | {webhooks:.2f} |")
                continue
            cells = " | ".join(f"{req.get(m, 0) / n:.2f}" for m in ("POST", "PATCH", "PUT", "DELETE", "GET"))
            lines.append(f"| {profile_title(p)} | {n} | {r['label']} | {cells} | {per_pod(req, n) or 0:.2f} | "
                         f"{webhooks:.2f} |")
    return lines


def _range(v, fmt=fmt_s) -> str:
    """median (lowest–highest)"""
    if not v:
        return "–"
    med, lo, hi = v
    return fmt(med) if lo == hi else f"{fmt(med)} ({fmt(lo)}–{fmt(hi)})"


def _rp(v: float) -> str:
    return f"{v:.2f}"


def _daemonset_section(results: dict) -> list[str]:
    from .daemonset import NODES, summarize
    profiles = results.get("daemonset") or []
    if not profiles:
        return []
    out = ["", f"## Advanced DaemonSet vs DaemonSet, {NODES} simulated nodes", "",
           f"A sandbox of its own per profile with {NODES} simulated nodes and the API server's audit log on. Each "
           "round runs every contender once, in a fresh namespace, in an order rotating from round to round: "
           "create (one pod per node, until the last is Ready), then an image rollout v1 → v2 with maxUnavailable "
           "20 % and no surge (until every pod is Ready on v2). Times: median (lowest–highest) over the rounds; "
           "*vs native*: the median of each round's ratio to the DaemonSet of the same round (lower is faster). "
           "Requests per pod: the requests in the run's namespace by the contender's own clients, counted in the "
           "audit log by user agent (kube-controller-manager's `daemon-set-controller`; kruise-manager and its "
           "kopf), trailing status writes and events included, divided by the nodes. Controller CPU: "
           "kube-controller-manager's whole process for the DaemonSet, kruise-manager's for ours.", "",
           "- Events: client-go lets each object post a burst of 25 events in all, so the DaemonSet's rollout "
           "after its create posts none; ours keeps a burst of 25 per object *and reason*, so a rollout posts 25 "
           "SuccessfulDelete (0.5 per pod).",
           "- Our pods carry OpenKruise's `KruisePodReady` gate (the pod webhook adds it to the pods of every "
           "apps.kruise.io workload), so a created pod costs one status write before it can be Ready; with "
           "InPlaceIfPossible its `InPlaceUpdateReady` gate rides in that same write.",
           "- In place, an update costs 3 writes a pod (not ready, the images, ready again); on simulated nodes a "
           "recreated pod costs nothing, so the in-place rows show only the control plane's share."]
    for p in profiles:
        out += ["", f"### {profile_title(p)}, {p['rounds']} round(s)", "",
                f"Sandbox started in {p['sandbox_start_s']:.1f} s.", "",
                "| contender | phase | runs | time (s) | vs native | requests / pod | fewest pods ready | "
                "controller CPU (s) | API server CPU (s) |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        rows = summarize(p)
        for r in rows:
            failed = f" ({r['failed']} failed)" if r["failed"] else ""
            phase = "create" if r["kind"] == "create" else "rollout"
            fewest = "" if r["min_ready"] is None else f"{r['min_ready']} of {NODES}"
            out.append(f"| {r['label']} | {phase} | {r['runs']}{failed} | {_range(r['time'])} | "
                       f"{_range(r['ratio'], fmt_x)} | {_range(r['requests_per_pod'], _rp)} | {fewest} | "
                       f"{_range(r['controller_cpu'])} | {_range(r['apiserver_cpu'])} |")
        out += ["", "Requests per pod by kind (medians):", "", "| contender | phase | requests |", "|---|---|---|"]
        for r in rows:
            parts = ", ".join(f"{k} {v:.2f}" for k, v in r["by_request"].items())
            out.append(f"| {r['label']} | {r['kind']} | {parts} |")
    return out


def _ms(v: float) -> str:
    return f"{v:.1f}"


def _sidecarset_section(results: dict) -> list[str]:
    from .sidecarset import summarize_upgrade, summarize_webhook
    profiles = results.get("sidecarset") or []
    if not profiles:
        return []
    out = ["", "## SidecarSet", "",
           "A sandbox of its own per profile (three simulated nodes, no real node). Medians (lowest–highest) over "
           "the rounds.", "",
           "**What the pod webhook adds to a pod create.** Pod creates timed one at a time from the client, in "
           "pairs: the same pod through the pod webhook, and opted out of it by the label "
           "`apps.kruise.io/skip-pod-webhook=true`, alternating which goes first; *added* is the difference. The "
           "creates are dry runs (`dryRun=All`: admission runs in full, nothing is stored); every answer was "
           "checked to carry one injected container per SidecarSet. Each of the N SidecarSets selects the pod. "
           "p50 and p99 are per round, over its pairs.", "",
           "**A sidecar upgrade across N pods.** A Deployment of N pods on the simulated nodes, one sidecar "
           "injected in each; the SidecarSet's image changes (image only, so in place), maxUnavailable 20 %. "
           "*pods done*: until the harness's watch sees the N-th pod Ready with the sidecar on the new image; "
           "*status done*: until the SidecarSet's status has updatedReadyPods = N at its new generation. Requests "
           "per pod: kruise-manager's API requests (its metrics) during the upgrade, divided by N. The same pods "
           "are upgraded once per round (v1 → v2 → v3 → v1)."]
    for p in profiles:
        out += ["", f"### {profile_title(p)}, {p['rounds']} round(s)", "",
                f"Sandbox started in {p['sandbox_start_s']:.1f} s.", "",
                "| SidecarSets | pairs × rounds | p50 through the webhook (ms) | p50 opted out (ms) | p50 added (ms) "
                "| p99 through the webhook (ms) | p99 opted out (ms) | p99 added (ms) |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in summarize_webhook(p):
            out.append(f"| {r['sidecarsets']} | {r['pairs']} × {r['rounds']} | {_range(r['webhook_p50'], _ms)} | "
                       f"{_range(r['skipped_p50'], _ms)} | {_range(r['added_p50'], _ms)} | "
                       f"{_range(r['webhook_p99'], _ms)} | {_range(r['skipped_p99'], _ms)} | "
                       f"{_range(r['added_p99'], _ms)} |")
        out += ["", "| pods | runs | pods done (s) | status done (s) | fewest pods ready | requests / pod | "
                "manager CPU (s) | API server CPU (s) |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in summarize_upgrade(p):
            failed = f" ({r['failed']} failed)" if r["failed"] else ""
            fewest = "" if r["min_ready"] is None else f"{r['min_ready']} of {r['n']}"
            out.append(f"| {r['n']} | {r['runs']}{failed} | {_range(r['done_s'])} | {_range(r['status_s'])} | "
                       f"{fewest} | {_range(r['requests_per_pod'], _rp)} | {_range(r['manager_cpu'])} | "
                       f"{_range(r['apiserver_cpu'])} |")
            out += [f"- failed: {e}" for e in r["errors"]]
    return out


def _costs(results: dict) -> list[str]:
    """The manager's idle and busy cost, its requests by method, and the simulator's ceiling (the main part)."""
    out = ["", "## What kruise-manager costs", "",
            "| profile | state | RSS (MB) | CPU (cores) | window (s) |", "|---|---|---:|---:|---:|"]
    for p in results["profiles"]:
        idle = p.get("idle")
        if idle:
            out.append(f"| {profile_title(p)} | idle, no workloads | {fmt_mb(idle['rss_peak_mb'])} | "
                       f"{idle['cores']:.3f} | {idle['seconds']:.0f} |")
        for w in [r for r in p["runs"] if r["kind"] == "watching"]:
            out.append(f"| {profile_title(p)} | idle, watching {w['n']} pods, right after scaling up to them | "
                       f"{fmt_mb(w['rss_peak_mb'])} | {w['cores']:.3f} | {w['seconds']:.0f} |")
        for w in [r for r in p["runs"] if r["kind"] == "watching-restarted"]:
            out.append(f"| {profile_title(p)} | idle, watching {w['n']} pods, restarted (no run since) | "
                       f"{fmt_mb(w['rss_peak_mb'])} | {w['cores']:.3f} | {w['seconds']:.0f} |")
        busy = [r for r in p["runs"] if r["kind"] in ("scale", "rollout") and not r.get("error")]
        if busy:
            peak = max(busy, key=lambda r: r["manager"]["rss_peak_mb"])
            hot = max(busy, key=lambda r: r["manager"]["cores"])
            out.append(f"| {profile_title(p)} | highest RSS during a run ({peak['label']}, N={peak['n']}) | "
                       f"{fmt_mb(peak['manager']['rss_peak_mb'])} | {peak['manager']['cores']:.3f} | "
                       f"{peak['manager']['seconds']:.0f} |")
            out.append(f"| {profile_title(p)} | busiest run ({hot['label']}, N={hot['n']}) | "
                       f"{fmt_mb(hot['manager']['rss_peak_mb'])} | {hot['manager']['cores']:.3f} | "
                       f"{hot['manager']['seconds']:.0f} |")
    out += ["", "API requests kruise-manager's controllers sent per pod, by method (events included; watches and "
            "the Lease renewals of leader election, a client of its own, are not). Its webhooks' requests are "
            "counted apart, with their certificate's upkeep (a check of the Secret, the webhook configurations "
            "and the conversion CRDs once a minute): the pod "
            "webhook checks its SidecarSet cache against a quorum list of their metadata before each injection "
            "(one list shared by the admissions waiting for it: README, \"SidecarSet injection\"), for every pod "
            "created in the cluster, a Deployment's as much as a CloneSet's:", ""]
    out += _requests_breakdown(results)
    out += ["", "## The simulator's own ceiling", "",
            "Pods created already bound (no scheduler, no controller) by 64 concurrent unthrottled requests "
            "(`bench/nodesim_ceiling.py`):", "",
            "| profile | pods | all created (s) | all Ready (s) | pods/s to Ready |", "|---|---:|---:|---:|---:|"]
    for p in results["profiles"]:
        c = p.get("nodesim_ceiling")
        if c:
            out.append(f"| {profile_title(p)} | {c['pods']} | {fmt_s(c['created_s'])} | {fmt_s(c['ready_s'])} | "
                       f"{c['ready_per_s']:.0f} |")
    return out


def markdown(results: dict, png_name: str = "results.png") -> str:
    m, v = results["machine"], results["versions"]
    sizes = results.get("sizes") or []
    out = [
        "# ack-kruise benchmark results",
        "",
        f"`{results['command']}` on {results['date']}, in {results.get('total_s', 0) / 60:.1f} min. "
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Linux {m['kernel']}; load average "
        f"{m['load_before'][0]:.2f} before, {m.get('load_after', [0])[0]:.2f} after{highest_load(results)}. "
        f"Versions: ack-kruise {v['ack-kruise']}, Kubernetes {v['kubernetes']} (kube-apiserver, etcd in /dev/shm, "
        f"kube-controller-manager, kube-scheduler), Python {v['python']}, kopf {v['kopf']}, aiohttp {v['aiohttp']}, "
        f"helm {v['helm']}.",
    ]
    if results.get("stopped"):
        out += ["", f"**Incomplete: the run stopped** ({results['stopped']}); below, the parts measured before."]
    if results["profiles"]:
        out += [
        "",
        "One sandbox per client-limit profile, restarted between them, with no real node: three simulated nodes "
        "(`sandbox/nodesim.py`) play the kubelet. kube-controller-manager, kruise-manager and the raw client loop get "
        "the same QPS and burst. Times are from the moment the workload is created (or its image patched) until "
        "the harness's pod watch sees the N-th pod created, Ready, or Ready on the new image. Ratios are times "
        "(lower is better). Every cell ran "
        f"{results.get('rounds', 1)} time(s), each round every contender once in a rotating order; figures are "
        "medians (lowest–highest), and a ratio is the median of each round's ratio between contenders of the same "
        "round. Every run starts in a fresh namespace, once the previous one's pods are gone and kruise-manager and "
        "kube-controller-manager have gone quiet again. *median pod Ready*: when half the pods were Ready. "
        "*manager done* is when kruise-manager went quiet after its own runs: writes that do not gate readiness "
        "(lifecycle labels, status, events) can trail the pods; its CPU and requests count them.",
        ]
        out += ["", "## Targets", "", "| target | measured | |", "|---|---|---|"]
        out += [f"| {t} | {meas} | {yes_no(met)} |" for t, meas, met in targets(results)]
    for p in results["profiles"]:
        out += ["", f"## {profile_title(p)} ({p['what']})", "",
                f"Sandbox started in {p['sandbox_start_s']:.1f} s.", "", "### Scale-up 0 → N", ""]
        out += _scale_table(p, sizes)
        out += ["", "### Rollout of an image change (maxUnavailable 20%, no surge)", ""]
        out += _rollout_table(p, sizes)
    out += _daemonset_section(results)
    out += _sidecarset_section(results)
    if results["profiles"]:
        out += _costs(results)
    t = results.get("tools") or {}
    if t:
        out += ["", "## Generator and chart", "", "| command | median of 3 (s) | fastest (s) |", "|---|---:|---:|"]
        out.append(f"| `ack-kruise generate` (into an empty folder) | {t['generate']['median_s']:.2f} | "
                   f"{t['generate']['min_s']:.2f} |")
        out.append(f"| `helm template ack-kruise charts/ack-kruise` | {t['helm_template']['median_s']:.2f} | "
                   f"{t['helm_template']['min_s']:.2f} |")
    main_notes = [
            "- kube-controller-manager gives every controller its own client, so its Deployment and ReplicaSet "
            "controllers (and the garbage collector) each have the QPS/burst budget; kruise-manager has one budget "
            "per resource (pods and pods/status share one; events, the workload's status, revisions and the Lease "
            "each have theirs), as OpenKruise's manager has (controller-runtime keeps a REST client, with its own "
            "token bucket, per group-version-kind); its webhooks' reads are not limited.",
            "- kube-scheduler keeps its own defaults (QPS 50, burst 100) in every profile: at 500/500 it binds "
            "at most about 50 pods/s, which bounds every contender's all-ready time (the raw client's too).",
            "- Every pod goes through kruise-manager's pod webhook (`/mutate-pod`, as with OpenKruise), Deployment "
            "and StatefulSet pods included; its CPU shows in the manager's column for those runs."]
    out += ["", "## Notes", ""] + (main_notes if results["profiles"] else []) + [
            "- On a simulated node a new pod costs nothing: no pod sandbox, no network set-up, no image pull, ready "
            "as soon as it is bound, while a container restarted in place stays not ready for 1 s "
            "(`sandbox/kubelet_model.py`). What an in-place update saves on a real node is therefore not in these "
            "rollout figures; they show the control plane's share only (API writes, scheduling, controllers).",
            "- The machine is shared: other work running at the same time slows every contender; the load "
            "averages above say how busy it was."]
    out += ["", f"![pods ready over time]({png_name})", ""] if results["profiles"] else [""]
    return "\n".join(out)


# ---- plot -------------------------------------------------------------------------------------------
def _plotted(p: dict, n: int, kind: str) -> list[dict]:
    """Per contender, its run of median time (of the rounds), or its first failed one."""
    out = []
    end = "ready_s" if kind == "scale" else "done_s"
    for key in _contenders(p, n, kind):
        runs = sorted((r for r in runs_of(p, n, key, kind) if r.get("series")), key=lambda r: r.get(end) or 0)
        failed = [r for r in runs_of(p, n, key, kind, failed=True) if r.get("series")]
        if runs or failed:
            out.append(runs[(len(runs) - 1) // 2] if runs else failed[0])
    return out


def plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = results.get("sizes") or []
    rows = [(p, n) for p in results["profiles"] for n in sizes]
    if not rows:
        return
    fig, axes = plt.subplots(len(rows), 2, figsize=(13, 3.4 * len(rows)), squeeze=False)
    for i, (p, n) in enumerate(rows):
        for j, kind in enumerate(("scale", "rollout")):
            ax = axes[i][j]
            for r in _plotted(p, n, kind):
                xs = [t for t, _ in r["series"]]
                ys = [c for _, c in r["series"]]
                end = r.get("ready_s") if kind == "scale" else r.get("done_s")
                label = r["label"] + (" (failed)" if r.get("error") else f" – {fmt_s(end)} s")
                ax.step(xs, ys, where="post", label=label, linewidth=1.4)
            what = "scale-up 0 → N: pods Ready" if kind == "scale" else "rollout: pods Ready on the new image"
            ax.set_title(f"{profile_title(p)}, N = {n}: {what}", fontsize=10)
            ax.set_xlabel("seconds")
            ax.set_ylabel("pods")
            ax.set_ylim(0, n * 1.05)
            ax.grid(alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"ack-kruise `{results['command']}`, {results['date']}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="python -m bench.report", description="render the report again from results")
    p.add_argument("results", nargs="?", default=str(HERE / ".state" / "results.json"))
    p.add_argument("--out", default=str(HERE / "results.md"), help="Markdown file; the plot goes next to it")
    a = p.parse_args(argv)
    results = json.loads(Path(a.results).read_text())
    md = Path(a.out)
    md.write_text(markdown(results, png_name=md.with_suffix(".png").name))
    plot(results, md.with_suffix(".png"))
    print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
