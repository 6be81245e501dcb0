"""The manager's settings, one dataclass per concern (as kopf groups its own), filled from the command line
and the environment variables OpenKruise's manager reads (POD_NAMESPACE, WEBHOOK_PORT, ...)."""
from __future__ import annotations

import datetime
import os
import socket
import uuid
from dataclasses import dataclass, field


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
    host: str = ""
    """Address to listen on ('' = all)."""
    port: int = 9876
    service_name: str = "kruise-webhook-service"
    url_base: str | None = None
    """Outside a cluster: the API server calls https://<this><path> instead of the Service."""
    cert_mode: str = "self"
    cert_secret: str = "kruise-webhook-certs"
    cert_validity: datetime.timedelta = datetime.timedelta(days=365)
    cert_renew_before: datetime.timedelta = datetime.timedelta(days=30)
    cert_check_interval: float = 60.0
    """How often the Secret is checked for renewal or rotation by another replica."""
    mutating_configuration: str = "kruise-mutating-webhook-configuration"
    validating_configuration: str = "kruise-validating-webhook-configuration"


@dataclass
class ManagerSettings:
    namespace: str = field(default_factory=lambda: os.environ.get("POD_NAMESPACE", "kruise-system"))
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
