"""The kubelet's container hash (`HashContainer`, kubelet <= 1.31, the team's 1.20.2 included) and the
`apps.kruise.io/runtime-containers-meta` annotation that carries it (openkruise-1.9 kruise-daemon.md §4).

The kubelet hashes `json.Marshal(container)` as go-spew prints a byte slice (`([]uint8)[123 34 ...]`) with
FNV-1a 32, and records the result on the container in the runtime (`io.kubernetes.container.hash`, hex).
kruise-daemon copies it into the pod annotation; in-place update completion compares it with the hash of the
container the pod spec now asks for, so a container the kubelet restarted on the new spec is told apart from
one that merely restarted.

`json.Marshal` writes a v1.Container's fields in struct order, leaving out the empty ones; the API server
writes pods with the same Go types, so a container as the API server serialised it (key order kept: Python's
json does) re-encoded compactly with Go's escaping is byte for byte what the kubelet hashed. The e2e test on
the real node checks this against containerd's record.
"""
from __future__ import annotations

import json
from typing import Any

JSON = dict[str, Any]

RUNTIME_CONTAINERS_META_ANNOTATION = "apps.kruise.io/runtime-containers-meta"

_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193
# Go's encoding/json escapes these where Python's json does not (HTML safety, JavaScript line separators),
# and writes \b and \f as \u0008 and \u000c.
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(value: Any) -> bytes:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("\\b", "\\u0008").replace("\\f", "\\u000c")
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)
    return text.encode("utf-8")


def fnv1a32(data: bytes) -> int:
    h = _FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def hash_container(container: JSON) -> int:
    """HashContainer: fnv1a32 of go-spew's `%#v` of the container's Go JSON."""
    encoded = go_json(container)
    return fnv1a32(("([]uint8)[" + " ".join(str(b) for b in encoded) + "]").encode("ascii"))


def read_meta(pod: JSON) -> list[JSON] | None:
    """The annotation's containers, or None when absent or unreadable."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(RUNTIME_CONTAINERS_META_ANNOTATION)
    if not text:
        return None
    try:
        containers = json.loads(text).get("containers")
    except (ValueError, AttributeError):
        return None
    return [c for c in containers if isinstance(c, dict)] if isinstance(containers, list) else None


def dump_meta(containers: list[JSON]) -> str:
    return json.dumps({"containers": containers}, separators=(",", ":"))


def spec_matches_meta(pod: JSON) -> bool:
    """DefaultCheckInPlaceUpdateCompleted's meta rule: every spec container runs (status containerID = the
    meta's) with the hash of its spec now. False when the annotation is absent or anything differs."""
    meta = read_meta(pod)
    if meta is None:
        return False
    by_name = {m.get("name"): m for m in meta}
    statuses = {s.get("name"): s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    for container in (pod.get("spec") or {}).get("containers") or []:
        entry, status = by_name.get(container.get("name")), statuses.get(container.get("name"))
        if not entry or not status or not status.get("containerID"):
            return False
        if entry.get("containerID") != status["containerID"]:
            return False
        if (entry.get("hashes") or {}).get("plainHash") != hash_container(container):
            return False
    return True
