"""The Advanced DaemonSet controller's declaration for the runtime. Decisions are in `reconcile.py` (pure);
the indexes, queue, expectations and API writes in `controllers/runtime`.

It reads the storage version, v1beta1 (the resource table says so). Nodes are watched cluster-wide; an update
that only renews a node's heartbeat wakes no DaemonSet (upstream's shouldIgnoreNodeUpdate), a node deleted
does (its pending pods pinned there are deleted by manage).
"""
from __future__ import annotations

from controllers.common.actions import NODES, PODS, REVISIONS
from controllers.common.predownload import IMAGE_PULL_JOBS
from controllers.runtime.workload import WorkloadKind, cluster, owned

from .eligibility import node_change_matters
from .reconcile import reconcile

KIND = WorkloadKind("daemonset", "daemonsets.apps.kruise.io", reconcile,
                    watches=[owned(PODS, claim=True), owned(REVISIONS), cluster(NODES, relevant=node_change_matters),
                             owned(IMAGE_PULL_JOBS, gate="PreDownloadImageForDaemonSetUpdate")])
