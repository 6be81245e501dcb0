"""The pod annotations injection writes (sidecarset.md §2.11) and the names the other SidecarSet modules read.

Values are what Go's `json.Marshal` writes: compact; a map's keys sorted; a struct's fields in declaration
order (SidecarSetUpgradeSpec: updateTimestamp, hash, sidecarSetName, sidecarList, controllerRevision, the last
omitted when empty); timestamps RFC 3339 in UTC to the second.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from controllers.common.times import format_time
from kube import gojson

# On pods (pkg/control/sidecarcontrol/api.go, util.go, util_hotupgrade.go).
HASH = "kruise.io/sidecarset-hash"
HASH_WITHOUT_IMAGE = "kruise.io/sidecarset-hash-without-image"
INJECTED_LIST = "kruise.io/sidecarset-injected-list"
WORKING_HOT_UPGRADE_CONTAINER = "kruise.io/sidecarset-working-hotupgrade-container"
INPLACE_UPDATE_STATE = "kruise.io/sidecarset-inplace-update-state"

# On the SidecarSet (written by its mutating webhook, read here to stamp pods).
SIDECARSET_HASH = HASH
SIDECARSET_HASH_WITHOUT_IMAGE = HASH_WITHOUT_IMAGE

# Every injected container carries IS_INJECTED=true: that is how a sidecar is told from an app container.
INJECTED_ENV = "IS_INJECTED"
VERSION_ENV = "SIDECARSET_VERSION"
VERSION_ALT_ENV = "SIDECARSET_VERSION_ALT"

# On ControllerRevisions of a SidecarSet (§4.1).
REVISION_SIDECARSET_LABEL = "kruise.io/sidecarset-name"
REVISION_CUSTOM_VERSION_LABEL = "apps.kruise.io/sidecarset-custom-version"


def version_annotation(container: str) -> str:
    return f"version.sidecarset.kruise.io/{container}"


def version_alt_annotation(container: str) -> str:
    """The code's spelling (`versionalt.`), not the proposal's `version_alt.` (§2.10)."""
    return f"versionalt.sidecarset.kruise.io/{container}"


class BadPodAnnotation(ValueError):
    """An annotation on the incoming pod that injection must read does not parse: the pod is denied (§2.6)."""


def parse_upgrade_specs(pod: dict, key: str) -> dict[str, dict]:
    """`map[name]SidecarSetUpgradeSpec` from the pod; the legacy `map[name]hash` shape is read too."""
    namespace, name = _pod_name(pod)
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(key)
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as e:
        raise BadPodAnnotation(f"pod({namespace}/{name}) invalid annotations[{key}] value {text}, "
                               f"unmarshal failed: {e}") from None
    if not isinstance(value, dict):
        raise BadPodAnnotation(f"pod({namespace}/{name}) invalid annotations[{key}] value {text}, "
                               "unmarshal failed: not a JSON object")
    specs: dict[str, dict] = {}
    for sidecarset, spec in value.items():
        if isinstance(spec, str):   # legacy: the hash alone
            specs[sidecarset] = {"hash": spec, "sidecarSetName": sidecarset}
        elif isinstance(spec, dict):
            specs[sidecarset] = spec
        else:
            raise BadPodAnnotation(f"pod({namespace}/{name}) invalid annotations[{key}] value {text}, "
                                   "unmarshal failed: an entry is neither an object nor a string")
    return specs


def parse_working_containers(pod: dict) -> dict[str, str]:
    """`kruise.io/sidecarset-working-hotupgrade-container`; a value that does not parse counts as empty, as
    upstream's GetPodHotUpgradeInfoInAnnotations only logs it."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(WORKING_HOT_UPGRADE_CONTAINER)
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return {k: v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}


def parse_injected_list(pod: dict) -> set[str]:
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(INJECTED_LIST) or ""
    return set(text.split(",")) if text else set()


def upgrade_spec(sidecarset: dict, hash_key: str, sidecar_list: list[str], now: datetime,
                 with_revision: bool) -> dict:
    """A SidecarSetUpgradeSpec, its fields in Go's declaration order."""
    annotations = (sidecarset.get("metadata") or {}).get("annotations") or {}
    spec: dict[str, Any] = {"updateTimestamp": format_time(now), "hash": annotations.get(hash_key, ""),
                            "sidecarSetName": sidecarset["metadata"]["name"], "sidecarList": sorted(set(sidecar_list))}
    revision = ((sidecarset.get("status") or {}).get("latestRevision") or "") if with_revision else ""
    if revision:
        spec["controllerRevision"] = revision
    return spec


def normalized_spec(spec: dict) -> dict:
    """An entry read from a pod, as Go writes it back after decoding it into SidecarSetUpgradeSpec: the known
    fields in their order, a zero time and a missing list as null, controllerRevision only when set."""
    out: dict[str, Any] = {"updateTimestamp": spec.get("updateTimestamp") or None, "hash": spec.get("hash") or "",
                           "sidecarSetName": spec.get("sidecarSetName") or "",
                           "sidecarList": spec.get("sidecarList")}
    if spec.get("controllerRevision"):
        out["controllerRevision"] = spec["controllerRevision"]
    return out


def encode_struct(value: Any) -> str:
    """Go's json.Marshal of a struct (fields in the dict's order) or of a map (keys sorted by the caller's
    choice: `encode_map` sorts them). Strings are escaped as Go escapes them (`<` is \\u003c)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{gojson.dumps(k)}:{encode_struct(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode_struct(v) for v in value) + "]"
    return gojson.dumps(value)


def encode_map(value: dict[str, Any]) -> str:
    """A Go map of structs: keys sorted, each value in its own field order."""
    return encode_struct({k: value[k] for k in sorted(value)})


def _pod_name(pod: dict) -> tuple[str, str]:
    meta = pod.get("metadata") or {}
    return meta.get("namespace", ""), meta.get("name") or meta.get("generateName", "")
