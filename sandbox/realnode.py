"""The sandbox's real node: kubelet and kube-proxy v1.20.2 over containerd and runc, on a CNI bridge.

Pods here run real containers (the images of `images.py`), so an in-place image change is a real
container restart by a real kubelet, keeping the pod, its IP and its volumes.

Host resources it creates, all removed again by `stop`:
- bridge `ackkruise0` holding the node's address (a dummy interface would do, but this kernel has no dummy
  module); the API server advertises this address so pods reach it through Service `kubernetes`;
- bridge `cni0` (made by the CNI bridge plugin) with the pod network 10.88.0.0/16;
- kube-proxy's and CNI's iptables chains; net.ipv4.ip_forward while the node runs;
- mounts under the node's folder (kubelet volumes, containerd snapshots, pod network namespaces).

A machine has one real node at a time (bridges and iptables chains are machine-wide): the owner's state
folder is recorded in OWNER_FILE and a second sandbox asking for a real node is refused with its name.
"""
from __future__ import annotations

import json
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import images, processes, tools
from .processes import ProcessRecord

NODE_NAME = "real-node-0"
NODE_BRIDGE = "ackkruise0"
NODE_IP = "10.87.0.1"
POD_BRIDGE = "cni0"
POD_CIDR = "10.88.0.0/16"
REGISTRY_ADDR = "127.0.0.1:5000"  # image names say localhost:5000, so the port is fixed
OWNER_FILE = Path("/run/ack-kruise-real-node.owner")
CNI_NETWORK = "ack-kruise-sandbox"


class RealNodeError(Exception):
    pass


@dataclass
class NodePaths:
    base: Path

    @property
    def containerd_root(self) -> Path: return self.base / "containerd" / "root"
    @property
    def containerd_state(self) -> Path: return self.base / "containerd" / "state"
    @property
    def containerd_socket(self) -> Path: return self.base / "containerd" / "containerd.sock"
    @property
    def cni_conf(self) -> Path: return self.base / "cni" / "net.d"
    @property
    def cni_ipam(self) -> Path: return self.base / "cni" / "ipam"
    @property
    def kubelet_root(self) -> Path: return self.base / "kubelet"
    @property
    def registry_root(self) -> Path: return self.base / "registry"


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise RealNodeError(f"`{' '.join(argv)}` did not finish within 120s") from None
    if check and proc.returncode != 0:
        raise RealNodeError(f"`{' '.join(argv)}` failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def _link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def claim(state_dir: Path, is_running: Callable[[Path], bool]) -> None:
    """Refuse when another live sandbox owns the real node; otherwise record ourselves as the owner.
    `is_running(state_dir)` says whether a sandbox runs there (cluster.py's, passed in: it imports this module)."""
    if OWNER_FILE.exists():
        owner = Path(OWNER_FILE.read_text().strip())
        if owner != state_dir and is_running(owner):
            raise RealNodeError(
                f"the real node is in use by the sandbox in {owner}; stop it first "
                f"(`ack-kruise sandbox --state-dir {owner} down`) or start this one with --no-real-node")
    OWNER_FILE.write_text(str(state_dir))


def release(state_dir: Path) -> None:
    if OWNER_FILE.exists() and Path(OWNER_FILE.read_text().strip()) == state_dir:
        OWNER_FILE.unlink()


def check_prerequisites() -> dict[str, str]:
    found = {name: tools.find(name) for name in ("kubelet", "kube-proxy")}
    for name in ("containerd", "runc", "ctr", "docker-registry", "iptables", "ip"):
        found[name] = tools.find(name)
    if not Path("/usr/lib/cni/bridge").exists():
        raise tools.MissingTool("the CNI plugins (Debian containernetworking-plugins) are not installed; run `make setup`")
    return found


def setup_host_network(paths: NodePaths) -> dict:
    """The node address and forwarding; returns what to restore at stop."""
    previous = {"ip_forward": Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()}
    if not _link_exists(NODE_BRIDGE):
        _sh("ip", "link", "add", NODE_BRIDGE, "type", "bridge")
    _sh("ip", "addr", "replace", f"{NODE_IP}/32", "dev", NODE_BRIDGE)
    _sh("ip", "link", "set", NODE_BRIDGE, "up")
    # Pod → Service → pod traffic is routed through the host.
    Path("/proc/sys/net/ipv4/ip_forward").write_text("1")
    paths.cni_conf.mkdir(parents=True, exist_ok=True)
    (paths.cni_conf / "10-sandbox.conflist").write_text(json.dumps({
        "cniVersion": "0.4.0", "name": CNI_NETWORK,
        "plugins": [
            {"type": "bridge", "bridge": POD_BRIDGE, "isGateway": True, "ipMasq": True, "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR}]],
                      "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(paths.cni_ipam)}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }, indent=2))
    return previous


def containerd_config(paths: NodePaths) -> str:
    """The containerd configuration of the real node: its own root, state and socket, and every registry
    mirrored to the local one (tests read it to check the mirrors without starting containerd)."""
    return f"""version = 2
root = "{paths.containerd_root}"
state = "{paths.containerd_state}"
[grpc]
  address = "{paths.containerd_socket}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{images.PAUSE_IMAGE}"
  # Required on these machines: without CAP_SYS_RESOURCE runc cannot give the sandbox a negative
  # oom_score_adj, and every sandbox fails with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  # Pod network namespaces live under our state folder, so `stop` finds and unmounts all of them.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{paths.cni_conf}"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."localhost:5000"]
    endpoint = ["http://{REGISTRY_ADDR}"]
""" + "".join(f"""  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."{registry}"]
    endpoint = ["http://{REGISTRY_ADDR}"]
""" for registry in images.mirrored_registries())


def _registry_config(paths: NodePaths) -> str:
    return f"""version: 0.1
log: {{level: warn}}
storage:
  filesystem: {{rootdirectory: {paths.registry_root}}}
  delete: {{enabled: true}}
http:
  addr: {REGISTRY_ADDR}
"""


def _kubelet_config(paths: NodePaths, port: int, healthz_port: int,
                    api_qps: tuple[float, int] | None = None) -> str:
    # kubeAPIQPS is an int32 in KubeletConfiguration v1beta1: a JSON 5.0 is refused.
    client = {"kubeAPIQPS": int(api_qps[0]), "kubeAPIBurst": int(api_qps[1])} if api_qps else {}
    return json.dumps({**client,
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "cgroupDriver": "cgroupfs", "failSwapOn": False, "cgroupsPerQOS": False, "enforceNodeAllocatable": [],
        # Disk usage on a developer machine must never evict test pods or delete the sandbox's images.
        "evictionHard": {"memory.available": "1Mi"}, "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        # A local sandbox only: the API server reaches logs/exec without client certificates.
        "authentication": {"webhook": {"enabled": False}, "anonymous": {"enabled": True}},
        "authorization": {"mode": "AlwaysAllow"},
        "readOnlyPort": 0, "port": port, "address": NODE_IP,
        "healthzBindAddress": "127.0.0.1", "healthzPort": healthz_port,
        "registerWithTaints": [], "serializeImagePulls": False,
        # Computed every second but only posted when changed (Leases carry the heartbeat): the node turns
        # Ready within a second of the runtime being ready.
        "nodeStatusReportFrequency": "1m", "nodeStatusUpdateFrequency": "1s",
        "maxPods": 250,
    }, indent=2)


def _kube_proxy_config(kubeconfig: str, metrics_port: int, healthz_port: int) -> str:
    return json.dumps({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": kubeconfig}, "mode": "iptables", "clusterCIDR": POD_CIDR,
        "hostnameOverride": NODE_NAME, "bindAddress": NODE_IP,
        "metricsBindAddress": f"127.0.0.1:{metrics_port}", "healthzBindAddress": f"127.0.0.1:{healthz_port}",
        # Leave the machine's conntrack table size alone.
        "conntrack": {"maxPerCore": 0},
    }, indent=2)


def ctr(paths: NodePaths, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _sh("ctr", "--address", str(paths.containerd_socket), "--namespace", "k8s.io", *args, check=check)


def start(paths: NodePaths, kubeconfig: str, free_port, started, wait,
          kubelet_api_qps: tuple[float, int] | None = None) -> None:
    """Start registry, containerd, kubelet and kube-proxy; `started(record)` records each process and
    `wait(check, what)` waits for a condition while watching every recorded process."""
    bins = check_prerequisites()
    logs = paths.base.parent / "logs"
    for p in (paths.containerd_root, paths.containerd_state, paths.kubelet_root, paths.registry_root):
        p.mkdir(parents=True, exist_ok=True)

    (paths.base / "registry.yml").write_text(_registry_config(paths))
    started(processes.start("docker-registry", [bins["docker-registry"], "serve", str(paths.base / "registry.yml")],
                            logs / "docker-registry.log"))
    (paths.base / "containerd.toml").write_text(containerd_config(paths))
    started(processes.start("containerd", [bins["containerd"], "--config", str(paths.base / "containerd.toml")],
                            logs / "containerd.log"))
    wait(lambda: paths.containerd_socket.exists() and ctr(paths, "version", check=False).returncode == 0,
         "containerd")

    # The kubelet first spends over 5 s in cAdvisor's start-up (it asks a Docker daemon that is not there for
    # its root folder, five times a second apart) before it talks to containerd or the API server: start it
    # now, so that this wait overlaps the image import below and the API server's own start-up.
    kubelet_port, kubelet_healthz = free_port(), free_port()
    (paths.base / "kubelet.json").write_text(_kubelet_config(paths, kubelet_port, kubelet_healthz,
                                                                     kubelet_api_qps))
    started(processes.start("kubelet", [
        bins["kubelet"], "--config", str(paths.base / "kubelet.json"), "--kubeconfig", kubeconfig,
        "--container-runtime=remote", f"--container-runtime-endpoint=unix://{paths.containerd_socket}",
        "--root-dir", str(paths.kubelet_root), "--cert-dir", str(paths.base / "kubelet-pki"),
        "--hostname-override", NODE_NAME, "--node-ip", NODE_IP,
        "--pod-infra-container-image", images.PAUSE_IMAGE, "--v", "1",
    ], logs / "kubelet.log"))
    (paths.base / "kube-proxy.json").write_text(_kube_proxy_config(kubeconfig, free_port(), free_port()))
    started(processes.start("kube-proxy", [bins["kube-proxy"], "--config", str(paths.base / "kube-proxy.json")],
                            logs / "kube-proxy.log"))

    archive = images.build()
    ctr(paths, "images", "import", str(archive))
    wait(lambda: _registry_up(), "the local registry on " + REGISTRY_ADDR)
    for name in images.pushed_names():
        ctr(paths, "images", "push", "--plain-http", name)


def _registry_up() -> bool:
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://{REGISTRY_ADDR}/v2/", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def shims_of(paths: NodePaths) -> list[ProcessRecord]:
    """The containerd shims serving our containerd: their command line names our socket."""
    found = []
    needle = str(paths.containerd_socket).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"containerd-shim" in cmdline and needle in cmdline:
            ticks = processes._start_ticks(int(proc.name))
            if ticks is not None:
                found.append(ProcessRecord("containerd-shim", int(proc.name), ticks,
                                           cmdline.decode(errors="replace").split("\0"), ""))
    return found


def stop_containers(paths: NodePaths, timeout: float = 20) -> None:
    """Stop every container through containerd while it still runs, so no process outlives its shim."""
    if not paths.containerd_socket.exists():
        return
    listing = ctr(paths, "tasks", "ls", "-q", check=False)
    tasks = [t for t in listing.stdout.split() if t] if listing.returncode == 0 else []
    for task in tasks:
        ctr(paths, "tasks", "kill", "--all", "--signal", "SIGKILL", task, check=False)
    deadline = time.monotonic() + timeout
    while tasks and time.monotonic() < deadline:
        listing = ctr(paths, "tasks", "ls", check=False)
        running = [line for line in listing.stdout.splitlines()[1:] if "RUNNING" in line]
        if not running:
            break
        time.sleep(0.1)
    for task in tasks:
        ctr(paths, "tasks", "delete", "--force", task, check=False)


def unmount_below(*roots: Path) -> None:
    """Unmount everything mounted under the given folders, deepest first."""
    prefixes = tuple(str(r.resolve()) + "/" for r in roots if r.exists())
    if not prefixes:
        return
    for _ in range(3):
        mounts = []
        for line in Path("/proc/self/mounts").read_text().splitlines():
            target = line.split()[1].encode().decode("unicode_escape")
            if target.startswith(prefixes):
                mounts.append(target)
        if not mounts:
            return
        for target in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", target], capture_output=True)


def teardown_host_network(previous: dict, kube_proxy: str | None, proxy_config: Path) -> None:
    if kube_proxy and proxy_config.exists():
        # kube-proxy's iptables chains outlive it; --cleanup removes them.
        subprocess.run([kube_proxy, "--cleanup", "--config", str(proxy_config)], capture_output=True, timeout=60)
    _remove_node_chains()
    for link in (POD_BRIDGE, NODE_BRIDGE):
        if _link_exists(link):
            _sh("ip", "link", "del", link, check=False)
    if previous.get("ip_forward") in ("0", "1"):
        Path("/proc/sys/net/ipv4/ip_forward").write_text(previous["ip_forward"])


def _remove_node_chains() -> None:
    """Chains the node leaves behind: the kubelet's (KUBE-FIREWALL, KUBE-MARK-*, canaries), kube-proxy's
    canaries, and the CNI bridge plugin's masquerade chains (CNI-<hash>) of pods whose teardown never ran (a
    killed sandbox). The real node is the machine's only Kubernetes node (see `claim`), so every KUBE-* and
    CNI-* chain is one of ours."""
    prefixes = ("KUBE-", "CNI-")
    for table in ("filter", "nat", "mangle"):
        rules = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True).stdout.splitlines()
        for rule in rules:
            parts = shlex.split(rule)
            if parts[:1] == ["-A"] and not parts[1].startswith(prefixes) and "-j" in parts \
                    and parts[parts.index("-j") + 1].startswith(prefixes):
                subprocess.run(["iptables", "-t", table, "-D", *parts[1:]], capture_output=True)
        chains = [r.split()[1] for r in rules if r.startswith(("-N KUBE-", "-N CNI-"))]
        for chain in chains:
            subprocess.run(["iptables", "-t", table, "-F", chain], capture_output=True)
        for chain in chains:
            subprocess.run(["iptables", "-t", table, "-X", chain], capture_output=True)
