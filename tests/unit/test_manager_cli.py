"""`ack-kruise manager` refuses bad flags with a message naming the flag, before touching any cluster."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # a new process per case: left out of `make verify`, run by `make test`


@pytest.mark.parametrize("argv, message", [
    (["--feature-gates", "NoSuchGate=true"], "--feature-gates: unknown feature gate 'NoSuchGate'"),
    (["--feature-gates", "PodWebhook=maybe"], "--feature-gates: expected Name=true|false, got 'PodWebhook=maybe'"),
    (["--cert-validity", "3 weeks"], "--cert-validity: expected a duration like 90s, 10m, 12h or 30d"),
    (["--cert-mode", "vault"], "--cert-mode: invalid choice: 'vault'"),
    (["--webhook-port", "99999"], "--webhook-port: expected a port number, got '99999'"),
    (["--health-probe-addr", "localhost"], "--health-probe-addr: expected [host]:port, got 'localhost'"),
    (["--controllers", "cloneset,frob"], "--controllers: unknown controller(s) frob"),
    (["--enable-leader-election", "yes"], "--enable-leader-election: invalid choice: 'yes'"),
])
def test_bad_flags_are_refused(argv, message):
    result = subprocess.run([sys.executable, "-m", "ack_kruise", "manager", "--kubeconfig", "/nonexistent", *argv],
                            capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert result.returncode != 0
    assert message in result.stderr


def test_a_missing_kubeconfig_is_named():
    result = subprocess.run([sys.executable, "-m", "ack_kruise", "manager", "--kubeconfig", "/nonexistent/kubeconfig",
                             "--health-probe-addr", "0", "--metrics-addr", "0"],
                            capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert result.returncode == 1
    assert "kubeconfig /nonexistent/kubeconfig: cannot read it" in result.stderr


def _parsed(argv: list[str]):
    import argparse

    from controllers import manager

    parser = argparse.ArgumentParser()
    manager.add_arguments(parser)
    return manager.settings_from(parser.parse_args(argv))


def test_the_flags_default_to_the_settings_defaults(monkeypatch):
    """The manager's defaults are written once, in controllers/settings.py; the flags take theirs from there."""
    from controllers.settings import ENVIRONMENT, ManagerSettings

    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    parsed, expected = _parsed([]), ManagerSettings()
    expected.leader.identity = parsed.leader.identity  # per process
    assert parsed == expected
    assert (parsed.webhook.port, parsed.webhook.cert_secret, parsed.namespace) == (9876, "kruise-webhook-certs",
                                                                                  "kruise-system")
    # The names of the chart's webhook configurations are the generated ones (policies/webhooks.yaml).
    assert parsed.webhook.mutating_configuration == "kruise-mutating-webhook-configuration"
    # The environment variables OpenKruise's manager reads count for both.
    monkeypatch.setenv("WEBHOOK_PORT", "10250")
    monkeypatch.setenv("POD_NAMESPACE", "elsewhere")
    assert _parsed([]).webhook.port == ManagerSettings().webhook.port == 10250
    assert _parsed([]).namespace == ManagerSettings().namespace == "elsewhere"
    assert _parsed(["--webhook-port", "9443"]).webhook.port == 9443


def test_the_manager_runs_without_the_test_only_clients_as_the_image_does():
    """The development virtualenv has the test extra's `kubernetes` client, the image does not; kopf imports it
    when importable (17 MB of RSS). The manager process makes it unimportable before kopf loads, and every
    controller and webhook module still imports: none of them needs it. Nor does `ack-kruise manager` load the
    other subcommands' modules (the daemon's gRPC alone is 7 MB of RSS)."""
    code = (
        "import sys\n"
        "from ack_kruise import cli\n"
        "cli.build_parser('manager')\n"
        "from controllers import manager\n"
        "manager._as_shipped()\n"
        "import importlib, controllers.runtime, controllers.webhook.server\n"
        "for m in manager.CONTROLLER_MODULES.values(): importlib.import_module(m)\n"
        "import kopf._cogs.helpers.thirdparty as t\n"
        "loaded = sorted(n for n in sys.modules if n.split('.')[0] in manager.TEST_ONLY_CLIENTS"
        " and sys.modules[n] is not None)\n"
        "print(loaded, t.V1ObjectMetaSync, [n for n in ('grpc', 'daemon.main', 'sandbox.cli') if n in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "None", "[]"]
