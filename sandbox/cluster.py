"""The sandbox: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and simulated nodes on
127.0.0.1, started from one state folder and stopped by the PIDs recorded there.

`up` is idempotent (a running sandbox is reused), and a failure half-way stops whatever it had started.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import pki, processes, realnode, tools
from .ports import free_port
from .processes import ProcessRecord

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
KRUISE_PROCESSES = ("kruise-manager", "kruise-daemon")  # ours: restarted together after a code change


class SandboxError(Exception):
    """Something the user can act on; the message says what and how."""


@dataclass
class SandboxOptions:
    real_node: bool = True
    simulated_nodes: int = 3
    simulated_nodes_tainted: bool | None = None  # default: tainted when a real node runs
    apiserver_port: int = 0  # 0: pick a free port
    etcd_port: int = 0
    kcm_qps: float = 20  # kube-controller-manager's defaults; `make bench` raises them for every contender
    kcm_burst: int = 30
    kubelet_api_qps: tuple[float, int] | None = None
    """The real node's kubelet's client QPS and burst (None: the kubelet's own default, 5/10 on v1.20; 50/100
    from Kubernetes 1.27). `bench.realnode` measures both: the kubelet writes each status change of a pod."""
    ready_timeout: float = 60
    with_manager: bool = False
    """Install the generated CRDs and webhooks and run `ack-kruise manager` as a host process."""
    manager_args: tuple[str, ...] = ()
    chart_values: tuple[str, ...] = ()
    """`helm --set` expressions the webhook configurations are rendered with when the manager starts (e.g.
    `featureGates.ResourcesDeletionProtection=true`, whose webhooks the chart renders only then)."""
    apiserver_args: tuple[str, ...] = ()
    """Extra kube-apiserver flags (`make bench` turns on an audit log to count each controller's requests)."""


@dataclass
class SandboxState:
    state_dir: Path
    kubeconfig: str = ""
    apiserver_url: str = ""
    etcd_data_dir: str = ""
    ports: dict[str, int] = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    processes: list[ProcessRecord] = field(default_factory=list)
    host_network: dict = field(default_factory=dict)  # what the real node changed on the host, to restore

    @property
    def path(self) -> Path:
        return self.state_dir / "state.json"

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = {
            "kubeconfig": self.kubeconfig, "apiserver_url": self.apiserver_url,
            "etcd_data_dir": self.etcd_data_dir, "ports": self.ports, "options": self.options,
            "processes": [p.to_dict() for p in self.processes], "host_network": self.host_network,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.path)

    @classmethod
    def load(cls, state_dir: Path) -> "SandboxState | None":
        path = state_dir / "state.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(
            state_dir=state_dir, kubeconfig=data["kubeconfig"], apiserver_url=data["apiserver_url"],
            etcd_data_dir=data.get("etcd_data_dir", ""), ports=data.get("ports", {}),
            options=data.get("options", {}),
            processes=[ProcessRecord(**p) for p in data.get("processes", [])],
            host_network=data.get("host_network", {}),
        )


def _recorded_options(state: SandboxState) -> SandboxOptions:
    """The options the sandbox was started with (its state file may name options this version no longer has)."""
    return SandboxOptions(**{k: v for k, v in state.options.items() if k in SandboxOptions.__dataclass_fields__})


def _check_port_free(port: int, what: str) -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise SandboxError(f"port {port} for {what} is already in use on 127.0.0.1; "
                               f"choose another or leave it out to pick a free one") from None


def _log(msg: str) -> None:
    print(f"sandbox: {msg}", file=sys.stderr, flush=True)


class Sandbox:
    def __init__(self, state_dir: Path | None = None):
        self.state_dir = Path(state_dir or tools.default_state_dir()).resolve()

    # ---- queries -------------------------------------------------------------------------
    def state(self) -> SandboxState | None:
        return SandboxState.load(self.state_dir)

    def status(self) -> dict[str, bool]:
        st = self.state()
        return {p.name: p.alive() for p in st.processes} if st else {}

    def is_running(self) -> bool:
        s = self.status()
        return bool(s) and all(s.values())

    # ---- up ------------------------------------------------------------------------------
    def up(self, options: SandboxOptions | None = None) -> SandboxState:
        options = options or SandboxOptions()
        existing = self.state()
        if existing and self.is_running():
            _log(f"already running (state in {self.state_dir})")
            if options.with_manager and not any(p.name == "kruise-manager" for p in existing.processes):
                self._start_manager(existing, options)
                _log("kruise-manager started")
            return existing
        dead = [n for n, alive in self.status().items() if not alive]
        if existing and dead and set(dead) <= set(KRUISE_PROCESSES):
            # Only the manager or the daemon stopped (they run our own code, which changes often): new ones.
            processes.stop([p for p in existing.processes if p.name in KRUISE_PROCESSES])
            existing.processes = [p for p in existing.processes if p.name not in KRUISE_PROCESSES]
            self._start_manager(existing, options)
            _log("kruise-manager restarted")
            return existing
        if existing:
            _log(f"a previous sandbox is half-running ({', '.join(dead)} gone): cleaning it up first")
            self.down(quiet=True)

        binaries = {name: tools.find(name) for name in
                    ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")}
        if options.real_node:
            realnode.check_prerequisites()
            realnode.claim(self.state_dir, lambda owner: Sandbox(owner).is_running())
        if options.simulated_nodes_tainted is None:
            options.simulated_nodes_tainted = options.real_node
        if options.apiserver_port:
            _check_port_free(options.apiserver_port, "kube-apiserver")
        if options.etcd_port:
            _check_port_free(options.etcd_port, "etcd")
        if not 0 <= options.simulated_nodes <= 100:
            raise SandboxError(f"--nodes must be between 0 and 100, got {options.simulated_nodes}")

        state = SandboxState(state_dir=self.state_dir, options=options.__dict__.copy())
        try:
            self._start(state, options, binaries)
        except BaseException:
            _log("start-up failed: stopping what was started")
            self._stop(state)
            raise
        return state

    def _start(self, state: SandboxState, options: SandboxOptions, binaries: dict[str, str]) -> None:
        t0 = time.monotonic()
        d = self.state_dir
        logs = d / "logs"
        shutil.rmtree(d / "pki", ignore_errors=True)
        ports = {
            "etcd": options.etcd_port or free_port(),
            "etcd-peer": free_port(),
            "kube-apiserver": options.apiserver_port or free_port(),
        }
        state.ports = ports
        # etcd's fsyncs dominate write latency on a disk; the sandbox is disposable, so keep it in memory.
        shm = Path("/dev/shm")
        digest = hashlib.sha256(str(d).encode()).hexdigest()[:12]
        data_dir = (shm if shm.is_dir() and os.access(shm, os.W_OK) else d) / f"ack-kruise-etcd-{digest}"
        shutil.rmtree(data_dir, ignore_errors=True)
        state.etcd_data_dir = str(data_dir)
        state.save()

        def started(record: ProcessRecord) -> None:
            state.processes.append(record)
            state.save()

        etcd_url = f"http://127.0.0.1:{ports['etcd']}"
        peer_url = f"http://127.0.0.1:{ports['etcd-peer']}"
        started(processes.start("etcd", [
            binaries["etcd"], "--name", "sandbox", "--data-dir", str(data_dir),
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", f"sandbox={peer_url}", "--log-level", "warn",
        ], logs / "etcd.log"))

        sa_key, sa_pub = pki.write_service_account_keys(d / "pki")
        token_file, token = pki.write_admin_token(d / "pki")
        advertise = realnode.NODE_IP if options.real_node else "127.0.0.1"
        ca_cert, serving_cert, serving_key = pki.write_serving_certificate(
            d / "pki", ips=sorted({"127.0.0.1", advertise, "10.0.0.1"}),
            dns_names=["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                       "kubernetes.default.svc.cluster.local"])
        api_port = ports["kube-apiserver"]
        state.apiserver_url = f"https://127.0.0.1:{api_port}"
        node_paths = realnode.NodePaths(d / "node")
        if options.real_node:
            # Pods reach the API server through Service `kubernetes`, whose endpoint is the advertised
            # address: the node's own, since a loopback address cannot be an endpoint.
            state.host_network = realnode.setup_host_network(node_paths)
            state.save()
            api_addresses = ["--bind-address", "0.0.0.0", "--advertise-address", realnode.NODE_IP]
        else:
            api_addresses = ["--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
                             "--endpoint-reconciler-type", "none"]
        _wait_http(f"{etcd_url}/health", "etcd", 15, self._proc(state, "etcd"))
        started(processes.start("kube-apiserver", [
            binaries["kube-apiserver"],
            "--etcd-servers", etcd_url,
            *api_addresses,
            "--secure-port", str(api_port),
            "--tls-cert-file", str(serving_cert), "--tls-private-key-file", str(serving_key),
            "--token-auth-file", str(token_file), "--authorization-mode", "RBAC",
            "--service-cluster-ip-range", SERVICE_CLUSTER_IP_RANGE,
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file", str(sa_pub),
            "--service-account-signing-key-file", str(sa_key),
            "--allow-privileged=true",
            # Logs and exec reach the kubelet by address: nothing resolves node names here.
            "--kubelet-preferred-address-types", "InternalIP,Hostname",
            *options.apiserver_args,
        ], logs / "kube-apiserver.log"))
        kubeconfig = d / "kubeconfig"
        _write_kubeconfig(kubeconfig, state.apiserver_url, ca_cert, token)
        state.kubeconfig = str(kubeconfig)
        state.save()
        deadline = time.monotonic() + options.ready_timeout
        if options.real_node:
            # The kubelet spends seconds initialising (cAdvisor) before it first calls the API server and
            # retries until it answers: start it now, while the API server starts too.
            realnode.start(node_paths, str(kubeconfig), free_port, started,
                           lambda check, what: _wait_for(check, what, deadline, state),
                           kubelet_api_qps=options.kubelet_api_qps)
        _wait_http(f"{state.apiserver_url}/readyz", "kube-apiserver", options.ready_timeout,
                   self._proc(state, "kube-apiserver"), token=token)
        _wait_http(f"{state.apiserver_url}/api/v1/namespaces/default", "namespace default",
                   options.ready_timeout, self._proc(state, "kube-apiserver"), token=token)

        started(processes.start("kube-controller-manager", [
            binaries["kube-controller-manager"], "--kubeconfig", str(kubeconfig),
            "--leader-elect=false", "--secure-port", "0", "--port", "0",
            # No CSR signing, no node IPAM and no node lifecycle: nodes here are the sandbox's own.
            "--controllers", "*,-csrsigning,-nodeipam,-nodelifecycle",
            "--service-account-private-key-file", str(sa_key),
            "--root-ca-file", str(ca_cert),
            "--kube-api-qps", str(options.kcm_qps), "--kube-api-burst", str(options.kcm_burst),
        ], logs / "kube-controller-manager.log"))
        started(processes.start("kube-scheduler", [
            binaries["kube-scheduler"], "--kubeconfig", str(kubeconfig),
            "--leader-elect=false", "--port", "0", "--secure-port", "0",
        ], logs / "kube-scheduler.log"))
        if options.simulated_nodes:
            argv = [sys.executable, "-m", "sandbox.nodesim", "--kubeconfig", str(kubeconfig),
                    "--nodes", str(options.simulated_nodes)]
            if options.simulated_nodes_tainted:
                argv.append("--tainted")
            started(processes.start("nodesim", argv, logs / "nodesim.log", cwd=tools.REPO_ROOT))

        if options.real_node:
            _wait_for(lambda: _untaint_when_ready(state.apiserver_url, token, realnode.NODE_NAME),
                      f"node {realnode.NODE_NAME} Ready", deadline, state)
        want = options.simulated_nodes + (1 if options.real_node else 0)
        _wait_for(lambda: _ready_nodes(state.apiserver_url, token) >= want, f"{want} Ready nodes", deadline, state)
        # Pods in a namespace are refused until its `default` ServiceAccount exists (KCM creates it).
        _wait_for(lambda: _get(f"{state.apiserver_url}/api/v1/namespaces/default/serviceaccounts/default", token),
                  "the default ServiceAccount", deadline, state)
        if options.with_manager:
            self._start_manager(state, options)
        _log(f"ready in {time.monotonic() - t0:.1f}s: API server {state.apiserver_url}, "
             + (f"real node {realnode.NODE_NAME}, " if options.real_node else "")
             + f"{options.simulated_nodes} simulated nodes"
             + (" (tainted)" if options.simulated_nodes_tainted and options.simulated_nodes else "")
             + (", kruise-manager" if options.with_manager else "")
             + f"; logs in {logs}")

    def kill_manager(self) -> None:
        """SIGKILL kruise-manager: no clean shutdown, as a crashed pod (the fault tests); `restart_manager` next."""
        import signal
        killed = [p for p in self.state().processes if p.name == "kruise-manager" and p.alive()]
        for record in killed:
            os.kill(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(p.alive() for p in killed) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart_manager(self, manager_args: tuple[str, ...] | None = None,
                        chart_values: tuple[str, ...] | None = None) -> None:
        """A new kruise-manager process (after changing its code); the rest of the sandbox stays.
        `manager_args` replace the sandbox's own manager arguments for this process only (e.g. feature gates
        for a test), and `chart_values` the values the webhook configurations are rendered with; the next
        restart without them goes back to the sandbox's."""
        state = self.state()
        dead = {n for n, a in self.status().items() if not a}
        if state is None or not self.is_running() and not dead <= set(KRUISE_PROCESSES):
            raise SandboxError("the sandbox is not running; start it with `ack-kruise sandbox up --with-manager`")
        old = [p for p in state.processes if p.name in KRUISE_PROCESSES]
        processes.stop(old)
        state.processes = [p for p in state.processes if p.name not in KRUISE_PROCESSES]
        options = _recorded_options(state)
        if manager_args is not None:
            options.manager_args = tuple(manager_args)
        if chart_values is not None:
            options.chart_values = tuple(chart_values)
        self._start_manager(state, options)
        _log("kruise-manager restarted")

    def start_manager(self) -> None:
        """kruise-manager (the apps.kruise.io API installed first) in this running sandbox, unless one already
        runs: what `up --with-manager` adds to a sandbox started without it (the e2e session's `kruise`)."""
        state = self.state()
        if state is None:
            raise SandboxError("the sandbox is not running; start it with `ack-kruise sandbox up`")
        if any(p.name == "kruise-manager" and p.alive() for p in state.processes):
            return
        processes.stop([p for p in state.processes if p.name in KRUISE_PROCESSES])
        state.processes = [p for p in state.processes if p.name not in KRUISE_PROCESSES]
        self._start_manager(state, _recorded_options(state))

    def _start_manager(self, state: SandboxState, options: SandboxOptions) -> None:
        from . import kruise
        kruise.install_api(state.kubeconfig, tuple(options.chart_values))
        webhook, health, metrics = free_port(), free_port(), free_port()
        state.ports.update({"kruise-manager-webhook": webhook, "kruise-manager-health": health,
                            "kruise-manager-metrics": metrics})
        record = processes.start("kruise-manager", kruise.manager_argv(
            state.kubeconfig, webhook, health, metrics, *options.manager_args),
            self.state_dir / "logs" / "kruise-manager.log", cwd=tools.REPO_ROOT)
        state.processes.append(record)
        state.save()
        kruise.wait_ready(health, record)
        if any(p.name == "kubelet" for p in state.processes):
            self._start_daemon(state)

    def _start_daemon(self, state: SandboxState) -> None:
        """kruise-daemon for the real node (`ack-kruise daemon`), talking CRI to its containerd."""
        from . import kruise
        health = free_port()
        state.ports["kruise-daemon-health"] = health
        socket_path = realnode.NodePaths(self.state_dir / "node").containerd_socket
        record = processes.start("kruise-daemon", kruise.daemon_argv(
            state.kubeconfig, realnode.NODE_NAME, str(socket_path), health),
            self.state_dir / "logs" / "kruise-daemon.log", cwd=tools.REPO_ROOT)
        state.processes.append(record)
        state.save()
        kruise.wait_ready(health, record, path="/healthz")

    # ---- faults, for tests ------------------------------------------------------------------
    def stop_component(self, name: str) -> None:
        """Stop one recorded process (e.g. containerd in the middle of an operation); its record stays, so
        `status` shows it down and `down` still cleans up. `start_component` brings it back."""
        state = self.state()
        if state is None:
            raise SandboxError("the sandbox is not running")
        processes.stop([self._proc(state, name)])

    def start_component(self, name: str) -> None:
        """Start a stopped component again with its recorded command line and log."""
        state = self.state()
        if state is None:
            raise SandboxError("the sandbox is not running")
        old = self._proc(state, name)
        if old.alive():
            return
        record = processes.start(name, old.argv, Path(old.log))
        state.processes = [record if p is old else p for p in state.processes]
        state.save()

    def restart_component(self, name: str, timeout: float = 60) -> None:
        """Stop one control-plane component (SIGTERM, as a restart would) and start it again with its recorded
        command line, then wait until it serves again: etcd's /health, kube-apiserver's /readyz. The chaos
        suite's API server and etcd restarts; etcd's data (in the recorded data folder) survives."""
        self.stop_component(name)
        self.start_component(name)
        state = self.state()
        health = {"etcd": (f"http://127.0.0.1:{state.ports['etcd']}/health", None),
                  "kube-apiserver": (f"{state.apiserver_url}/readyz", self._admin_token())}
        if name in health:
            url, token = health[name]
            _wait_http(url, name, timeout, self._proc(state, name), token=token)

    def expire_watches(self) -> int:
        """Watch expiry (the chaos suite's): etcd's history compacted past every revision kube-apiserver has
        seen, then etcd restarted. The API server's own watches resume from compacted revisions and are refused,
        so each watch cache lists again and drops its clients' watches; a client that resumes from where it was
        gets 410 Gone and must list again. kube-apiserver is paused (SIGSTOP) from just before the compaction
        until etcd is back, so that no write of its own lands after the compacted revision (a resource whose
        latest write is that revision would resume without expiring). Returns the revision compacted to."""
        import signal
        api = self._proc(self.state(), "kube-apiserver")
        os.kill(api.pid, signal.SIGSTOP)
        try:
            revision = self.compact_etcd()
            self.restart_component("etcd")
        finally:
            os.kill(api.pid, signal.SIGCONT)
        return revision

    def compact_etcd(self) -> int:
        """Compact etcd's history (what kube-apiserver's compactor does every 5 minutes for what is older than
        5 minutes) up to a revision past every other writer's latest: two marker writes outside /registry that
        land one after the other, so that no watcher's last revision is the compacted one. Returns it."""
        base = f"http://127.0.0.1:{self.state().ports['etcd']}/v3/kv"
        marker = {"key": base64.b64encode(b"/ack-kruise-sandbox/compaction-mark").decode(), "value": ""}
        previous = -1
        for _ in range(100):
            revision = int(_post_json(f"{base}/put", marker)["header"]["revision"])
            if revision == previous + 1:
                _post_json(f"{base}/compaction", {"revision": revision, "physical": True})
                return revision
            previous = revision
        raise SandboxError("etcd kept being written between two writes of ours: nothing compacted")

    def _admin_token(self) -> str:
        return (self.state_dir / "pki" / "tokens.csv").read_text().split(",", 1)[0]

    @staticmethod
    def _proc(state: SandboxState, name: str) -> ProcessRecord:
        return next(p for p in state.processes if p.name == name)

    # ---- down ----------------------------------------------------------------------------
    def down(self, quiet: bool = False) -> list[str]:
        """Stops every recorded process and undoes the real node's host changes; returns the names of
        processes that had to be killed."""
        state = self.state()
        if state is None:
            if not quiet:
                _log(f"not running (no state in {self.state_dir})")
            return []
        killed = self._stop(state)
        if not quiet:
            _log("stopped" + (f" (had to kill {', '.join(killed)})" if killed else ""))
        return killed

    def _stop(self, state: SandboxState) -> list[str]:
        by_name = {p.name: p for p in state.processes}
        node_paths = realnode.NodePaths(self.state_dir / "node")
        killed: list[str] = []

        def stop(*names: str) -> None:
            killed.extend(processes.stop([by_name[n] for n in names if n in by_name]))

        stop("kruise-daemon", "kruise-manager", "nodesim", "kube-scheduler", "kube-controller-manager")
        if "kubelet" in by_name:
            self._delete_real_node_pods(state, by_name["kubelet"])
        stop("kube-proxy", "kubelet")
        realnode.stop_containers(node_paths)
        stop("containerd")
        killed.extend(processes.stop(realnode.shims_of(node_paths)))
        stop("docker-registry")
        # The control plane, newest first and one at a time: a kube-apiserver whose etcd stops under it keeps
        # retrying etcd instead of exiting, and would have to be killed after the timeout.
        for record in reversed(state.processes):
            killed.extend(processes.stop([record]))
        if state.host_network:
            realnode.unmount_below(node_paths.base)
            realnode.teardown_host_network(state.host_network, _find_or_none("kube-proxy"),
                                           node_paths.base / "kube-proxy.json")
        realnode.release(self.state_dir)
        self._remove_runtime_files(state)
        return killed

    @staticmethod
    def _delete_real_node_pods(state: SandboxState, kubelet: ProcessRecord, timeout: float = 30) -> None:
        """Let the kubelet stop the real containers and tear down pod networking properly."""
        api = next((p for p in state.processes if p.name == "kube-apiserver"), None)
        token_file = state.state_dir / "pki" / "tokens.csv"
        if not (api and api.alive() and kubelet.alive() and token_file.exists()):
            return
        token = token_file.read_text().split(",", 1)[0]
        selector = f"spec.nodeName={realnode.NODE_NAME}"
        pods = (_get(f"{state.apiserver_url}/api/v1/pods?fieldSelector={selector}", token) or {}).get("items", [])
        for pod in pods:
            meta = pod["metadata"]
            _request("DELETE", f"{state.apiserver_url}/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                     token, {"gracePeriodSeconds": 0})
        deadline = time.monotonic() + timeout
        node_paths = realnode.NodePaths(state.state_dir / "node")
        while pods and time.monotonic() < deadline:
            listing = realnode.ctr(node_paths, "tasks", "ls", check=False).stdout.splitlines()[1:]
            if not [line for line in listing if "RUNNING" in line]:
                break
            time.sleep(0.2)

    def _remove_runtime_files(self, state: SandboxState) -> None:
        if state.etcd_data_dir:
            shutil.rmtree(state.etcd_data_dir, ignore_errors=True)
        shutil.rmtree(self.state_dir / "node", ignore_errors=True)
        for name in ("state.json", "kubeconfig"):
            (self.state_dir / name).unlink(missing_ok=True)


def _find_or_none(name: str) -> str | None:
    try:
        return tools.find(name)
    except tools.MissingTool:
        return None


# ---- small HTTP helpers used before any client library is needed -------------------------------
_INSECURE = ssl.create_default_context()
_INSECURE.check_hostname = False
_INSECURE.verify_mode = ssl.CERT_NONE


def _get(url: str, token: str | None = None) -> dict | None:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5, context=_INSECURE if url.startswith("https") else None) as r:
            body = r.read()
            try:
                return json.loads(body)
            except json.JSONDecodeError:
                return {"body": body.decode(errors="replace")}
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


def _post_json(url: str, body: dict) -> dict:
    """POST to etcd's gRPC gateway (plain HTTP on loopback); errors are raised, not swallowed."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def _request(method: str, url: str, token: str, body: dict | None = None,
             content_type: str = "application/json") -> dict | None:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=10, context=_INSECURE) as r:
            return json.loads(r.read() or b"{}")
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


def _untaint_when_ready(api: str, token: str, node: str) -> bool:
    """The node lifecycle controller does not run here, so lift the not-ready taint once the kubelet
    reports Ready, as that controller would."""
    obj = _get(f"{api}/api/v1/nodes/{node}", token)
    if not obj or "status" not in obj:
        return False
    conds = {c["type"]: c["status"] for c in obj["status"].get("conditions", [])}
    if conds.get("Ready") != "True":
        return False
    taints = obj.get("spec", {}).get("taints") or []
    keep = [t for t in taints if t["key"] != "node.kubernetes.io/not-ready"]
    if keep != taints:
        _request("PATCH", f"{api}/api/v1/nodes/{node}", token, {"spec": {"taints": keep or None}},
                 "application/merge-patch+json")
        return False  # check again on the next poll
    return True


def _wait_http(url: str, what: str, timeout: float, proc: ProcessRecord, token: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _get(url, token) is not None:
            return
        if not proc.alive():
            raise processes.ProcessExited(proc.name, None, Path(proc.log))
        time.sleep(0.1)
    raise SandboxError(f"{what} was not ready after {timeout:.0f}s; see {proc.log}")


def _wait_for(check, what: str, deadline: float, state: SandboxState) -> None:
    while time.monotonic() < deadline:
        for p in state.processes:
            if not p.alive():
                raise processes.ProcessExited(p.name, None, Path(p.log))
        if check():
            return
        time.sleep(0.1)
    raise SandboxError(f"timed out waiting for {what}; logs are in {state.state_dir / 'logs'}")


def _ready_nodes(api: str, token: str) -> int:
    nodes = _get(f"{api}/api/v1/nodes", token) or {}
    count = 0
    for n in nodes.get("items", []):
        conds = {c["type"]: c["status"] for c in n.get("status", {}).get("conditions", [])}
        taints = {t["key"] for t in n.get("spec", {}).get("taints") or []}
        if conds.get("Ready") == "True" and "node.kubernetes.io/not-ready" not in taints:
            count += 1
    return count


def _write_kubeconfig(path: Path, server: str, ca: Path, token: str) -> None:
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "ack-kruise-sandbox",
        "clusters": [{"name": "ack-kruise-sandbox", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "ack-kruise-sandbox",
                      "context": {"cluster": "ack-kruise-sandbox", "user": "admin", "namespace": "default"}}],
    }
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
