"""The CloneSet controller's kopf wiring: which events wake which reconcile. The decisions are all in
`reconcile.py` (pure); the indexes, queue, expectations and API writes in `controllers/runtime`."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Mapping

import kopf

from controllers import schema
from controllers.common.actions import ActionFailure
from controllers.common.names import RandomNames
from kube import KubeClient
from controllers.runtime.workload import WorkloadController, WorkloadKind
from controllers.settings import ManagerSettings

from .reconcile import reconcile

NAMES = RandomNames()


def _reconcile(cloneset: dict, owned: dict[str, list[dict]], now: datetime, last_failure: ActionFailure | None,
               gates: Mapping[str, bool] | None = None):
    return reconcile(cloneset, owned["pods"], owned["pvcs"], owned["revisions"], now, NAMES, last_failure, gates)


KIND = WorkloadKind(name="cloneset", group="apps.kruise.io", version="v1alpha1", plural="clonesets",
                    kind="CloneSet", reconcile=_reconcile)


def register(registry: kopf.OperatorRegistry, client: KubeClient, settings: ManagerSettings) -> WorkloadController:
    # The gates are fixed for the manager's life (--feature-gates): resolve them against the defaults once.
    gates = schema.feature_gates(settings.feature_gates)

    def reconcile_with_gates(cloneset: dict, owned: dict[str, list[dict]], now: datetime,
                             last_failure: ActionFailure | None):
        return _reconcile(cloneset, owned, now, last_failure, gates)

    controller = WorkloadController(dataclasses.replace(KIND, reconcile=reconcile_with_gates), client)
    controller.register(registry)
    return controller
