"""The ContainerRecreateRequest controller's declaration for the runtime: the request and the pod its
spec.podName names (any change to a pod of its namespace wakes it; the reconcile picks the one). The decisions
are in `reconcile.py` (pure)."""
from __future__ import annotations

from controllers.common.actions import PODS
from controllers.runtime.workload import WorkloadKind, named

from .reconcile import reconcile, select_pod

KIND = WorkloadKind("containerrecreaterequest", "containerrecreaterequests.apps.kruise.io", reconcile,
                    watches=[named(PODS, select_pod)])
