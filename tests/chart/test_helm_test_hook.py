"""The `helm test` hook: a pod that calls the webhook Service as the API server does and checks the answer with
the webhook CA. Its script is run here against the manager's real webhook server (controllers/webhook/server.py)
with a certificate of the manager's own CA code; tests/e2e/incluster/test_incluster.py runs `helm test` on a
cluster."""
from __future__ import annotations

import asyncio
import datetime
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from controllers.webhook import certs
from controllers.webhook.server import WebhookServer
from sandbox.ports import free_port

from .conftest import NAMESPACE, VERSIONS, find, render, version_args

HOOK = "kruise-webhook-test"


def hook_pod(*args: str) -> dict:
    return find(render(*args), "Pod", HOOK)


def test_the_hook_pod_is_a_least_privilege_test_hook() -> None:
    docs = render("--kube-version", "1.30.0")
    pod = find(docs, "Pod", HOOK)
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False and "serviceAccountName" not in spec
    # Only the CA of the certificate Secret: never the serving key (nor, in self mode, the CA key).
    assert spec["volumes"] == [{"name": "webhook-ca", "secret": {"secretName": "kruise-webhook-certs",
                                                                 "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]
    manager = find(docs, "Deployment")["spec"]["template"]["spec"]
    assert spec["securityContext"] == manager["securityContext"]
    container = spec["containers"][0]
    assert container["securityContext"] == manager["containers"][0]["securityContext"]
    assert container["image"] == manager["containers"][0]["image"]
    # The API server's way: the Service's ClusterIP (the variable Kubernetes sets for each Service of the
    # namespace; no cluster DNS needed), the Service's DNS name as the TLS server name.
    assert container["args"] == [f"https://kruise-webhook-service.{NAMESPACE}.svc:443/healthz", "/webhook-ca/ca.crt",
                                 "120", "KRUISE_WEBHOOK_SERVICE_SERVICE_HOST"]
    assert container["resources"]["limits"] and container["resources"]["requests"]
    # It is no manager pod: the Services and the disruption budget do not select it.
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "test"


def test_the_hook_follows_the_values() -> None:
    pod = hook_pod("--kube-version", "1.30.0", "--set", "webhook.service.name=hooks",
                   "--set", "webhook.service.port=8443",
                   "--set", "namespaceOverride=kruise", "--set", "webhook.certificates.mode=secret",
                   "--set", "webhook.certificates.existingSecret=my-tls", "--set", "manager.nodeSelector.disk=ssd",
                   "--set", "manager.image.pullSecrets[0].name=regcred")
    assert pod["metadata"]["namespace"] == "kruise"
    assert pod["spec"]["containers"][0]["args"][0] == "https://hooks.kruise.svc:8443/healthz"
    assert pod["spec"]["containers"][0]["args"][3] == "HOOKS_SERVICE_HOST"
    assert pod["spec"]["volumes"][0]["secret"]["secretName"] == "my-tls"
    assert pod["spec"]["nodeSelector"] == {"disk": "ssd"}
    assert pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}]


@pytest.mark.parametrize("version, schemas, gate", VERSIONS)
def test_the_hook_renders_at_every_version(version: str, schemas: str, gate: bool) -> None:
    pod = hook_pod(*version_args(version, gate))
    minor = tuple(int(part) for part in version.split(".")[:2])
    assert ("seccompProfile" in pod["spec"]["securityContext"]) == (minor >= (1, 19))


class Served:
    """The manager's webhook server on 127.0.0.1, with a serving certificate for `localhost` from a new CA."""

    def __init__(self, tmp_path: Path):
        day = datetime.timedelta(days=1)
        ca_pem, ca_key = certs.new_ca(day)
        cert_pem, key_pem = certs.new_serving_cert(ca_pem, ca_key, ["localhost"], [], day)
        self.ca_file = tmp_path / "ca.crt"
        self.ca_file.write_bytes(ca_pem)
        self.port = free_port()
        self.server = WebhookServer("127.0.0.1", self.port)
        self.server.load(certs.CertBundle(ca_pem, cert_pem, key_pem))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> "Served":
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(timeout=30)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)


def run_hook_script(url: str, ca_file: Path, seconds: str, address: str | None = None) -> subprocess.CompletedProcess:
    """The pod's script as rendered; `address` stands for the Service's ClusterIP variable."""
    command = hook_pod("--kube-version", "1.30.0")["spec"]["containers"][0]["command"]
    assert command[:2] == ["python3", "-c"]
    env = {k: v for k, v in os.environ.items() if k != "HOOK_TEST_SERVICE_HOST"}
    if address:
        env["HOOK_TEST_SERVICE_HOST"] = address
    return subprocess.run([sys.executable, "-c", command[2], url, str(ca_file), seconds, "HOOK_TEST_SERVICE_HOST"],
                          capture_output=True, text=True, timeout=120, env=env)


def test_the_hook_script_passes_against_the_webhook_server(tmp_path) -> None:
    with Served(tmp_path) as served:
        result = run_hook_script(f"https://localhost:{served.port}/healthz", served.ca_file, "30")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "ok, with a certificate of the webhook CA" in result.stdout
        # At the address of the variable (the ClusterIP in a pod), still checked against the URL's name.
        result = run_hook_script(f"https://localhost:{served.port}/healthz", served.ca_file, "30", "127.0.0.1")
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"https://localhost:{served.port}/healthz (at 127.0.0.1): ok" in result.stdout


def test_the_hook_script_fails_with_another_ca_or_no_server(tmp_path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    other_ca = other / "ca.crt"
    other_ca.write_bytes(certs.new_ca(datetime.timedelta(days=1))[0])
    with Served(tmp_path) as served:
        result = run_hook_script(f"https://localhost:{served.port}/healthz", other_ca, "3")
    assert result.returncode == 1 and "certificate verify failed" in result.stderr, result.stderr
    assert "not yet" in result.stdout   # it retried until its deadline
    # A name the certificate does not carry (127.0.0.1 instead of localhost) is refused too.
    with Served(tmp_path) as served:
        result = run_hook_script(f"https://127.0.0.1:{served.port}/healthz", served.ca_file, "1")
    assert result.returncode == 1 and "no answer" in result.stderr, result.stderr
    result = run_hook_script(f"https://localhost:{free_port()}/healthz", served.ca_file, "1")
    assert result.returncode == 1 and "Connection refused" in result.stderr, result.stderr
