"""A SidecarSet as one of its ControllerRevisions recorded it (sidecarset.md §4.5), for injection of a pinned
revision (§2.3) and for the validation of `injectionStrategy.revision`.

The revisions are those of the install namespace (§4.1, written by revisions.py): `data` is
`{"spec": {"$patch": "replace", "containers", "initContainers", "volumes", "imagePullSecrets",
"patchPodMetadata"}}`, labels `kruise.io/sidecarset-name` and, with a custom version,
`apps.kruise.io/sidecarset-custom-version`.
"""
from __future__ import annotations

import copy
import json
from typing import Callable, Iterable

from .annotations import (HASH, HASH_WITHOUT_IMAGE, REVISION_CUSTOM_VERSION_LABEL, REVISION_SIDECARSET_LABEL)
from .hashes import sidecarset_hash, sidecarset_hash_without_image

# (spec) -> (hash, hash without image), for a revision that lacks the annotations.
Hasher = Callable[[dict], tuple[str, str]]


def upstream_hashes(spec: dict) -> tuple[str, str]:
    """SidecarSetHashV1beta1 and SidecarSetHashWithoutImageV1beta1 of a restored spec (hashes.py)."""
    return sidecarset_hash(spec), sidecarset_hash_without_image(spec)


class RevisionNotFound(LookupError):
    """The pinned revision does not exist: upstream answers NotFound, and the pod is denied."""


def _labels(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("labels") or {}


def find_revision(sidecarset: dict, pinned: dict, revisions: Iterable[dict]) -> dict | None:
    """getControllerRevision: by `revisionName` (any revision of that name in the install namespace), else the
    newest revision of this SidecarSet labelled with `customVersion` (no owner check, as upstream). None when
    `pinned` names neither."""
    name = sidecarset["metadata"]["name"]
    if pinned.get("revisionName") is not None:
        for revision in revisions:
            if revision["metadata"]["name"] == pinned["revisionName"]:
                return revision
        raise RevisionNotFound(f'controllerrevisions.apps "{pinned["revisionName"]}" not found')
    if pinned.get("customVersion") is not None:
        found = [r for r in revisions if _labels(r).get(REVISION_SIDECARSET_LABEL) == name
                 and _labels(r).get(REVISION_CUSTOM_VERSION_LABEL) == pinned["customVersion"]]
        if not found:
            raise RevisionNotFound(f'ControllerRevision.apps "{name}" not found (no revision of SidecarSet {name} '
                                   f'has custom version "{pinned["customVersion"]}")')
        return max(found, key=lambda r: (int(r.get("revision") or 0), r["metadata"]["name"]))
    return None


def _data(revision: dict) -> dict:
    data = revision.get("data")
    if isinstance(data, str):   # a RawExtension can come back as its bytes
        data = json.loads(data)
    return data if isinstance(data, dict) else {}


def restore(sidecarset: dict, revision: dict, hasher: Hasher | None = upstream_hashes) -> dict:
    """The SidecarSet with its spec replaced by the revision's (`$patch: replace`: the five recorded fields and
    nothing else; a recorded null is an absent field), the revision's hash annotations (recomputed when it has
    none) and `status.latestRevision` naming the revision."""
    restored = copy.deepcopy(sidecarset)
    recorded = _data(revision).get("spec") or {}
    restored["spec"] = {k: copy.deepcopy(v) for k, v in recorded.items() if k != "$patch" and v is not None}
    annotations = dict((restored.get("metadata") or {}).get("annotations") or {})
    recorded_annotations = (revision.get("metadata") or {}).get("annotations") or {}
    computed = hasher(restored["spec"]) if hasher and not (recorded_annotations.get(HASH)
                                                           and recorded_annotations.get(HASH_WITHOUT_IMAGE)) else None
    annotations[HASH] = recorded_annotations.get(HASH) or (computed[0] if computed else "")
    annotations[HASH_WITHOUT_IMAGE] = recorded_annotations.get(HASH_WITHOUT_IMAGE) or (computed[1] if computed else "")
    restored.setdefault("metadata", {})["annotations"] = annotations
    restored["status"] = {**(restored.get("status") or {}), "latestRevision": revision["metadata"]["name"]}
    return restored


def history_sidecarset(sidecarset: dict, pinned: dict | None, revisions: Iterable[dict],
                       hasher: Hasher | None = upstream_hashes) -> dict | None:
    """GetHistorySidecarSet: the restored SidecarSet, or None when nothing is pinned."""
    revision = find_revision(sidecarset, pinned or {}, list(revisions))
    return restore(sidecarset, revision, hasher) if revision is not None else None
