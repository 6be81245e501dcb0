"""`make bench`'s SidecarSet part, in a sandbox of its own (simulated nodes only: no real node, so no lock):

1. **What the pod webhook adds to a pod create**, with 0, 1 and 20 SidecarSets selecting the pod (each injects
   one container). Pod creates are timed one at a time from the client, in pairs: the same pod once through the
   webhook and once opted out by the label `apps.kruise.io/skip-pod-webhook=true` (the webhook's objectSelector),
   in alternating order; the webhook's share is the difference of the two. The creates are dry runs
   (`dryRun=All`: admission runs in full, webhooks included, and nothing is stored, so thousands of samples leave
   no pods behind); each answer is checked to carry the expected sidecars, or none when opted out. Each round
   runs the three SidecarSet counts in a rotating order; p50 and p99 are per round, reported as medians over
   the rounds.
2. **A sidecar upgrade across N pods**: a Deployment of N pods on the simulated nodes, each with the sidecar
   injected, then the SidecarSet's image changes (v1 → v2 → v3 → …, an image-only change, so every pod is
   upgradable in place), maxUnavailable 20 %. Timed until the harness's watch sees all N pods Ready with the
   sidecar running the new image, and until the SidecarSet's status says so (updatedReadyPods = N at the new
   generation). Every round upgrades the same pods once more.
"""
from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
from typing import Callable

from kube import ApiError, KubeClient, load_config, resource_path

from . import cost, scenarios as S
from .measure import PodWatch, nth, without_registry

SIDECARSET_COUNTS = (0, 1, 20)
APP = "bench-sidecar"
SKIP_WEBHOOK = S.SKIP_POD_WEBHOOK_LABEL  # the pod webhook's objectSelector opts such pods out
SIDECARSETS = resource_path("apps.kruise.io/v1beta1", "sidecarsets")
SIDECAR = "sidecar"


def sidecarset(name: str, container: str, image: str = S.V1, max_unavailable: str = "20%") -> dict:
    return {"apiVersion": "apps.kruise.io/v1beta1", "kind": "SidecarSet", "metadata": {"name": name},
            "spec": {"selector": S.selector(APP),
                     "containers": [{"name": container, "image": image, "podInjectPolicy": "AfterAppContainer"}],
                     "updateStrategy": {"type": "RollingUpdate", "maxUnavailable": max_unavailable}}}


def probe_pod(through_webhook: bool) -> dict:
    labels = {S.APP_LABEL: APP} if through_webhook else {S.APP_LABEL: APP, SKIP_WEBHOOK: "true"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "probe-", "labels": labels},
            "spec": {"containers": [{"name": "app", "image": S.V1}]}}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), math.ceil(q / 100 * len(ordered))) - 1)]


# ---- 1. webhook latency ------------------------------------------------------------------------------
async def set_sidecarsets(client: KubeClient, count: int, ns: str, timeout: float = 60) -> None:
    """Exactly `count` SidecarSets select the probe pods, and the webhook injects all of them (its cache is
    eventually consistent with the API server: wait until a dry-run create shows every sidecar)."""
    have = {s["metadata"]["name"] for s in (await client.get(SIDECARSETS))["items"]
            if s["metadata"]["name"].startswith("bench-ss-")}
    want = {f"bench-ss-{i:02d}" for i in range(count)}
    for name in sorted(have - want):
        await client.delete(f"{SIDECARSETS}/{name}")
    for name in sorted(want - have):
        await client.create(SIDECARSETS, sidecarset(name, f"{SIDECAR}-{name[-2:]}"))
    deadline = time.monotonic() + timeout
    while True:
        pod = await client.create(resource_path("v1", "pods", ns), probe_pod(True), dryRun="All")
        if len(pod["spec"]["containers"]) == 1 + count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the pod webhook injects {len(pod['spec']['containers']) - 1} of {count} sidecars")
        await asyncio.sleep(0.2)


async def time_creates(client: KubeClient, ns: str, count: int, pairs: int) -> dict:
    """`pairs` pairs of dry-run creates, through the webhook and opted out, alternating which goes first."""
    path = resource_path("v1", "pods", ns)
    times: dict[bool, list[float]] = {True: [], False: []}
    for i in range(pairs):
        for through in ((True, False) if i % 2 == 0 else (False, True)):
            t0 = time.perf_counter()
            pod = await client.create(path, probe_pod(through), dryRun="All")
            times[through].append(time.perf_counter() - t0)
            injected = len(pod["spec"]["containers"]) - 1
            if injected != (count if through else 0):
                raise AssertionError(f"{count} SidecarSets, through the webhook {through}: {injected} injected")
    out = {"sidecarsets": count, "pairs": pairs}
    for through, key in ((True, "webhook"), (False, "skipped")):
        ms = [t * 1000 for t in times[through]]
        out[key] = {"p50": percentile(ms, 50), "p99": percentile(ms, 99), "mean": statistics.fmean(ms)}
    out["added"] = {q: out["webhook"][q] - out["skipped"][q] for q in ("p50", "p99")}
    return out


async def measure_webhook(client: KubeClient, rounds: int, pairs: int, log) -> list[dict]:
    ns = "bench-sidecarset-webhook"
    await S.delete_namespace(client, ns)
    await S.create_namespace(client, ns)
    runs = []
    try:
        for r in range(rounds):
            k = r % len(SIDECARSET_COUNTS)
            for count in SIDECARSET_COUNTS[k:] + SIDECARSET_COUNTS[:k]:
                await set_sidecarsets(client, count, ns)
                run = {"round": r, **await time_creates(client, ns, count, pairs)}
                runs.append(run)
                log(f"sidecarset webhook round {r}, {count} SidecarSets: p50 {run['webhook']['p50']:.1f} ms "
                    f"(opted out {run['skipped']['p50']:.1f}), p99 {run['webhook']['p99']:.1f} ms "
                    f"(opted out {run['skipped']['p99']:.1f})")
    finally:
        await set_sidecarsets(client, 0, ns)
        await S.delete_namespace(client, ns)
    return runs


# ---- 2. a sidecar upgrade across N pods ---------------------------------------------------------------
def sidecar_on(image: str) -> Callable[[dict], bool]:
    """The pod asks for the sidecar on `image` and its node reports that container running it (the real node's
    kubelet names the image by the local registry it pulled through: compared without the registry)."""
    want = without_registry(image)

    def check(pod: dict) -> bool:
        spec = {c["name"]: c.get("image") for c in (pod.get("spec") or {}).get("containers") or []}
        status = {s["name"]: s.get("image", "") for s in (pod.get("status") or {}).get("containerStatuses") or []}
        return spec.get(SIDECAR) == image and without_registry(status.get(SIDECAR, "")) == want
    return check


async def sidecarset_status_done(client: KubeClient, name: str, n: int, timeout: float) -> float:
    """Seconds until the SidecarSet's status shows n updated and ready pods at its current generation."""
    t0 = time.monotonic()
    while True:
        s = await client.get(f"{SIDECARSETS}/{name}")
        st = s.get("status") or {}
        if st.get("observedGeneration") == s["metadata"]["generation"] and st.get("updatedReadyPods") == n \
                and st.get("matchedPods") == n:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"SidecarSet {name}: status {st} after {timeout:.0f}s")
        await asyncio.sleep(0.2)


async def measure_upgrade(box, client: KubeClient, n: int, rounds: int, log) -> list[dict]:
    ns, name = "bench-sidecarset-upgrade", "bench-upgrade"
    timeout = max(180.0, n * 10 / box.profile.qps + 120)
    await S.delete_namespace(client, ns)
    await S.create_namespace(client, ns)
    await client.create(SIDECARSETS, sidecarset(name, SIDECAR))
    watch = await PodWatch(client, ns).start()
    runs: list[dict] = []
    try:
        await sidecarset_status_done(client, name, 0, 60)   # the controller has seen it
        watch.begin()
        await client.create(resource_path("apps/v1", "deployments", ns), S.deployment(APP, n))
        await watch.until(lambda w: w.ready >= n and w.pods == n, timeout, f"{n} pods with their sidecar", stall=60)
        await sidecarset_status_done(client, name, n, timeout)
        await cost.settle(box.pid("kruise-manager"), timeout=timeout)
        images = (S.V2, S.V3, S.V1)
        for r in range(rounds):
            image = images[r % len(images)]
            run = {"round": r, "n": n, "image": image, "load": os.getloadavg()[0]}
            try:
                pids = box.pids()
                cpu0 = {k: cost.cpu_seconds(pid) for k, pid in pids.items()}
                counters0 = cost.manager_counters(box.metrics_port)
                phase = watch.begin(done_when=sidecar_on(image))
                await client.patch(f"{SIDECARSETS}/{name}",
                                   [{"op": "replace", "path": "/spec/containers/0/image", "value": image}],
                                   content_type="application/json-patch+json")
                await watch.until(lambda w: w.done >= n, timeout, f"sidecar upgrade to {image}", stall=60)
                await sidecarset_status_done(client, name, n, timeout)
                status_s = watch.now()
                await cost.settle(box.pid("kruise-manager"), timeout=timeout)
                requests = cost.delta(cost.manager_counters(box.metrics_port)["requests"], counters0["requests"])
                run.update(done_s=nth(list(phase.first_done.values()), n), status_s=status_s,
                           min_ready=phase.min_ready(), series=phase.series(column=3),
                           requests=requests, requests_per_pod=sum(requests.values()) / n,
                           cpu={k: round(cost.cpu_seconds(pid) - cpu0[k], 2) for k, pid in pids.items() if k in cpu0})
                log(f"sidecarset upgrade round {r}, {n} pods: {run['done_s']:.1f}s "
                    f"(status {status_s:.1f}s), {run['requests_per_pod']:.2f} manager requests/pod")
            except Exception as e:   # recorded; later rounds still run
                run["error"] = f"{type(e).__name__}: {e}"
                log(f"sidecarset upgrade round {r}: FAILED: {run['error']}")
            runs.append(run)
    finally:
        await watch.stop()
        try:
            await client.delete(f"{SIDECARSETS}/{name}")
        except ApiError:
            pass
        await S.delete_namespace(client, ns)
    return runs


async def measure(box, sizes: tuple[int, ...], rounds: int, pairs: int, log) -> dict:
    out: dict = {"name": box.profile.name, "qps": box.profile.qps, "burst": box.profile.burst,
                 "sandbox_start_s": box.started_s, "rounds": rounds, "pairs": pairs}
    async with KubeClient(load_config(box.state.kubeconfig), max_connections=32, user_agent="bench") as client:
        await cost.settle(box.pid("kruise-manager"), timeout=120)
        out["webhook"] = await measure_webhook(client, rounds, pairs, log)
        out["upgrade"] = []
        for n in sizes:
            out["upgrade"] += await measure_upgrade(box, client, n, rounds, log)
    return out


# ---- summary (pure, for the report) -------------------------------------------------------------------
def _median_range(values: list[float]) -> tuple[float, float, float] | None:
    return (statistics.median(values), min(values), max(values)) if values else None


def summarize_webhook(result: dict) -> list[dict]:
    rows = []
    for count in SIDECARSET_COUNTS:
        runs = [r for r in result.get("webhook", []) if r["sidecarsets"] == count]
        if runs:
            rows.append({"sidecarsets": count, "rounds": len(runs), "pairs": runs[0]["pairs"],
                         **{f"{side}_{q}": _median_range([r[side][q] for r in runs])
                            for side in ("webhook", "skipped", "added") for q in ("p50", "p99")}})
    return rows


def summarize_upgrade(result: dict) -> list[dict]:
    rows = []
    for n in dict.fromkeys(r["n"] for r in result.get("upgrade", [])):
        all_runs = [r for r in result["upgrade"] if r["n"] == n]
        runs = [r for r in all_runs if not r.get("error")]
        rows.append({"n": n, "runs": len(runs), "failed": len(all_runs) - len(runs),
                     "done_s": _median_range([r["done_s"] for r in runs if r.get("done_s") is not None]),
                     "status_s": _median_range([r["status_s"] for r in runs]),
                     "requests_per_pod": _median_range([r["requests_per_pod"] for r in runs]),
                     "min_ready": min((r["min_ready"] for r in runs if r.get("min_ready") is not None), default=None),
                     "manager_cpu": _median_range([r["cpu"].get("kruise-manager", 0.0) for r in runs]),
                     "apiserver_cpu": _median_range([r["cpu"].get("kube-apiserver", 0.0) for r in runs]),
                     "errors": [r["error"] for r in all_runs if r.get("error")]})
    return rows
