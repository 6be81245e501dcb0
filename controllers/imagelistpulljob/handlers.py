"""The ImageListPullJob controller's declaration for the runtime: the list job and the ImagePullJobs it
controls. The decisions are in `reconcile.py` (pure)."""
from __future__ import annotations

from controllers.imagepulljob import api
from controllers.runtime.workload import WorkloadKind, owned

from .reconcile import reconcile

KIND = WorkloadKind("imagelistpulljob", api.LIST_JOBS, reconcile, watches=[owned(api.JOBS)])
