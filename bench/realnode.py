"""Rollouts on the sandbox's real node (issue 21 item 6), where a new pod costs a pod sandbox, networking and a
container start, and an in-place update only a container restart.

    flock /tmp/ack-kruise-realnode.lock python -m bench.realnode            # 3 rounds, kubelet 5/10 and 50/100
    flock /tmp/ack-kruise-realnode.lock python -m bench.realnode --quick    # 1 round: calibrations, in place
    ... --kubelet-api-qps 5/10                                              # one kubelet setting (about 20 min)

Only one sandbox with a real node may run on the machine at a time (its network bridges are machine-wide): run it
under the lock, as `make bench` does. The scenario, the same for every contender:
- 30 pods of the seed document's image (guestbook v1, the testapp HTTP server) on `real-node-0`, with a TCP
  readiness probe on its port, `imagePullPolicy: IfNotPresent`, then the image changed to v2 (same layer, its
  own config: a real container restart, nothing to pull); maxUnavailable 20 %, no surge;
- timed from the change until the harness's watch sees the 30th pod Ready on v2;
- contenders: Deployment RollingUpdate (kube-controller-manager), CloneSet ReCreate, CloneSet in place,
  Advanced StatefulSet in place; and a calibration with no controller: 30 bare pods whose image the harness
  patches in 5 batches of 6, each batch waiting for Ready, the floor of an in-place rollout on this node; and the
  same with OpenKruise's readiness gate, the harness flipping it (below), the floor of a gated in-place rollout;
- the SidecarSet upgrade: 30 bare pods into which a SidecarSet injected the test app as a sidecar (its own port,
  its own TCP readiness probe), its image changed v1 → v2 in the SidecarSet (maxUnavailable 20 %), timed until
  the 30th pod is Ready with the sidecar on v2; against its own calibration, bare pods with the same two
  containers whose sidecar image the harness patches in 5 batches of 6 (OpenKruise upgrades sidecars without a
  readiness gate);
- the DaemonSets, whose one pod is on the one real node: Advanced DaemonSet in place (InPlaceIfPossible) and
  kube-controller-manager's DaemonSet RollingUpdate, against one bare pod patched, with and without the gate.
Each round runs every contender once, in a rotating order, each in a fresh namespace once the previous one's pods
are gone and the controllers are quiet. QPS 500/500 for every controller's client, so that the node, not the
controllers' budget, is what is measured; the kubelet's own client limit is a setting of the node, measured at
Kubernetes' default before and since 1.27 (5/10, 50/100), a sandbox each. The report (bench/results-realnode.md) gives medians, ranges, and the median of each
round's ratios.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from kube import JSON_PATCH, ApiError, KubeClient, load_config, resource_path

from . import report, scenarios as S
from .measure import PodWatch, is_ready, runs_image
from .sidecarset import SIDECAR, SIDECARSETS, sidecar_on

HERE = Path(__file__).resolve().parent
PODS, BATCH, PORT = 30, 6, 8080
NODE = "real-node-0"
SEED = "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook"
V1, V2 = f"{SEED}:v1", f"{SEED}:v2"
APP = "rollout"
# The SidecarSet upgrade's sidecar: the sandbox's test app, serving on its own port next to the guestbook.
TESTAPP = "localhost:5000/ack-kruise/testapp"
SIDECAR_PORT = 9090
SIDECAR_V1, SIDECAR_V2 = f"{TESTAPP}:v1", f"{TESTAPP}:v2"
INPLACE_VS_CALIBRATION_TARGET = 1.2  # in place ÷ calibration, at most
INPLACE_SPEEDUP_TARGET = 3.5         # Deployment ÷ in place, at least


KUBELET_NOTE = """Why the kubelet bounds in-place rollouts: it writes every status change of a pod (a GET and a
PATCH), one pod after another, at its client limit (v1.20's default of 5 QPS: 0.4 s a write). A bare pod patched
in place costs it 2 writes: the container restarted, then Ready. A pod with a readiness gate (the
`InPlaceUpdateReady` of CloneSet and Advanced StatefulSet, as in OpenKruise) costs 3, and waits for a relist of
the kubelet's pod lifecycle event generator (every second). The controller may set the gate True only once the
kubelet reports the new container (OpenKruise's rule: earlier, the pod would turn Ready on its old container), but
a v1.20 kubelet keeps the gate conditions of the status it cached, and a sync whose status differs only in
conditions it does not own leaves that cache alone (`isPodStatusByKubeletEqual`). So when the readiness probe
passes it writes ContainersReady=True with Ready=False; seeing that copy, it syncs the pod again, and that sync
waits for the next relist before it writes Ready=True. Seen on 2026-12-04 in one batch of 6 pods, every pod
event timed: at 50/100, bare pods Ready 1.5-2.1 s after the patch, gated pods ContainersReady at 1.1-1.9 s and
Ready all at 3.0 s (1.47x); at 5/10, 4.2 s against 6.5 s (1.56x) (with the harness's drain of then, which cost
one more kubelet sync before the image change: `set_gate`). The calibration with the gate measures that
cost with the harness as an instant controller. A controller could write Ready=True itself once ContainersReady
and every gate are True (some do), but the kubelet's status reconcile (every 10 s) writes its cached Ready=False
back when it runs before the kubelet's own resync: pods would flap. Ready stays the kubelet's, as in OpenKruise."""


def template(image: str = V1, gate: bool = False) -> dict:
    spec = {"nodeSelector": {"kubernetes.io/hostname": NODE},
            "containers": [{"name": "app", "image": image, "imagePullPolicy": "IfNotPresent",
                            "ports": [{"containerPort": PORT}],
                            "readinessProbe": {"tcpSocket": {"port": PORT}, "periodSeconds": 1}}]}
    if gate:  # Advanced StatefulSet: in-place updates need the gate in the template (CloneSet adds its own)
        spec["readinessGates"] = [{"conditionType": "InPlaceUpdateReady"}]
    return {"metadata": {"labels": {S.APP_LABEL: APP}}, "spec": spec}


def sidecar(image: str = SIDECAR_V1) -> dict:
    """The sidecar container, as the SidecarSet injects it and as the sidecar calibration writes it: its own
    TCP readiness probe, so that Ready on v2 means the restarted sidecar serves again."""
    return {"name": SIDECAR, "image": image, "imagePullPolicy": "IfNotPresent",
            "env": [{"name": "PORT", "value": str(SIDECAR_PORT)}],
            "readinessProbe": {"tcpSocket": {"port": SIDECAR_PORT}, "periodSeconds": 1}}


def sidecarset(name: str, namespace: str) -> dict:
    """Injects the sidecar into this run's pods only (`namespace`), and upgrades it 20 % at a time."""
    return {"apiVersion": "apps.kruise.io/v1beta1", "kind": "SidecarSet", "metadata": {"name": name},
            "spec": {"selector": S.selector(APP), "namespace": namespace,
                     "containers": [{**sidecar(), "podInjectPolicy": "AfterAppContainer"}],
                     "updateStrategy": {"type": "RollingUpdate", "maxUnavailable": "20%"}}}


def _workload(api_version: str, kind: str, spec: dict, gate: bool = False) -> dict:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": APP},
            "spec": {"replicas": PODS, "selector": S.selector(APP), "template": template(gate=gate), **spec}}


def _daemon(api_version: str, update_strategy: dict) -> dict:
    """A DaemonSet of the same pod: one, on the real node (the template's nodeSelector)."""
    return {"apiVersion": api_version, "kind": "DaemonSet", "metadata": {"name": APP},
            "spec": {"selector": S.selector(APP), "template": template(), "updateStrategy": update_strategy}}


@dataclass(frozen=True)
class RealContender:
    key: str
    label: str
    api_version: str  # "" for the calibrations (bare pods)
    plural: str
    manifest: dict | None
    # What its rollout is held to, by key, from the same round: the calibration of the same pods and change, the
    # calibration with the readiness gate, and the native controller of kube-controller-manager ("": none).
    calibration: str = ""
    gated_calibration: str = ""
    native: str = ""
    pods: int = PODS
    gated: bool = False    # a calibration: the harness plays OpenKruise's readiness gate
    sidecar: bool = False  # the rollout changes the sidecar's image (v1 → v2 of the test app), not the app's


_HELD = {"calibration": "calibration", "gated_calibration": "calibration-gated", "native": "deployment"}
CALIBRATION = RealContender("calibration", "calibration: bare pods patched in 5 batches of 6", "", "pods", None,
                            native="deployment")
GATED_CALIBRATION = RealContender(
    "calibration-gated", "calibration with the readiness gate: OpenKruise's protocol, played by the harness", "",
    "pods", None, calibration="calibration", native="deployment", gated=True)
DEPLOYMENT = RealContender("deployment", "Deployment RollingUpdate", "apps/v1", "deployments", _workload(
    "apps/v1", "Deployment", {"strategy": {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxUnavailable": "20%", "maxSurge": 0}}}),
    calibration="calibration", gated_calibration="calibration-gated")
RECREATE = RealContender("cloneset-recreate", "CloneSet ReCreate", "apps.kruise.io/v1alpha1", "clonesets", _workload(
    "apps.kruise.io/v1alpha1", "CloneSet", {"updateStrategy": {"type": "ReCreate", "maxUnavailable": "20%",
                                                               "maxSurge": 0}}), **_HELD)
INPLACE = RealContender("cloneset-inplace", "CloneSet in place", "apps.kruise.io/v1alpha1", "clonesets", _workload(
    "apps.kruise.io/v1alpha1", "CloneSet", {"updateStrategy": {"type": "InPlaceIfPossible", "maxUnavailable": "20%",
                                                               "maxSurge": 0}}), **_HELD)
ASTS = RealContender("asts-inplace", "Advanced StatefulSet in place", "apps.kruise.io/v1beta1", "statefulsets",
                     _workload("apps.kruise.io/v1beta1", "StatefulSet", {
                         "serviceName": APP, "podManagementPolicy": "Parallel",
                         "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {
                             "podUpdatePolicy": "InPlaceIfPossible", "maxUnavailable": "20%"}}}, gate=True), **_HELD)
# The sidecar upgrade: 30 bare pods of the guestbook, into which the SidecarSet injected the test app as a
# sidecar; its image changed v1 → v2 in the SidecarSet. OpenKruise upgrades a sidecar without a readiness gate
# (the kubelet restarts the container, which turns the pod NotReady by its probe), so its floor is the
# calibration that patches the sidecar's image of bare pods with the same two containers, 6 at a time.
SIDECAR_CALIBRATION = RealContender("calibration-sidecar", "calibration of the sidecar: bare pods with the sidecar, "
                                    "its image patched in 5 batches of 6", "", "pods", None, sidecar=True)
SIDECARSET = RealContender("sidecarset-upgrade", "SidecarSet upgrade of the sidecar in the 30 pods",
                           "apps.kruise.io/v1beta1", "sidecarsets", None, calibration="calibration-sidecar",
                           sidecar=True)
# A DaemonSet has one pod on the one real node: its rollout is one pod's in-place update (or recreation), held
# to the same change of one bare pod, with and without the readiness gate the Advanced DaemonSet adds.
_ONE = {"calibration": "calibration-1", "gated_calibration": "calibration-gated-1", "native": "daemonset", "pods": 1}
ONE_CALIBRATION = RealContender("calibration-1", "calibration of one pod: a bare pod patched", "", "pods", None,
                                native="daemonset", pods=1)
ONE_GATED_CALIBRATION = RealContender("calibration-gated-1", "calibration of one pod with the readiness gate", "",
                                      "pods", None, calibration="calibration-1", native="daemonset", pods=1,
                                      gated=True)
DAEMONSET = RealContender("daemonset", "DaemonSet RollingUpdate, one pod", "apps/v1", "daemonsets", _daemon(
    "apps/v1", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}),
    calibration="calibration-1", gated_calibration="calibration-gated-1", pods=1)
ADS = RealContender("ads-inplace", "Advanced DaemonSet in place, one pod", "apps.kruise.io/v1alpha1", "daemonsets",
                    _daemon("apps.kruise.io/v1alpha1", {"type": "RollingUpdate", "rollingUpdate": {
                        "rollingUpdateType": "InPlaceIfPossible", "maxUnavailable": 1}}), **_ONE)
CONTENDERS = (CALIBRATION, GATED_CALIBRATION, DEPLOYMENT, RECREATE, INPLACE, ASTS, SIDECAR_CALIBRATION, SIDECARSET,
              ONE_CALIBRATION, ONE_GATED_CALIBRATION, DAEMONSET, ADS)
BY_KEY = {c.key: c for c in CONTENDERS}
QUICK = (CALIBRATION, GATED_CALIBRATION, INPLACE)
GATE = "InPlaceUpdateReady"


def bare_pod(i: int, gate: bool = False, with_sidecar: bool = False) -> dict:
    t = template(gate=gate)
    if with_sidecar:
        t["spec"]["containers"].append(sidecar())
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{APP}-{i}", **t["metadata"]}, "spec": t["spec"]}


def image_patch(image: str, path: str = "/spec/template/spec/containers/0/image") -> list[dict]:
    """A JSON patch of the one container's image, and nothing else. (A merge patch replaces the whole containers
    list, dropping the port and the readiness probe: a different rollout, refused outright on a bare pod; custom
    resources take no strategic merge patch.)"""
    return [{"op": "replace", "path": path, "value": image}]


def batches(names: list[str], size: int = BATCH) -> list[list[str]]:
    return [names[i:i + size] for i in range(0, len(names), size)]


def on_v2(c: RealContender) -> Callable[[dict], bool]:
    """What the contender's rollout changes, done on a pod: every container on the app's v2, or the sidecar on
    its v2."""
    return sidecar_on(SIDECAR_V2) if c.sidecar else (lambda pod: runs_image(pod, V2))


def done(pod: dict | None, changed: Callable[[dict], bool]) -> bool:
    return bool(pod) and is_ready(pod) and changed(pod) and not pod["metadata"].get("deletionTimestamp")


def _by_name(watch: PodWatch) -> dict[str, dict]:
    return {(k[1] if isinstance(k, tuple) else k): p for k, p in watch.informer.cache.items()}


async def set_gate(client: KubeClient, ns: str, name: str, status: str, pod: dict | None = None) -> None:
    """The readiness gate's condition, as OpenKruise's updateCondition writes it: turning it False turns Ready
    False in the same write (`pod`: the pod as last seen), with the reason and message the kubelet would give it
    (util.SetPodReadyCondition, the controllers' own `ready_condition_after`); turning it True leaves Ready to
    the kubelet. A Ready=False of other words differs from the kubelet's own, which then writes its version
    first: a sync that holds back the image change by up to a relist (1 s; seen on 2026-12-05 in a one-pod
    timeline, 1.5-1.8 s from drain to the new container instead of 0.4-0.6 s for the Advanced DaemonSet)."""
    from controllers.common.pods import condition_patch, ready_condition_after
    now = datetime.now(timezone.utc)
    conditions = [condition_patch(GATE, status, now)]
    if status == "False" and pod is not None:
        ready = ready_condition_after(pod, {GATE: "False"}, now)
        if ready:
            conditions.append(ready)
    await client.patch(resource_path("v1", "pods", ns, name) + "/status", {"status": {"conditions": conditions}},
                       content_type="application/strategic-merge-patch+json")


async def calibrate(client: KubeClient, watch: PodWatch, ns: str, timeout: float, c: RealContender) -> None:
    """The image of the bare pods patched in batches, each batch waiting for Ready on the new image (for the
    sidecar calibration, the image of their sidecar container).

    The gated calibration: the pods carry the InPlaceUpdateReady readiness gate and the harness plays OpenKruise's protocol
    with no controller latency: gate False (and Ready False) before the image patch, gate True as soon as the
    kubelet reports the container running the new image. The kubelet's cost of that protocol, whatever the
    controller: see KUBELET_NOTE."""
    names = sorted(_by_name(watch))
    gated, changed = c.gated, on_v2(c)
    image, path = (SIDECAR_V2, "/spec/containers/1/image") if c.sidecar else (V2, "/spec/containers/0/image")
    for batch in batches(names):
        pods_now = _by_name(watch)

        async def drain_and_patch(n: str) -> None:
            if gated:
                await set_gate(client, ns, n, "False", pods_now.get(n))
            await client.patch(resource_path("v1", "pods", ns, n), image_patch(image, path), JSON_PATCH)
        await asyncio.gather(*(drain_and_patch(n) for n in batch))
        closed = set(batch) if gated else set()
        opening: list[asyncio.Task] = []

        def restarted(w: PodWatch) -> list[str]:
            pods = _by_name(w)
            return [n for n in closed if pods.get(n) and changed(pods[n])]

        def batch_done(w: PodWatch, batch=batch) -> bool:
            pods = _by_name(w)
            return all(done(pods.get(n), changed) for n in batch)
        while not batch_done(watch):
            await watch.until(lambda w: batch_done(w) or bool(restarted(w)), timeout,
                              f"calibration batch {batch[0]}..", stall=60)
            for n in restarted(watch):
                closed.discard(n)
                opening.append(asyncio.create_task(set_gate(client, ns, n, "True")))
        await asyncio.gather(*opening)


async def run_one(box, client: KubeClient, c: RealContender, round_index: int, log: Callable) -> dict:
    from .run import quiet
    ns = f"bench-real-{c.key}-r{round_index}"
    await S.delete_namespace(client, ns)
    await S.create_namespace(client, ns)
    watch = await PodWatch(client, ns).start()
    n = c.pods
    out = {"contender": c.key, "label": c.label, "round": round_index, "n": n, "load": os.getloadavg()[0]}
    timeout = 600.0
    injector = f"{APP}-{ns}" if c is SIDECARSET else None   # cluster-scoped: named after the run's namespace
    try:
        phase = watch.begin()
        gated = c.gated
        if injector:
            await client.create(SIDECARSETS, sidecarset(injector, ns))
        if c.manifest is None:   # bare pods; the SidecarSet's get their sidecar from the pod webhook
            await asyncio.gather(*(client.create(resource_path("v1", "pods", ns), bare_pod(i, gate=gated,
                                                                  with_sidecar=c is SIDECAR_CALIBRATION))
                                   for i in range(n)))
            if gated:  # a new pod's gate is True from the start, as CloneSet's (its webhook and first refresh)
                await asyncio.gather(*(set_gate(client, ns, bare_pod(i)["metadata"]["name"], "True")
                                       for i in range(n)))
        else:
            await client.create(resource_path(c.api_version, c.plural, ns), c.manifest)
        out["create_s"] = await watch.until(lambda w: w.ready >= n, timeout, f"{c.key} create", stall=120)
        if c.sidecar:
            missing = [name for name, pod in _by_name(watch).items() if not sidecar_on(SIDECAR_V1)(pod)]
            if missing:
                raise RuntimeError(f"{len(missing)} pod(s) without the sidecar on v1, e.g. {missing[0]}")
        await quiet(box, 60)
        uids = {p["metadata"]["uid"] for p in watch.informer.cache.values()}
        phase = watch.begin(done_when=on_v2(c))
        if injector:
            await client.patch(f"{SIDECARSETS}/{injector}", image_patch(SIDECAR_V2, "/spec/containers/0/image"),
                               JSON_PATCH)
        elif c.manifest is None:
            await calibrate(client, watch, ns, timeout, c)
        else:
            await client.patch(resource_path(c.api_version, c.plural, ns, APP), image_patch(V2), JSON_PATCH)
        out["done_s"] = await watch.until(lambda w: w.done >= n, timeout, f"{c.key} rollout", stall=120)
        ready = sorted(phase.first_done.values())
        out.update(half_s=ready[max(n // 2, 1) - 1], min_ready=phase.min_ready(), series=phase.series(column=3),
                   # pods still terminating are not kept: a recreating rollout is done before its last old
                   # pods are gone
                   same_uids=sum(p["metadata"]["uid"] in uids for p in watch.informer.cache.values()
                                 if not p["metadata"].get("deletionTimestamp")),
                   restarts=sum(s.get("restartCount", 0) for p in watch.informer.cache.values()
                                for s in (p.get("status") or {}).get("containerStatuses") or []))
        log(f"round {round_index} {c.key}: created in {out['create_s']:.1f}s, rolled out in {out['done_s']:.1f}s "
            f"({out['same_uids']} pods kept, load {out['load']:.1f})")
    except Exception as e:  # reported as failed; the other contenders and rounds still run
        out["error"] = f"{type(e).__name__}: {e}"
        log(f"round {round_index} {c.key}: FAILED: {out['error']}")
    finally:
        await watch.stop()
        if injector:   # cluster-scoped: it outlives the namespace
            try:
                await client.delete(f"{SIDECARSETS}/{injector}")
            except ApiError as e:
                if not e.not_found:
                    raise
        await S.delete_namespace(client, ns)
        await quiet(box, 120)
    return out


async def measure(box, rounds: int, contenders: tuple, log: Callable) -> dict:
    from .run import quiet, round_order
    out: dict = {"rounds": rounds, "sandbox_start_s": box.started_s, "runs": []}
    async with KubeClient(load_config(box.state.kubeconfig), max_connections=32, user_agent="bench") as client:
        await quiet(box, 120)
        for i in range(rounds):
            for c in round_order(contenders, i):
                out["runs"].append(await run_one(box, client, c, i, log))
    return out


# ---- summary and report (pure) ----------------------------------------------------------------------
def summarize(results: dict) -> list[dict]:
    runs = results.get("runs") or []
    by_round = {(r["round"], r["contender"]): r for r in runs if not r.get("error")}
    rows = []
    for key in dict.fromkeys(r["contender"] for r in runs):
        mine = [r for r in runs if r["contender"] == key and not r.get("error")]
        c = BY_KEY.get(key) or RealContender(key, key, "", "", None)

        def vs(other: str, invert: bool = False) -> tuple | None:
            ratios = []
            for r in mine:
                o = by_round.get((r["round"], other))
                if o and o.get("done_s") and r.get("done_s"):
                    ratios.append(o["done_s"] / r["done_s"] if invert else r["done_s"] / o["done_s"])
            return report.median_range(ratios)
        rows.append({"contender": key, "label": next(r["label"] for r in runs if r["contender"] == key),
                     "runs": len(mine), "errors": [r["error"] for r in runs if r["contender"] == key and r.get("error")],
                     "create": report.median_range([r.get("create_s") for r in mine]),
                     "done": report.median_range([r.get("done_s") for r in mine]),
                     "half": report.median_range([r.get("half_s") for r in mine]),
                     "pods": c.pods,
                     "vs_calibration": vs(c.calibration) if c.calibration else None,
                     "vs_gated": vs(c.gated_calibration) if c.gated_calibration else None,
                     "speedup_vs_native": vs(c.native, invert=True) if c.native else None,
                     "min_ready": min((r["min_ready"] for r in mine if r.get("min_ready") is not None), default=None),
                     "same_uids": min((r["same_uids"] for r in mine), default=None)})
    return rows


def targets(results: dict) -> list[tuple[str, str, bool | None]]:
    rows = {r["contender"]: r for r in summarize(results)}
    inplace = rows.get(INPLACE.key) or {}
    a = report.verdict(inplace.get("vs_calibration"), INPLACE_VS_CALIBRATION_TARGET)
    b = report.verdict(inplace.get("speedup_vs_native"), INPLACE_SPEEDUP_TARGET, at_most=False)
    kubelet = results.get("kubelet", "5/10")
    sidecar = _sidecar_target(rows, kubelet)
    return [(f"real node, kubelet at {kubelet}: CloneSet in place ≤ {INPLACE_VS_CALIBRATION_TARGET:g}× the "
             f"calibration, {PODS} pods", *a),
            (f"real node, kubelet at {kubelet}: CloneSet in place ≥ {INPLACE_SPEEDUP_TARGET:g}× faster than the "
             f"Deployment, {PODS} pods", *b)] + sidecar


def _sidecar_target(rows: dict, kubelet: str) -> list[tuple[str, str, bool | None]]:
    """The in-place target applied to the SidecarSet's upgrade, against its own calibration: no readiness gate
    stands between the two, so the ratio is the controller's alone."""
    upgrade = rows.get(SIDECARSET.key)
    if not upgrade:
        return []
    return [(f"real node, kubelet at {kubelet}: SidecarSet upgrade ≤ {INPLACE_VS_CALIBRATION_TARGET:g}× the sidecar's "
             f"calibration, {PODS} pods", *report.verdict(upgrade.get("vs_calibration"), INPLACE_VS_CALIBRATION_TARGET))]


def bounds(results: dict) -> list[str]:
    """What this node allows, from the same rounds: the most an in-place rollout can gain over the Deployment
    (none is faster than the calibration), the kubelet's own cost of the readiness gate, and what the CloneSet
    adds on top of that."""
    rows = {r["contender"]: r for r in summarize(results)}
    dep, gated, inplace = (rows.get(c.key) or {} for c in (DEPLOYMENT, GATED_CALIBRATION, INPLACE))
    out = []
    if dep.get("vs_calibration"):
        out.append(f"- The Deployment took {report.rng(dep['vs_calibration'], report.fmt_x)} the calibration's time: no "
                   "in-place rollout is faster than the calibration, so that is the most any can gain over the "
                   f"Deployment on this node (the target asks {INPLACE_SPEEDUP_TARGET:g}×).")
    if gated.get("vs_calibration"):
        out.append(f"- The calibration with the readiness gate took {report.rng(gated['vs_calibration'], report.fmt_x)} "
                   "the bare calibration's time: the same batches, with OpenKruise's InPlaceUpdateReady played by an "
                   "instant harness: the kubelet's cost of the gate (above), which no controller that keeps the "
                   f"gate escapes (the target asks {INPLACE_VS_CALIBRATION_TARGET:g}× of the bare calibration).")
    if inplace.get("vs_gated"):
        out.append(f"- CloneSet in place took {report.rng(inplace['vs_gated'], report.fmt_x)} the gated calibration's "
                   "time: it rolls pod by pod (the next pod starts as soon as one is Ready again) where the "
                   "calibrations wait for whole batches.")
    ads = rows.get(ADS.key) or {}
    if ads.get("vs_gated") and ads.get("vs_calibration"):
        out.append(f"- Advanced DaemonSet in place, one pod: {report.rng(ads['vs_gated'], report.fmt_x)} the gated "
                   f"calibration of one pod, {report.rng(ads['vs_calibration'], report.fmt_x)} the bare one (the "
                   "gate's cost again)" + (f", {report.rng(ads['speedup_vs_native'], report.fmt_x)} faster than the "
                                           "DaemonSet, which recreates its pod" if ads.get("speedup_vs_native") else "")
                   + ".")
    return out


def markdown(results: dict, first: bool = True) -> str:
    """The report of one kubelet setting; `first`: with the title and the scenario."""
    kubelet = results.get("kubelet", "5/10")
    out = ["# ack-kruise on the real node: image rollouts", "", __doc__.split("\n\n", 2)[2].strip(), "",
           KUBELET_NOTE, ""] if first else []
    out += [f"## The kubelet at client QPS {kubelet}", "",
            f"`{results['command']}` on {results['date']}, {results['rounds']} round(s), in "
           f"{results.get('total_s', 0) / 60:.1f} min; load average {results['load_before']:.2f} before, "
           f"{results.get('load_after', 0):.2f} after, {max((r['load'] for r in results['runs']), default=0):.2f} at "
           "most when a run started (2 cores; the real node's containerd, kubelet and pods count in it).", "",
           "### Targets", "", "| target | measured | |", "|---|---|---|"]
    out += [f"| {t} | {m} | {report.yes_no(ok)} |" for t, m, ok in targets(results)]
    limits = bounds(results)
    if limits:
        out += ["", "What bounds these targets on this node (medians of each round's ratios):", "", *limits]
    out += ["", f"### Rollouts, v1 → v2, the kubelet at {kubelet}", "",
            "Times in seconds: median (lowest–highest). *vs calibration*: the median of each round's ratio to the "
            "calibration of the same pods and change (lower is better), *vs gated*: to that calibration with the "
            "readiness gate; *faster than native*: the time of kube-controller-manager's controller of the same "
            "pods (the Deployment, the DaemonSet) to this one's. "
            "*pods kept*: pods with the same uid after the rollout (in place keeps them, and their IP).", "",
            "| contender | pods | runs | create | rollout: half Ready on v2 | rollout: all Ready on v2 | "
            "vs calibration | vs gated | faster than native | fewest pods Ready | pods kept |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in summarize(results):
        failed = f" ({len(r['errors'])} failed)" if r["errors"] else ""
        out.append(f"| {r['label']} | {r['pods']} | {r['runs']}{failed} | {report.rng(r['create'])} | {report.rng(r['half'])} | "
                   f"{report.rng(r['done'])} | {report.rng(r['vs_calibration'], report.fmt_x)} | "
                   f"{report.rng(r['vs_gated'], report.fmt_x)} | "
                   f"{report.rng(r['speedup_vs_native'], report.fmt_x)} | "
                   f"{'' if r['min_ready'] is None else r['min_ready']} | "
                   f"{'' if r['same_uids'] is None else r['same_uids']} |")
        out += [f"| | | failed: {e} |" + " |" * 8 for e in r["errors"]]
    return "\n".join(out) + "\n"


KUBELET_API_QPS = {"5/10": (5.0, 10), "50/100": (50.0, 100)}
"""The kubelet's client QPS/burst: Kubernetes' default up to 1.26 (the sandbox's v1.20), and from 1.27."""


def _kubelet_limits(text: str) -> list[tuple[str, tuple[float, int]]]:
    out = []
    for item in text.split(","):
        qps, _, burst = item.partition("/")
        try:
            limits = (float(qps), int(burst))
        except ValueError:
            raise argparse.ArgumentTypeError(f"QPS/BURST pairs, e.g. 5/10,50/100; got {item!r}") from None
        if limits[0] <= 0 or limits[1] < 1:
            raise argparse.ArgumentTypeError(f"QPS and burst must be positive, got {item!r}")
        out.append((f"{limits[0]:g}/{limits[1]}", limits))
    return out


def main(argv: list[str] | None = None) -> int:
    from .run import PROFILES, Box, log
    p = argparse.ArgumentParser(prog="python -m bench.realnode", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one round, the calibration and CloneSet in place only, "
                                                         "the kubelet at 5/10")
    p.add_argument("--rounds", type=int, help="default 3; --quick: 1")
    p.add_argument("--contenders", help=f"comma-separated subset of {', '.join(c.key for c in CONTENDERS)}")
    p.add_argument("--kubelet-api-qps", type=_kubelet_limits, default=None,
                   help="the real kubelet's client QPS/burst, one sandbox each (default 5/10,50/100: Kubernetes' "
                        "default up to 1.26, and from 1.27; --quick: 5/10)")
    p.add_argument("--out", help="default bench/results-realnode.md; --quick: bench/.state/quick/results-realnode.md")
    a = p.parse_args(argv)
    contenders = QUICK if a.quick else CONTENDERS
    if a.contenders:
        contenders = tuple(c for c in CONTENDERS if c.key in a.contenders.split(","))
    rounds = a.rounds or (1 if a.quick else 3)
    kubelets = a.kubelet_api_qps or (list(KUBELET_API_QPS.items())[:1] if a.quick else list(KUBELET_API_QPS.items()))
    out_md = Path(a.out) if a.out else (HERE / ".state" / "quick" / "results-realnode.md" if a.quick
                                        else HERE / "results-realnode.md")
    given = argv if argv is not None else sys.argv[1:]
    texts = []
    for name, limits in kubelets:
        results: dict = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "kubelet": name,
                         "command": " ".join(["python -m bench.realnode", *given]), "load_before": os.getloadavg()[0]}
        t0 = time.monotonic()
        box = Box(PROFILES["high"], trace=False, simulated_nodes=0, name="realnode", real_node=True,
                  kubelet_api_qps=limits)
        log(f"starting a sandbox with the real node, its kubelet at QPS {name} (hold /tmp/ack-kruise-realnode.lock)")
        box.up()
        try:
            results.update(asyncio.run(measure(box, rounds, contenders,
                                               lambda m: log(f"[real node, kubelet {name}] {m}"))))
        finally:
            box.down()
        results.update(total_s=time.monotonic() - t0, load_after=os.getloadavg()[0])
        (HERE / ".state").mkdir(exist_ok=True)
        (HERE / ".state" / f"{out_md.stem}-{name.replace('/', '-')}.json").write_text(json.dumps(results, indent=1))
        texts.append(markdown(results, first=not texts))
        for target, measured, met in targets(results):
            log(f"{report.yes_no(met).strip('*').upper()}: {target}: {measured}")
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text("\n".join(texts))
    print("\n".join(texts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
