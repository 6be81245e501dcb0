"""The UnitedDeployment controller's declaration for the runtime. Decisions are in `reconcile.py` (pure); the
indexes, queue, expectations and API writes in `controllers/runtime`.

It watches the subset workloads of the four kinds it controls (a change to one wakes its UnitedDeployment, as
upstream's "enqueue the owner"), its ControllerRevisions, and, unlike upstream, the pods its selector matches:
the updated counts of its status and Adaptive's pending-pod detection read them, and upstream misses the
moment a pending pod times out when no workload status changes (B8.1).
"""
from __future__ import annotations

from controllers.common.actions import PODS, REVISIONS
from controllers.runtime.workload import WorkloadKind, owned, selected

from .adapters import WORKLOAD_RESOURCES
from .reconcile import reconcile

KIND = WorkloadKind("uniteddeployment", "uniteddeployments.apps.kruise.io", reconcile,
                    watches=[*(owned(resource) for resource in WORKLOAD_RESOURCES), owned(REVISIONS), selected(PODS)])
