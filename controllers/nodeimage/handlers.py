"""The NodeImage controller's declaration for the runtime: the workload is the Node (so a node without a
NodeImage gets one), its NodeImage (controlled by it), and the ImagePullJobs (their creation and deletion only:
tag owners that are gone). The decisions are in `reconcile.py` (pure)."""
from __future__ import annotations

from controllers.common.actions import NODES
from controllers.imagepulljob import api
from controllers.runtime.workload import WorkloadKind, cluster, owned

from .reconcile import reconcile


def _created_or_deleted(old: dict | None, new: dict | None) -> bool:
    return old is None or new is None


KIND = WorkloadKind("nodeimage", NODES, reconcile,
                    watches=[owned(api.NODE_IMAGES), cluster(api.JOBS, relevant=_created_or_deleted)])
