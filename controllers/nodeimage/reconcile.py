"""The manager's NodeImage controller (kruise-daemon.md §2.6, upstream `pkg/controller/nodeimage/
nodeimage_controller.go`): a pure reconcile, one node, its NodeImage and the ImagePullJobs in; a plan out.

    plan = reconcile(node, {nodeimages: [the node's], imagepulljobs: [every job]}, context)

The node is what is reconciled, so a NodeImage is created for every node, 30 s after it became Ready, never for a
virtual-kubelet node. It carries a controller reference to the node, so the garbage collector deletes it with
the node (upstream's controller deletes it on the node's delete event; a NodeImage labelled
`apps.kruise.io/fake-nodeimage` has no node and is left alone, as upstream).
Spec: the node's labels (jobs select nodes through them); tags lose owners that are gone (another uid), a tag
with no owner left and a tag whose pull finished more than its ttlSecondsAfterFinished ago go, then images
with no tag. Status: a tag the daemon never answered within 10 min of createdAt, or whose activeDeadlineSeconds
(plus 10 min) passed unfinished, is Failed ("node has not responded for a long time" — a node without a
kruise-daemon ends so, as upstream), with a PullImageFailed event on its jobs and the NodeImage; the counts are
recounted over the spec's tags.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from controllers.common.actions import Context, Create, Delete, Event, Patch, Plan, earliest, regarding
from controllers.common.objects import uid_of
from controllers.common.times import as_utc, format_time, parse_time, seconds_until
from controllers.imagepulljob import api

JSON = dict[str, Any]
CREATION_DELAY_SECONDS = 30  # --nodeimage-creation-delay
MIN_REQUEUE_SECONDS = 3.0


def _ready_since(node: JSON):
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            if condition.get("status") != "True":
                return None
            return parse_time(condition.get("lastTransitionTime"))
    return None


def _new_node_image(node: JSON) -> JSON:
    meta = api.meta(node)
    owner = {"apiVersion": "v1", "kind": "Node", "name": meta["name"], "uid": meta.get("uid", ""),
             "controller": True, "blockOwnerDeletion": False}
    return {"apiVersion": api.GROUP_VERSION, "kind": api.NODE_IMAGE_KIND,
            "metadata": {"name": meta["name"], "labels": dict(meta.get("labels") or {}), "ownerReferences": [owner]},
            "spec": {}}


def _owner_alive(owner: JSON, jobs: dict[tuple[str, str], JSON]) -> bool:
    if not isinstance(owner, dict) or owner.get("kind") != api.JOB_KIND:
        return True  # not a job's: kept, as upstream
    job = jobs.get((owner.get("namespace", ""), owner.get("name", "")))
    return job is not None and uid_of(job) == owner.get("uid")


def clean_spec(node_image: JSON, jobs: list[JSON], now) -> tuple[dict | None, float | None]:
    """The spec's images after the maintenance (None: unchanged), and when a tag's TTL runs out next."""
    by_key = {(api.meta(j).get("namespace", ""), api.meta(j).get("name", "")): j for j in jobs}
    images = api.spec(node_image).get("images") or {}
    changed, result, wake = False, {}, []
    for name, entry in sorted(images.items()):
        tags = []
        for tag in entry.get("tags") or []:
            if not tag.get("createdAt"):
                changed = True
                continue
            owners = [o for o in tag.get("ownerReferences") or [] if _owner_alive(o, by_key)]
            if len(owners) != len(tag.get("ownerReferences") or []):
                changed = True
                if not owners:
                    continue
                tag = {**tag, "ownerReferences": owners}
            state = api.tag_status(node_image, name, tag["tag"])
            ttl = (tag.get("pullPolicy") or {}).get("ttlSecondsAfterFinished")
            finished = api.completion_of(state)
            if (ttl is not None and finished is not None and api.is_finished(state)
                    and int(state.get("version") or 0) == int(tag.get("version") or 0)):
                left = seconds_until(finished + timedelta(seconds=ttl), now)
                if left <= 0:
                    changed = True
                    continue
                wake.append(left)
            tags.append(tag)
        if not tags:
            changed = True
            continue
        result[name] = {**entry, "tags": tags}
    return (result if changed else None), earliest(*wake)


def overdue(node_image: JSON, now) -> tuple[list[tuple[str, JSON, str]], float | None]:
    """Tags to fail now: (image, tag spec, message); and when the next one falls due."""
    out, wake = [], []
    for name, entry in sorted((api.spec(node_image).get("images") or {}).items()):
        for tag in entry.get("tags") or []:
            created = parse_time(tag.get("createdAt"))
            if created is None:
                continue
            state = api.tag_status(node_image, name, tag["tag"])
            current = state is not None and int(state.get("version") or 0) == int(tag.get("version") or 0)
            if current and api.is_finished(state):
                continue
            if not current:
                left = seconds_until(created + timedelta(seconds=api.NODE_RESPONSE_SECONDS), now)
                if left <= 0:
                    out.append((name, tag, api.NODE_SILENT))
                    continue
                wake.append(left)
            deadline = (tag.get("pullPolicy") or {}).get("activeDeadlineSeconds")
            if deadline:
                left = seconds_until(created + timedelta(seconds=deadline + api.NODE_RESPONSE_SECONDS), now)
                if left <= 0:
                    out.append((name, tag, api.TAG_DEADLINE))
                else:
                    wake.append(left)
    return out, earliest(*wake)


def counted_status(node_image: JSON, image_statuses: dict) -> JSON:
    """The counts over the spec's tags (a status of another version counts as pulling)."""
    desired = succeeded = failed = pulling = waiting = 0
    for name, entry in (api.spec(node_image).get("images") or {}).items():
        for tag in entry.get("tags") or []:
            desired += 1
            state = next((t for t in (image_statuses.get(name) or {}).get("tags") or []
                          if t.get("tag") == tag["tag"]), None)
            phase = (state or {}).get("phase")
            if phase == api.SUCCEEDED:
                succeeded += 1
            elif phase == api.FAILED:
                failed += 1
            elif phase == api.WAITING:
                waiting += 1
            else:
                pulling += 1
    return {"desired": desired, "succeeded": succeeded, "failed": failed, "pulling": pulling, "waiting": waiting}


def _fail_tags(node_image: JSON, tags: list[tuple[str, JSON, str]], now) -> list:
    statuses = {name: {"tags": [dict(t) for t in (entry or {}).get("tags") or []]}
                for name, entry in (api.status(node_image).get("imageStatuses") or {}).items()}
    events: list = []
    node = api.meta(node_image)["name"]
    for name, tag, message in tags:
        entry = statuses.setdefault(name, {"tags": []})
        entry["tags"] = [t for t in entry["tags"] if t.get("tag") != tag["tag"]]
        entry["tags"].append({"tag": tag["tag"], "phase": api.FAILED, "version": int(tag.get("version") or 0),
                              "completionTime": format_time(now), "message": message})
        entry["tags"].sort(key=lambda t: t["tag"])
        text = f"Failed to pull image {name}:{tag['tag']} on node {node} for {message}"
        for owner in tag.get("ownerReferences") or []:
            if isinstance(owner, dict) and owner.get("kind") == api.JOB_KIND:
                job = {k: owner.get(k, "") for k in ("apiVersion", "kind", "name", "namespace", "uid")}
                events.append(Event("Warning", "PullImageFailed", text, job))
        events.append(Event("Warning", "PullImageFailed", text,
                            regarding(node_image, api.GROUP_VERSION, api.NODE_IMAGE_KIND)))
    status = {**api.status(node_image), **counted_status(node_image, statuses), "imageStatuses": statuses}
    body = {"metadata": {"resourceVersion": api.meta(node_image).get("resourceVersion")}, "status": status}
    return [Patch(api.NODE_IMAGES, node, body, "merge", "status"), *events]


def reconcile(node: JSON, observed: dict[str, list[JSON]], context: Context) -> Plan:
    now = as_utc(context.now)
    node_images = observed.get(api.NODE_IMAGES, [])
    node_image = node_images[0] if node_images else None
    name = api.meta(node)["name"]
    if api.is_deleting(node) or (api.meta(node).get("labels") or {}).get(api.VIRTUAL_KUBELET_LABEL) == \
            api.VIRTUAL_KUBELET_VALUE:
        if node_image is not None and not api.is_deleting(node_image):
            return Plan([Delete(api.NODE_IMAGES, name, uid_of(node_image))])
        return Plan([])
    if node_image is None:
        ready = _ready_since(node)
        if ready is None:
            return Plan([])  # its Ready transition wakes it
        left = seconds_until(ready + timedelta(seconds=CREATION_DELAY_SECONDS), now)
        if left > 0:
            return Plan([], requeue_after=left)
        return Plan([Create(api.NODE_IMAGES, _new_node_image(node))])
    if api.is_deleting(node_image):
        return Plan([])

    labels = api.meta(node).get("labels") or {}
    current = api.meta(node_image).get("labels") or {}
    if labels != current:
        patch_labels = {**{k: None for k in current if k not in labels}, **labels}
        body = {"metadata": {"labels": patch_labels, "resourceVersion": api.meta(node_image).get("resourceVersion")}}
        return Plan([Patch(api.NODE_IMAGES, name, body, "merge")])
    images, ttl_wake = clean_spec(node_image, observed.get(api.JOBS, []), now)
    if images is not None:
        removed = {k: None for k in (api.spec(node_image).get("images") or {}) if k not in images}
        body = {"metadata": {"resourceVersion": api.meta(node_image).get("resourceVersion")},
                "spec": {"images": {**removed, **images} or None}}
        return Plan([Patch(api.NODE_IMAGES, name, body, "merge")])
    failing, due = overdue(node_image, now)
    actions: list = []
    if failing:
        actions = _fail_tags(node_image, failing, now)
    else:
        statuses = api.status(node_image).get("imageStatuses") or {}
        counts = counted_status(node_image, statuses)
        if any(api.status(node_image).get(k) != v for k, v in counts.items()):
            body = {"metadata": {"resourceVersion": api.meta(node_image).get("resourceVersion")}, "status": counts}
            actions.append(Patch(api.NODE_IMAGES, name, body, "merge", "status"))
    wake = earliest(ttl_wake, due)
    return Plan(actions, requeue_after=max(MIN_REQUEUE_SECONDS, wake) if wake else None)
