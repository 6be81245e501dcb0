"""`ack-kruise manager` refuses bad flags with a message naming the flag, before touching any cluster."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


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
