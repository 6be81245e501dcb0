"""Which SidecarSets inject into a pod at creation (sidecarset.md §2.2).

Matching always uses the live SidecarSet (the revision to inject is chosen afterwards, revision.py). The
candidates are every SidecarSet of the cache: upstream's field index on the namespace is only a prefilter, and
its list order is not deterministic, so here the order is by name (stable across replicas and retries).
"""
from __future__ import annotations

from typing import Iterable, Mapping

from controllers.common.selectors import selector_matches


def is_active_pod(pod: dict) -> bool:
    """Not terminal and not being deleted (sidecarcontrol.IsActivePod)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not (pod.get("metadata") or {}).get("deletionTimestamp")


def selects_pod(sidecarset: dict, pod: dict, namespace_labels: Mapping[str, str] | None) -> bool:
    """PodMatchedSidecarSet: the namespaceSelector against the Namespace's labels (an unknown namespace does not
    match, as a failed Get upstream), then the pod selector, which must be non-empty."""
    spec = sidecarset.get("spec") or {}
    namespace_selector = spec.get("namespaceSelector")
    if namespace_selector is not None:
        if namespace_labels is None or not selector_matches(namespace_selector, namespace_labels):
            return False
    selector = spec.get("selector")
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return False
    return selector_matches(selector, (pod.get("metadata") or {}).get("labels") or {})


def matching_sidecarsets(pod: dict, namespace: str, sidecarsets: Iterable[dict],
                         namespace_labels: Mapping[str, str] | None) -> list[dict]:
    """The SidecarSets that inject into `pod` (in namespace `namespace`), by name; paused injection excluded."""
    matched = []
    for sidecarset in sorted(sidecarsets, key=lambda s: s["metadata"]["name"]):
        if ((sidecarset.get("spec") or {}).get("injectionStrategy") or {}).get("paused"):
            continue
        if selects_pod(sidecarset, {**pod, "metadata": {**(pod.get("metadata") or {}), "namespace": namespace}},
                       namespace_labels):
            matched.append(sidecarset)
    return matched
