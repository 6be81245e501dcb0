"""A SidecarSet's ControllerRevisions (sidecarset.md §4.1-§4.3): their name, data, labels and owner, the
registration of the latest one each reconcile, and the history limit.

They live in the install namespace (the manager's, `POD_NAMESPACE`), not in the pods' namespaces, owned by the
cluster-scoped SidecarSet (the garbage collector removes them with it). The name is `<name>-<hash>`: FNV-1 32
(Go's `fnv.New32`, not FNV-1a) of the data followed by the decimal collisionCount, safe-encoded
(`common/revision.hash_revision_data`). The data is the five fields injection restores (§4.5, history.py) with
`$patch: replace`, every key present (`null` when absent), in Go's canonical encoding (keys sorted, compact).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from controllers.common.actions import REVISIONS, Delete, Patch, create_revision
from controllers.common.keys import REVISION_HASH_LABEL
from controllers.common.objects import annotations_of, labels_of, meta, name_of, uid_of
from controllers.common.revision import (hash_revision_data, next_revision_number, revision_data, revision_name,
                                         revision_number, sort_revisions)

from .annotations import HASH, REVISION_CUSTOM_VERSION_LABEL, REVISION_SIDECARSET_LABEL, parse_upgrade_specs

JSON = dict[str, Any]

API_VERSION, KIND = "apps.kruise.io/v1beta1", "SidecarSet"
RECORDED_FIELDS = ("containers", "imagePullSecrets", "initContainers", "patchPodMetadata", "volumes")
DEFAULT_HISTORY_LIMIT = 10


def sidecarset_revision_data(sidecarset: JSON) -> JSON:
    """`{"spec": {"$patch": "replace", <the five recorded fields, null when absent>}}`."""
    spec = sidecarset.get("spec") or {}
    recorded: JSON = {"$patch": "replace"}
    for key in RECORDED_FIELDS:
        recorded[key] = copy.deepcopy(spec.get(key))
    return {"spec": recorded}


def sidecarset_revision_name(sidecarset: JSON, collision_count: int) -> str:
    return revision_name(name_of(sidecarset), hash_revision_data(sidecarset_revision_data(sidecarset),
                                                                 collision_count))


def new_sidecarset_revision(sidecarset: JSON, number: int, collision_count: int, namespace: str) -> JSON:
    """NewRevision: the labels of the SidecarSet plus the hash, the SidecarSet's name and its custom version; a
    copy of all its annotations (the hash annotations included); controlled by the SidecarSet (v1beta1)."""
    data = sidecarset_revision_data(sidecarset)
    hash_ = hash_revision_data(data, collision_count)
    labels = {**labels_of(sidecarset), REVISION_HASH_LABEL: hash_, REVISION_SIDECARSET_LABEL: name_of(sidecarset)}
    custom = custom_version(sidecarset)
    if custom:
        labels[REVISION_CUSTOM_VERSION_LABEL] = custom
    metadata: JSON = {
        "name": revision_name(name_of(sidecarset), hash_), "namespace": namespace, "labels": labels,
        "ownerReferences": [{"apiVersion": API_VERSION, "kind": KIND, "name": name_of(sidecarset),
                             "uid": uid_of(sidecarset), "controller": True, "blockOwnerDeletion": True}],
    }
    if annotations_of(sidecarset):
        metadata["annotations"] = dict(annotations_of(sidecarset))
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": metadata, "data": data,
            "revision": number}


def custom_version(sidecarset: JSON) -> str:
    return str((sidecarset.get("spec") or {}).get("customVersion") or "")


def own_revisions(sidecarset: JSON, revisions: list[JSON], namespace: str) -> list[JSON]:
    """The revisions of the install namespace labelled with the SidecarSet's name whose controller is nil or
    the SidecarSet, sorted by .revision."""
    def mine(r: JSON) -> bool:
        if (meta(r).get("namespace") or namespace) != namespace:
            return False
        if labels_of(r).get(REVISION_SIDECARSET_LABEL) != name_of(sidecarset):
            return False
        controller = next((o for o in meta(r).get("ownerReferences") or [] if o.get("controller")), None)
        return controller is None or controller.get("uid") == uid_of(sidecarset)
    return sort_revisions([r for r in revisions if mine(r)])


@dataclass
class Registration:
    latest: JSON
    collision_count: int
    revisions: list[JSON]  # after this round, sorted by .revision
    actions: list = field(default_factory=list)


def register_latest_revision(sidecarset: JSON, revisions: list[JSON], namespace: str) -> Registration:
    """registerLatestRevision (§4.2): the newest revision when its data is the spec's; an older identical one
    renumbered as the newest (a rollback); else a new one. A name held by another object with other data bumps
    collisionCount (here in the plan's name loop for names we see, else by the runtime's create)."""
    revs = own_revisions(sidecarset, revisions, namespace)
    collision_count = int(((sidecarset.get("status") or {}).get("collisionCount")) or 0)
    data = sidecarset_revision_data(sidecarset)
    number = next_revision_number(revs)
    equal = [r for r in revs if revision_data(r) == data]
    actions: list = []
    if equal and equal[-1] is revs[-1]:
        latest = revs[-1]
    elif equal:
        latest = copy.deepcopy(equal[-1])
        latest["revision"] = number
        actions.append(Patch(REVISIONS, name_of(latest), {"revision": number}, namespace=namespace))
        revs = [r for r in revs if r is not equal[-1]] + [latest]
    else:
        taken = {name_of(r): r for r in revisions if (meta(r).get("namespace") or namespace) == namespace}
        while (clash := taken.get(sidecarset_revision_name(sidecarset, collision_count))) is not None \
                and revision_data(clash) != data:
            collision_count += 1
        latest = new_sidecarset_revision(sidecarset, number, collision_count, namespace)
        actions.append(create_revision(latest))
        revs = revs + [latest]
    custom = custom_version(sidecarset)
    if custom and labels_of(latest).get(REVISION_CUSTOM_VERSION_LABEL) != custom:
        actions.append(Patch(REVISIONS, name_of(latest), {"metadata": {"labels": {REVISION_CUSTOM_VERSION_LABEL:
                                                                                    custom}}},
                             "strategic", namespace=namespace))
    return Registration(latest, collision_count, revs, actions)


def active_revision_names(sidecarset: JSON, revisions: list[JSON], pods: list[JSON]) -> set[str]:
    """The revisions truncation keeps (§4.3): those matched pods were injected or upgraded with, the pinned
    `revisionName`, and the newest revision labelled with the pinned `customVersion`."""
    name = name_of(sidecarset)
    active: set[str] = set()
    for pod in pods:
        try:
            spec = parse_upgrade_specs(pod, HASH).get(name) or {}
        except ValueError:
            continue
        if spec.get("controllerRevision"):
            active.add(spec["controllerRevision"])
    pinned = ((sidecarset.get("spec") or {}).get("injectionStrategy") or {}).get("revision") or {}
    if pinned.get("revisionName"):
        active.add(pinned["revisionName"])
    if pinned.get("customVersion") is not None:
        labelled = [r for r in revisions if labels_of(r).get(REVISION_CUSTOM_VERSION_LABEL) == pinned["customVersion"]]
        if labelled:
            active.add(name_of(max(labelled, key=revision_number)))
    return active


def truncate_history(sidecarset: JSON, revisions: list[JSON], pods: list[JSON], namespace: str) -> list[Delete]:
    """truncateHistory: above `max(1, revisionHistoryLimit)` (10 when unset), delete the oldest revisions that
    are not active, never the newest, until the limit is reached (or nothing more may go)."""
    limit = (sidecarset.get("spec") or {}).get("revisionHistoryLimit")
    limit = max(1, DEFAULT_HISTORY_LIMIT if limit is None else int(limit))
    excess = len(revisions) - limit
    if excess <= 0:
        return []
    active = active_revision_names(sidecarset, revisions, pods)
    deletions: list[Delete] = []
    for revision in revisions[:-1]:
        if len(deletions) == excess:
            break
        if name_of(revision) in active:
            continue
        deletions.append(Delete(REVISIONS, name_of(revision), uid_of(revision) or None, namespace=namespace))
    return deletions
