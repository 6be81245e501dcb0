"""patchPodMetadata (sidecarset.md §2.5): a SidecarSet's annotations on the pods it injects into, at creation
(inject.py) and when it upgrades them (§5.6).

Retain (or no policy) adds a key only when absent; Overwrite sets it; MergePatchJson merges the patch (RFC 7386)
into the JSON the pod already has, written as Go writes it (compact, keys sorted), or sets the patch when the
pod has none. A value that is not JSON on either side is an error, which denies the pod. An unknown policy is
ignored, as upstream.
"""
from __future__ import annotations

import json

from controllers.common.mergepatch import merge_patch
from kube import gojson


class BadMetadataPatch(ValueError):
    pass


def _json_object(text: str, what: str, key: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as e:
        raise BadMetadataPatch(f"patchPodMetadata MergePatchJson annotations[{key}]: the {what} is not JSON: {e}") \
            from None
    if not isinstance(value, dict):
        raise BadMetadataPatch(f"patchPodMetadata MergePatchJson annotations[{key}]: the {what} is not a JSON object")
    return value


def patch_annotations(annotations: dict[str, str], patches: list[dict] | None) -> dict[str, str]:
    """The annotations after every patch, in order (a new dict; `annotations` is not modified)."""
    out = dict(annotations)
    for patch in patches or []:
        policy = patch.get("patchPolicy") or "Retain"
        for key, value in (patch.get("annotations") or {}).items():
            if policy == "Retain":
                out.setdefault(key, value)
            elif policy == "Overwrite":
                out[key] = value
            elif policy == "MergePatchJson":
                if out.get(key):
                    merged = merge_patch(_json_object(out[key], "pod's value", key),
                                         _json_object(value, "patch", key))
                    out[key] = gojson.dumps(merged)
                else:
                    out[key] = value
    return out
