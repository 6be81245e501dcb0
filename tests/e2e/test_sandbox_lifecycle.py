"""`ack-kruise sandbox up|down|status`: idempotent, leaves nothing behind, fails cleanly on bad input."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from sandbox.processes import ProcessRecord


def ack_kruise(*args: str, env: dict | None = None, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ack_kruise", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def processes_mentioning(*texts: str) -> list[str]:
    """Every live process whose command line mentions one of `texts` (a state folder is unique per test)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if any(t in cmdline for t in texts) and stat[stat.rindex(")") + 2] != "Z":
            found.append(f"{proc.name}: {cmdline}")
    return found


def test_up_twice_reuses_and_down_leaves_nothing_running(tmp_path):
    state = tmp_path / "box"
    first = ack_kruise("sandbox", "--state-dir", str(state), "up", "--nodes", "1")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"export KUBECONFIG={state.resolve() / 'kubeconfig'}"
    recorded = json.loads((state / "state.json").read_text())
    pids = {p["name"]: p["pid"] for p in recorded["processes"]}
    etcd_data = recorded["etcd_data_dir"]
    assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "nodesim"}
    try:
        second = ack_kruise("sandbox", "--state-dir", str(state), "up", "--nodes", "1")
        assert second.returncode == 0 and "already running" in second.stderr
        again = {p["name"]: p["pid"] for p in json.loads((state / "state.json").read_text())["processes"]}
        assert again == pids, "a second `up` must not start a second copy"
        status = ack_kruise("sandbox", "--state-dir", str(state), "status")
        assert status.returncode == 0 and status.stdout.count("running") == 5
    finally:
        down = ack_kruise("sandbox", "--state-dir", str(state), "down")
    assert down.returncode == 0, down.stderr
    assert processes_mentioning(str(state), etcd_data) == []
    assert not Path(etcd_data).exists(), "down removes the etcd data"
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
    status = ack_kruise("sandbox", "--state-dir", str(state), "status")
    assert status.returncode == 1 and "not running" in status.stdout


def test_up_after_a_component_died_starts_a_clean_copy(tmp_path):
    state = tmp_path / "box"
    assert ack_kruise("sandbox", "--state-dir", str(state), "up", "--nodes", "0").returncode == 0
    try:
        procs = [ProcessRecord(**p) for p in json.loads((state / "state.json").read_text())["processes"]]
        scheduler = next(p for p in procs if p.name == "kube-scheduler")
        os.kill(scheduler.pid, 9)
        status = ack_kruise("sandbox", "--state-dir", str(state), "status")
        assert status.returncode == 1 and "DEAD" in status.stdout
        again = ack_kruise("sandbox", "--state-dir", str(state), "up", "--nodes", "0")
        assert again.returncode == 0 and "half-running" in again.stderr
        assert all(p.alive() for p in
                   [ProcessRecord(**p) for p in json.loads((state / "state.json").read_text())["processes"]])
    finally:
        ack_kruise("sandbox", "--state-dir", str(state), "down")
    assert processes_mentioning(str(state)) == []


def test_port_in_use_is_refused_before_anything_starts(tmp_path):
    state = tmp_path / "box"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = ack_kruise("sandbox", "--state-dir", str(state), "up", "--apiserver-port", str(port))
    assert result.returncode == 1
    assert f"port {port} for kube-apiserver is already in use" in result.stderr
    assert processes_mentioning(str(state)) == []
    assert not (state / "state.json").exists()


def test_missing_binary_names_it_and_the_fix(tmp_path):
    state = tmp_path / "box"
    result = ack_kruise("sandbox", "--state-dir", str(state), "up", env={"ACK_KRUISE_CACHE": str(tmp_path / "empty")})
    assert result.returncode == 1
    assert "kube-apiserver is not installed" in result.stderr and "make setup" in result.stderr
    assert processes_mentioning(str(state)) == []
