"""The CloneSet controller's declaration for the runtime: its resource, its pure reconcile (`reconcile.py`),
and what it watches. The indexes, queue, expectations and API writes are in `controllers/runtime`."""
from __future__ import annotations

from controllers.common.actions import PODS, PVCS, REVISIONS
from controllers.common.predownload import IMAGE_PULL_JOBS
from controllers.runtime.workload import WorkloadKind, owned

from .reconcile import reconcile

KIND = WorkloadKind("cloneset", "clonesets.apps.kruise.io", reconcile,
                    watches=[owned(PODS, claim=True), owned(PVCS), owned(REVISIONS),
                             owned(IMAGE_PULL_JOBS, gate="PreDownloadImageForInPlaceUpdate")])
