"""The manager's settings, one dataclass per concern (as kopf groups its own), filled from the command line
and the environment variables OpenKruise's manager reads (POD_NAMESPACE, WEBHOOK_PORT, ...).

The defaults are written here once: `ack-kruise manager`'s flags take theirs from `ManagerSettings()`
(controllers/manager.py). The names of the chart's webhook configurations come from the runtime schema, which
the generator writes from policies/webhooks.yaml.
"""
from __future__ import annotations

import datetime
import os
import socket
import uuid
from dataclasses import dataclass, field

from controllers import schema

# The environment variables OpenKruise's manager reads, with the value used when one is unset.
ENVIRONMENT = {
    "POD_NAMESPACE": "kruise-system",
    "WEBHOOK_BIND_HOST": "",
    "WEBHOOK_PORT": "9876",
    "SERVICE_NAME": "kruise-webhook-service",
    "SECRET_NAME": "kruise-webhook-certs",
}


def from_environment(name: str) -> str:
    return os.environ.get(name, ENVIRONMENT[name])


def _webhook_configuration(which: str) -> str:
    return schema.chart_objects()["webhookConfigurations"][which]


@dataclass
class ApiSettings:
    kubeconfig: str | None = None
    """--kubeconfig; otherwise $KUBECONFIG, otherwise the in-cluster service account."""
    qps: float = 30
    """Client-side rate limit, as OpenKruise's --rest-config-qps."""
    burst: int = 50


@dataclass
class LeaderSettings:
    enabled: bool = True
    lease_name: str = "kruise-manager"
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}")
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


@dataclass
class WebhookSettings:
    host: str = field(default_factory=lambda: from_environment("WEBHOOK_BIND_HOST"))
    """Address to listen on ('' = all)."""
    port: int = field(default_factory=lambda: int(from_environment("WEBHOOK_PORT")))
    service_name: str = field(default_factory=lambda: from_environment("SERVICE_NAME"))
    url_base: str | None = None
    """Outside a cluster: the API server calls https://<this><path> instead of the Service."""
    cert_mode: str = "self"
    cert_secret: str = field(default_factory=lambda: from_environment("SECRET_NAME"))
    cert_validity: datetime.timedelta = datetime.timedelta(days=365)
    cert_renew_before: datetime.timedelta = datetime.timedelta(days=30)
    cert_check_interval: float = 60.0
    """How often the Secret is checked for renewal or rotation by another replica."""
    sidecarset_injection: bool = True
    """The pod webhook injects SidecarSets (the chart's webhook.podWebhook.sidecarSetInjection, which also makes
    the API server send it every pod); false: only the readiness gate."""
    mutating_configuration: str = field(default_factory=lambda: _webhook_configuration("mutating"))
    validating_configuration: str = field(default_factory=lambda: _webhook_configuration("validating"))


@dataclass
class ManagerSettings:
    namespace: str = field(default_factory=lambda: from_environment("POD_NAMESPACE"))
    """Where the manager's Lease and certificate Secret live (the release namespace)."""
    api: ApiSettings = field(default_factory=ApiSettings)
    leader: LeaderSettings = field(default_factory=LeaderSettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    health_addr: str = ":8000"
    metrics_addr: str = ":8080"
    feature_gates: dict[str, bool] = field(default_factory=dict)
    controllers: tuple[str, ...] = ()
    """Controllers to run; empty = every controller that is available."""
    log_level: str = "info"
