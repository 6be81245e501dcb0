"""`ack-kruise sandbox up|down|status`: idempotent, leaves nothing behind, fails cleanly on bad input."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.processes import ProcessRecord
from tests.kube import ON_REAL_NODE, Cluster, is_ready, wait_for

pytestmark = pytest.mark.sandbox_lifecycle


def ack_kruise(*args: str, env: dict | None = None, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ack_kruise", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def processes_named(name: str) -> list[str]:
    """Live processes whose executable (argv[0]) ends with `name`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv0 = (proc / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if argv0.endswith(name) and stat[stat.rindex(")") + 2] != "Z":
            found.append(f"{proc.name}: {argv0}")
    return found


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


def mounts_below(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    return [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
            if line.split()[1].startswith(prefix)]


def kube_iptables_chains() -> list[str]:
    dump = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    return [line for line in dump.splitlines() if line.startswith(":KUBE-") or "CNI-" in line]


def test_up_twice_reuses_and_down_leaves_nothing_running(tmp_path):
    """With the real node: real containers run, then `down` leaves no process, mount, bridge or chain."""
    state = tmp_path / "box"
    forward_before = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    first = ack_kruise("sandbox", "--state-dir", str(state), "up", "--nodes", "1")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"export KUBECONFIG={state.resolve() / 'kubeconfig'}"
    recorded = json.loads((state / "state.json").read_text())
    pids = {p["name"]: p["pid"] for p in recorded["processes"]}
    etcd_data = recorded["etcd_data_dir"]
    assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "nodesim",
                         "docker-registry", "containerd", "kubelet", "kube-proxy"}
    try:
        second = ack_kruise("sandbox", "--state-dir", str(state), "up", "--nodes", "1")
        assert second.returncode == 0 and "already running" in second.stderr
        again = {p["name"]: p["pid"] for p in json.loads((state / "state.json").read_text())["processes"]}
        assert again == pids, "a second `up` must not start a second copy"
        status = ack_kruise("sandbox", "--state-dir", str(state), "status")
        assert status.returncode == 0 and status.stdout.count("running") == 9

        other = tmp_path / "other"
        refused = ack_kruise("sandbox", "--state-dir", str(other), "up", "--nodes", "0")
        assert refused.returncode == 1
        assert f"the real node is in use by the sandbox in {state.resolve()}" in refused.stderr
        assert processes_mentioning(str(other)) == []

        # Real containers, so that there are shims, mounts and pod networking to clean up.
        cluster = Cluster(str(state / "kubeconfig"))
        cluster.create_namespace("work")
        cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                       "spec": {**ON_REAL_NODE, "containers": [
                           {"name": "web", "image": "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook:v1",
                            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}],
                           "volumes": [{"name": "scratch", "emptyDir": {}}]}}, "work")
        wait_for(lambda: is_ready(cluster.pod("work", "web")), 60, "a real pod Ready")
        assert processes_named("testapp"), "the container's process runs on this machine"
        assert mounts_below(state)
    finally:
        down = ack_kruise("sandbox", "--state-dir", str(state), "down")
    assert down.returncode == 0, down.stderr
    assert processes_mentioning(str(state), etcd_data) == [], "no control-plane, kubelet, containerd or shim"
    assert processes_named("testapp") == [], "no container process outlives the sandbox"
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
    assert mounts_below(state) == [], "nothing stays mounted"
    assert not Path("/sys/class/net/cni0").exists() and not Path("/sys/class/net/ackkruise0").exists()
    assert kube_iptables_chains() == []
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == forward_before
    assert not Path(etcd_data).exists(), "down removes the etcd data"
    status = ack_kruise("sandbox", "--state-dir", str(state), "status")
    assert status.returncode == 1 and "not running" in status.stdout


def test_up_after_a_component_died_starts_a_clean_copy(tmp_path):
    state = tmp_path / "box"
    assert ack_kruise("sandbox", "--state-dir", str(state), "up", "--nodes", "0", "--no-real-node").returncode == 0
    try:
        procs = [ProcessRecord(**p) for p in json.loads((state / "state.json").read_text())["processes"]]
        scheduler = next(p for p in procs if p.name == "kube-scheduler")
        os.kill(scheduler.pid, 9)
        status = ack_kruise("sandbox", "--state-dir", str(state), "status")
        assert status.returncode == 1 and "DEAD" in status.stdout
        again = ack_kruise("sandbox", "--state-dir", str(state), "up", "--nodes", "0", "--no-real-node")
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
        result = ack_kruise("sandbox", "--state-dir", str(state), "up", "--apiserver-port", str(port), "--no-real-node")
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
