"""ack-kruise in the sandbox without an image: the generated CRDs and webhook configurations are installed,
and `ack-kruise manager` runs as a host process that the API server calls through a URL.

`ack-kruise sandbox up --with-manager` does this (and `down` stops the manager with everything else); the
tests and the demo use the same code. The in-cluster way, with the chart and the manager image, is the chart's.
"""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from . import processes, tools
from .processes import ProcessRecord

NAMESPACE = "kruise-system"
CRD_NAMES = ("clonesets", "statefulsets", "daemonsets", "sidecarsets", "uniteddeployments", "containerrecreaterequests",
             "imagepulljobs", "imagelistpulljobs", "nodeimages")
DAEMON_CONFIG_NAMESPACE = "kruise-daemon-config"  # the chart's: where the manager copies image pull secrets


def _kubectl(kubeconfig: str, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([tools.find("kubectl"), "--kubeconfig", kubeconfig, *args], input=input,
                          capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def _create_or_replace(kubeconfig: str, source: str, input: str | None = None) -> None:
    # Not `apply`: outside a cluster the manager swaps the service references for URLs, and a 3-way merge
    # would then send both (which the API server refuses). Replace resets them; the manager re-injects.
    _kubectl(kubeconfig, "replace", "-f", source, input=input, check=False)
    created = _kubectl(kubeconfig, "create", "-f", source, input=input, check=False)
    if created.returncode != 0 and "AlreadyExists" not in created.stderr:
        raise RuntimeError(f"installing {source}: {created.stderr.strip()}")


def install_api(kubeconfig: str, values: tuple[str, ...] = ()) -> None:
    """The generated CRDs (v1 profile) and webhook configurations, as the chart installs them on 1.20 (with
    `values`, `helm --set` expressions such as `featureGates.ResourcesDeletionProtection=true`, as it renders them
    then). A running manager must be restarted afterwards: the replaced configurations lose the URLs and CA
    bundle it injects."""
    _kubectl(kubeconfig, "create", "namespace", NAMESPACE, check=False)
    _kubectl(kubeconfig, "create", "namespace", DAEMON_CONFIG_NAMESPACE, check=False)
    _create_or_replace(kubeconfig, str(tools.REPO_ROOT / "crds" / "v1"))
    for crd in CRD_NAMES:
        _kubectl(kubeconfig, "wait", "--for=condition=Established", f"crd/{crd}.apps.kruise.io", "--timeout=60s")
    rendered = subprocess.run([tools.find("helm"), "template", "ack-kruise", str(tools.REPO_ROOT / "charts" / "ack-kruise"),
                               "--kube-version", "1.20.2", "--namespace", NAMESPACE,
                               "--show-only", "templates/generated/webhooks/v1.yaml",
                               *(arg for value in values for arg in ("--set", value))],
                              capture_output=True, text=True, check=True).stdout
    _create_or_replace(kubeconfig, "-", input=rendered)


def manager_argv(kubeconfig: str, webhook_port: int, health_port: int, metrics_port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ack_kruise", "manager", "--kubeconfig", kubeconfig, "--namespace", NAMESPACE,
            "--webhook-host", "127.0.0.1", "--webhook-port", str(webhook_port),
            "--webhook-url-base", f"https://127.0.0.1:{webhook_port}",
            "--health-probe-addr", f"127.0.0.1:{health_port}", "--metrics-addr", f"127.0.0.1:{metrics_port}",
            # Notice a deleted or rewritten certificate Secret within seconds (the default is a minute).
            "--cert-check-interval", "2", *extra]


def daemon_argv(kubeconfig: str, node_name: str, cri_socket: str, health_port: int) -> list[str]:
    """kruise-daemon for the real node, on the host as the manager: the node's containerd listens on a socket
    of its own, so it is named (--cri-socket) instead of found under /var/run."""
    return [sys.executable, "-m", "ack_kruise", "daemon", "--kubeconfig", kubeconfig, "--node-name", node_name,
            "--cri-socket", cri_socket, "--addr", f"127.0.0.1:{health_port}"]


def wait_ready(health_port: int, record: ProcessRecord, timeout: float = 60, path: str = "/readyz") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not record.alive():
            raise processes.ProcessExited(record.name, None, Path(record.log))
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{health_port}{path}", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{record.name} was not ready after {timeout:.0f}s; see {record.log}")
