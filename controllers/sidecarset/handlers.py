"""The SidecarSet controller's declaration for the runtime. Decisions are in `reconcile.py` (pure); the
indexes, queue, expectations and API writes in `controllers/runtime`.

It reads the storage version, v1beta1 (the resource table says so). SidecarSet is cluster-scoped: its pods are
those its selector matches in every namespace (`selected`), of which the index keeps only injected ones (with
`kruise.io/sidecarset-injected-list`: no other pod can ever be matched); Namespaces for namespaceSelector,
where only a change of labels (or a namespace coming or going) wakes the SidecarSets; its revisions are those
it controls, in the install namespace.
"""
from __future__ import annotations

from controllers.common.actions import PODS, REVISIONS
from controllers.common.objects import annotations_of, labels_of
from controllers.runtime.workload import WorkloadKind, cluster, owned, selected

from .annotations import INJECTED_LIST
from .reconcile import NAMESPACES, reconcile


def is_injected(pod: dict) -> bool:
    return bool(annotations_of(pod).get(INJECTED_LIST))


def namespace_labels_changed(old: dict | None, new: dict | None) -> bool:
    return old is None or new is None or labels_of(old) != labels_of(new)


KIND = WorkloadKind("sidecarset", "sidecarsets.apps.kruise.io", reconcile,
                    watches=[selected(PODS, keep=is_injected), owned(REVISIONS),
                             cluster(NAMESPACES, relevant=namespace_labels_changed)])
