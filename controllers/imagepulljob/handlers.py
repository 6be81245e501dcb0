"""The ImagePullJob controller's declaration for the runtime: the job, every NodeImage (a change wakes every
job), the pods of its namespace (podSelector), and the pull secrets of the cluster (the index keeps only
dockerconfigjson and dockercfg secrets). The decisions are in `reconcile.py` (pure)."""
from __future__ import annotations

from controllers.common.actions import PODS
from controllers.runtime.workload import WorkloadKind, cluster, named

from . import api
from .reconcile import reconcile, select_pods
from .secrets import is_pull_secret


def _secret_changed(old: dict | None, new: dict | None) -> bool:
    """A pull secret created, deleted, or its data changed (the copies follow it)."""
    if not is_pull_secret(new or old or {}):
        return False
    return old is None or new is None or old.get("data") != new.get("data")


KIND = WorkloadKind("imagepulljob", api.JOBS, reconcile,
                    watches=[cluster(api.NODE_IMAGES), named(PODS, select_pods),
                             cluster(api.SECRETS, relevant=_secret_changed, keep=is_pull_secret)])
