"""Run `ack-kruise manager` against the sandbox as a separate process, as the in-cluster Deployment would,
with the webhooks reached through a `url` client config (the manager sets it up with --webhook-url-base)."""
from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

from sandbox.ports import free_port
from tests.kube import wait_for

REPO = Path(__file__).resolve().parents[1]


def install_api(cluster) -> None:
    """The generated CRDs and webhook configurations, as the chart would install them on 1.20."""
    from sandbox import kruise
    kruise.install_api(cluster.kubeconfig)


class ManagerProcess:
    def __init__(self, kubeconfig: str, log_path: Path, *extra: str, namespace: str = "kruise-system",
                 url_webhooks: bool = True):
        self.webhook_port, self.health_port, self.metrics_port = free_port(), free_port(), free_port()
        self.kubeconfig, self.log_path, self.namespace = kubeconfig, log_path, namespace
        self.argv = [sys.executable, "-m", "ack_kruise", "manager", "--kubeconfig", kubeconfig,
                     "--namespace", namespace, "--webhook-host", "127.0.0.1",
                     "--webhook-port", str(self.webhook_port),
                     "--health-probe-addr", f"127.0.0.1:{self.health_port}",
                     "--metrics-addr", f"127.0.0.1:{self.metrics_port}", *extra]
        if url_webhooks:
            self.argv += ["--webhook-url-base", f"https://127.0.0.1:{self.webhook_port}"]
        self.proc: subprocess.Popen | None = None

    def start(self, wait_ready: bool = True) -> "ManagerProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        if wait_ready:
            wait_for(lambda: self.get("/readyz") == "ok" or self._died(), 60, "the manager's /readyz",
                     describe=self.tail)
            assert self.proc.poll() is None, f"the manager exited:\n{self.tail()}"
        return self

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def get(self, path: str, port: int | None = None) -> str | None:
        port = port or (self.metrics_port if path == "/metrics" else self.health_port)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                return r.read().decode()
        except OSError:
            return None

    def metric(self, metric: str, **labels: str) -> float:
        text = self.get("/metrics") or ""
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            if line.startswith(metric + ("{" + want + "}" if want else " ")):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def metric_sum(self, metric: str, **labels: str) -> float:
        """The sum of every series of `metric` whose labels include `labels` (e.g. all codes of one method)."""
        total = 0.0
        for line in (self.get("/metrics") or "").splitlines():
            name, _, rest = line.partition("{")
            if name != metric or not rest:
                continue
            series = dict(re.findall(r'(\w+)="([^"]*)"', rest.rsplit("}", 1)[0]))
            if all(series.get(k) == v for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: no lease release, no clean-up, like a crashed pod."""
        self.stop(signal.SIGKILL)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def hold_lease(cluster, namespace: str, name: str = "kruise-manager") -> None:
    """A leader-election Lease in `namespace` held, for an hour, by a candidate that does not exist: managers
    started there stay followers. They serve webhooks and never reconcile, so a test can run one next to
    the sandbox's manager (which reconciles the whole cluster) without two controllers acting at once."""
    import datetime

    import kubernetes

    renewed = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    kubernetes.client.CoordinationV1Api(cluster.api).create_namespaced_lease(namespace, {
        "metadata": {"name": name},
        "spec": {"holderIdentity": "a-leader-of-the-test", "leaseDurationSeconds": 3600,
                 "renewTime": renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}})


def webhook_only_manager(cluster, namespace: str, tls_secret: str, log_path: Path, *extra: str) -> ManagerProcess:
    """A manager of the test's own that serves the webhooks with the certificate in Secret `tls_secret` and
    touches no webhook configuration (cert-manager mode: it only reads the Secret), and never leads."""
    hold_lease(cluster, namespace)
    return ManagerProcess(cluster.kubeconfig, log_path, "--cert-mode", "cert-manager", "--cert-secret", tls_secret,
                          *extra, namespace=namespace, url_webhooks=False)


def install_webhook_copy(cluster, name: str, hooks: list[dict], url: str, ca: bytes,
                         failure_policy: str | None) -> None:
    """`hooks` exactly as installed (selectors, failurePolicy, timeouts), renamed copy-<name> and sent to `url`;
    failurePolicy replaced only when `failure_policy` is given."""
    client = {"url": url, "caBundle": base64.b64encode(ca).decode()}
    copies = [{**h, "name": f"copy-{h['name']}", "clientConfig": client,
               **({"failurePolicy": failure_policy} if failure_policy else {})} for h in hooks]
    cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name}, "webhooks": copies}))


class SandboxManager(ManagerProcess):
    """The sandbox's own kruise-manager (`ack-kruise sandbox up --with-manager`). Its ports are read from the
    sandbox state on every use, as a restarted manager (tests kill it on purpose) gets new ones."""

    def __init__(self, sandbox):
        self.sandbox, self.proc, self.namespace = sandbox, None, "kruise-system"

    def _state(self):
        return self.sandbox.state()

    @property
    def record(self):
        return next(p for p in self._state().processes if p.name == "kruise-manager")

    kubeconfig = property(lambda self: self._state().kubeconfig)
    log_path = property(lambda self: Path(self.record.log))
    argv = property(lambda self: self.record.argv)
    webhook_port = property(lambda self: self._state().ports["kruise-manager-webhook"])
    health_port = property(lambda self: self._state().ports["kruise-manager-health"])
    metrics_port = property(lambda self: self._state().ports["kruise-manager-metrics"])

    @property
    def alive(self) -> bool:
        return self.record.alive()


class AdmissionLoad:
    """Clients sending admission requests without pause while a test changes certificates: server-side dry
    runs of a CloneSet create, which go through our mutating and validating webhooks and store nothing.
    Use as a context manager; `ok` counts the answered requests, `failed` describes the others."""

    CLONESET = {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {"name": "load"},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "load"}},
                         "template": {"metadata": {"labels": {"app": "load"}},
                                      "spec": {"containers": [{"name": "c", "image": "x:v1"}]}}}}

    def __init__(self, kubeconfig: str, namespace: str, clients: int = 4):
        import kubernetes

        self.api = kubernetes.client.CustomObjectsApi(kubernetes.config.new_client_from_config(config_file=kubeconfig))
        self.namespace, self.clients = namespace, clients
        self.ok, self.failed = 0, []
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    def _send(self) -> None:
        import kubernetes

        while not self._stop.is_set():
            try:
                self.api.create_namespaced_custom_object("apps.kruise.io", "v1alpha1", self.namespace, "clonesets",
                                                         self.CLONESET, dry_run="All")
                self.ok += 1
            except kubernetes.client.ApiException as e:
                self.failed.append(f"{e.status}: {e.body[:200] if e.body else e.reason}")

    def __enter__(self) -> "AdmissionLoad":
        self._workers = [threading.Thread(target=self._send) for _ in range(self.clients)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join()



def with_feature_gates(sandbox, kruise: SandboxManager, gates: str):
    """The sandbox's manager restarted with `--feature-gates gates` for the tests of one module (as the chart's
    featureGates value passes them), then restarted again with its own arguments. Use as a module fixture:
    `yield from with_feature_gates(sandbox, kruise, GATES)`."""
    sandbox.restart_manager(("--feature-gates", gates))
    assert any(gates in a for a in kruise.argv), kruise.argv
    try:
        yield kruise
    finally:
        sandbox.restart_manager()
