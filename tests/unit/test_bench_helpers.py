"""`make bench`'s pure parts: pod classification, timelines, /proc and /metrics parsing, ratios, targets, the
report, and the arguments. The measurements themselves need a sandbox and are not tests."""
from __future__ import annotations

import asyncio
import json
import os

import pytest

from bench import cost, daemonset as ds, measure, report, run, scenarios as S, sidecarset as ss
from bench.traced_manager import key_of


def pod(name: str, uid: str, ready: bool = False, image: str = S.V1, status_image: str | None = None,
        deleting: bool = False) -> dict:
    meta = {"name": name, "namespace": "ns", "uid": uid}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    status = {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if status_image:
        status["containerStatuses"] = [{"name": "app", "image": status_image}]
    return {"metadata": meta, "spec": {"containers": [{"name": "app", "image": image}]}, "status": status}


# ---- measure ----------------------------------------------------------------------------------------
def test_ready_and_image_checks():
    assert measure.is_ready(pod("a", "1", ready=True))
    assert not measure.is_ready(pod("a", "1"))
    assert not measure.is_ready({"metadata": {}})
    assert measure.runs_image(pod("a", "1", image=S.V2, status_image=S.V2), S.V2)
    assert not measure.runs_image(pod("a", "1", image=S.V2, status_image=S.V1), S.V2)  # in place, not restarted yet
    assert not measure.runs_image(pod("a", "1", image=S.V2), S.V2)  # no container status yet
    # the real node reports the image by the sandbox's local registry's name
    seed = "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook"
    assert measure.runs_image(pod("a", "1", image=f"{seed}:v2", status_image="localhost:5000/kruise-test/guestbook:v2"),
                              f"{seed}:v2")
    assert not measure.runs_image(pod("a", "1", image=f"{seed}:v2",
                                      status_image="localhost:5000/kruise-test/guestbook:v1"), f"{seed}:v2")
    assert measure.without_registry("nginx:1.25") == "nginx:1.25"
    assert measure.without_registry("library/nginx") == "library/nginx"


def test_nth():
    assert measure.nth([3.0, 1.0, 2.0], 2) == 2.0
    assert measure.nth([1.0], 2) is None
    assert measure.nth([], 0) is None


class _Client:  # PodWatch only needs the informer's callback here
    pass


def _watch() -> measure.PodWatch:
    w = measure.PodWatch.__new__(measure.PodWatch)
    w.client, w.namespace = _Client(), "ns"
    w.informer = type("I", (), {"cache": {}})()
    w._uid, w._ready, w._done = {}, set(), set()
    import time
    w.t0 = time.monotonic()
    w.phase = measure.Phase(None)
    w._changed = asyncio.Event()
    return w


def test_pod_watch_counts_scale_up_and_rollout():
    w = _watch()
    w.begin()
    w._on_pod(("ns", "a"), pod("a", "1"))
    w._on_pod(("ns", "b"), pod("b", "2", ready=True))
    assert (w.pods, w.ready, w.done) == (2, 1, 1)
    w._on_pod(("ns", "a"), pod("a", "1", ready=True))
    assert set(w.phase.first_seen) == {"1", "2"} and set(w.phase.first_ready) == {"1", "2"}
    # a terminating pod is not counted as ready
    w._on_pod(("ns", "b"), pod("b", "2", ready=True, deleting=True))
    assert w.ready == 1
    w._on_pod(("ns", "b"), None)
    assert (w.pods, w.ready) == (1, 1)

    # rollout: `done` counts pods Ready on the target image only
    w.informer.cache = {("ns", "a"): pod("a", "1", ready=True, status_image=S.V1)}
    w.begin(S.V2)
    assert w.done == 0
    w._on_pod(("ns", "a"), pod("a", "1", ready=False, image=S.V2, status_image=S.V1))
    w._on_pod(("ns", "a"), pod("a", "1", ready=True, image=S.V2, status_image=S.V2))
    assert w.done == 1 and "1" in w.phase.first_done
    assert w.phase.min_ready() == 0
    # a recreated pod of the same name is another pod
    w._on_pod(("ns", "a"), pod("a", "9", ready=False, image=S.V2))
    assert (w.pods, w.ready, w.done) == (1, 0, 0)


def test_until_reports_a_stall():
    async def go():
        w = _watch()
        w.begin()
        with pytest.raises(TimeoutError, match="no progress"):
            await w.until(lambda w: w.ready >= 1, timeout=5, what="x", stall=0.2)
        assert await w.until(lambda w: True, timeout=1, what="y") >= 0
    asyncio.run(go())


def test_series_is_thinned_but_keeps_the_end():
    ph = measure.Phase(None, samples=[(float(i), i, i, 0) for i in range(1000)])
    s = ph.series(points=100)
    assert len(s) <= 102 and s[0] == (0.0, 0) and s[-1] == (999.0, 999)


# ---- cost -------------------------------------------------------------------------------------------
def test_proc_readings_of_this_process():
    assert cost.cpu_seconds(os.getpid()) > 0
    assert cost.rss_bytes(os.getpid()) > 1 << 20


def test_parse_metrics_sums_per_label():
    text = """# HELP rest_client_requests_total x
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",method="GET"} 6
rest_client_requests_total{code="404",method="GET"} 2
rest_client_requests_total{code="201",method="POST"} 1e+03
controller_runtime_webhook_requests_total{code="200",webhook="/mutate-pod"} 100
"""
    assert cost.parse_metrics(text, "rest_client_requests_total", "method") == {"GET": 8.0, "POST": 1000.0}
    text += 'rest_client_requests_total{client="webhooks",code="200",method="GET"} 5\n'
    assert cost.parse_metrics(text, "rest_client_requests_total", "method", client="webhooks") == {"GET": 5.0}
    assert cost.parse_metrics(text, "controller_runtime_webhook_requests_total", "webhook") == {"/mutate-pod": 100.0}
    assert cost.delta({"GET": 10.0, "POST": 5.0}, {"GET": 4.0, "POST": 5.0}) == {"GET": 6.0}


def test_usage_cores():
    u = cost.Usage(seconds=10, cpu_seconds=0.5, rss_peak=100 << 20, rss_end=90 << 20)
    assert u.cores == pytest.approx(0.05)
    assert u.to_dict()["rss_peak_mb"] == pytest.approx(100)


# ---- scenarios --------------------------------------------------------------------------------------
@pytest.mark.parametrize("c", [c for c in S.CONTENDERS if c.manifest], ids=lambda c: c.key)
def test_manifests_select_their_own_pods(c):
    body = c.manifest(c.key, 7)
    spec = body["spec"]
    assert spec["replicas"] == 7
    labels = spec["template"]["metadata"]["labels"]
    assert all(labels[k] == v for k, v in spec["selector"]["matchLabels"].items())
    assert body["apiVersion"] == c.api_version
    if c.key == "asts":  # OpenKruise refuses in-place updates without the gate in the template
        assert {"conditionType": "InPlaceUpdateReady"} in spec["template"]["spec"]["readinessGates"]


def test_rollout_patches():
    cs = S.CLONESET
    inplace, recreate = cs.rollouts
    assert inplace.patch(S.V2)["spec"]["template"]["spec"]["containers"] == [{"name": "app", "image": S.V2}]
    assert recreate.patch(S.V3)["spec"]["updateStrategy"] == {"type": "ReCreate"}
    assert S.DEPLOYMENT.manifest("d", 1)["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": "20%",
                                                                                  "maxSurge": 0}


def test_traced_request_keys():
    assert key_of("POST", "/api/v1/namespaces/x/pods") == "POST pods"
    assert key_of("PATCH", "/api/v1/namespaces/x/pods/p/status",
                  {"status": {"conditions": [{"type": "Ready"}, {"type": "InPlaceUpdateReady"}]}}) == \
        "PATCH pods/status status.conditions[InPlaceUpdateReady,Ready]"
    assert key_of("PATCH", "/apis/apps.kruise.io/v1alpha1/namespaces/x/clonesets/c",
                  {"metadata": {"labels": {}}, "spec": {"replicas": 1}}) == "PATCH clonesets metadata{labels}+spec{replicas}"
    assert key_of("PUT", "/apis/coordination.k8s.io/v1/namespaces/k/leases/m") == "PUT leases"


# ---- report -----------------------------------------------------------------------------------------
def _run(contender, kind, n=1000, **kw):
    base = {"profile": "default", "n": n, "contender": contender, "label": contender, "kind": kind,
            "controller": "manager" if contender.startswith(("cloneset", "asts")) else "kcm",
            "manager": {"cpu_seconds": 1.0, "cores": 0.1, "rss_peak_mb": 120.0, "seconds": 10},
            "cpu": {"kube-apiserver": 2.0}, "requests": {"POST": 1000.0, "PATCH": 3000.0, "WATCH": 4.0},
            "series": [(0.0, 0), (1.0, n)]}
    base.update(kw)
    return base


def _results(cs_ready=55.0, inplace=10.0, cs_median=(21.0, 22.0, 30.0)):
    """Three rounds of the Deployment and the CloneSet (the CloneSet's median pod Ready after `cs_median`),
    a failed Advanced StatefulSet."""
    runs = [_run("raw", "scale", created_s=50.0, ready_s=51.0, controller="client")]
    for i, median in enumerate(cs_median):
        runs += [_run("deployment", "scale", round=i, created_s=50.0, median_ready_s=10.0, ready_s=52.0),
                 _run("cloneset", "scale", round=i, created_s=55.0, median_ready_s=median, ready_s=cs_ready + i,
                      manager_busy_s=60.0, requests={"POST": 1000.0, "PATCH": 1030.0})]
    runs += [{"n": 1000, "contender": "cloneset", "kind": "watching", "rss_peak_mb": 90.0, "cores": 0.01,
              "seconds": 30},
             {"n": 1000, "contender": "cloneset", "kind": "watching-restarted", "rss_peak_mb": 80.0, "cores": 0.005,
              "seconds": 30},
             _run("deployment-rolling", "rollout", done_s=100.0, min_ready=800),
             _run("cloneset-inplace", "rollout", done_s=inplace, min_ready=800),
             _run("asts", "scale", error="TimeoutError: stuck")]
    return {"date": "2024-01-01 00:00 UTC", "command": "make bench", "sizes": [1000], "total_s": 600, "rounds": 3,
            "machine": {"cpu": "cpu", "cores": 2, "memory_gb": 8, "kernel": "6", "load_before": [0.1, 0, 0],
                        "load_after": [0.2, 0, 0]},
            "versions": {"ack-kruise": "0.1.0", "kubernetes": "v1.20.2", "python": "3.11", "kopf": "1.45",
                         "aiohttp": "3", "helm": "v3"},
            "tools": {"generate": {"median_s": 0.3, "min_s": 0.3}, "helm_template": {"median_s": 0.1, "min_s": 0.1}},
            "profiles": [{"name": "default", "qps": 20, "burst": 30, "what": "defaults", "sandbox_start_s": 8.0,
                          "rounds": 3, "idle": {"rss_peak_mb": 80.0, "cores": 0.001, "seconds": 30},
                          "nodesim_ceiling": {"pods": 1000, "created_s": 1.0, "ready_s": 2.0, "ready_per_s": 500.0},
                          "runs": runs}]}


def test_ratios_and_per_pod():
    assert report.ratio(2.0, 1.0) == 2.0 and report.ratio(1.0, None) is None and report.ratio(1.0, 0) is None
    assert report.per_pod({"POST": 100.0, "PATCH": 300.0, "WATCH": 5.0}, 100) == 4.0
    assert report.per_pod({}, 100) is None


def test_verdicts_say_by_how_much_a_target_is_missed_and_when_the_range_crosses_it():
    assert report.verdict((2.0, 1.9, 2.05), 2.1) == ("2.00× (1.90×–2.05×)", True)
    assert report.verdict((2.0, 1.9, 2.3), 2.1) == ("2.00× (1.90×–2.30×); the range crosses the target", True)
    assert report.verdict((2.31, 2.31, 2.31), 2.1) == ("2.31×: 10 % over the target", False)
    assert report.verdict(None, 2.1) == ("not measured", None)
    assert report.shortfall(3.0, 3.5, at_most=False) == "14 % under the target"
    assert report.shortfall(4.12, 4.1) == "0.5 % over the target"


def test_targets_say_which_are_met():
    rows = {t.split(",")[0]: (m, ok) for t, m, ok in report.targets(_results())}
    assert rows["median pod's time to Ready"] == ("2.20× (2.10×–3.00×): 5 % over the target (floor 2×: two "
                                                   "writes per pod against one)", False), "paired per round"
    assert rows["all Ready"] == ("1.08× (1.06×–1.10×); all created 1.10×", "no target")
    full = {t: (m, ok) for t, m, ok in report.targets(_results())}
    assert next(v for t, v in full.items() if "per pod, CloneSet create" in t) == ("2.03", True)
    assert next(v for t, v in full.items() if "per pod, CloneSet in-place" in t) == ("4.00: 29 % over the target",
                                                                                   False)
    assert rows["manager RSS ≤ 100 MB while watching 1000 pods right after scaling up to them"][1] is True
    assert rows["idle CPU < 0.02 cores"][1] is True and rows["the simulator is never the bottleneck"][1] is True
    fast = {t.split(",")[0]: ok for t, _, ok in report.targets(_results(cs_median=(20.0, 21.0, 20.5)))}
    assert fast["median pod's time to Ready"] is True


def test_markdown_names_failures_and_gives_medians_and_ranges():
    text = report.markdown(_results())
    assert "**failed**: TimeoutError: stuck" in text
    row = next(line for line in text.splitlines() if line.startswith("| 1000 | cloneset | 3 | 55.0 |"))
    assert "| 22.0 (21.0–30.0) | 56.0 (55.0–57.0) |" in row, row
    assert "| 2.20× (2.10×–3.00×) / 1.08× (1.06×–1.10×) / 1.10× |" in row, row
    assert "| 1000 | deployment | 3 | 50.0 | 10.0 | 52.0 |  |  |" in text  # KCM: no manager columns
    assert "![pods ready over time](results.png)" in text
    assert "| `ack-kruise generate` (into an empty folder) | 0.30 |" in text


def test_a_round_rotates_the_contenders_and_scale_times_take_the_median_pod():
    from bench import scenarios as S
    from bench.measure import Phase
    order = [run.round_order((S.DEPLOYMENT, S.CLONESET), i) for i in range(3)]
    assert [[c.key for c in o] for o in order] == [["deployment", "cloneset"], ["cloneset", "deployment"],
                                                    ["deployment", "cloneset"]]
    phase = Phase(None, first_seen={str(i): i / 10 for i in range(10)}, first_ready={str(i): float(i) for i in range(10)})
    assert run.scale_times(phase, 10) == {"created_s": 0.9, "ready_s": 9.0, "median_ready_s": 4.0, "p90_ready_s": 8.0}


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    report.plot(_results(), tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


# ---- arguments --------------------------------------------------------------------------------------
def test_arguments():
    full = run.parse_args([])
    assert full.command == "make bench" and full.sizes == (100, 1000)
    assert [p.name for p in full.profiles] == ["default", "high"]
    assert full.out_md == run.HERE / "results.md"
    quick = run.parse_args(["--quick"])
    assert quick.command == "make bench QUICK=1" and quick.sizes == (100,) and [p.name for p in quick.profiles] == ["high"]
    assert quick.out_md.parent == run.STATE / "quick"  # a quick run never overwrites the published figures
    some = run.parse_args(["--profiles", "default", "--sizes", "10", "--contenders", "raw,cloneset"])
    assert [c.key for c in some.contenders] == ["raw", "cloneset"] and some.command.startswith("python -m bench.run")
    with pytest.raises(SystemExit):
        run.parse_args(["--profiles", "nope"])
    assert run.timeout_for(1000, 20) == 1000 * 8 / 20 + 60 and run.timeout_for(10, 500) == 120
    assert (full.daemonset_rounds, quick.daemonset_rounds) == (5, 1)
    assert (full.rounds, quick.rounds, full.rollouts) == (3, 1, True)
    assert run.parse_args(["--rounds", "2", "--no-rollouts"]).rollouts is False
    only = run.parse_args(["--contenders", "none", "--daemonset-rounds", "3", "--out", "bench/results-daemonset.md"])
    assert only.contenders == () and only.daemonset_rounds == 3
    assert only.out_json == run.STATE / "results-daemonset.json", "never the main bench's raw data"


# ---- Advanced DaemonSet vs DaemonSet -----------------------------------------------------------------
def _audit(verb: str, agent: str, ns: str, resource: str = "pods", sub: str = "", stage: str = "ResponseComplete"):
    ref = {"resource": resource, "namespace": ns, **({"subresource": sub} if sub else {})}
    return json.dumps({"verb": verb, "userAgent": agent, "objectRef": ref, "stage": stage})


KCM_DS = "kube-controller-manager/v1.20.2 (linux/amd64) kubernetes/faecb19/daemon-set-controller"


def test_audit_lines_are_counted_per_client_and_request_in_the_namespace():
    lines = [_audit("create", KCM_DS, "a"), _audit("create", KCM_DS, "a"), _audit("delete", KCM_DS, "a"),
             _audit("update", KCM_DS, "a", "daemonsets", "status"),
             _audit("create", "kruise-manager", "a"), _audit("patch", "kopf/1.37.2", "a", "daemonsets"),
             _audit("create", KCM_DS, "b"),                       # another namespace
             _audit("create", KCM_DS, "a", stage="ResponseStarted"),  # not complete
             '{"verb": "create", "userAg']                         # a line cut by a write in progress
    counts = ds.count_requests(lines, "a")
    assert counts == {"kcm:daemon-set-controller": {"CREATE pods": 2, "DELETE pods": 1, "UPDATE daemonsets/status": 1},
                      "kruise-manager": {"CREATE pods": 1}, "kopf": {"PATCH daemonsets": 1}}
    assert ds.requests_of(counts, ds.MANAGER_AGENTS) == {"CREATE pods": 1, "PATCH daemonsets": 1}
    assert ds.agent("kube-scheduler/v1.20.2 (linux/amd64) kubernetes/faecb19/scheduler") == "kube-scheduler"
    assert ds.agent("Python-urllib/3.11") == "Python-urllib"


def test_the_audit_log_is_read_from_the_mark_and_a_partial_last_line_waits(tmp_path):
    log = ds.AuditLog(tmp_path / "audit.log")
    assert log.since_mark() == []  # before the API server wrote anything
    log.path.write_text("old\n")
    log.mark()
    with open(log.path, "a") as f:
        f.write("one\ntwo\nthr")
    assert log.since_mark() == ["one", "two"]


def test_every_round_runs_every_contender_in_a_rotating_order():
    orders = [ds.round_order(ds.CONTENDERS, i) for i in range(4)]
    assert all(sorted(c.key for c in o) == sorted(c.key for c in ds.CONTENDERS) for o in orders)
    assert [o[0].key for o in orders] == ["daemonset", "ads", "ads-inplace", "daemonset"]
    assert ds.audit_args(tmp := __import__("pathlib").Path(__import__("tempfile").mkdtemp()))[1].endswith(
        "audit-policy.yaml") and (tmp / "audit-policy.yaml").read_text() == ds.AUDIT_POLICY


def _ds_run(key: str, rnd: int, kind: str, t: float, requests: int, error: str | None = None) -> dict:
    run_ = {"contender": key, "label": key, "kind": kind, "round": rnd, "controller": "kcm" if key == "daemonset"
            else "manager", "ready_s": t, "done_s": t if kind == "rollout" else None, "min_ready": 40,
            "requests": {"CREATE pods": requests}, "requests_per_pod": requests / ds.NODES,
            "cpu": {"kube-controller-manager": 1.0, "kruise-manager": 2.0, "kube-apiserver": 3.0}}
    return {**run_, "error": error} if error else run_


def test_the_summary_takes_medians_and_the_median_of_paired_ratios():
    runs = [_ds_run("daemonset", 0, "rollout", 10, 100), _ds_run("ads", 0, "rollout", 20, 150),
            _ds_run("daemonset", 1, "rollout", 4, 100), _ds_run("ads", 1, "rollout", 6, 150),
            _ds_run("daemonset", 2, "rollout", 5, 100), _ds_run("ads", 2, "rollout", 5, 150),
            _ds_run("ads", 3, "rollout", 1, 150, error="TimeoutError")]
    rows = {(r["contender"], r["kind"]): r for r in ds.summarize({"runs": runs})}
    ads = rows[("ads", "rollout")]
    assert ads["time"] == (6, 5, 20) and ads["runs"] == 3 and ads["failed"] == 1
    assert ads["ratio"] == (1.5, 1.0, 2.0), "round by round: 2.0, 1.5, 1.0"
    assert ads["requests_per_pod"] == (3.0, 3.0, 3.0) and ads["by_request"] == {"CREATE pods": 3.0}
    assert ads["controller_cpu"] == (2.0, 2.0, 2.0) and rows[("daemonset", "rollout")]["controller_cpu"][0] == 1.0
    assert rows[("daemonset", "rollout")]["ratio"] is None
    assert rows[("ads", "create")]["time"] is None and rows[("ads", "create")]["min_ready"] is None


def test_the_report_has_the_daemonset_section_and_nothing_else_when_only_it_ran():
    runs = [_ds_run("daemonset", 0, "rollout", 4, 100), _ds_run("ads", 0, "rollout", 6, 150)]
    results = {"date": "d", "command": "c", "machine": {"cpu": "x", "cores": 2, "memory_gb": 1, "kernel": "k",
                                                       "load_before": [1, 1, 1]},
               "versions": {k: "?" for k in ("ack-kruise", "kubernetes", "python", "kopf", "aiohttp", "helm")},
               "sizes": [], "profiles": [],
               "daemonset": [{"name": "high", "qps": 500, "burst": 500, "rounds": 1, "sandbox_start_s": 20,
                              "runs": runs}]}
    text = report.markdown(results)
    assert "## Advanced DaemonSet vs DaemonSet, 50 simulated nodes" in text and "## Targets" not in text
    assert "| ads | rollout | 1 | 6.00 | 1.50× | 3.00 | 40 of 50 | 2.00 | 3.00 |" in text


# ---- SidecarSet -------------------------------------------------------------------------------------
def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert ss.percentile(values, 50) == 50 and ss.percentile(values, 99) == 99 and ss.percentile(values, 100) == 100
    assert ss.percentile([3.0], 99) == 3.0 and ss.percentile([1.0, 2.0], 50) == 1.0


def test_probe_pods_differ_only_in_the_webhook_opt_out():
    through, skipped = ss.probe_pod(True), ss.probe_pod(False)
    assert ss.SKIP_WEBHOOK not in through["metadata"]["labels"]
    assert skipped["metadata"]["labels"][ss.SKIP_WEBHOOK] == "true"
    assert through["spec"] == skipped["spec"]
    sidecarset = ss.sidecarset("x", "c")
    assert sidecarset["spec"]["selector"]["matchLabels"].items() <= through["metadata"]["labels"].items()


def test_a_sidecar_upgrade_is_done_when_the_sidecar_runs_the_new_image():
    w = _watch()
    before = pod("a", "1", ready=True)
    before["spec"]["containers"].append({"name": ss.SIDECAR, "image": S.V1})
    w.informer.cache = {("ns", "a"): before}
    w.begin(done_when=ss.sidecar_on(S.V2))
    assert w.done == 0
    after = pod("a", "1", ready=True, status_image=S.V1)
    after["spec"]["containers"].append({"name": ss.SIDECAR, "image": S.V2})
    after["status"]["containerStatuses"].append({"name": ss.SIDECAR, "image": S.V1})
    w._on_pod(("ns", "a"), after)
    assert w.done == 0, "asked for, not running yet"
    after["status"]["containerStatuses"][1]["image"] = S.V2
    w._on_pod(("ns", "a"), after)
    assert w.done == 1, "the app container keeps its own image"


def _webhook_run(r: int, count: int, added_p50: float) -> dict:
    return {"round": r, "sidecarsets": count, "pairs": 10,
            "webhook": {"p50": 5 + added_p50, "p99": 20.0, "mean": 6.0},
            "skipped": {"p50": 5.0, "p99": 10.0, "mean": 5.0}, "added": {"p50": added_p50, "p99": 10.0}}


def test_the_sidecarset_report_has_medians_per_count_and_names_failed_upgrades():
    result = {"name": "high", "qps": 500, "burst": 500, "rounds": 2, "pairs": 10, "sandbox_start_s": 20,
              "webhook": [_webhook_run(0, 0, 1.0), _webhook_run(0, 20, 4.0), _webhook_run(1, 20, 6.0),
                          _webhook_run(1, 0, 3.0)],
              "upgrade": [{"round": 0, "n": 100, "done_s": 10.0, "status_s": 11.0, "min_ready": 80,
                           "requests_per_pod": 3.0, "cpu": {"kruise-manager": 2.0, "kube-apiserver": 3.0}},
                          {"round": 1, "n": 100, "error": "TimeoutError: stuck"}]}
    rows = {r["sidecarsets"]: r for r in ss.summarize_webhook(result)}
    assert set(rows) == {0, 20} and rows[20]["added_p50"] == (5.0, 4.0, 6.0) and rows[0]["rounds"] == 2
    [up] = ss.summarize_upgrade(result)
    assert (up["runs"], up["failed"], up["done_s"], up["min_ready"]) == (1, 1, (10.0, 10.0, 10.0), 80)
    results = {"date": "d", "command": "c", "machine": {"cpu": "x", "cores": 2, "memory_gb": 1, "kernel": "k",
                                                       "load_before": [1, 1, 1]},
               "versions": {k: "?" for k in ("ack-kruise", "kubernetes", "python", "kopf", "aiohttp", "helm")},
               "sizes": [], "profiles": [], "sidecarset": [result]}
    text = report.markdown(results)
    assert "## SidecarSet" in text and "| 20 | 10 × 2 | 10.0 (9.0–11.0) | 5.0 | 5.0 (4.0–6.0) |" in text
    assert "| 100 | 1 (1 failed) | 10.0 | 11.0 | 80 of 100 | 3.00 | 2.00 | 3.00 |" in text
    assert "- failed: TimeoutError: stuck" in text


def test_sidecarset_arguments():
    full, quick = run.parse_args([]), run.parse_args(["--quick"])
    assert (full.sidecarset_rounds, full.sidecarset_sizes, full.sidecarset_pairs) == (3, (1000,), 200)
    assert (quick.sidecarset_rounds, quick.sidecarset_sizes, quick.sidecarset_pairs) == (1, (100,), 50)
    some = run.parse_args(["--sidecarset-rounds", "0", "--sidecarset-sizes", "10,20"])
    assert some.sidecarset_rounds == 0 and some.sidecarset_sizes == (10, 20)


# ---- rollouts on the real node ---------------------------------------------------------------------
def test_real_node_contenders_share_one_pod_template_on_the_real_node():
    from bench import realnode as R
    for c in (c for c in R.CONTENDERS if c.manifest):
        spec = c.manifest["spec"]["template"]["spec"]
        container = spec["containers"][0]
        assert spec["nodeSelector"] == {"kubernetes.io/hostname": "real-node-0"}
        # a DaemonSet has its one pod on the one real node
        assert c.manifest["spec"].get("replicas", 1) == c.pods == (1 if c.manifest["kind"] == "DaemonSet" else 30)
        assert container["imagePullPolicy"] == "IfNotPresent" and container["readinessProbe"]["tcpSocket"]
        assert container["image"] == R.V1
    assert R.bare_pod(3)["spec"] == R.template()["spec"] and R.bare_pod(3)["metadata"]["name"] == "rollout-3"
    assert R.bare_pod(3, gate=True)["spec"]["readinessGates"] == [{"conditionType": "InPlaceUpdateReady"}]
    assert [c.key for c in R.CONTENDERS if not c.manifest] == [
        "calibration", "calibration-gated", "calibration-sidecar", "sidecarset-upgrade", "calibration-1",
        "calibration-gated-1"]
    # every contender is held to baselines of its own pod count
    for c in R.CONTENDERS:
        assert all(R.BY_KEY[k].pods == c.pods for k in (c.calibration, c.gated_calibration, c.native) if k), c.key
    assert [len(b) for b in R.batches([str(i) for i in range(30)])] == [6] * 5


def test_the_sidecar_upgrade_and_its_calibration_run_the_same_two_containers():
    from bench import realnode as R
    injected = R.sidecarset("rollout-ns", "ns")["spec"]
    calibrated = R.bare_pod(0, with_sidecar=True)["spec"]["containers"]
    assert [c["name"] for c in calibrated] == ["app", "sidecar"] and calibrated[1] == R.sidecar()
    assert {k: v for k, v in injected["containers"][0].items() if k != "podInjectPolicy"} == calibrated[1]
    assert injected["namespace"] == "ns" and injected["updateStrategy"]["maxUnavailable"] == "20%"
    assert calibrated[1]["readinessProbe"]["tcpSocket"]["port"] != calibrated[0]["readinessProbe"]["tcpSocket"]["port"]

    def pod(spec_image, status_image):
        return {"spec": {"containers": [{"name": "app", "image": R.V1}, {"name": "sidecar", "image": spec_image}]},
                "status": {"containerStatuses": [{"name": "app", "image": R.V1},
                                                 {"name": "sidecar", "image": status_image}]}}
    on_v2 = R.on_v2(R.SIDECARSET)
    assert on_v2(pod(R.SIDECAR_V2, R.SIDECAR_V2)) and not on_v2(pod(R.SIDECAR_V2, R.SIDECAR_V1))
    assert not on_v2(pod(R.SIDECAR_V1, R.SIDECAR_V1)) and not R.on_v2(R.INPLACE)(pod(R.SIDECAR_V2, R.SIDECAR_V2))


def test_real_node_targets_pair_each_round_with_the_calibration_and_the_deployment():
    from bench import realnode as R

    def run(key, rnd, done):
        return {"contender": key, "label": key, "round": rnd, "load": 1.0, "create_s": 5.0, "done_s": done,
                "half_s": done / 2, "min_ready": 24, "same_uids": 30}
    results = {"runs": [run("calibration", 0, 20.0), run("deployment", 0, 100.0), run("cloneset-inplace", 0, 22.0),
                        run("calibration", 1, 25.0), run("deployment", 1, 110.0), run("cloneset-inplace", 1, 40.0)]}
    (vs_cal, text_a, met_a), (vs_dep, text_b, met_b) = R.targets(results)
    assert text_a == "1.35× (1.10×–1.60×): 13 % over the target" and met_a is False
    assert text_b == "3.65× (2.75×–4.55×); the range crosses the target" and met_b is True


def test_real_node_bounds_say_what_the_node_allows_from_the_same_rounds():
    from bench import realnode as R

    def run(key, rnd, done):
        return {"contender": key, "label": key, "round": rnd, "load": 1.0, "create_s": 5.0, "done_s": done,
                "half_s": done / 2, "min_ready": 24, "same_uids": 30}
    results = {"runs": [run("calibration", 0, 20.0), run("calibration-gated", 0, 30.0), run("deployment", 0, 50.0),
                        run("cloneset-inplace", 0, 33.0)]}
    deployment, gate, controller = R.bounds(results)
    assert deployment.startswith("- The Deployment took 2.50× the calibration's time") and "asks 3.5×" in deployment
    assert gate.startswith("- The calibration with the readiness gate took 1.50× the bare calibration's time")
    assert controller.startswith("- CloneSet in place took 1.10× the gated calibration's time: it rolls pod by pod")
    assert R.bounds({"runs": [run("calibration", 0, 20.0)]}) == [], "nothing to compare: no line"


def test_the_sidecar_upgrade_is_held_to_its_own_calibration_only():
    from bench import realnode as R

    def run(key, rnd, done):
        return {"contender": key, "label": key, "round": rnd, "load": 1.0, "create_s": 5.0, "done_s": done,
                "half_s": done / 2, "min_ready": 24, "same_uids": 30}
    results = {"runs": [run("calibration", 0, 10.0), run("calibration-gated", 0, 20.0), run("deployment", 0, 40.0),
                        run("calibration-sidecar", 0, 16.0), run("sidecarset-upgrade", 0, 20.0)]}
    rows = {r["contender"]: r for r in R.summarize(results)}
    assert rows["sidecarset-upgrade"]["vs_calibration"] == (1.25, 1.25, 1.25)
    assert rows["sidecarset-upgrade"]["vs_gated"] is None and rows["sidecarset-upgrade"]["speedup_vs_native"] is None
    assert rows["calibration-sidecar"]["vs_calibration"] is None
    *_, (what, measured, met) = R.targets(results)
    assert "SidecarSet upgrade ≤ 1.2× the sidecar's calibration" in what and measured.startswith("1.25×") and not met
    assert len(R.targets({"runs": results["runs"][:3]})) == 2, "no sidecar run: no sidecar target"


def test_the_advanced_daemonset_is_held_to_one_pods_calibrations_and_the_daemonset():
    from bench import realnode as R

    def run(key, rnd, done):
        return {"contender": key, "label": key, "round": rnd, "load": 1.0, "create_s": 2.0, "done_s": done,
                "half_s": done, "min_ready": 0, "same_uids": 1}
    results = {"runs": [run("calibration", 0, 20.0), run("calibration-1", 0, 2.0), run("calibration-gated-1", 0, 4.0),
                        run("daemonset", 0, 9.0), run("ads-inplace", 0, 3.0)]}
    rows = {r["contender"]: r for r in R.summarize(results)}
    assert (rows["ads-inplace"]["vs_calibration"], rows["ads-inplace"]["vs_gated"],
            rows["ads-inplace"]["speedup_vs_native"]) == ((1.5, 1.5, 1.5), (0.75, 0.75, 0.75), (3.0, 3.0, 3.0))
    assert rows["calibration"]["speedup_vs_native"] is None, "no Deployment in this round"
    [line] = R.bounds(results)
    assert line.startswith("- Advanced DaemonSet in place, one pod: 0.75× the gated calibration of one pod, 1.50×")
    assert "What bounds these targets" in R.markdown({**results, "command": "x", "date": "d", "rounds": 1,
                                                      "load_before": 0.0})


def test_reconcile_quantiles_interpolate_within_buckets_as_prometheus_does():
    from bench.scale import quantile
    buckets = {0.005: 10, 0.01: 50, 0.025: 90, 0.05: 100, float("inf"): 100}
    assert quantile(0.5, buckets) == 0.01
    assert abs(quantile(0.99, buckets) - 0.0475) < 1e-9
    assert quantile(0.1, buckets) == 0.005
    assert quantile(0.5, {0.005: 0, float("inf"): 0}) is None, "no reconcile in the step"
    assert quantile(0.99, {0.005: 0, 60: 1, float("inf"): 2}) == 60, "beyond the last bound: that bound"


def test_real_node_kubelet_limits_are_refused_with_the_argument_named():
    import pytest

    from bench import realnode as R
    assert R._kubelet_limits("5/10,50/100") == [("5/10", (5.0, 10)), ("50/100", (50.0, 100))]
    for bad in ("5", "x/10", "0/10", "5/0"):
        with pytest.raises(SystemExit):
            R.main(["--kubelet-api-qps", bad])
    assert "kubelet at 50/100" in R.targets({"kubelet": "50/100", "runs": []})[0][0]


def test_the_real_kubelet_gets_its_client_limits_only_when_asked():
    import json

    from sandbox import realnode
    from sandbox.realnode import NodePaths
    paths = NodePaths.__new__(NodePaths)
    default = json.loads(realnode._kubelet_config(paths, 1, 2))
    assert "kubeAPIQPS" not in default
    raised = json.loads(realnode._kubelet_config(paths, 1, 2, (50.0, 100)))
    assert (raised["kubeAPIQPS"], raised["kubeAPIBurst"]) == (50, 100)
    assert isinstance(raised["kubeAPIQPS"], int), "an int32 in KubeletConfiguration: 50.0 is refused"
