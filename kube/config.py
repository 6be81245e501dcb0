"""Where the API server is and how to authenticate: from a kubeconfig file or from in-cluster files.

Only what our own processes need is supported: a bearer token or a client certificate, a CA bundle or
insecure-skip-tls-verify. Exec plugins and auth providers are out of scope (the manager runs in-cluster
or against the sandbox's token-authenticated kubeconfig).
"""
from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

IN_CLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(Exception):
    """The kubeconfig cannot be used; the message says which part and why."""


@dataclass(frozen=True)
class ClusterConfig:
    server: str
    token: str | None = None
    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    insecure: bool = False
    namespace: str = "default"

    def ssl_context(self) -> ssl.SSLContext | bool:
        if not self.server.startswith("https"):
            return False
        if self.insecure:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context(cafile=self.ca_file)
        if self.client_cert_file:
            ctx.load_cert_chain(self.client_cert_file, self.client_key_file)
        return ctx


def _materialise(data_b64: str, suffix: str) -> str:
    """kubeconfigs may inline certificates as base64; ssl wants files."""
    fd, path = tempfile.mkstemp(prefix="ack-kruise-", suffix=suffix)
    with os.fdopen(fd, "wb") as f:
        f.write(base64.b64decode(data_b64))
    return path


def load_kubeconfig(path: str | os.PathLike[str], context: str | None = None) -> ClusterConfig:
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text())
    except OSError as e:
        raise ConfigError(f"kubeconfig {p}: cannot read it: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"kubeconfig {p}: not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"kubeconfig {p}: expected a mapping at the top level")

    def named(section: str, name: str) -> dict:
        for item in doc.get(section) or []:
            if item.get("name") == name:
                return item.get(section[:-1]) or {}
        raise ConfigError(f"kubeconfig {p}: {section} has no entry named {name!r}")

    ctx_name = context or doc.get("current-context")
    if not ctx_name:
        raise ConfigError(f"kubeconfig {p}: no current-context and no --context given")
    ctx = named("contexts", ctx_name)
    cluster = named("clusters", ctx.get("cluster", ""))
    user = named("users", ctx["user"]) if ctx.get("user") else {}
    server = cluster.get("server")
    if not server:
        raise ConfigError(f"kubeconfig {p}: clusters[{ctx.get('cluster')}].server is missing")

    base = p.parent

    def file_or_data(obj: dict, key: str, suffix: str) -> str | None:
        if obj.get(f"{key}-data"):
            return _materialise(obj[f"{key}-data"], suffix)
        if obj.get(key):
            return str((base / obj[key]).resolve())
        return None

    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = Path(base / user["tokenFile"]).read_text().strip()
    return ClusterConfig(
        server=server.rstrip("/"),
        token=token,
        ca_file=file_or_data(cluster, "certificate-authority", ".crt"),
        client_cert_file=file_or_data(user, "client-certificate", ".crt"),
        client_key_file=file_or_data(user, "client-key", ".key"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        namespace=ctx.get("namespace") or "default",
    )


def load_in_cluster() -> ClusterConfig:
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise ConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set")
    if ":" in host:
        host = f"[{host}]"
    return ClusterConfig(
        server=f"https://{host}:{port}",
        token=(IN_CLUSTER_DIR / "token").read_text().strip(),
        ca_file=str(IN_CLUSTER_DIR / "ca.crt"),
        namespace=(IN_CLUSTER_DIR / "namespace").read_text().strip(),
    )


def load(kubeconfig: str | None = None, context: str | None = None) -> ClusterConfig:
    """--kubeconfig, then $KUBECONFIG, then in-cluster."""
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        return load_kubeconfig(path.split(os.pathsep)[0], context)
    return load_in_cluster()
