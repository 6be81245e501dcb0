"""`make bench`'s DaemonSet part: our Advanced DaemonSet against kube-controller-manager's DaemonSet across 50
simulated nodes, at the same client QPS/burst, in repeated interleaved rounds.

A sandbox of its own per client-limit profile (50 simulated nodes, no real node, so no lock is needed), with the
API server's audit log on: every request names its client (`userAgent`), so each controller's requests in the
run's namespace are counted exactly, kube-controller-manager's DaemonSet controller
(`.../daemon-set-controller`) as well as kruise-manager (its own client and kopf's). Each round runs every
contender once, in an order that rotates from round to round, each in a fresh namespace:

- create the DaemonSet: one pod per node, timed until the harness's watch sees the 50th pod Ready;
- roll the image out (v1 → v2), maxUnavailable 20 %, no surge (the native DaemonSet of Kubernetes 1.20 has
  none): timed until 50 pods are Ready on v2.

Between runs the namespace's pods are gone and kruise-manager and kube-controller-manager are quiet again.
The report gives medians, ranges, and the median of the per-round ratios to the native DaemonSet.
"""
from __future__ import annotations

import asyncio
import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path

from kube import KubeClient, load_config, resource_path

from . import cost, scenarios as S
from .measure import PodWatch, nth

NODES = 50
APP = "bench-ds"
NATIVE_AGENT = "kcm:daemon-set-controller"
MANAGER_AGENTS = ("kruise-manager", "kopf")  # the manager's own client and kopf's (watches, progress storage)
CPU_OF = {"kcm": "kube-controller-manager", "manager": "kruise-manager"}  # whose process a contender's CPU is

# Requests on namespaced objects, at Metadata level (who, what, which namespace), once complete. Reads of
# nodes and the heartbeats (leases, node status) of 50 simulated nodes are not what a DaemonSet costs.
AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: None
  verbs: [watch]
- level: None
  resources:
  - {group: "coordination.k8s.io", resources: [leases]}
  - {group: "", resources: [nodes, nodes/status]}
- level: Metadata
"""


def audit_args(state_dir: Path) -> tuple[str, ...]:
    """kube-apiserver flags for an audit log in `state_dir` (the policy file is written there now)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    policy = state_dir / "audit-policy.yaml"
    policy.write_text(AUDIT_POLICY)
    return ("--audit-policy-file", str(policy), "--audit-log-path", str(state_dir / "audit.log"),
            "--audit-log-format", "json", "--audit-log-maxsize", "0")


# ---- the contenders --------------------------------------------------------------------------------
def native_daemonset(image: str = S.V1) -> dict:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": APP},
            "spec": {"selector": S.selector(APP), "template": S.pod_template(APP, image),
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "20%"}}}}


def advanced_daemonset(image: str = S.V1, rolling_update_type: str = "Standard") -> dict:
    return {"apiVersion": "apps.kruise.io/v1beta1", "kind": "DaemonSet", "metadata": {"name": APP},
            "spec": {"selector": S.selector(APP), "template": S.pod_template(APP, image),
                     "updateStrategy": {"type": "RollingUpdate",
                                        "rollingUpdate": {"rollingUpdateType": rolling_update_type,
                                                          "maxUnavailable": "20%", "maxSurge": 0}}}}


@dataclass(frozen=True)
class DaemonContender:
    key: str
    label: str
    controller: str          # "kcm" or "manager": whose process CPU and requests are its own
    agents: tuple[str, ...]  # audit-log clients whose requests are the contender's
    api_version: str
    manifest: dict


NATIVE = DaemonContender("daemonset", "DaemonSet (kube-controller-manager)", "kcm", (NATIVE_AGENT,), "apps/v1",
                         native_daemonset())
ADVANCED = DaemonContender("ads", "Advanced DaemonSet, Standard (ack-kruise)", "manager", MANAGER_AGENTS,
                           "apps.kruise.io/v1beta1", advanced_daemonset())
ADVANCED_INPLACE = DaemonContender("ads-inplace", "Advanced DaemonSet, InPlaceIfPossible (ack-kruise)", "manager",
                                   MANAGER_AGENTS, "apps.kruise.io/v1beta1",
                                   advanced_daemonset(rolling_update_type="InPlaceIfPossible"))
CONTENDERS = (NATIVE, ADVANCED, ADVANCED_INPLACE)


def round_order(contenders: tuple, round_index: int) -> list:
    """Every round runs every contender once; the order rotates, so none always runs first (or last)."""
    k = round_index % len(contenders)
    return list(contenders[k:] + contenders[:k])


# ---- the audit log ---------------------------------------------------------------------------------
def agent(user_agent: str) -> str:
    """A short client name: kube-controller-manager's controllers by name (`kcm:daemon-set-controller`), others
    by their first word (`kruise-manager`, `kopf`, `kube-scheduler`, `Python`)."""
    if user_agent.startswith("kube-controller-manager/"):
        return "kcm:" + user_agent.rsplit("/", 1)[-1]
    return user_agent.split("/", 1)[0].split(" ", 1)[0]


def count_requests(lines, namespace: str) -> dict[str, dict[str, int]]:
    """Requests in `namespace` per client and per `VERB resource[/subresource]`, from audit-log lines (JSON)."""
    out: dict[str, dict[str, int]] = {}
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut by a write in progress
        ref = event.get("objectRef") or {}
        if ref.get("namespace") != namespace or event.get("stage") != "ResponseComplete":
            continue
        what = ref.get("resource", "?") + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        key = f"{event.get('verb', '?').upper()} {what}"
        by_client = out.setdefault(agent(event.get("userAgent", "")), {})
        by_client[key] = by_client.get(key, 0) + 1
    return out


def requests_of(counts: dict[str, dict[str, int]], agents: tuple[str, ...]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for a in agents:
        for k, v in counts.get(a, {}).items():
            merged[k] = merged.get(k, 0) + v
    return merged


class AuditLog:
    """Reads the lines the API server appended since `mark`."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def since_mark(self) -> list[str]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # a last line still being written is left for later
        return data[:end].decode(errors="replace").splitlines()


# ---- one run ---------------------------------------------------------------------------------------
async def _quiet(box, timeout: float) -> None:
    """kruise-manager and kube-controller-manager both quiet (the previous run's deletions digested)."""
    await asyncio.gather(cost.settle(box.pid("kruise-manager"), timeout=timeout),
                         cost.settle(box.pid("kube-controller-manager"), timeout=timeout))


async def run_one(box, client: KubeClient, c: DaemonContender, round_index: int, audit: AuditLog,
                  log) -> list[dict]:
    """One contender, one round: create across every node, then an image rollout. A failure is recorded."""
    p = box.profile
    ns = f"bench-{c.key}-r{round_index}"
    path = resource_path(c.api_version, "daemonsets", ns)
    results: list[dict] = []
    await S.delete_namespace(client, ns)
    await S.create_namespace(client, ns)
    watch = await PodWatch(client, ns).start()
    timeout = max(120.0, NODES * 8 / p.qps + 60)
    base = {"profile": p.name, "n": NODES, "round": round_index, "contender": c.key, "label": c.label,
            "controller": c.controller}
    current = {**base, "kind": "create", "load": os.getloadavg()[0]}
    try:
        for kind, start, image in (("create", None, None), ("rollout", S.V2, S.V2)):
            current = {**base, "kind": kind, "load": os.getloadavg()[0]}
            pids = box.pids()
            cpu0 = {k: cost.cpu_seconds(pid) for k, pid in pids.items()}
            audit.mark()
            phase = watch.begin(image)
            if start is None:
                await client.create(path, c.manifest)
                await watch.until(lambda w: w.ready >= NODES, timeout, f"{c.key} create", stall=60)
            else:
                await client.patch(resource_path(c.api_version, "daemonsets", ns, APP), S.image_patch(start))
                await watch.until(lambda w: w.done >= NODES, timeout, f"{c.key} rollout", stall=60)
            at_done = watch.now()
            await _quiet(box, timeout)  # its trailing writes (status, events) count too
            counts = count_requests(audit.since_mark(), ns)
            mine = requests_of(counts, c.agents)
            current.update(
                created_s=nth(list(phase.first_seen.values()), NODES),
                ready_s=nth(list(phase.first_ready.values()), NODES),
                done_s=nth(list(phase.first_done.values()), NODES) if image else None,
                min_ready=phase.min_ready(), series=phase.series(column=3 if image else 2), done_at_s=at_done,
                requests=mine, requests_per_pod=sum(mine.values()) / NODES,
                others={a: sum(v.values()) for a, v in counts.items() if a not in c.agents},
                cpu={k: round(cost.cpu_seconds(pid) - cpu0[k], 2) for k, pid in pids.items() if k in cpu0})
            results.append(current)
            end = current["done_s"] if image else current["ready_s"]
            log(f"[{p.name}] daemonset round {round_index} {c.key} {kind}: {end:.1f}s, "
                f"{current['requests_per_pod']:.2f} requests/pod (min ready {current['min_ready']})")
    except Exception as e:  # reported as failed; the other contenders and rounds still run
        current["error"] = f"{type(e).__name__}: {e}"
        results.append(current)
        log(f"[{p.name}] daemonset round {round_index} {c.key}: FAILED: {current['error']}")
    finally:
        await watch.stop()
        await S.delete_namespace(client, ns)
        await _quiet(box, 60)
    return results


async def measure(box, rounds: int, log, contenders: tuple = CONTENDERS) -> dict:
    p = box.profile
    out: dict = {"name": p.name, "qps": p.qps, "burst": p.burst, "nodes": NODES, "rounds": rounds,
                 "sandbox_start_s": box.started_s, "runs": []}
    audit = AuditLog(box.sandbox.state_dir / "audit" / "audit.log")
    async with KubeClient(load_config(box.state.kubeconfig), max_connections=32, user_agent="bench") as client:
        await _quiet(box, 120)  # the manager's start-up and the 50 nodes' registration
        for i in range(rounds):
            for c in round_order(contenders, i):
                out["runs"] += await run_one(box, client, c, i, audit, log)
    return out


# ---- summary (pure, for the report) ---------------------------------------------------------------
def _median_range(values: list[float]) -> tuple[float, float, float] | None:
    return (statistics.median(values), min(values), max(values)) if values else None


def summarize(profile: dict) -> list[dict]:
    """Per contender and phase: medians and ranges of time and requests per pod, and the median of the
    per-round ratios of its time to the native DaemonSet's in the same round (failed runs left out)."""
    runs = [r for r in profile.get("runs", []) if not r.get("error")]
    native = {(r["round"], r["kind"]): r for r in runs if r["contender"] == NATIVE.key}
    rows = []
    keys = list(dict.fromkeys(r["contender"] for r in profile.get("runs", [])))
    for key in keys:
        for kind in ("create", "rollout"):
            mine = [r for r in runs if r["contender"] == key and r["kind"] == kind]
            all_runs = [r for r in profile.get("runs", []) if r["contender"] == key and r["kind"] == kind]
            label = next((r["label"] for r in profile.get("runs", []) if r["contender"] == key), key)
            t = "done_s" if kind == "rollout" else "ready_s"
            times = [r[t] for r in mine if r.get(t) is not None]
            ratios = [r[t] / native[(r["round"], kind)][t] for r in mine
                      if key != NATIVE.key and (r["round"], kind) in native and native[(r["round"], kind)].get(t)]
            rows.append({"contender": key, "label": label, "kind": kind, "runs": len(mine),
                         "failed": len(all_runs) - len(mine), "time": _median_range(times),
                         "requests_per_pod": _median_range([r["requests_per_pod"] for r in mine]),
                         "ratio": _median_range(ratios),
                         "min_ready": min((r["min_ready"] for r in mine if r.get("min_ready") is not None),
                                          default=None) if kind == "rollout" else None,
                         "controller_cpu": _median_range([r["cpu"].get(CPU_OF[r["controller"]], 0.0) for r in mine]),
                         "apiserver_cpu": _median_range([r["cpu"].get("kube-apiserver", 0.0) for r in mine]),
                         "by_request": _median_requests([r["requests"] for r in mine])})
    return rows


def _median_requests(per_run: list[dict[str, int]]) -> dict[str, float]:
    keys = sorted({k for r in per_run for k in r})
    return {k: statistics.median(r.get(k, 0) for r in per_run) / NODES for k in keys} if per_run else {}
