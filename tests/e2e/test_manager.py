"""kruise-manager against the real API server: conversion, the pod webhook failing open, leader election,
certificate rotation under load, probes and metrics, status writes under churn."""
from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

import kubernetes

from tests.kube import ON_SIMULATED_NODES, Cluster, wait_for
from tests.manager import AdmissionLoad, ManagerProcess, install_webhook_copy, webhook_only_manager

REPO = Path(__file__).resolve().parents[2]
ASTS = {
    "apiVersion": "apps.kruise.io/v1beta1", "kind": "StatefulSet", "metadata": {"name": "conv"},
    "spec": {"replicas": 0, "serviceName": "conv", "reserveOrdinals": [1, "3-4"],
             "lifecycle": {"preDelete": {"labelsHandler": {"hold": "true"}}},
             "selector": {"matchLabels": {"app": "conv"}},
             "template": {"metadata": {"labels": {"app": "conv"}}, "spec": {"containers": [{"name": "a", "image": "x:v1"}]}}},
}


def test_v1beta1_fields_survive_a_read_and_write_through_v1alpha1(cluster: Cluster, namespace: str, kruise):
    cluster.kubectl("create", "-f", "-", input=json.dumps(ASTS), namespace=namespace)
    alpha = json.loads(cluster.kubectl("get", "statefulsets.v1alpha1.apps.kruise.io", "conv", "-o", "json",
                                       namespace=namespace).stdout)
    assert alpha["apiVersion"] == "apps.kruise.io/v1alpha1" and "reserveOrdinals" not in alpha["spec"]
    alpha["spec"]["replicas"] = 2  # a v1alpha1 client (UI, old controller) edits and writes back
    cluster.kubectl("replace", "-f", "-", input=json.dumps(alpha), namespace=namespace)
    beta = json.loads(cluster.kubectl("get", "statefulsets.v1beta1.apps.kruise.io", "conv", "-o", "json",
                                      namespace=namespace).stdout)
    assert beta["spec"]["replicas"] == 2
    assert beta["spec"]["reserveOrdinals"] == [1, "3-4"]
    assert beta["spec"]["lifecycle"] == {"preDelete": {"labelsHandler": {"hold": "true"}}}
    assert "conversion.apps.kruise.io/fields-not-in-this-version" not in (beta["metadata"].get("annotations") or {})


def test_seed_statefulset_created_as_v1alpha1_is_stored_as_v1beta1(cluster: Cluster, namespace: str, kruise):
    seed = json.loads(json.dumps(ASTS))
    seed["apiVersion"] = "apps.kruise.io/v1alpha1"
    for field in ("reserveOrdinals", "lifecycle"):
        seed["spec"].pop(field)
    out = cluster.kubectl("create", "-f", "-", input=json.dumps(seed), namespace=namespace)
    assert out.stdout.strip() == "statefulset.apps.kruise.io/conv created"
    beta = json.loads(cluster.kubectl("get", "statefulsets.v1beta1.apps.kruise.io", "conv", "-o", "json",
                                      namespace=namespace).stdout)
    assert beta["apiVersion"] == "apps.kruise.io/v1beta1"
    assert beta["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}


def _pod_webhooks_as_installed(cluster: Cluster) -> list[dict]:
    """The entries of the installed mutating configuration that call /mutate-pod, as the API server has them."""
    live = json.loads(cluster.kubectl("get", "mutatingwebhookconfiguration",
                                      "kruise-mutating-webhook-configuration", "-o", "json").stdout)
    return [h for h in live["webhooks"]
            if (h["clientConfig"].get("url") or h["clientConfig"].get("service", {}).get("path", "")).endswith("/mutate-pod")]


def _pod(name: str, labels: dict[str, str]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
                       "spec": {**ON_SIMULATED_NODES, "containers": [{"name": "c", "image": "x:v1"}]}})


def _rendered_pod_webhooks(*values: str) -> list[dict]:
    """The /mutate-pod entries of the chart rendered for 1.20 with these `--set` values."""
    import subprocess

    import yaml

    from sandbox import tools

    sets = [arg for value in values for arg in ("--set", value)]
    rendered = subprocess.run([tools.find("helm"), "template", "ack-kruise", str(REPO / "charts" / "ack-kruise"),
                               "--kube-version", "1.20.2", "--namespace", "kruise-system", *sets],
                              capture_output=True, text=True, check=True).stdout
    mutating = next(d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "MutatingWebhookConfiguration")
    return [h for h in mutating["webhooks"] if h["clientConfig"]["service"]["path"] == "/mutate-pod"]


def test_with_the_manager_down_unrelated_pods_are_still_created(cluster: Cluster, namespace: str, kruise,
                                                               tls_secret: str, tmp_path):
    """Without SidecarSet injection (webhook.podWebhook.sidecarSetInjection=false), the generated pod webhook
    pointed at a manager of the test's own that is then stopped. Forced to fail closed, it still lets an
    unrelated pod through (never selected) but blocks the pods of a CloneSet and of an Advanced StatefulSet
    (selected by the labels our controllers set); with its own failurePolicy it blocks nothing. (With
    SidecarSet injection, the default, see tests/e2e/sidecarset/test_inject.py.)"""
    assert [h["name"] for h in _pod_webhooks_as_installed(cluster)] == ["mpod.kb.io",
                                                                        "mpod-sidecarset-required.kb.io"]
    installed = _rendered_pod_webhooks("webhook.podWebhook.sidecarSetInjection=false")
    # Default feature gates: one entry per pod-creating workload, none for all pods.
    assert [h["name"] for h in installed] == ["mpod-cloneset.kb.io", "mpod-statefulset.kb.io"]
    manager = webhook_only_manager(cluster, namespace, tls_secret, tmp_path / "manager.log").start()
    ca = base64.b64decode(cluster.core.read_namespaced_secret(tls_secret, namespace).data["ca.crt"])
    url = f"https://127.0.0.1:{manager.webhook_port}/mutate-pod"
    selected = {"cloneset-pod": {"apps.kruise.io/cloneset-instance-id": "x7k2p"},
                "asts-pod-0": {"statefulset.kubernetes.io/pod-name": "asts-pod-0"}}

    def create(name: str, labels: dict[str, str]):
        return cluster.kubectl("create", "-f", "-", input=_pod(name, labels), namespace=namespace, check=False)

    try:
        install_webhook_copy(cluster, "pod-webhook-copy", installed, url, ca, failure_policy="Fail")
        # While the manager runs, the copy reaches it: failing closed, it still admits a selected pod.
        up = create("cloneset-pod-while-up", selected["cloneset-pod"])
        assert up.returncode == 0, up.stderr
        assert manager.stop() is not None and not manager.alive

        unrelated = create("unrelated", {"app": "web"})
        assert unrelated.returncode == 0, f"an unrelated pod went to the stopped manager: {unrelated.stderr}"
        for (name, labels), hook in zip(selected.items(), ("copy-mpod-cloneset.kb.io", "copy-mpod-statefulset.kb.io")):
            blocked = create(name, labels)
            assert blocked.returncode != 0 and f'failed calling webhook "{hook}"' in blocked.stderr, blocked.stderr

        install_webhook_copy(cluster, "pod-webhook-copy", installed, url, ca, failure_policy=None)   # as installed
        for name, labels in selected.items():
            created = create(name, labels)
            assert created.returncode == 0, f"the installed failurePolicy blocked {name}: {created.stderr}"
    finally:
        manager.stop()
        cluster.kubectl("delete", "mutatingwebhookconfiguration", "pod-webhook-copy", "--ignore-not-found")


def test_pods_our_controllers_create_are_selected_by_the_pod_webhook(cluster: Cluster, namespace: str, kruise):
    """The per-workload entries select real pods: a CloneSet's and an Advanced StatefulSet's pods carry the
    KruisePodReady readiness gate, which only the pod webhook adds."""
    asts = {"apiVersion": "apps.kruise.io/v1beta1", "kind": "StatefulSet", "metadata": {"name": "gated"},
            "spec": {"replicas": 1, "serviceName": "gated", "selector": {"matchLabels": {"app": "gated"}},
                     "template": {"metadata": {"labels": {"app": "gated"}},
                                  "spec": {**ON_SIMULATED_NODES, "containers": [{"name": "c", "image": "x:v1"}]}}}}
    cluster.apply([_cloneset("gated-clone", 1), asts], namespace)
    for selector in ("app=gated-clone", "app=gated"):
        pod = wait_for(lambda: next(iter(cluster.pods(namespace, selector)), None), 30, f"a pod of {selector}")
        assert {"conditionType": "KruisePodReady"} in pod["spec"]["readinessGates"], selector


def test_with_kruise_pod_readiness_gate_every_pod_gets_kruise_pod_ready(cluster: Cluster, namespace: str,
                                                                        tls_secret: str, tmp_path):
    """The chart rendered with featureGates.KruisePodReadinessGate=true (and no SidecarSet injection) sends
    every pod to the one mpod.kb.io entry, and the manager with that gate adds KruisePodReady to a pod no
    workload owns."""
    hooks = _rendered_pod_webhooks("featureGates.KruisePodReadinessGate=true",
                                   "webhook.podWebhook.sidecarSetInjection=false")
    assert [h["name"] for h in hooks] == ["mpod.kb.io"]
    manager = webhook_only_manager(cluster, namespace, tls_secret, tmp_path / "manager.log",
                                   "--feature-gates", "KruisePodReadinessGate=true").start()
    ca = base64.b64decode(cluster.core.read_namespaced_secret(tls_secret, namespace).data["ca.crt"])
    # Only this namespace, so that the copy changes no other test's pods (1.20 has no metadata.name label).
    cluster.kubectl("label", "namespace", namespace, f"test.ack-kruise.io/{namespace}=yes")
    hooks[0]["namespaceSelector"] = {"matchLabels": {f"test.ack-kruise.io/{namespace}": "yes"}}
    try:
        install_webhook_copy(cluster, "all-pods-webhook-copy", hooks,
                             f"https://127.0.0.1:{manager.webhook_port}/mutate-pod",
                      ca, failure_policy="Fail")
        cluster.kubectl("create", "-f", "-", input=_pod("plain", {"app": "web"}), namespace=namespace)
        gates = cluster.pod(namespace, "plain")["spec"].get("readinessGates") or []
        assert {"conditionType": "KruisePodReady"} in gates
    finally:
        manager.stop()
        cluster.kubectl("delete", "mutatingwebhookconfiguration", "all-pods-webhook-copy", "--ignore-not-found")


def test_probes_and_metrics(kruise):
    assert kruise.get("/healthz") == "ok" and kruise.get("/readyz") == "ok"
    metrics = kruise.get("/metrics")
    assert "controller_runtime_webhook_requests_total" in metrics
    assert "leader_election_master_status" in metrics


def _cloneset(name: str, replicas: int) -> dict:
    return {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {**ON_SIMULATED_NODES, "containers": [{"name": "c", "image": "x:v1"}]}}}}


def test_metrics_count_reconciles_errors_and_durations_per_controller(cluster: Cluster, namespace: str, kruise):
    """After CloneSet reconciles, one that succeeds and one that fails (a ResourceQuota of 0 pods makes its
    pod creation fail), /metrics has controller-runtime's reconcile counts, errors, durations and queue depth
    for the cloneset controller."""
    def counts() -> dict[str, float]:
        return {"ok": sum(kruise.metric("controller_runtime_reconcile_total", controller="cloneset", result=r)
                          for r in ("success", "requeue_after")),
                "errors": kruise.metric("controller_runtime_reconcile_errors_total", controller="cloneset"),
                "error results": kruise.metric("controller_runtime_reconcile_total", controller="cloneset", result="error"),
                "timed": kruise.metric("controller_runtime_reconcile_time_seconds_count", controller="cloneset")}

    before = counts()
    cluster.apply(_cloneset("fine", 0), namespace)
    wait_for(lambda: counts()["ok"] > before["ok"], 20, "a successful cloneset reconcile", describe=counts)
    cluster.apply({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "no-pods"},
                   "spec": {"hard": {"pods": "0"}}}, namespace)
    cluster.apply(_cloneset("over-quota", 1), namespace)
    after = wait_for(lambda: (c := counts())["errors"] > before["errors"] and c, 20, "a failed cloneset reconcile",
                     describe=counts)
    assert after["error results"] > before["error results"]
    assert after["timed"] >= before["timed"] + 2, "every reconcile has its duration observed"
    text = kruise.get("/metrics")
    assert '# TYPE controller_runtime_reconcile_time_seconds histogram' in text
    assert 'controller_runtime_reconcile_time_seconds_bucket{controller="cloneset",le="+Inf"}' in text
    depth = [line for line in text.splitlines() if line.startswith('workqueue_depth{name="cloneset"} ')]
    assert len(depth) == 1 and float(depth[0].split()[1]) >= 0, text


def _unscheduled_cloneset(cluster: Cluster, namespace: str, name: str, replicas: int):
    """A CloneSet whose pods stay unscheduled (a node selector no node has), once they are all created: a reader
    of its status, and its pods' names. The test plays their kubelet (`_make_ready`), so that the churn is the
    same on any machine."""
    manifest = _cloneset(name, replicas)
    manifest["spec"]["template"]["spec"]["nodeSelector"] = {"ack-kruise.io/no-such-node": "true"}
    cluster.apply(manifest, namespace)

    def status() -> dict:
        return cluster.custom.get_namespaced_custom_object("apps.kruise.io", "v1alpha1", namespace, "clonesets",
                                                           name).get("status") or {}
    wait_for(lambda: status().get("replicas") == replicas and status().get("observedGeneration") == 1, 60,
             f"{replicas} pods created", describe=status)
    return status, sorted(p["metadata"]["name"] for p in cluster.pods(namespace, f"app={name}"))


def _make_ready(cluster: Cluster, namespace: str, pod: str) -> None:
    """The kubelet's job: the pod Running and Ready."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    cluster.core.patch_namespaced_pod_status(pod, namespace, {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": now}]}})


def test_a_churning_workloads_counter_writes_are_paced_and_its_last_status_is_exact(cluster: Cluster, namespace: str,
                                                                                   kruise):
    """60 pods turning Ready one after another, 10 a second, change readyReplicas round after round; the runtime
    writes a status that only moves counters in a burst of 10, then one a second (`controllers/runtime/pacing.py`):
    the rounds it held back show in ack_kruise_status_writes_held_total, the CloneSet's status versions stay
    within the bucket, and the status still ends exact once the pods are. The pods stay unscheduled (a node
    selector no node has) and the test plays their kubelet, so that the churn is the same on any machine."""
    from controllers.runtime.pacing import BURST, PER_SECOND
    name, replicas, per_second = "churn", 60, 10
    status, pods = _unscheduled_cloneset(cluster, namespace, name, replicas)
    held_before = kruise.metric_sum("ack_kruise_status_writes_held_total", controller="cloneset")
    statuses: list[dict] = []
    stop = threading.Event()

    def watch_status(version: str) -> None:
        w = kubernetes.watch.Watch()
        while not stop.is_set():
            for event in w.stream(cluster.custom.list_namespaced_custom_object, "apps.kruise.io", "v1alpha1",
                                  namespace, "clonesets", field_selector=f"metadata.name={name}",
                                  resource_version=version, timeout_seconds=1, _request_timeout=5):
                version = event["object"]["metadata"]["resourceVersion"]
                statuses.append(event["object"].get("status") or {})
                if stop.is_set():
                    break
    listed = cluster.custom.list_namespaced_custom_object("apps.kruise.io", "v1alpha1", namespace, "clonesets")
    watcher = threading.Thread(target=watch_status, args=(listed["metadata"]["resourceVersion"],), daemon=True)
    watcher.start()
    try:
        started = time.monotonic()
        for i, pod in enumerate(pods):
            _make_ready(cluster, namespace, pod)
            time.sleep(max(0.0, started + (i + 1) / per_second - time.monotonic()))
        wait_for(lambda: all(status().get(k) == replicas for k in ("readyReplicas", "availableReplicas",
                                                                   "updatedReadyReplicas")),
                 30, "the status to count every pod Ready", describe=status)
        elapsed = time.monotonic() - started
        wait_for(lambda: statuses and statuses[-1].get("readyReplicas") == replicas, 10, "the watch to catch up")
    finally:
        stop.set()
        watcher.join(timeout=10)
    held = kruise.metric_sum("ack_kruise_status_writes_held_total", controller="cloneset") - held_before
    writes = len(statuses)
    assert held > 0, f"no status write was held back in {writes} status writes"
    assert writes <= BURST + PER_SECOND * elapsed + 1, (writes, elapsed)


def test_once_its_status_is_held_a_churning_workloads_pod_events_wake_one_round_together(cluster: Cluster,
                                                                                         namespace: str, kruise):
    """After a round that had nothing to do but a status write held back, the events of the workload's pods wait
    ROUND_BATCH_SECONDS and wake one round together (`controllers/runtime/workload.py` `sync`, `_wake`). 60
    unscheduled pods turned Ready by the test, 50 a second (one every 20 ms, longer than a round over them):
    once the pacer holds (after its burst of status writes), the CloneSet's rounds are bounded by the batching
    window, not by the pod events, each of which woke a round of its own without it (74 rounds here without
    the batching, 35 with it, on an idle machine)."""
    from controllers.runtime.pacing import BURST, PER_SECOND
    from controllers.runtime.workload import ROUND_BATCH_SECONDS
    name, replicas, per_second = "batched", 60, 50
    status, pods = _unscheduled_cloneset(cluster, namespace, name, replicas)
    counted = [-1.0]

    def rounds_settled() -> bool:  # the creation's rounds are over: no round for half a second
        now = kruise.metric_sum("controller_runtime_reconcile_total", controller="cloneset")
        settled, counted[0] = now == counted[0], now
        return settled
    wait_for(rounds_settled, 30, "the CloneSet's rounds to settle", interval=0.5)
    rounds_before = counted[0]
    held_before = kruise.metric_sum("ack_kruise_status_writes_held_total", controller="cloneset")
    started = time.monotonic()
    for i, pod in enumerate(pods):
        _make_ready(cluster, namespace, pod)
        time.sleep(max(0.0, started + (i + 1) / per_second - time.monotonic()))
    churn = time.monotonic() - started
    wait_for(lambda: status().get("readyReplicas") == replicas, 30, "the status to count every pod Ready",
             describe=status)
    settled = time.monotonic() - started
    rounds = kruise.metric_sum("controller_runtime_reconcile_total", controller="cloneset") - rounds_before
    held = kruise.metric_sum("ack_kruise_status_writes_held_total", controller="cloneset") - held_before
    assert held > 0, f"the pacer never held a status write in {rounds:.0f} rounds: nothing to batch"
    # The burst's rounds, one per batching window while the pods churn, one per token once they have stopped
    # (the held status is written when the next one is due), one more for each status write (the CloneSet's
    # own events wake it at once), and some for anything else the controller does.
    bound = 2 * (BURST + PER_SECOND * settled) + churn / ROUND_BATCH_SECONDS + 10
    assert rounds <= bound, f"{rounds:.0f} rounds for {replicas} pod events in {churn:.2f} s (at most {bound:.0f})"


def lease_spec(cluster: Cluster, namespace: str):
    import kubernetes
    try:
        return kubernetes.client.CoordinationV1Api(cluster.api).read_namespaced_lease("kruise-manager", namespace).spec
    except kubernetes.client.ApiException:
        return None


def holder(cluster: Cluster, namespace: str) -> str | None:
    spec = lease_spec(cluster, namespace)
    return spec.holder_identity if spec else None


WRITES = ("POST", "PUT", "PATCH", "DELETE")


def startup_order(manager: ManagerProcess) -> list[str]:
    """The start-up milestones in the order the manager's log shows them (each one's first line)."""
    milestones = ("webhook server ready", "became leader", "starting controllers")
    first: dict[str, int] = {}
    for number, line in enumerate(manager.log_path.read_text(errors="replace").splitlines()):
        for milestone in milestones:
            if milestone in line:
                first.setdefault(milestone, number)
    return sorted(first, key=first.get)


def test_two_managers_one_leads_and_the_other_takes_over(cluster: Cluster, namespace: str, tls_secret, tmp_path):
    args = ("--cert-mode", "cert-manager", "--cert-secret", tls_secret, "--lease-duration", "6")
    a = ManagerProcess(cluster.kubeconfig, tmp_path / "a.log", *args, "--log-level", "info", namespace=namespace,
                       url_webhooks=False).start()
    b = ManagerProcess(cluster.kubeconfig, tmp_path / "b.log", *args, namespace=namespace, url_webhooks=False).start()
    try:
        first = wait_for(lambda: holder(cluster, namespace), 20, "a leader")
        leaders = [m for m in (a, b) if m.metric("leader_election_master_status", name="kruise-manager") == 1]
        assert len(leaders) == 1, "exactly one manager leads"
        leader, follower = leaders[0], ({a, b} - set(leaders)).pop()
        assert follower.get("/readyz") == "ok", "a follower still serves webhooks"
        # Exactly one reconciles: the leader reconciles this CloneSet, the follower sends no write at all.
        cluster.apply(_cloneset("led", 0), namespace)
        wait_for(lambda: leader.metric_sum("controller_runtime_reconcile_total", controller="cloneset") > 0, 20,
                 "the leader to reconcile", describe=leader.tail)
        wait_for(lambda: leader.metric_sum("rest_client_requests_total", method="PUT") > 0, 10,
                 "the leader to renew its Lease (a PUT every retry period)", describe=leader.tail)
        for method in WRITES:
            assert follower.metric_sum("rest_client_requests_total", method=method) == 0, f"the follower sent {method}"
        assert follower.metric_sum("controller_runtime_reconcile_total") == 0
        leader.kill()  # no clean release: the follower must wait for the lease to expire
        last_renewal = lease_spec(cluster, namespace).renew_time  # the dead leader's last
        wait_for(lambda: follower.metric("leader_election_master_status", name="kruise-manager") == 1, 20,
                 "the follower to take over", describe=follower.tail)
        taken = lease_spec(cluster, namespace)
        assert taken.holder_identity != first
        # Timed by the Lease's own clock (the API server's record), not by this test's polling under load:
        # never before the lease expired, and within one retry period (1.2 s) after, plus scheduling slack.
        took = (taken.acquire_time - last_renewal).total_seconds()
        assert 6 <= took <= 6 + 1.2 + 1, f"took over {took:.2f}s after the last renewal; lease duration 6s"
        wait_for(lambda: follower.metric_sum("controller_runtime_reconcile_total", controller="cloneset") > 0, 20,
                 "the new leader to reconcile", describe=follower.tail)
        # In both, the controllers started only once the webhook server was ready, and after the election.
        for manager in (a, b):
            assert startup_order(manager) == ["webhook server ready", "became leader", "starting controllers"], \
                manager.tail()
    finally:
        a.stop()
        b.stop()


def _ca_of(cluster: Cluster) -> bytes:
    secret = cluster.core.read_namespaced_secret("kruise-webhook-certs", "kruise-system")
    return base64.b64decode(secret.data["ca.crt"])


def test_certificate_rotation_fails_no_admission_request(cluster: Cluster, namespace: str, kruise):
    """The CA is replaced twice (the Secret deleted) while four clients send admission requests without
    pause. Not one request may fail: the caBundle trusts old and new CA before the server switches."""
    cas = [_ca_of(cluster)]
    manager_secret_ca[:] = [lambda: _ca_of_or_none(cluster)]
    with AdmissionLoad(cluster.kubeconfig, namespace) as load:
        for _ in range(2):
            cluster.core.delete_namespaced_secret("kruise-webhook-certs", "kruise-system")
            wait_for(lambda: (ca := _ca_of_or_none(cluster)) and ca not in cas, 30, "a new CA")
            cas.append(_ca_of(cluster))
            served = load.ok
            # The server switches only after the API server trusts the new CA; requests keep flowing.
            wait_for(lambda: _served_ca(kruise) == cas[-1] and load.ok > served + 30, 30,
                     "the new certificate served under load")
    assert load.failed == [], f"{len(load.failed)} requests failed, e.g. {load.failed[:3]}"
    assert load.ok > 100


def _ca_of_or_none(cluster: Cluster) -> bytes | None:
    import kubernetes
    try:
        return _ca_of(cluster)
    except kubernetes.client.ApiException:
        return None


def _served_ca(manager) -> bytes | None:
    """The CA (from the Secret) that signed the certificate the webhook server presents right now."""
    import ssl

    from controllers.webhook.certs import trusted_by
    served = ssl.get_server_certificate(("127.0.0.1", manager.webhook_port)).encode()
    secret = manager_secret_ca[0]() if manager_secret_ca else None
    return secret if secret and trusted_by(served, secret) else None


manager_secret_ca: list = []


def test_a_renewed_certificate_keeps_its_ca(cluster: Cluster, namespace: str):
    """Serving certificates renew before expiry without changing the CA (so the caBundle stays put)."""
    import asyncio
    import datetime

    from kube import KubeClient, load_config
    from controllers.webhook.certs import CertificateStore, CertSettings

    async def twice() -> tuple:
        async with KubeClient(load_config(cluster.kubeconfig)) as client:
            # A 63 s certificate is renewed once fewer than 60 s remain, about 3 s from now.
            store = CertificateStore(client, CertSettings(namespace=namespace, secret_name="short", dns_names=["s"],
                                                          cert_validity=datetime.timedelta(seconds=63),
                                                          renew_before=datetime.timedelta(seconds=60)))
            first = await store.ensure()
            again = await store.ensure()
            for _ in range(200):  # poll, no fixed wait: ensure() renews as soon as it is due
                renewed = await store.ensure()
                if renewed != first:
                    break
                await asyncio.sleep(0.1)
            return first, again, renewed

    first, again, renewed = asyncio.run(twice())
    assert again == first, "a valid certificate is kept"
    assert renewed.cert_pem != first.cert_pem and renewed.ca_pem == first.ca_pem


def test_replicas_starting_at_once_converge_on_one_certificate(cluster: Cluster, namespace: str):
    """Five managers' certificate stores race to create the same Secret on the real API server."""
    import asyncio

    from kube import KubeClient, load_config
    from controllers.webhook.certs import CertificateStore, CertSettings

    async def race() -> list:
        async with KubeClient(load_config(cluster.kubeconfig)) as client:
            stores = [CertificateStore(client, CertSettings(namespace=namespace, secret_name="race",
                                                            dns_names=["svc.ns.svc"])) for _ in range(5)]
            return await asyncio.gather(*(s.ensure() for s in stores))

    bundles = asyncio.run(race())
    secret = cluster.core.read_namespaced_secret("race", namespace)
    stored_cert = base64.b64decode(secret.data["tls.crt"])
    assert {b.cert_pem for b in bundles} == {stored_cert}, "every replica serves the one stored certificate"
