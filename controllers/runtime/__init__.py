"""Runs the controllers on kopf: logs kopf in with the manager's own credentials, wires each controller
module's `KIND` (a `workload.WorkloadKind`) into kopf, and runs kopf standalone (the manager's Lease decides
who acts)."""
from __future__ import annotations

import asyncio
import importlib
import logging
from typing import Any

import kopf

from kube import KubeClient
from controllers.settings import ManagerSettings

from .workload import WorkloadController

log = logging.getLogger(__name__)


class NoDiffBase(kopf.DiffBaseStorage):
    """kopf's diff base, for change handlers (on.create/update/resume) to see what changed: the runtime registers
    none, only index and event handlers, which never read it. kopf still builds it for every watch event, a deep
    copy of the whole object then a diff (about 0.2-0.7 ms per pod event, a third of kopf's cost per event):
    an empty essence makes both free."""

    def build(self, *, body: Any, extra_fields: Any = None) -> Any:
        return {}

    def fetch(self, *, body: Any) -> Any:
        return None

    def store(self, *, body: Any, patch: Any, essence: Any) -> None:
        return None


def kopf_settings(settings: ManagerSettings) -> kopf.OperatorSettings:
    s = kopf.OperatorSettings()
    s.persistence.diffbase_storage = NoDiffBase()
    s.posting.enabled = False  # workload Events are posted by our recorder, rate-limited per object
    s.watching.server_timeout = 300  # re-open watches every 5 min even on 1.13/1.14 (no bookmarks there)
    s.watching.client_timeout = 330
    s.networking.request_timeout = 60
    return s


async def run_kopf(client: KubeClient, settings: ManagerSettings, modules: list[str], stop: asyncio.Event) -> None:
    registry = kopf.OperatorRegistry()
    config = client.config

    @kopf.on.login(registry=registry)
    def login(**_: object) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(
            server=config.server, ca_path=config.ca_file, insecure=config.insecure, token=config.token,
            certificate_path=config.client_cert_file, private_key_path=config.client_key_file,
            default_namespace=config.namespace)

    for name in modules:
        WorkloadController(importlib.import_module(name).KIND, client, settings).register(registry)
    if settings.log_level != "debug":
        logging.getLogger("kopf").setLevel(logging.WARNING)
    log.info("starting controllers: %s", ", ".join(m.split(".")[-2] for m in modules))
    await kopf.operator(registry=registry, settings=kopf_settings(settings), clusterwide=True,
                        standalone=True, stop_flag=stop)
