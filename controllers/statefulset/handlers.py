"""The Advanced StatefulSet controller's kopf wiring. Decisions are in `reconcile.py` (pure); the indexes,
queue, expectations and API writes in `controllers/runtime`.

It reads the storage version, v1beta1: through v1alpha1 the fields only v1beta1 has (reserveOrdinals,
lifecycle, ...) would be out of sight. PVCs are found by name (`<template>-<statefulset>-<ordinal>`), as the
native StatefulSet controller does, since they need not carry an ownerReference.
"""
from __future__ import annotations

import re
from datetime import datetime

import kopf

from controllers.common.actions import ActionFailure
from kube import KubeClient
from controllers.runtime.workload import WorkloadController, WorkloadKind
from controllers.settings import ManagerSettings

from .reconcile import is_member, reconcile


def _reconcile(statefulset: dict, owned: dict[str, list[dict]], now: datetime,
               last_failure: ActionFailure | None = None):
    return reconcile(statefulset, owned["pods"], owned["pvcs"], owned["revisions"], now, last_failure)


def own_claims(statefulset: dict, resource: str, pvcs: list[dict]) -> list[dict]:
    name = statefulset["metadata"]["name"]
    templates = [t.get("metadata", {}).get("name", "") for t in statefulset["spec"].get("volumeClaimTemplates") or []]
    if not templates:
        return []
    pattern = re.compile("^(" + "|".join(re.escape(f"{t}-{name}-") for t in templates) + r")[0-9]+$")
    return [c for c in pvcs if pattern.match(c["metadata"]["name"])]


KIND = WorkloadKind(name="statefulset", group="apps.kruise.io", version="v1beta1", plural="statefulsets",
                    kind="StatefulSet", reconcile=_reconcile, by_namespace=("pvcs",), select=own_claims,
                    member=is_member)


def register(registry: kopf.OperatorRegistry, client: KubeClient, settings: ManagerSettings) -> WorkloadController:
    controller = WorkloadController(KIND, client)
    controller.register(registry)
    return controller
