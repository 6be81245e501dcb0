"""ControllerRevisions: hashing, naming, reuse, rollback, collisions and history truncation.

Mirrors `k8s.io/kubernetes/pkg/controller/history` (NewControllerRevision, HashControllerRevision,
FindEqualRevisions, CreateControllerRevision's collision loop), `pkg/controller/cloneset/cloneset_controller.go`
(getActiveRevisions, truncateHistory) and `pkg/controller/cloneset/utils/cloneset_utils.go` (EqualToRevisionHash,
WriteRevisionHash, GetShortHash). Advanced StatefulSet uses the same functions with its own `data`.

The hash is FNV-1 32-bit (Go's `fnv.New32`, which is what Kubernetes uses; not FNV-1a) over the canonical JSON of
the revision `data`, followed by the decimal collision count, printed in decimal and safe-encoded. The canonical
JSON is Go's `json.Marshal` of a map: keys sorted, no spaces, `<`, `>` and `&` escaped.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from .actions import CONFLICT, NOT_FOUND, REVISIONS, Delete, Patch, create_revision
from .keys import CONTROLLER_REVISION_HASH_LABEL, POD_TEMPLATE_HASH_LABEL, REVISION_HASH_LABEL, VCT_HASH_ANNOTATION
from .names import safe_encode
from .ownership import controller_ref, is_controlled_by
from .objects import labels_of, meta, name_of, uid_of

JSON = dict[str, Any]

_MAX_PREFIX = 223  # ControllerRevisionName keeps names within 253 characters


# ---------------------------------------------------------------------------------------------------------
# Hashing and naming

def canonical_json(obj: Any) -> bytes:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text.encode("utf-8")


def fnv1_32(data: bytes, h: int = 0x811C9DC5) -> int:
    for byte in data:
        h = (h * 0x01000193) & 0xFFFFFFFF
        h ^= byte
    return h


def hash_revision_data(data: JSON, collision_count: int | None) -> str:
    h = fnv1_32(canonical_json(data))
    if collision_count is not None:
        h = fnv1_32(str(int(collision_count)).encode(), h)
    return safe_encode(str(h))


def volume_claim_templates_hash(templates: list[JSON]) -> str:
    """The VCT hash annotation's value: "" without templates, else a decimal FNV-1 32 of the templates sorted by
    name. Upstream hashes Go's typed encoding; ours only ever meets our own values, so the canonical JSON
    serves (a revision written by upstream compares unequal once, which recreates at most once)."""
    if not templates:
        return ""
    ordered = sorted(templates, key=lambda t: str((t.get("metadata") or {}).get("name") or ""))
    return str(fnv1_32(canonical_json(ordered)))


def volume_claim_templates_match(old_revision: JSON | None, new_revision: JSON | None) -> bool:
    """CanVCTemplateInplaceUpdate: True unless both revisions record a VCT hash and the hashes differ (a revision
    from before the gate was on records none, and must not make every pod recreate at once)."""
    old_hash = (meta(old_revision or {}).get("annotations") or {}).get(VCT_HASH_ANNOTATION)
    new_hash = (meta(new_revision or {}).get("annotations") or {}).get(VCT_HASH_ANNOTATION)
    return old_hash is None or new_hash is None or old_hash == new_hash


def revision_name(parent_name: str, hash_: str) -> str:
    return f"{parent_name[:_MAX_PREFIX]}-{hash_}"


def short_hash(revision: str) -> str:
    """GetShortHash: the hash is always the last '-' part of a revision name."""
    return revision.rsplit("-", 1)[-1]


def equal_to_revision_hash(obj: JSON, revision: str) -> bool:
    """Is this pod (or object) at `revision`? Its label may hold the full name or only the short hash."""
    value = labels_of(obj).get(CONTROLLER_REVISION_HASH_LABEL)
    if not value or not revision:
        return False
    return value == revision or short_hash(value) == short_hash(revision)


def revision_labels(revision: str, short: bool = False) -> dict[str, str]:
    """WriteRevisionHash: controller-revision-hash (full name, or the short hash with CloneSetShortHash) and
    pod-template-hash (always short)."""
    return {
        CONTROLLER_REVISION_HASH_LABEL: short_hash(revision) if short else revision,
        POD_TEMPLATE_HASH_LABEL: short_hash(revision),
    }


# ---------------------------------------------------------------------------------------------------------
# Revision data

def template_revision_data(template: JSON | None) -> JSON:
    """What a CloneSet (and ASTS) records: the pod template, replacing the whole template when applied."""
    t = copy.deepcopy(template or {})
    t["$patch"] = "replace"
    return {"spec": {"template": t}}


def revision_data(revision: JSON) -> Any:
    data = revision.get("data")
    if isinstance(data, (str, bytes)):
        try:
            return json.loads(data)
        except ValueError:
            return data
    return data


def template_from_revision(revision: JSON | None) -> JSON | None:
    """GetTemplateFromRevision (ApplyRevision for a template-only patch)."""
    if revision is None:
        return None
    data = revision_data(revision)
    if not isinstance(data, dict):
        return None
    template = ((data.get("spec") or {}).get("template"))
    if not isinstance(template, dict):
        return None
    template = copy.deepcopy(template)
    template.pop("$patch", None)
    return template


def revision_number(revision: JSON) -> int:
    try:
        return int(revision.get("revision") or 0)
    except (TypeError, ValueError):
        return 0


def sort_revisions(revisions: list[JSON]) -> list[JSON]:
    """SortControllerRevisions: by .revision; ties keep their order (sort.Stable)."""
    return sorted(revisions, key=revision_number)


def next_revision_number(sorted_revisions: list[JSON]) -> int:
    return revision_number(sorted_revisions[-1]) + 1 if sorted_revisions else 1


def new_revision(parent: JSON, api_version: str, kind: str, data: JSON, template_labels: dict[str, str] | None,
                 number: int, collision_count: int, annotations: dict[str, str] | None = None) -> JSON:
    """history.NewControllerRevision: named `<parent>-<hash>`, labelled with the template labels and the hash."""
    hash_ = hash_revision_data(data, collision_count)
    labels = dict(template_labels or {})
    labels[REVISION_HASH_LABEL] = hash_
    metadata: JSON = {
        "name": revision_name(name_of(parent), hash_),
        "labels": labels,
        "ownerReferences": [controller_ref(parent, api_version, kind)],
    }
    if meta(parent).get("namespace"):
        metadata["namespace"] = meta(parent)["namespace"]
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": metadata,
            "data": copy.deepcopy(data), "revision": number}


# ---------------------------------------------------------------------------------------------------------
# Choosing the current and update revisions

@dataclass
class Revisions:
    """The outcome of `resolve_revisions`."""

    update: JSON  # the revision the workload's spec corresponds to
    current: JSON  # the revision in status.currentRevision (or `update` when unknown)
    collision_count: int
    owned: list[JSON]  # the workload's revisions after this round, sorted by .revision
    actions: list = field(default_factory=list)  # revision creates and patches to run before anything else


def resolve_revisions(*, parent: JSON, api_version: str, kind: str, data: JSON,
                      template_labels: dict[str, str] | None, revisions: list[JSON], collision_count: int,
                      current_revision_name: str | None, annotations: dict[str, str] | None = None,
                      recorded: dict[str, str] | None = None) -> Revisions:
    """getActiveRevisions: reuse an identical revision (bumping its number on rollback) or create a new one.

    `revisions` may include revisions the parent does not control: they are never reused or truncated, but their
    names count as hash collisions (the create would fail with AlreadyExists otherwise).
    `annotations` are copied onto a new revision. `recorded` annotations describe the parent beyond `data` (the
    CloneSet's VCT hash): a new revision carries them, and an older identical revision that becomes the update
    revision again gets them in the same patch that bumps its number. The newest revision keeps what it has, so
    a change of those alone makes no new revision and no rollout.
    """
    owned = sort_revisions([r for r in revisions if is_controlled_by(r, parent)])
    number = next_revision_number(owned)
    actions: list = []
    equal = [r for r in owned if revision_data(r) == data]
    if equal and name_of(equal[-1]) == name_of(owned[-1]):
        update = owned[-1]
    elif equal:
        # A rollback to an older template: the old revision becomes the newest again.
        target = equal[-1]
        update = copy.deepcopy(target)
        update["revision"] = number
        patch: JSON = {"revision": number}
        stale = {k: v for k, v in (recorded or {}).items() if (meta(target).get("annotations") or {}).get(k) != v}
        if stale:
            update.setdefault("metadata", {}).setdefault("annotations", {}).update(stale)
            patch["metadata"] = {"annotations": stale}
        rv = meta(target).get("resourceVersion")
        if rv:  # the revision as seen: a concurrent write (the garbage collector's) is not overwritten
            patch.setdefault("metadata", {})["resourceVersion"] = rv
        actions.append(Patch(REVISIONS, name_of(target), patch))
        owned = sort_revisions([update if r is target else r for r in owned])
    else:
        by_name = {name_of(r): r for r in revisions}
        update = None
        while True:
            name = revision_name(name_of(parent), hash_revision_data(data, collision_count))
            clash = by_name.get(name)
            if clash is None:
                break
            if revision_data(clash) == data:
                update = clash  # identical content under a name we do not control: use it as is
                break
            collision_count += 1
        if update is None:
            update = new_revision(parent, api_version, kind, data, template_labels, number, collision_count,
                                  {**(annotations or {}), **(recorded or {})})
            actions.append(create_revision(update))
            owned = owned + [update]
    current = next((r for r in owned if current_revision_name and name_of(r) == current_revision_name), update)
    return Revisions(update=update, current=current, collision_count=collision_count, owned=owned, actions=actions)


def truncate_history(owned_sorted: list[JSON], live: set[str], limit: int) -> list[Delete]:
    """truncateHistory: delete the oldest revisions that are neither current, update, nor used by a pod, until
    at most `limit` of them remain (the workload's revisionHistoryLimit, as its view reads it)."""
    history = [r for r in owned_sorted if name_of(r) not in live]
    excess = len(history) - limit
    # With the revision's uid: one recreated under the name (a rollback to the same template) is not deleted.
    return [Delete(REVISIONS, name_of(r), uid_of(r) or None, ignore=(NOT_FOUND, CONFLICT))
            for r in history[:excess]] if excess > 0 else []


def live_revision_names(owned: list[JSON], pods: list[JSON], current: str, update: str) -> set[str]:
    live = {current, update}
    for r in owned:
        if any(equal_to_revision_hash(p, name_of(r)) for p in pods):
            live.add(name_of(r))
    return live
