"""The Advanced StatefulSet controller's declaration for the runtime. Decisions are in `reconcile.py` (pure);
the indexes, queue, expectations and API writes in `controllers/runtime`.

It reads the storage version, v1beta1 (the resource table says so): through v1alpha1 the fields only v1beta1
has (reserveOrdinals, lifecycle, ...) would be out of sight. PVCs are found by name
(`<template>-<statefulset>-<ordinal>`), as the native StatefulSet controller does, since they need not carry
an ownerReference.
"""
from __future__ import annotations

from controllers.common.actions import PODS, PVCS, REVISIONS
from controllers.common.predownload import IMAGE_PULL_JOBS
from controllers.runtime.workload import WorkloadKind, named, owned

from .claims import own_claims
from .reconcile import is_member, reconcile

KIND = WorkloadKind("statefulset", "statefulsets.apps.kruise.io", reconcile,
                    watches=[owned(PODS, claim=True, member=is_member), named(PVCS, own_claims), owned(REVISIONS),
                             owned(IMAGE_PULL_JOBS, gate="PreDownloadImageForInPlaceUpdate")])
