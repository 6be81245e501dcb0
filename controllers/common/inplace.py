"""In-place update, shared by CloneSet and Advanced StatefulSet (`pkg/util/inplaceupdate/*`).

An in-place update changes a running pod instead of recreating it:
1. `InPlaceUpdateReady=False` (reason StartInPlaceUpdate), so the pod leaves its Services first;
2. one pod patch writes the new revision labels, the `apps.kruise.io/inplace-update-state` annotation and either
   the new images now, or, with `gracePeriodSeconds > 0`, the `apps.kruise.io/inplace-update-grace` annotation;
   the images are then applied by `refresh` once the grace period has passed since the drain was stored;
3. `refresh` notices completion (the kubelet restarted every updated container) and sets `InPlaceUpdateReady=True`.

A workload's update step asks `plan_pod_update` whether a pod goes in place (through the inPlaceUpdate hook),
is recreated (the kind's way) or cannot be updated (InPlaceOnly); its round refreshes every pod with
`refresh_pod` and sends its actions through `hold`, so that a pod whose update starts again in the same round
keeps its drain (OpenKruise #2276).

What can be updated in place: only replacements of `spec.containers[*].image` and changes of the template's
labels/annotations. Two deliberate differences from upstream:
- completion is judged by restarts, not imageIDs (issue 19; also OpenKruise #1493, a new tag of one digest): a
  container is updated once its containerID changed since the update began. We record `containerID` next to
  `imageID` in `lastContainerStatuses` (upstream, to v1.9 and master, records only `imageID`);
- a template label/annotation that a container reads through an env `fieldRef` cannot be updated in place:
  upstream restarts such containers through kruise-daemon, whose env-from-metadata restarts this project's
  daemon does not do yet, so it falls back to recreating the pod (InPlaceIfPossible) or refuses (InPlaceOnly)
  instead of leaving a stale env behind.
Where kruise-daemon wrote the `apps.kruise.io/runtime-containers-meta` annotation, a pod whose every container
runs with the kubelet's hash of its current spec is complete (`containerhash.spec_matches_meta`), as upstream.
"""
from __future__ import annotations

import base64
import copy
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Collection, Mapping

from . import lifecycle
from .containerhash import spec_matches_meta
from .actions import Event, Patch, patch_pod, patch_pod_status
from .jsondiff import diff
from .keys import (CONTAINER_PRIORITY_ENV, CONTROLLER_REVISION_HASH_LABEL, INPLACE_UPDATE_GRACE_ANNOTATION,
                   INPLACE_UPDATE_GRACE_ANNOTATION_LEGACY, INPLACE_UPDATE_READY, INPLACE_UPDATE_STATE_ANNOTATION,
                   INPLACE_UPDATE_STATE_ANNOTATION_LEGACY, POD_READY, POD_TEMPLATE_HASH_LABEL)
from .mergepatch import merge_patch
from .objects import annotations_of, labels_of, name_of, uid_of
from .pods import (condition_equal, condition_patch, container_status, container_statuses_of, containers_of,
                   get_condition, has_readiness_gate, is_pod_ready, ready_condition_after)
from .revision import equal_to_revision_hash, revision_data, revision_labels, template_from_revision
from .times import format_precise_time, format_time, parse_time, seconds_until

JSON = dict[str, Any]

START_IN_PLACE_UPDATE = "StartInPlaceUpdate"
_IMAGE_PATH = re.compile(r"^/spec/containers/([0-9]+)/image$")


# ---------------------------------------------------------------------------------------------------------
# What to change

@dataclass
class UpdateSpec:
    """UpdateSpec: the images and metadata an in-place update applies (also the grace annotation's content)."""

    revision: str
    container_images: dict[str, str] = field(default_factory=dict)
    metadata_patch: JSON | None = None  # {"labels": {k: v|None}, "annotations": {k: v|None}}
    grace_seconds: int = 0

    def to_json(self) -> str:
        """Go's JSON of UpdateSpec (metaDataPatch is []byte, hence base64 of the patch JSON)."""
        out: JSON = {"revision": self.revision}
        if self.container_images:
            out["containerImages"] = dict(sorted(self.container_images.items()))
        if self.metadata_patch:
            raw = json.dumps({"metadata": self.metadata_patch}, sort_keys=True, separators=(",", ":"))
            out["metaDataPatch"] = base64.b64encode(raw.encode()).decode()
        if self.grace_seconds:
            out["graceSeconds"] = self.grace_seconds
        return json.dumps(out, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "UpdateSpec":
        raw = json.loads(text)
        patch = None
        if raw.get("metaDataPatch"):
            patch = (json.loads(base64.b64decode(raw["metaDataPatch"])) or {}).get("metadata")
        return cls(revision=raw.get("revision", ""), container_images=dict(raw.get("containerImages") or {}),
                   metadata_patch=patch or None, grace_seconds=int(raw.get("graceSeconds") or 0))


def _env_reads_metadata(template: JSON, kind: str, key: str) -> bool:
    """IsContainerReferenceToMeta: an env var of some container is `fieldRef: metadata.<kind>['<key>']`."""
    wanted = {f"metadata.{kind}['{key}']", f'metadata.{kind}["{key}"]'}
    for c in containers_of(template):
        for env in c.get("env") or []:
            path = (((env.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath") or "").replace(" ", "")
            if path in wanted:
                return True
    return False


# (old revision, new revision, grace, recorded revision) → the spec, for revisions as the API server stored
# them: a ControllerRevision's `data` is immutable (ValidateControllerRevisionUpdate), so its uid and
# resourceVersion name its content. A rollout of N pods asks N times for the same pair: the diff and the two
# template copies cost about 0.5 ms each, a quarter of a rollout sync.
_SPEC_MEMO: dict[tuple, UpdateSpec | None] = {}
_SPEC_MEMO_SIZE = 256


def _stored_identity(revision: JSON) -> tuple | None:
    meta = revision.get("metadata") or {}
    uid, rv = meta.get("uid"), meta.get("resourceVersion")
    return (uid, rv, meta.get("name")) if uid and rv else None


def calculate_update_spec(old_revision: JSON | None, new_revision: JSON | None, grace_seconds: int = 0,
                          revision: str | None = None) -> UpdateSpec | None:
    """defaultCalculateInPlaceUpdateSpec: None when the change between two revisions cannot be done in place.

    `revision` is the value recorded on the pod (defaults to the new revision's name). Memoised per pair of
    stored revisions; each caller gets its own copy of the spec.
    """
    if old_revision is None or new_revision is None:
        return None
    old_id, new_id = _stored_identity(old_revision), _stored_identity(new_revision)
    if old_id is None or new_id is None:
        return _calculate_update_spec(old_revision, new_revision, grace_seconds, revision)
    key = (old_id, new_id, grace_seconds, revision)
    if key in _SPEC_MEMO:
        spec = _SPEC_MEMO[key]
    else:
        spec = _calculate_update_spec(old_revision, new_revision, grace_seconds, revision)
        if len(_SPEC_MEMO) >= _SPEC_MEMO_SIZE:
            _SPEC_MEMO.pop(next(iter(_SPEC_MEMO)))  # the oldest pair: rollouts move on
        _SPEC_MEMO[key] = spec
    if spec is None:
        return None
    return UpdateSpec(spec.revision, dict(spec.container_images), copy.deepcopy(spec.metadata_patch),
                      spec.grace_seconds)


def _calculate_update_spec(old_revision: JSON, new_revision: JSON, grace_seconds: int,
                           revision: str | None) -> UpdateSpec | None:
    old_t, new_t = template_from_revision(old_revision), template_from_revision(new_revision)
    if old_t is None or new_t is None:
        return None
    spec = UpdateSpec(revision=revision or name_of(new_revision), grace_seconds=max(int(grace_seconds), 0))
    metadata_changed = False
    for op in diff(revision_data(old_revision), revision_data(new_revision)):
        path = op["path"].replace("/spec/template", "", 1)
        if not path.startswith("/spec/"):
            if path.startswith("/metadata/"):
                metadata_changed = True
                continue
            return None
        m = _IMAGE_PATH.match(path)
        if op["op"] != "replace" or not m or not isinstance(op.get("value"), str):
            return None
        idx = int(m.group(1))
        old_containers = containers_of(old_t)
        if idx >= len(old_containers):
            return None
        spec.container_images[old_containers[idx].get("name", "")] = op["value"]
    if metadata_changed:
        patch: JSON = {}
        for kind in ("labels", "annotations"):
            old_map = (old_t.get("metadata") or {}).get(kind) or {}
            new_map = (new_t.get("metadata") or {}).get(kind) or {}
            changes = {k: v for k, v in new_map.items() if old_map.get(k) != v}
            changes.update({k: None for k in old_map if k not in new_map})
            if any(_env_reads_metadata(new_t, kind, k) or _env_reads_metadata(old_t, kind, k) for k in changes):
                return None  # see the module docstring: no kruise-daemon to restart the container
            if changes:
                patch[kind] = changes
        spec.metadata_patch = patch or None
    return spec


def can_update_in_place(old_revision: JSON | None, new_revision: JSON | None) -> bool:
    """canPodInPlaceUpdate's revision half (Advanced DaemonSet): the change between them can be done in place."""
    return calculate_update_spec(old_revision, new_revision) is not None


# ---------------------------------------------------------------------------------------------------------
# The state annotation

def _annotation(pod: JSON, key: str, legacy: str) -> str | None:
    annotations = annotations_of(pod)
    value = annotations.get(key)
    if value is None:
        value = annotations.get(legacy)
    return value


def read_state(pod: JSON) -> JSON | None:
    """The parsed `apps.kruise.io/inplace-update-state` (or legacy `inplace-update-state`); None when absent."""
    text = _annotation(pod, INPLACE_UPDATE_STATE_ANNOTATION, INPLACE_UPDATE_STATE_ANNOTATION_LEGACY)
    if not text:
        return None
    try:
        state = json.loads(text)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


def grace_text(pod: JSON) -> str | None:
    return _annotation(pod, INPLACE_UPDATE_GRACE_ANNOTATION, INPLACE_UPDATE_GRACE_ANNOTATION_LEGACY) or None


def dump_state(state: JSON) -> str:
    """InPlaceUpdateState as Go marshals it: struct field order, omitempty fields left out."""
    out: JSON = {"revision": state.get("revision", ""), "updateTimestamp": state.get("updateTimestamp"),
                 "lastContainerStatuses": None}
    last = state.get("lastContainerStatuses")
    if last:
        out["lastContainerStatuses"] = {
            name: {k: v for k, v in (("imageID", s.get("imageID")), ("containerID", s.get("containerID")),
                                     ("restartCount", s.get("restartCount"))) if v or v == 0 and k == "restartCount"}
            for name, s in sorted(last.items())}
    if state.get("updateEnvFromMetadata"):
        out["updateEnvFromMetadata"] = True
    for key in ("nextContainerImages", "nextContainerRefMetadata"):
        if state.get(key):
            out[key] = dict(sorted(state[key].items()))
    if state.get("preCheckBeforeNext"):
        out["preCheckBeforeNext"] = state["preCheckBeforeNext"]
    if state.get("containerBatchesRecord"):
        out["containerBatchesRecord"] = state["containerBatchesRecord"]
    return json.dumps(out, separators=(",", ":"))


def _container_priority(container: JSON) -> int | None:
    """GetContainerPriority: KRUISE_CONTAINER_PRIORITY, higher goes first."""
    for env in container.get("env") or []:
        if env.get("name") == CONTAINER_PRIORITY_ENV:
            try:
                return int(env.get("value") or 0)
            except ValueError:
                return 0
    return None


def _apply_spec(pod: JSON, spec: UpdateSpec, state: JSON, now: datetime) -> tuple[JSON, JSON]:
    """defaultPatchUpdateSpecToPod: the part of the pod patch that applies `spec` (this batch of containers) and
    the updated `state`. Containers with KRUISE_CONTAINER_PRIORITY go in batches, highest priority first; the
    others are recorded in state.nextContainerImages for a later `refresh`."""
    state = dict(state)
    state["nextContainerImages"] = {}
    now_batch: list[str] = []
    highest: int | None = None
    top: list[str] = []
    for c in containers_of(pod):
        cname = c.get("name", "")
        if cname not in spec.container_images:
            continue
        priority = _container_priority(c)
        if priority is None:
            now_batch.append(cname)
        elif highest is None or priority > highest:
            highest, top = priority, [cname]
        elif priority == highest:
            top.append(cname)
    to_update = set(now_batch) | set(top)

    containers_patch = []
    for c in containers_of(pod):
        cname = c.get("name", "")
        if cname not in spec.container_images:
            continue
        if cname in to_update:
            containers_patch.append({"name": cname, "image": spec.container_images[cname]})
        else:
            state["nextContainerImages"][cname] = spec.container_images[cname]
    # Every container of the batch is recorded, one without a status too (the kubelet has not reported it yet):
    # left out, it would not be checked at all, and the update would read as done at once.
    last = dict(state.get("lastContainerStatuses") or {})
    for cname in sorted(to_update):
        cs = container_status(pod, cname)
        last[cname] = {} if cs is None else {"imageID": cs.get("imageID", ""), "containerID": cs.get("containerID", ""),
                                             "restartCount": int(cs.get("restartCount") or 0)}
    state["lastContainerStatuses"] = last or None
    state["preCheckBeforeNext"] = ({"containersRequiredReady": sorted(to_update)}
                                   if state["nextContainerImages"] else None)
    state["containerBatchesRecord"] = list(state.get("containerBatchesRecord") or []) + [
        {"timestamp": format_time(now), "containers": sorted(to_update)}]

    patch: JSON = {}
    if spec.metadata_patch:
        for kind, changes in spec.metadata_patch.items():
            patch.setdefault("metadata", {})[kind] = dict(changes)
    if containers_patch:
        patch["spec"] = {"containers": containers_patch}
    return patch, state


def _pod_patch(pod: JSON, *parts: JSON) -> JSON:
    """One strategic merge patch from `parts`, with the pod's uid as a precondition."""
    patch: JSON = {"metadata": {"uid": uid_of(pod)}} if uid_of(pod) else {}
    for part in parts:
        patch = merge_patch(patch, part, keep_nulls=True)
    return patch


def _drop_annotations(pod: JSON, *keys: str) -> JSON:
    present = [k for k in keys if k in annotations_of(pod)]
    return {"metadata": {"annotations": {k: None for k in present}}} if present else {}


# ---------------------------------------------------------------------------------------------------------
# Starting an update

@dataclass
class PodUpdate:
    """What updating one pod does this round."""

    actions: list = field(default_factory=list)
    requeue_after: float | None = None
    started: bool = False  # this round drains the pod and patches it in place (else a lifecycle step, or nothing)
    error: str | None = None


def set_ready_condition(pod: JSON, status: str, now: datetime, reason: str = "") -> Patch | None:
    """updateCondition for InPlaceUpdateReady; turning it False also turns Ready False at once."""
    if not has_readiness_gate(pod, INPLACE_UPDATE_READY):
        return None
    if condition_equal(get_condition(pod, INPLACE_UPDATE_READY), status, reason):
        return None
    conditions = [condition_patch(INPLACE_UPDATE_READY, status, now, reason=reason)]
    if status == "False":
        ready = ready_condition_after(pod, {INPLACE_UPDATE_READY: "False"}, now)
        if ready:
            conditions.append(ready)
    return patch_pod_status(name_of(pod), {"status": {"conditions": conditions}}, uid=uid_of(pod))


def start_update(pod: JSON, spec: UpdateSpec, now: datetime, *, extra_labels: dict[str, str] | None = None,
                 extra_annotations: dict[str, str] | None = None,
                 pod_revision_labels: dict[str, str] | None = None) -> PodUpdate:
    """Update: drain (InPlaceUpdateReady=False), then one pod patch with the revision, the state and either the
    images or the grace annotation. `extra_*` ride along in the same patch (lifecycle Updating).

    `pod_revision_labels` are the labels that record the revision on the pod (the workload's revision adapter);
    by default CloneSet's: controller-revision-hash and pod-template-hash."""
    actions: list = []
    drain = set_ready_condition(pod, "False", now, START_IN_PLACE_UPDATE)
    if drain:
        actions.append(drain)
    # updateTimestamp is this plan's time, kept to the microsecond. The drain lands later (the executor may send
    # other writes first), so with a grace period refresh measures it from the round that first sees the drain
    # stored (see _finish_grace_period); this time names the update in that round's memory (`drain_key`).
    state: JSON = {"revision": spec.revision, "updateTimestamp": format_precise_time(now),
                   "lastContainerStatuses": None}
    parts: list[JSON] = []
    if spec.grace_seconds <= 0:
        applied, state = _apply_spec(pod, spec, state, now)
        parts.append(applied)
        parts.append(_drop_annotations(pod, INPLACE_UPDATE_GRACE_ANNOTATION, INPLACE_UPDATE_GRACE_ANNOTATION_LEGACY))
    else:
        parts.append({"metadata": {"annotations": {INPLACE_UPDATE_GRACE_ANNOTATION: spec.to_json()}}})
    labels = dict(revision_labels(spec.revision) if pod_revision_labels is None else pod_revision_labels)
    labels.update(extra_labels or {})
    annotations = dict(extra_annotations or {})
    annotations[INPLACE_UPDATE_STATE_ANNOTATION] = dump_state(state)
    parts.append({"metadata": {"labels": labels, "annotations": annotations}})
    parts.append(_drop_annotations(pod, INPLACE_UPDATE_STATE_ANNOTATION_LEGACY))
    actions.append(patch_pod(name_of(pod), _pod_patch(pod, *parts), "strategic"))
    return PodUpdate(actions, float(spec.grace_seconds) if spec.grace_seconds > 0 else None, started=True)


def update_through_hooks(pod: JSON, spec: UpdateSpec, lifecycle_spec: JSON | None, now: datetime, *,
                         pod_revision_labels: dict[str, str] | None = None,
                         always_set_updating: bool = True) -> PodUpdate:
    """The in-place half of updatePod (CloneSet) / inPlaceUpdatePod (Advanced StatefulSet), through the
    inPlaceUpdate lifecycle hook:
    - Normal (or PreparingNormal, or no state) and hooked → PreparingUpdate, then wait for the hook owner;
    - Updated (a newer revision arrived) → PreparingUpdate with the hook's labels/finalizers put back;
    - PreparingUpdate still hooked → wait;
    - otherwise start the update, writing lifecycle Updating in the same patch (`always_set_updating=False`:
      only when the pod has a state label, as Advanced StatefulSet does), plus SuccessfulUpdatePodInPlace.
    """
    hook = lifecycle.hook_of(lifecycle_spec, "inPlaceUpdate")
    state = lifecycle.state_of(pod)
    if state in ("", lifecycle.PREPARING_NORMAL, lifecycle.NORMAL):
        if lifecycle.is_pod_hooked(hook, pod):
            return PodUpdate(lifecycle.update_pod_lifecycle(pod, lifecycle.PREPARING_UPDATE,
                                                            lifecycle.marks_pod_not_ready(hook), now))
    elif state == lifecycle.UPDATED:
        return PodUpdate(lifecycle.update_pod_lifecycle_with_handler(pod, lifecycle.PREPARING_UPDATE, hook, now))
    elif state == lifecycle.PREPARING_UPDATE:
        if lifecycle.is_pod_hooked(hook, pod):
            return PodUpdate()  # the hook owner has not released the pod yet
    elif state != lifecycle.UPDATING:
        return PodUpdate(error=f"not allowed to in-place update pod {name_of(pod)} in state {state}")
    extra_labels: dict[str, str] = {}
    extra_annotations: dict[str, str] = {}
    if always_set_updating or state:
        extra_labels, extra_annotations = lifecycle.state_labels(lifecycle.UPDATING, now)
    started = start_update(pod, spec, now, extra_labels=extra_labels, extra_annotations=extra_annotations,
                           pod_revision_labels=pod_revision_labels)
    event = Event("Normal", "SuccessfulUpdatePodInPlace",
                  f"successfully update pod {name_of(pod)} in-place(revision {spec.revision})")
    return PodUpdate(started.actions + [event], started.requeue_after, started=True)


# ---------------------------------------------------------------------------------------------------------
# In place, or recreate

# The pod update policies that allow an in-place update (CloneSet updateStrategy.type, Advanced StatefulSet
# rollingUpdate.podUpdatePolicy; the third is ReCreate).
IN_PLACE_IF_POSSIBLE = "InPlaceIfPossible"
IN_PLACE_ONLY = "InPlaceOnly"


def plan_pod_update(pod: JSON, revisions: list[JSON], target: JSON, *, policy: str, lifecycle_spec: JSON | None,
                    now: datetime, pod_revision_labels: dict[str, str], in_place_only_error: str,
                    grace_seconds: int = 0, always_set_updating: bool = True,
                    recreate_when: Callable[[JSON | None, JSON], bool] | None = None) -> PodUpdate | None:
    """How a pod moves to the revision `target` under the pod update `policy` (CloneSet's updatePod, Advanced
    StatefulSet's choice before inPlaceUpdatePod):
    - in place (`update_through_hooks`) when the policy allows it and the change from the pod's own revision
      (found among `revisions`) is images and metadata only, unless `recreate_when(old, target)`, a kind's own
      reason (CloneSet: the volumeClaimTemplates changed), says otherwise; InPlaceOnly ignores that reason;
    - None: recreate it, the kind's way (CloneSet labels it specified-delete, Advanced StatefulSet deletes it);
    - InPlaceOnly but not possible: nothing done, and `in_place_only_error` (each kind words it as upstream).
    `pod_revision_labels` record `target` on the pod; `always_set_updating`: see `update_through_hooks`."""
    if policy not in (IN_PLACE_IF_POSSIBLE, IN_PLACE_ONLY):
        return None
    old = next((r for r in revisions if equal_to_revision_hash(pod, name_of(r))), None)
    spec = calculate_update_spec(old, target, grace_seconds)
    if spec is not None and policy != IN_PLACE_ONLY and recreate_when is not None and recreate_when(old, target):
        spec = None
    if spec is not None:
        return update_through_hooks(pod, spec, lifecycle_spec, now, pod_revision_labels=pod_revision_labels,
                                    always_set_updating=always_set_updating)
    if policy == IN_PLACE_ONLY:
        return PodUpdate(error=in_place_only_error)
    return None


# ---------------------------------------------------------------------------------------------------------
# Completion

def normalize_image(image: str) -> str:
    """A docker reference in full form: `nginx` → `docker.io/library/nginx:latest` (kubelet reports full forms)."""
    ref, _, digest = (image or "").partition("@")
    name, tag = ref, ""
    slash, colon = ref.rfind("/"), ref.rfind(":")
    if colon > slash:
        name, tag = ref[:colon], ref[colon + 1:]
    first, _, rest = name.partition("/")
    if not rest or not ("." in first or ":" in first or first == "localhost"):
        domain, path = "docker.io", name
    else:
        domain, path = ("docker.io" if first == "index.docker.io" else first), rest
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    if not tag and not digest:
        tag = "latest"
    return f"{domain}/{path}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def containers_update_error(pod: JSON, state: JSON) -> str | None:
    """defaultCheckContainersInPlaceUpdateCompleted, judged by restarts; None when every container is done.

    Done means the kubelet restarted the container since the update began: a new containerID, or a restartCount
    above the recorded one. Upstream's test (imageID changed, or the same imageID with the spec image reported)
    misfires both ways on a v1.20 kubelet over containerd:
    - the imageID of one unchanged container changes form: containerd looks it up at every status (the image's
      first repo digest, else its bare `sha256:` id), so another pod pulling the image under another name turns
      `registry/x@sha256:…` into `localhost:5000/x@sha256:…`, and the old container looked done (issue 19: the
      rollout reported done with restartCount 0). An empty imageID (the container being recreated) did too;
    - a new tag of the same digest never changes the imageID (OpenKruise #1493), and containerd reports any tag
      of the digest as `image`, so only the restart tells.
    A container that had not started when the update began (no containerID recorded: the kubelet had not
    reported it, or it waited on a pull) is done once it runs the spec's image, or once it restarted: the kubelet,
    mid-sync on the pod's first spec, may start it from the OLD spec (restartCount 0, a containerID never seen)
    and restart it into the new one only at its next sync (issue 19's "done with restartCount 0").
    Accepted trade-offs: a crash restart in the instant before the kubelet sees the new spec counts as done too
    (the kubelet then restarts it once more into the new image); and a container not started when the update
    began, moved to a new tag of the same digest, waits for kruise-daemon's runtime-containers-meta (or a
    restart) when the runtime reports it under the old tag.
    Compatibility: a state written before containerIDs were recorded keeps upstream's imageID rule, except that
    an empty imageID never counts as changed.
    """
    spec_images = {c.get("name"): normalize_image(c.get("image", "")) for c in containers_of(pod)}
    remaining = dict(state.get("lastContainerStatuses") or {})
    for cs in container_statuses_of(pod):
        name = cs.get("name")
        if name not in remaining:
            continue
        old = remaining.pop(name) or {}
        if not _container_updated(cs, old, spec_images.get(name)):
            return f"container {name} imageID not changed"  # upstream's words, whatever the rule
    if remaining:
        return f"not found statuses of containers {sorted(remaining)}"
    return None


def _container_updated(status: JSON, old: JSON, spec_image: str | None) -> bool:
    """One container of `containers_update_error`: `old` is what the update recorded of it."""
    cid, image_id = status.get("containerID") or "", status.get("imageID") or ""
    if not image_id:
        return False  # nothing runs (being recreated, pulling): an empty imageID never counts as changed
    restarts = int(status.get("restartCount") or 0)
    old_cid, old_restarts, old_image_id = old.get("containerID") or "", old.get("restartCount"), old.get("imageID")
    restarted = old_restarts is not None and restarts > int(old_restarts)
    if old_cid:
        return bool(cid) and cid != old_cid or restarted
    if not old_image_id:
        # Not started when the update began: the container running now is the update's if the kubelet made it
        # from the new spec (its image), or restarted it since (restartCount above 0 when nothing was recorded).
        return restarted or (old_restarts is None and restarts > 0) or normalize_image(status.get("image", "")) \
            == spec_image
    if old_restarts is not None:
        return restarted  # it ran, under no containerID the runtime reported: only a restart tells
    # A state of older code (imageID only): upstream's rule.
    return image_id != old_image_id or normalize_image(status.get("image", "")) == spec_image


def never_applied(state: JSON) -> bool:
    """The state of an update that has applied no batch yet: what `start_update` writes with a grace period (the
    images follow when it ends). `_apply_spec` always records a batch, a metadata-only one too (no containers)."""
    return not state.get("containerBatchesRecord") and not state.get("lastContainerStatuses")


def unapplied_images(pod: JSON, state: JSON | None, target_images: dict[str, str] | None) -> dict[str, str]:
    """The images of the state's revision (`target_images`, by container name) that an update which applied no
    batch has left out of the pod's spec; empty when unknown, when a batch was applied, or when the pod is not
    at the state's revision. A state of older code, or of a metadata-only update, whose pod has the images, has
    none left."""
    if not state or not target_images or not never_applied(state) or grace_text(pod) \
            or not equal_to_revision_hash(pod, state.get("revision", "")):
        return {}
    return {c["name"]: target_images[c["name"]] for c in containers_of(pod)
            if c.get("name") in target_images and c.get("image") != target_images[c["name"]]}


def state_revision_images(pod: JSON, revisions: list[JSON]) -> dict[str, str] | None:
    """The container images of the revision, among `revisions`, that the pod's in-place state names (None: no
    state, or that revision is unknown): the `target_images` of `pod_update_error` and `refresh_pod`."""
    state = read_state(pod)
    if not state or not state.get("revision"):
        return None
    revision = next((r for r in revisions if equal_to_revision_hash(
        {"metadata": {"labels": {CONTROLLER_REVISION_HASH_LABEL: name_of(r)}}}, state["revision"])), None)
    template = template_from_revision(revision) if revision is not None else None
    if template is None:
        return None
    return {c.get("name", ""): c.get("image", "") for c in containers_of(template)}


def pod_update_error(pod: JSON, target_images: dict[str, str] | None = None) -> str | None:
    """DefaultCheckInPlaceUpdateCompleted: None when the pod has no in-place update left to finish.

    `target_images`: the images of the revision the pod's state names (None: unknown). An update that applied no
    batch while the spec still lacks those images (its grace spec lost) is never complete."""
    if grace_text(pod):
        return "still in grace period of in-place update"
    state = read_state(pod)
    if state is None:
        return None
    if state.get("nextContainerImages") or state.get("nextContainerRefMetadata"):
        return "existing containers to in-place update in next batches"
    left = unapplied_images(pod, state, target_images)
    if left:
        return f"in-place update of revision {state.get('revision')} has not applied images of {sorted(left)}"
    if spec_matches_meta(pod):
        # kruise-daemon's runtime-containers-meta: every container runs, under the ID the pod reports, the spec
        # the pod now asks for (the kubelet's hash of it), so the update is done (upstream's first rule).
        return None
    return containers_update_error(pod, state)


# ---------------------------------------------------------------------------------------------------------
# Refresh: grace period, next batch, InPlaceUpdateReady=True

@dataclass
class RefreshResult:
    actions: list = field(default_factory=list)
    requeue_after: float | None = None
    error: str | None = None
    drain_seen: tuple[str, str] | None = None  # (drain_key, time): when a round first saw the drain stored


def drain_key(pod: JSON, state: JSON, drain: JSON) -> str:
    """Which drain a `drain_seen` time is of: this pod (uid), this update (its plan's updateTimestamp), this
    drain (its lastTransitionTime: a drain undone and done again is another) and this stretch of not-ready (the
    Ready condition's lastTransitionTime: a pod that turned Ready again meanwhile, and then not ready, is
    another)."""
    ready = get_condition(pod, POD_READY) or {}
    return f"{uid_of(pod)}@{state.get('updateTimestamp')}@{drain.get('lastTransitionTime')}@" \
           f"{ready.get('lastTransitionTime')}"


def pending_drain_key(pod: JSON) -> str | None:
    """The `drain_key` of the pod's drain while its grace period runs (a grace spec on the pod, the drain
    stored with a time), else None: what a workload's memory of drains seen keeps from round to round."""
    if not grace_text(pod) or not has_readiness_gate(pod, INPLACE_UPDATE_READY):
        return None
    state = read_state(pod)
    drain = get_condition(pod, INPLACE_UPDATE_READY) or {}
    if state is None or drain.get("status") != "False" or not drain.get("lastTransitionTime") or is_pod_ready(pod):
        return None
    return drain_key(pod, state, drain)


def _whole_second_after(now: datetime, started: datetime | None) -> datetime:
    """Whole seconds (the API server drops fractions), rounded up: never before this round began, and after
    updateTimestamp, which tells a stored drain time of ours from the plan's own."""
    base = max(now, started or now)
    stamp = base.replace(microsecond=0) + timedelta(seconds=1 if base.microsecond else 0)
    if started is not None and stamp <= started:
        stamp += timedelta(seconds=1)
    return stamp


def _finish_grace_period(pod: JSON, text: str, now: datetime, drains_seen: Mapping[str, str]) -> RefreshResult:
    try:
        spec = UpdateSpec.from_json(text)
    except (ValueError, TypeError):
        return RefreshResult(error=f"pod {name_of(pod)} has an unreadable {INPLACE_UPDATE_GRACE_ANNOTATION}")
    drop = _drop_annotations(pod, INPLACE_UPDATE_GRACE_ANNOTATION, INPLACE_UPDATE_GRACE_ANNOTATION_LEGACY)
    if not equal_to_revision_hash(pod, spec.revision):
        # The pod moved to another revision meanwhile: forget this spec and go through the update again. Only if
        # the pod is still the one seen (resourceVersion): a copy whose labels are not the stored ones must not
        # drop the grace spec of an update under way; its state, which applied no batch, would then read as done.
        rv = (pod.get("metadata") or {}).get("resourceVersion")
        seen = {"metadata": {"resourceVersion": rv}} if rv else {}
        return RefreshResult([patch_pod(name_of(pod), _pod_patch(pod, drop, seen), "strategic")])
    state = read_state(pod)
    if state is None:
        return RefreshResult(error=f"pod {name_of(pod)} has {INPLACE_UPDATE_GRACE_ANNOTATION} but "
                                   f"{INPLACE_UPDATE_STATE_ANNOTATION} not found")
    # The grace runs from when the pod was really not ready, that is, from when the drain write landed. That
    # write carries the plan's clock (updateTimestamp, the condition's lastTransitionTime) but lands later: the
    # executor may send other writes first, or wait on its rate limit. So the first round that sees the drain
    # stored (it was in the cache that round read, so it landed before the round began) remembers its own start,
    # rounded up to the second, and the grace runs from that: `drain_seen`, kept by the runtime in the workload's
    # memory (Plan.memory), no write needed. A manager that restarts, or a new leader, forgets it and starts the
    # grace again from its own first look: longer, never shorter.
    started = parse_time(state.get("updateTimestamp"))
    seen: tuple[str, str] | None = None
    if has_readiness_gate(pod, INPLACE_UPDATE_READY):
        drain = get_condition(pod, INPLACE_UPDATE_READY) or {}
        drained_at = parse_time(drain.get("lastTransitionTime"))
        if drain.get("status") != "False":
            # The drain was undone meanwhile: drain again; the grace runs from when this one is seen stored.
            stamp = _whole_second_after(now, started)
            conditions = [condition_patch(INPLACE_UPDATE_READY, "False", stamp, reason=START_IN_PLACE_UPDATE)]
            ready = ready_condition_after(pod, {INPLACE_UPDATE_READY: "False"}, now)
            if ready:
                conditions.append(ready)
            again = patch_pod_status(name_of(pod), {"status": {"conditions": conditions}}, uid=uid_of(pod))
            return RefreshResult([again], requeue_after=float(spec.grace_seconds))
        if is_pod_ready(pod):
            # The gate is stored False but the pod reads Ready: the kubelet's status write computed before it saw
            # the gate landed after ours (a real kubelet does this now and then). Traffic may still come, so the
            # grace has not begun; the kubelet turns it not ready once it sees the gate, a pod event that brings
            # the next round (the requeue is a backstop).
            return RefreshResult(requeue_after=1.0)
        if drained_at is not None:
            key = drain_key(pod, state, drain)
            remembered = parse_time(drains_seen[key]) if drains_seen.get(key) else None
            started = remembered or _whole_second_after(now, max(started or drained_at, drained_at))
            seen = (key, format_time(started))
        # a condition without a time (not ours) leaves updateTimestamp in charge
    if started is not None:
        left = seconds_until(started + timedelta(seconds=spec.grace_seconds), now)
        if left > 0:
            return RefreshResult(requeue_after=float(math.ceil(left)), drain_seen=seen)
    applied, state = _apply_spec(pod, spec, state, now)
    annotations = {"metadata": {"annotations": {INPLACE_UPDATE_STATE_ANNOTATION: dump_state(state)}}}
    return RefreshResult([patch_pod(name_of(pod), _pod_patch(pod, applied, annotations, drop), "strategic")])


def _next_batch(pod: JSON, state: JSON, now: datetime) -> RefreshResult | None:
    if not state.get("nextContainerImages"):
        return None
    for cname in (state.get("preCheckBeforeNext") or {}).get("containersRequiredReady") or []:
        cs = container_status(pod, cname)
        if cs is None or not cs.get("ready"):
            return RefreshResult()  # the previous batch is not ready yet
    spec = UpdateSpec(revision=state.get("revision", ""), container_images=dict(state["nextContainerImages"]))
    applied, state = _apply_spec(pod, spec, state, now)
    annotations = {"metadata": {"annotations": {INPLACE_UPDATE_STATE_ANNOTATION: dump_state(state)}}}
    return RefreshResult([patch_pod(name_of(pod), _pod_patch(pod, applied, annotations), "strategic")])


def _restart(pod: JSON, state: JSON, images: dict[str, str], now: datetime, grace_seconds: int) -> RefreshResult:
    """An update that lost its grace spec before applying a batch starts again (drain, grace, images), at the
    revision the pod already has: it must neither count as done nor stay stuck."""
    spec = UpdateSpec(revision=state.get("revision", ""), container_images=dict(images),
                      grace_seconds=max(int(grace_seconds), 0))
    labels = {k: v for k, v in labels_of(pod).items() if k in (CONTROLLER_REVISION_HASH_LABEL, POD_TEMPLATE_HASH_LABEL)}
    started = start_update(pod, spec, now, pod_revision_labels=labels)
    return RefreshResult(started.actions, started.requeue_after)


def _progress(pod: JSON, now: datetime, target_images: dict[str, str] | None = None,
              grace_seconds: int = 0, drains_seen: Mapping[str, str] | None = None) -> RefreshResult | None:
    """The in-place update's next step (finish a grace period, wait for the containers, start the next
    batch, start again an update that lost its grace spec); None when there is nothing left to do but mark
    InPlaceUpdateReady=True."""
    text = grace_text(pod)
    if text:
        return _finish_grace_period(pod, text, now, drains_seen or {})
    state = read_state(pod)
    left = unapplied_images(pod, state, target_images)
    if left:
        return _restart(pod, state, left, now, grace_seconds)
    if state is not None:
        if containers_update_error(pod, state) is not None:
            return RefreshResult()
        return _next_batch(pod, state, now)
    return None


def refresh(pod: JSON, now: datetime, *, hold_not_ready: bool = False,
            drains_seen: Mapping[str, str] | None = None) -> RefreshResult:
    """Refresh: finish a grace period, start the next container batch, or mark InPlaceUpdateReady=True.

    `hold_not_ready`: the caller is about to (re)start an in-place update of this pod in this round; a drain that
    is not followed by a pod patch (OpenKruise #2276) must not be undone in between. (A workload's round, which
    learns that only later, uses `refresh_pod` and `hold`.)
    """
    progress = _progress(pod, now, drains_seen=drains_seen)
    if progress is not None:
        return progress
    ready = None if hold_not_ready else set_ready_condition(pod, "True", now)
    return RefreshResult([ready] if ready else [])


# ---------------------------------------------------------------------------------------------------------
# A workload's round: refresh every pod, but keep the drains of the pods it updates (OpenKruise #2276)

@dataclass(frozen=True)
class Undrain:
    """InPlaceUpdateReady=True for a pod, emitted where refresh asks for it but sent only through `hold`, once
    the round knows whether it (re)starts that pod's in-place update."""

    pod: str
    action: Any


@dataclass
class PodRefresh:
    actions: list = field(default_factory=list)  # the in-place update's progress; its end as an `Undrain`
    moved: list = field(default_factory=list)  # lifecycle transitions: a round with one updates no pod
    requeue_after: float | None = None
    error: str | None = None
    drain_seen: tuple[str, str] | None = None  # see RefreshResult


_IN_PLACE_ANNOTATIONS = (INPLACE_UPDATE_STATE_ANNOTATION, INPLACE_UPDATE_STATE_ANNOTATION_LEGACY,
                         INPLACE_UPDATE_GRACE_ANNOTATION, INPLACE_UPDATE_GRACE_ANNOTATION_LEGACY)


def never_refreshed(pod: JSON) -> bool:
    """No InPlaceUpdateReady condition and no in-place update state: a pod its workload created and has not
    refreshed since. `refresh_pod` can only mark it InPlaceUpdateReady=True (nothing to finish, drain or hold),
    which a round may then do before the step upstream refreshes in (see cloneset/update.py `refresh_fresh_pods`):
    the pod's one status write carries it with KruisePodReady instead of a second write later."""
    annotations = annotations_of(pod)
    return (get_condition(pod, INPLACE_UPDATE_READY) is None
            and INPLACE_UPDATE_STATE_ANNOTATION not in annotations
            and INPLACE_UPDATE_STATE_ANNOTATION_LEGACY not in annotations)


def at_rest(pod: JSON) -> bool:
    """No in-place update recorded on the pod, InPlaceUpdateReady already True (or no such gate) and the lifecycle
    state unset or Normal: `refresh_pod` has nothing to do. Most pods of a workload, every round: a scale-up's
    rounds skip the rest of refresh for them."""
    annotations = annotations_of(pod)
    if any(annotations.get(key) for key in _IN_PLACE_ANNOTATIONS):
        return False
    if lifecycle.state_of(pod) not in ("", lifecycle.NORMAL):
        return False
    return (not has_readiness_gate(pod, INPLACE_UPDATE_READY)
            or condition_equal(get_condition(pod, INPLACE_UPDATE_READY), "True"))


def refresh_pod(pod: JSON, lifecycle_spec: JSON | None, update_revision: str, now: datetime, *,
                target_images: dict[str, str] | None = None, grace_seconds: int = 0,
                drains_seen: Mapping[str, str] | None = None) -> PodRefresh:
    """refreshPodState: the in-place update's progress (as `refresh`), and the lifecycle transition that allows
    (Updating → Updated or Normal, PreparingNormal → Normal, ...). The round sends the actions through `hold`.

    `target_images`: the images of the revision named by the pod's in-place state (see `pod_update_error`);
    `grace_seconds`: the grace period of an update started again because its grace spec was lost;
    `drains_seen`: when earlier rounds first saw drains stored (`RefreshResult.drain_seen`, by `drain_key`)."""
    if at_rest(pod):
        return PodRefresh()
    progress = _progress(pod, now, target_images, grace_seconds, drains_seen)
    if progress is None:
        ready = set_ready_condition(pod, "True", now)
        progress = RefreshResult([Undrain(name_of(pod), ready)] if ready else [])
    done = pod_update_error(pod, target_images) is None
    moved = lifecycle.refresh_state(lifecycle_spec, pod, update_revision, done, now)
    return PodRefresh(progress.actions, moved, progress.requeue_after, progress.error, progress.drain_seen)


def hold(actions: list, holding: Collection[str]) -> list:
    """A round's actions as sent: the `Undrain` of a pod in `holding`, whose in-place update (re)starts in this
    same round, is dropped (a drain whose pod patch failed must not be undone and redone); the others unwrap."""
    return [a.action if isinstance(a, Undrain) else a for a in actions
            if not (isinstance(a, Undrain) and a.pod in holding)]
