"""The kruise-daemon's image puller, the pure part (kruise-daemon.md §2.8, upstream `pkg/daemon/imagepuller`):
which tags of the node's NodeImage need a pull worker, and the status the node reports. `daemon/imagepuller.py`
runs the workers and writes it.

- A tag is a (image name, tag, version): a status of the same version that has a completionTime is carried over
  and not pulled again (that is how the daemon survives a restart); any other tag needs a worker, and a worker
  of another version of the tag is stopped.
- The status: every spec tag's state (Waiting for a worker slot, Pulling, Succeeded or Failed), sorted by tag,
  the counts over the spec, `imageStatuses` omitted when empty.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from controllers.common import images
from controllers.imagepulljob import api

JSON = dict[str, Any]


class TagKey(NamedTuple):
    name: str
    tag: str


class Wanted(NamedTuple):
    key: TagKey
    version: int
    spec: JSON  # the tag's spec
    image: JSON  # the image's spec (pullSecrets, sandboxConfig)


def wanted(node_image: JSON) -> list[Wanted]:
    out = []
    for name, entry in sorted((api.spec(node_image).get("images") or {}).items()):
        for tag in entry.get("tags") or []:
            out.append(Wanted(TagKey(name, tag["tag"]), int(tag.get("version") or 0), tag, entry))
    return out


def carried(node_image: JSON, want: Wanted) -> JSON | None:
    """The status of this very pull round, if it already finished (no new pull then)."""
    state = api.tag_status(node_image, want.key.name, want.key.tag)
    if state and int(state.get("version") or 0) == want.version and state.get("completionTime"):
        return state
    return None


def full_name(name: str, tag: str) -> str:
    """What the runtime pulls: name:tag, name@sha256:... for a digest (kruise#2534 fixed)."""
    return images.join(name, tag)


def build_status(node_image: JSON, states: dict[TagKey, JSON]) -> JSON:
    """NodeImage status from the tag states (only tags the spec still has)."""
    counts = {"desired": 0, "succeeded": 0, "failed": 0, "pulling": 0, "waiting": 0}
    by_image: dict[str, list[JSON]] = {}
    for want in wanted(node_image):
        counts["desired"] += 1
        state = states.get(want.key)
        if state is None or int(state.get("version") or 0) != want.version:
            counts["pulling"] += 1
            continue
        by_image.setdefault(want.key.name, []).append(state)
        phase = state.get("phase")
        key = {api.SUCCEEDED: "succeeded", api.FAILED: "failed", api.WAITING: "waiting"}.get(phase, "pulling")
        counts[key] += 1
    status: JSON = dict(counts)
    if by_image:
        status["imageStatuses"] = {name: {"tags": sorted(tags, key=lambda t: t["tag"])}
                                   for name, tags in sorted(by_image.items())}
    return status


def contains(repo_tags: tuple[str, ...] | list[str], repo_digests: tuple[str, ...] | list[str], name: str,
             tag: str) -> bool:
    """ImageInfo.ContainsImage: the runtime's image is this name and tag (or digest), normalised (#1273)."""
    return any(images.repo_tag_matches(t, name, tag) for t in (*repo_tags, *repo_digests))
