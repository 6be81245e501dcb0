"""Owner references (`metav1.NewControllerRef`, `metav1.GetControllerOf`)."""
from __future__ import annotations

from typing import Any

from .pods import meta

JSON = dict[str, Any]


def controller_ref(owner: JSON, api_version: str, kind: str) -> JSON:
    """The ownerReference a workload puts on what it creates: controller, and blocking foreground deletion."""
    m = meta(owner)
    return {
        "apiVersion": owner.get("apiVersion") or api_version,
        "kind": owner.get("kind") or kind,
        "name": m.get("name", ""),
        "uid": m.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_uid(obj: JSON) -> str | None:
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def is_controlled_by(obj: JSON, owner: JSON) -> bool:
    """True when `obj`'s controller is `owner`; an owner without a uid (unit tests, dry runs) owns everything."""
    owner_uid = meta(owner).get("uid")
    return not owner_uid or controller_uid(obj) == owner_uid
