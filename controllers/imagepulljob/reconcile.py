"""The manager's ImagePullJob controller (kruise-daemon.md §2.5, upstream
`pkg/controller/imagepulljob/imagepulljob_controller.go`, `imagepulljob_utils.go`): a pure reconcile, one job, the
NodeImages, the pods of its namespace and the pull secrets in; a plan out.

    plan = reconcile(job, {nodeimages, pods, secrets}, context)

1. A deleting or completed job releases its pull-secret copies and its finalizer; a completed one is deleted
   after ttlSecondsAfterFinished. Its tags leave the NodeImages through the NodeImage controller, which drops
   owners that are gone (and, for a job kept, the tag's own TTL).
2. The NodeImages of the job: `selector.names`, a label selector over them (node labels), the nodes of the pods
   `podSelector` matches (updated pods' nodes first, as upstream's pod order), or all.
3. Status from theirs (v1.9.0): a node whose NodeImage has the job's tag with the job as owner and the job's
   secrets is *synced*; it counts succeeded or failed when the tag's status of the same version says so, else
   active (no status yet, or an older version: v1.9.0's fix #2212, so parallelism is never overshot).
4. `parallelism - active` more nodes get the tag: a new tag (version one above any status of it), or the job
   added to the owners of an existing one (version + 1, a new pull round).
5. Always completes once every node finished, or at activeDeadlineSeconds with the rest counted failed.
"""
from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from controllers.common import images
from controllers.common.actions import PODS, WORKLOAD, Context, Create, Delete, Patch, Plan, earliest, update_status
from controllers.common.objects import finalizers_of, uid_of
from controllers.common.selectors import selector_matches
from controllers.common.times import as_utc, format_time, parse_time, seconds_until

from . import api
from .secrets import copies_of, secret_actions, synced_refs

JSON = dict[str, Any]
UPDATED_POD_LABEL = "controller-revision-hash"


def image_key(job: JSON) -> tuple[str, str]:
    """(NodeImage image name, tag) of the job's image; ("", "") when it does not parse (admission refuses it)."""
    try:
        return images.name_and_tag(api.spec(job).get("image") or "")
    except images.InvalidReference:
        return "", ""


def _active_scheduled(pod: JSON) -> bool:
    meta, pod_spec = pod.get("metadata") or {}, pod.get("spec") or {}
    phase = (pod.get("status") or {}).get("phase")
    return bool(pod_spec.get("nodeName")) and not meta.get("deletionTimestamp") and phase not in ("Succeeded",
                                                                                                   "Failed")


def select_pods(job: JSON, pods: list[JSON]) -> list[JSON]:
    """The `named` watch's choice: the active, scheduled pods of the job's namespace podSelector matches."""
    selector = api.spec(job).get("podSelector")
    if selector is None:
        return []
    return [p for p in pods if _active_scheduled(p) and selector_matches(selector, (p.get("metadata") or {})
                                                                         .get("labels") or {})]


def node_images_for(job: JSON, node_images: list[JSON], pods: list[JSON]) -> list[JSON]:
    """GetNodeImagesForJob, in the order nodes are synced."""
    by_name = {api.meta(n).get("name"): n for n in node_images}
    job_spec = api.spec(job)
    if job_spec.get("podSelector") is not None:
        names: list[str] = []
        # Pods sorted by creation, the newest last, as upstream's pod list: the order of their nodes.
        for pod in sorted(select_pods(job, pods), key=lambda p: (p["metadata"].get("creationTimestamp", ""),
                                                                  p["metadata"]["name"])):
            node = pod["spec"]["nodeName"]
            if node not in names:
                names.append(node)
        return [by_name[n] for n in names if n in by_name]
    selector = job_spec.get("selector")
    ordered = sorted(node_images, key=lambda n: api.meta(n).get("name", ""))
    if selector is None:
        return ordered
    if selector.get("names"):
        return [by_name[n] for n in selector["names"] if n in by_name]
    label_selector = {k: selector[k] for k in ("matchLabels", "matchExpressions") if selector.get(k)}
    return [n for n in ordered if selector_matches(label_selector, api.meta(n).get("labels") or {})]


def _tag_spec(node_image: JSON, name: str, tag: str) -> JSON | None:
    for entry in ((api.spec(node_image).get("images") or {}).get(name) or {}).get("tags") or []:
        if entry.get("tag") == tag:
            return entry
    return None


def _owned_by(tag_spec: JSON, job: JSON) -> bool:
    return any(isinstance(o, dict) and o.get("uid") == uid_of(job) for o in tag_spec.get("ownerReferences") or [])


def _has_secrets(node_image: JSON, name: str, refs: list[JSON]) -> bool:
    present = {(r.get("namespace"), r.get("name"))
               for r in ((api.spec(node_image).get("images") or {}).get(name) or {}).get("pullSecrets") or []}
    return all((r["namespace"], r["name"]) in present for r in refs)


def calculate(job: JSON, node_images: list[JSON], refs: list[JSON], now) -> tuple[JSON, list[JSON]]:
    """calculateStatus: the new status, and the NodeImages not synced yet (in order)."""
    name, tag = image_key(job)
    old = api.status(job)
    succeeded, failed, pulling, not_synced = [], [], [], []
    for node_image in node_images:
        tag_spec = _tag_spec(node_image, name, tag)
        if tag_spec is None or not _owned_by(tag_spec, job) or not _has_secrets(node_image, name, refs):
            not_synced.append(node_image)
            continue
        state = api.tag_status(node_image, name, tag)
        same = state is not None and int(state.get("version") or 0) == int(tag_spec.get("version") or 0)
        node = api.meta(node_image).get("name", "")
        if same and state.get("phase") == api.SUCCEEDED:
            succeeded.append(node)
        elif same and state.get("phase") == api.FAILED:
            failed.append(node)
        else:
            pulling.append(node)
    desired = len(node_images)
    status: JSON = {"startTime": old.get("startTime") or format_time(now), "desired": desired,
                    "active": len(pulling), "succeeded": len(succeeded), "failed": len(failed)}
    failed_nodes = sorted(failed)
    done = len(succeeded) + len(failed)
    message = f"job is running, progress {100.0 * done / desired:.1f}%" if done else api.MESSAGE_NO_PROGRESS
    if api.completion_type(job) == api.ALWAYS:
        deadline = api.completion_policy(job).get("activeDeadlineSeconds")
        started = parse_time(status["startTime"])
        unfinished = desired - len(succeeded) - len(failed)
        if deadline and started and seconds_until(started + timedelta(seconds=deadline), now) <= 0 and unfinished:
            failed_nodes = sorted(failed + pulling + [api.meta(n).get("name", "") for n in not_synced])
            status.update(active=0, failed=len(failed_nodes), completionTime=format_time(now))
            message = api.MESSAGE_DEADLINE
        elif unfinished == 0:
            status["completionTime"] = format_time(now)
            message = api.MESSAGE_COMPLETED
    status["message"] = message
    if failed_nodes:
        status["failedNodes"] = failed_nodes
    return status, not_synced


def tag_pull_policy(job: JSON, rand: random.Random | None = None) -> JSON:
    """getImagePullPolicy: what the tag carries; the TTL is the NodeImage controller's to enforce."""
    rand = rand or random.Random()
    policy: JSON = {"timeoutSeconds": api.timeout_seconds(job), "backoffLimit": api.backoff_limit(job)}
    completion = api.completion_policy(job)
    if api.completion_type(job) == api.NEVER:
        policy["ttlSecondsAfterFinished"] = api.NEVER_TAG_TTL_SECONDS + rand.randint(-600, 600)
        policy["activeDeadlineSeconds"] = max(api.NEVER_MIN_DEADLINE_SECONDS, api.timeout_seconds(job))
        return policy
    base = (completion.get("ttlSecondsAfterFinished") or completion.get("activeDeadlineSeconds")
            or api.timeout_seconds(job) * api.backoff_limit(job))
    policy["ttlSecondsAfterFinished"] = int(base) + api.ALWAYS_TAG_TTL_SLACK_SECONDS + rand.randint(0, 300)
    if completion.get("activeDeadlineSeconds"):
        policy["activeDeadlineSeconds"] = completion["activeDeadlineSeconds"]
    return policy


def sync_node_image(job: JSON, node_image: JSON, refs: list[JSON], now) -> Patch:
    """syncNodeImages for one node: the job's tag (new, or the job added to its owners with version + 1), its
    sandbox config and secrets. A merge patch of this image's entry, failing on a concurrent edit."""
    name, tag = image_key(job)
    entry = dict((api.spec(node_image).get("images") or {}).get(name) or {})
    tags = [dict(t) for t in entry.get("tags") or []]
    current = next((t for t in tags if t.get("tag") == tag), None)
    pull_policy = api.spec(job).get("imagePullPolicy") or api.IF_NOT_PRESENT
    if current is not None:
        if not _owned_by(current, job):
            current["version"] = int(current.get("version") or 0) + 1
            current["ownerReferences"] = [*(current.get("ownerReferences") or []), api.owner_reference(job)]
            current["createdAt"] = format_time(now)
            current["imagePullPolicy"] = pull_policy
    else:
        state = api.tag_status(node_image, name, tag)
        version = int(state.get("version") or 0) + 1 if state else 0
        tags.append({"tag": tag, "version": version, "pullPolicy": tag_pull_policy(job),
                     "ownerReferences": [api.owner_reference(job)], "createdAt": format_time(now),
                     "imagePullPolicy": pull_policy})
    entry["tags"] = sorted(tags, key=lambda t: t["tag"])
    if api.spec(job).get("sandboxConfig"):
        entry["sandboxConfig"] = api.spec(job)["sandboxConfig"]
    secrets = list(entry.get("pullSecrets") or [])
    have = {(r.get("namespace"), r.get("name")) for r in secrets}
    secrets += [r for r in refs if (r["namespace"], r["name"]) not in have]
    if secrets:
        entry["pullSecrets"] = secrets
    body = {"metadata": {"resourceVersion": api.meta(node_image).get("resourceVersion")},
            "spec": {"images": {name: entry}}}
    return Patch(api.NODE_IMAGES, api.meta(node_image)["name"], body, "merge")


def _finalize(job: JSON, secrets: list[JSON]) -> list:
    """Release the job's secret copies, then its finalizer."""
    actions = secret_actions(job, secrets, keep=False)
    if api.DELETION_PROTECTION_FINALIZER in finalizers_of(job):
        remaining = [f for f in finalizers_of(job) if f != api.DELETION_PROTECTION_FINALIZER]
        meta = {"finalizers": remaining or None, "resourceVersion": api.meta(job).get("resourceVersion")}
        actions.append(Patch(WORKLOAD, "", {"metadata": meta}, "merge"))
    return actions


def reconcile(job: JSON, observed: dict[str, list[JSON]], context: Context) -> Plan:
    now = as_utc(context.now)
    secrets = observed.get(api.SECRETS, [])
    if api.is_deleting(job):
        return Plan(_finalize(job, secrets))
    completed = parse_time(api.status(job).get("completionTime"))
    if completed is not None:
        actions = _finalize(job, secrets)
        ttl = api.completion_policy(job).get("ttlSecondsAfterFinished")
        if ttl is None:
            return Plan(actions)
        left = seconds_until(completed + timedelta(seconds=ttl), now)
        if left <= 0:
            return Plan([*actions, Delete(WORKLOAD, api.meta(job)["name"], uid_of(job))])
        return Plan(actions, requeue_after=left)

    actions: list = []
    if api.DELETION_PROTECTION_FINALIZER not in finalizers_of(job):
        meta = {"finalizers": [*finalizers_of(job), api.DELETION_PROTECTION_FINALIZER],
                "resourceVersion": api.meta(job).get("resourceVersion")}
        return Plan([Patch(WORKLOAD, "", {"metadata": meta}, "merge")])
    name, _ = image_key(job)
    if not name:
        return Plan([])
    node_images = node_images_for(job, observed.get(api.NODE_IMAGES, []), observed.get(PODS, []))
    actions += secret_actions(job, secrets, keep=True)
    if any(isinstance(a, Create) for a in actions):
        return Plan(actions)  # the NodeImages name the copies once the index shows them
    refs = synced_refs(job, copies_of(job, secrets))
    status, not_synced = calculate(job, node_images, refs, now)
    if "completionTime" not in status:
        room = max(0, api.parallelism(job) - status["active"])
        actions += [sync_node_image(job, n, refs, now) for n in not_synced[:room]]
    if status != api.status(job):
        actions.append(update_status(status))
    requeue = None
    deadline = api.completion_policy(job).get("activeDeadlineSeconds")
    if api.completion_type(job) == api.ALWAYS and deadline and "completionTime" not in status:
        started = parse_time(status["startTime"])
        requeue = max(1.0, seconds_until(started + timedelta(seconds=deadline), now))
    return Plan(actions, requeue_after=earliest(requeue))
