"""Which revision of a matched SidecarSet a new pod gets (sidecarset.md §2.3, getSuitableRevisionSidecarSet).

`injectionStrategy.revision` pins a recorded revision (history.py). Policy Always injects it; Partial injects
it only into pods outside `updateStrategy.selector`, and otherwise with the probability of a percentage
`partition` (an int partition, such as the defaulted 0, means the latest). A paused update always injects the
pinned revision. The type doc's "except matching selector" for Always is not implemented upstream, nor here.
"""
from __future__ import annotations

import random
from typing import Callable, Iterable

from controllers.common.selectors import selector_matches

from .history import Hasher, history_sidecarset, upstream_hashes


class BadPartition(ValueError):
    pass


def _percentage(value: object) -> float:
    """util.ParsePercentageAsFloat64: "30%" (or "30") -> 0.3."""
    text = str(value)
    try:
        return float(text[:-1] if text.endswith("%") else text) / 100
    except ValueError:
        raise BadPartition(f"failed to parse percentage {text!r} of updateStrategy.partition") from None


def suitable_revision(sidecarset: dict, pod: dict, revisions: Iterable[dict], *,
                      rand: Callable[[], float] = random.random, hasher: Hasher | None = upstream_hashes) -> dict:
    """The SidecarSet to inject: the live one, or the pinned revision restored. Raises history.RevisionNotFound
    when the pinned revision does not exist (the pod is then denied)."""
    spec = sidecarset.get("spec") or {}
    pinned = (spec.get("injectionStrategy") or {}).get("revision")
    if not pinned or (pinned.get("revisionName") is None and pinned.get("customVersion") is None):
        return sidecarset
    history = history_sidecarset(sidecarset, pinned, revisions, hasher) or sidecarset
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("paused"):
        return history
    if pinned.get("policy") != "Partial":   # Always, the default
        return history
    if strategy.get("selector") is not None and \
            not selector_matches(strategy["selector"], (pod.get("metadata") or {}).get("labels") or {}):
        return history
    partition = strategy.get("partition")
    if partition is None or isinstance(partition, int):
        return sidecarset
    return history if rand() <= _percentage(partition) else sidecarset
