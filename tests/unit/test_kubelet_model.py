"""The simulated kubelet's decisions, on plain dicts (the e2e tests show the same against the API server)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sandbox import kubelet_model as km

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def pod(*images: str, gates: tuple[str, ...] = (), status: dict | None = None, **meta) -> dict:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "uid-1", **meta},
        "spec": {"nodeName": "sim-node-0",
                 "containers": [{"name": f"c{i}", "image": img} for i, img in enumerate(images)],
                 "readinessGates": [{"conditionType": g} for g in gates]},
        "status": status or {},
    }


def apply(p: dict, view: km.KubeletView) -> dict:
    """Apply the strategic-merge patch the way the API server would, for the keys the model writes."""
    if not view.status:
        return p
    new = dict(p)
    st = dict(p.get("status") or {})
    patch = view.status["status"]
    for k, v in patch.items():
        if k == "conditions":
            merged = {c["type"]: c for c in st.get("conditions", [])}
            merged.update({c["type"]: {kk: vv for kk, vv in c.items() if vv is not None} for c in v})
            st["conditions"] = list(merged.values())
        elif k in ("containerStatuses", "initContainerStatuses"):
            st[k] = [km._without_empty(s) for s in v]
        else:
            st[k] = v
    new["status"] = st
    return new


def observe(p: dict, at: datetime = T0) -> tuple[dict, km.KubeletView]:
    view = km.observe(p, "198.19.255.1", "198.18.0.1", now=at)
    return apply(p, view), view


def conditions(p: dict) -> dict[str, str]:
    return {c["type"]: c["status"] for c in p["status"]["conditions"]}


def test_image_reference_parsing():
    assert km.image_tag("nginx") == "latest"
    assert km.image_tag("localhost:5000/a/b") == "latest"
    assert km.image_tag("localhost:5000/a/b:v2") == "v2"
    assert km.image_tag("repo/app@sha256:abc") == ""
    assert km.image_id("repo/app@sha256:abc") == "repo/app@sha256:abc"
    assert km.image_id("nginx") == km.image_id("nginx:latest"), "no tag means latest"
    assert km.image_id("a:v1") != km.image_id("a:v2")
    assert km.image_id("registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook:v1").startswith(
        "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook@sha256:")


def test_new_pod_starts_running_and_ready():
    p, view = observe(pod("app:v1"))
    assert p["status"]["phase"] == "Running"
    assert conditions(p) == {"Initialized": "True", "ContainersReady": "True", "Ready": "True"}
    s = p["status"]["containerStatuses"][0]
    assert s["ready"] and s["restartCount"] == 0 and s["imageID"] == km.image_id("app:v1")
    assert p["status"]["podIP"] == "198.18.0.1" and p["status"]["hostIP"] == "198.19.255.1"
    assert p["status"]["qosClass"] == "BestEffort"


def test_steady_state_writes_nothing():
    p, _ = observe(pod("app:v1"))
    _, view = observe(p, T0 + timedelta(minutes=5))
    assert view.status is None and view.wake_after is None


def test_in_place_image_change_restarts_only_that_container():
    p, _ = observe(pod("app:v1", "side:v1"))
    before = {s["name"]: s for s in p["status"]["containerStatuses"]}
    p["spec"]["containers"][0]["image"] = "app:v2"
    p, view = observe(p, T0 + timedelta(seconds=10))
    after = {s["name"]: s for s in p["status"]["containerStatuses"]}
    assert after["c0"]["restartCount"] == 1 and after["c0"]["containerID"] != before["c0"]["containerID"]
    assert after["c0"]["imageID"] == km.image_id("app:v2")
    assert after["c0"]["lastState"]["terminated"]["containerID"] == before["c0"]["containerID"]
    assert after["c1"] == before["c1"]
    assert not after["c0"]["ready"] and conditions(p)["Ready"] == "False"
    assert view.wake_after == km.RESTART_NOT_READY_SECONDS
    p, _ = observe(p, T0 + timedelta(seconds=10 + km.RESTART_NOT_READY_SECONDS))
    assert conditions(p)["Ready"] == "True"


def test_readiness_gates_and_preserved_controller_conditions():
    p, _ = observe(pod("app:v1", gates=("InPlaceUpdateReady",)))
    assert conditions(p)["ContainersReady"] == "True" and conditions(p)["Ready"] == "False"
    ready = next(c for c in p["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "ReadinessGatesNotReady" and "does not exist" in ready["message"]
    p["status"]["conditions"].append({"type": "InPlaceUpdateReady", "status": "True"})
    p, view = observe(p, T0 + timedelta(seconds=1))
    assert conditions(p)["Ready"] == "True" and conditions(p)["InPlaceUpdateReady"] == "True"
    ready_patch = next(c for c in view.status["status"]["conditions"] if c["type"] == "Ready")
    assert ready_patch["reason"] is None, "a condition that turned True drops its old reason"


def waiting_reason(p: dict) -> str:
    return p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]


def test_broken_image_is_pulled_again_after_a_doubling_back_off_and_never_becomes_ready():
    p, view = observe(pod("app:broken"))
    assert waiting_reason(p) == "ErrImagePull" and view.wake_after == 1.0
    seen = []
    for second in range(1, 16):
        p, view = observe(p, T0 + timedelta(seconds=second))
        seen.append(waiting_reason(p))
        assert p["status"]["phase"] == "Pending" and conditions(p)["Ready"] == "False"
    # Attempts at 0, 2, 6 and 14 s: ErrImagePull for a second after each, ImagePullBackOff between.
    failed_at = [second for second, reason in enumerate(seen, 1) if reason == "ErrImagePull"]
    assert failed_at == [2, 6, 14]
    assert set(seen) == {"ErrImagePull", "ImagePullBackOff"}
    _, view = observe(p, T0 + timedelta(seconds=16))
    assert view.status is None and view.wake_after == 30 - 16, "nothing changes until the next attempt at 30 s"


def test_pull_back_off_doubles_up_to_its_cap():
    assert km.pull_attempts(0) == (1, 0, 2)
    assert km.pull_attempts(5.5) == (2, 3.5, 4)
    backoffs = [km.pull_attempts(t)[2] for t in range(0, 600, 7)]
    assert backoffs == sorted(backoffs) and backoffs[-1] == km.PULL_BACKOFF_MAX_SECONDS
    attempts, since, backoff = km.pull_attempts(86_400)
    assert backoff == 60 and 0 <= since < 60
    assert attempts == km.pull_attempts(86_400 - 60)[0] + 1, "one attempt a minute at the cap"


def test_in_place_change_to_a_broken_image_backs_off_from_the_change():
    p, _ = observe(pod("app:v1"))
    p["spec"]["containers"][0]["image"] = "app:broken"
    changed = T0 + timedelta(seconds=100)
    p, _ = observe(p, changed)
    assert waiting_reason(p) == "ErrImagePull"
    p, _ = observe(p, changed + timedelta(seconds=1))
    assert waiting_reason(p) == "ImagePullBackOff"
    p, _ = observe(p, changed + timedelta(seconds=2))
    assert waiting_reason(p) == "ErrImagePull", "the second attempt, 2 s after the change, not after pod start"


def test_running_pod_updated_to_a_broken_image_stays_running_not_ready():
    p, _ = observe(pod("app:v1"))
    p["spec"]["containers"][0]["image"] = "app:broken"
    p, _ = observe(p, T0 + timedelta(seconds=5))
    assert p["status"]["phase"] == "Running" and conditions(p)["Ready"] == "False"
    assert "terminated" in p["status"]["containerStatuses"][0]["lastState"]


def test_readiness_probe_delay():
    raw = pod("app:v1")
    raw["spec"]["containers"][0]["readinessProbe"] = {"initialDelaySeconds": 5}
    p, view = observe(raw)
    assert conditions(p)["Ready"] == "False" and view.wake_after == 5
    p, _ = observe(p, T0 + timedelta(seconds=5))
    assert conditions(p)["Ready"] == "True"


def test_graceful_deletion_exits_after_shutdown_capped_by_grace():
    deleting = pod("app:v1", deletionTimestamp=km.fmt_time(T0 + timedelta(seconds=30)),
                   deletionGracePeriodSeconds=30)
    assert km.observe(deleting, "h", "i", now=T0).remove, "a well-behaved process exits on SIGTERM at once"
    deleting["metadata"]["annotations"] = {km.SHUTDOWN_SECONDS_ANNOTATION: "3"}
    view = km.observe(deleting, "h", "i", now=T0)
    assert not view.remove and view.wake_after == 3
    assert km.observe(deleting, "h", "i", now=T0 + timedelta(seconds=3)).remove
    deleting["metadata"]["annotations"] = {km.SHUTDOWN_SECONDS_ANNOTATION: "300"}
    assert not km.observe(deleting, "h", "i", now=T0 + timedelta(seconds=29)).remove
    assert km.observe(deleting, "h", "i", now=T0 + timedelta(seconds=30)).remove, "never past the grace period"


def test_a_failed_or_succeeded_pod_stays_in_its_terminal_phase():
    running = apply(pod("app:v1"), km.observe(pod("app:v1"), "h", "i", now=T0))
    for phase in ("Failed", "Succeeded"):
        ended = dict(running, status=dict(running["status"], phase=phase, reason="Evicted"))
        assert km.observe(ended, "h", "i", now=T0 + timedelta(seconds=5)).status is None
    evicted = dict(running, status=dict(running["status"], phase="Failed"))
    evicted["metadata"] = dict(evicted["metadata"], deletionTimestamp=km.fmt_time(T0), deletionGracePeriodSeconds=0)
    assert km.observe(evicted, "h", "i", now=T0).remove, "deleting a failed pod still removes it"


def test_init_containers_complete():
    raw = pod("app:v1")
    raw["spec"]["initContainers"] = [{"name": "init", "image": "init:v1"}]
    p, _ = observe(raw)
    init = p["status"]["initContainerStatuses"][0]
    assert init["state"]["terminated"]["reason"] == "Completed"


def test_qos_class():
    assert km.qos_class([{"resources": {}}]) == "BestEffort"
    same = {"cpu": "1", "memory": "1Gi"}
    assert km.qos_class([{"resources": {"requests": same, "limits": same}}]) == "Guaranteed"
    assert km.qos_class([{"resources": {"requests": {"cpu": "1"}}}]) == "Burstable"


def test_a_start_after_a_failed_pull_is_a_restart_with_a_new_container_id():
    """Running app:v1, changed in place to a broken image, then fixed forward: the container that finally starts
    is a new one (restartCount 1, an id never used before), as a kubelet over containerd reports it."""
    p, _ = observe(pod("app:v1"))
    first = p["status"]["containerStatuses"][0]
    p["spec"]["containers"][0]["image"] = "app:broken"
    p, _ = observe(p, T0 + timedelta(seconds=5))
    p, _ = observe(p, T0 + timedelta(seconds=6))
    p["spec"]["containers"][0]["image"] = "app:v2"
    p, _ = observe(p, T0 + timedelta(seconds=10))
    now = p["status"]["containerStatuses"][0]
    assert now["restartCount"] == 1 and now["containerID"] != first["containerID"]
    assert now["state"].keys() == {"running"} and now["lastState"]["terminated"]["containerID"] == first["containerID"]
    again, _ = observe(p, T0 + timedelta(seconds=20))
    assert again["status"]["containerStatuses"][0]["containerID"] == now["containerID"], "level-based: stable"
