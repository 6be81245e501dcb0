"""`ack-kruise daemon` refuses bad arguments with a message naming the argument, before touching the runtime
or the cluster; with no runtime answering on the socket it exits 1 saying so."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # a new process per case: left out of `make verify`, run by `make test`


def run_daemon(*argv: str, node: str | None = "node-a") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NODE_NAME", "KRUISE_DAEMON_CRI_SOCKET")}
    if node is not None:
        env["NODE_NAME"] = node
    return subprocess.run([sys.executable, "-m", "ack_kruise", "daemon", "--kubeconfig", "/nonexistent", *argv],
                          capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("argv, message", [
    (["--addr", "localhost"], "--addr: expected [host]:port, got 'localhost'"),
    (["--socket-file", "/run/containerd/containerd.sock"], "--socket-file: a file name under the host's /var/run"),
    (["--socket-file", "../etc/x.sock"], "--socket-file: a file name under the host's /var/run"),
    (["--cri-socket", "/nonexistent/containerd.sock"], "--cri-socket: /nonexistent/containerd.sock does not exist"),
    (["--var-run", "/nonexistent"], "--var-run: /nonexistent is not a directory"),
    (["--feature-gates", "NoSuchGate=true"], "--feature-gates: unknown feature gate 'NoSuchGate'"),
    (["--feature-gates", "KruiseDaemon=false"], "--feature-gates: KruiseDaemon=false turns the daemon off"),
    (["--rest-config-qps", "-1"], "--rest-config-qps: must not be negative"),
])
def test_bad_arguments_are_refused(argv, message):
    result = run_daemon(*argv)
    assert result.returncode == 2
    assert message in result.stderr


def test_the_node_name_is_required():
    result = run_daemon(node=None)
    assert result.returncode == 2
    assert "--node-name: not set; set the environment variable NODE_NAME or pass --node-name" in result.stderr


def test_a_socket_nobody_answers_on_exits_1(tmp_path):
    path = tmp_path / "dead.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))  # a socket file that accepts no gRPC: not a container runtime
    try:
        result = run_daemon("--cri-socket", str(path))  # the runtime is checked before anything listens
    finally:
        listener.close()
    assert result.returncode == 1
    assert "not found container runtime sock" in result.stderr and str(path) in result.stderr
