"""The CloneSet controller's kopf wiring: which events wake which reconcile. The decisions are all in
`reconcile.py` (pure); the indexes, queue, expectations and API writes in `controllers/runtime`."""
from __future__ import annotations

from datetime import datetime

import kopf

from controllers.common.actions import ActionFailure
from controllers.common.names import RandomNames
from controllers.kube import KubeClient
from controllers.runtime.workload import WorkloadController, WorkloadKind
from controllers.settings import ManagerSettings

from .reconcile import reconcile

NAMES = RandomNames()


def _reconcile(cloneset: dict, owned: dict[str, list[dict]], now: datetime, last_failure: ActionFailure | None):
    return reconcile(cloneset, owned["pods"], owned["pvcs"], owned["revisions"], now, NAMES, last_failure)


KIND = WorkloadKind(name="cloneset", group="apps.kruise.io", version="v1alpha1", plural="clonesets",
                    kind="CloneSet", reconcile=_reconcile)


def register(registry: kopf.OperatorRegistry, client: KubeClient, settings: ManagerSettings) -> WorkloadController:
    controller = WorkloadController(KIND, client)
    controller.register(registry)
    return controller
