"""The manager's ImageListPullJob controller (kruise-daemon.md §2.3, upstream
`pkg/controller/imagelistpulljob/imagelistpulljob_controller.go`): a pure reconcile, one list job and the
ImagePullJobs it controls in; a plan out.

1. The template hash (every spec field but `images`) is the list job's `controller-revision-hash` label and each
   child's; a child of another hash, or of an image no longer listed, is deleted (and recreated).
2. Each image without a child gets one: `<name>-<hash>`, the template, a controller reference.
3. Status over the children that started: active, completed (every node finished), succeeded (every node
   succeeded), failedImageStatuses; completionTime once every child completed (Always); then the TTL.
"""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from controllers.common.actions import CONFLICT, WORKLOAD, Context, Create, Delete, Event, Patch, Plan, update_status
from controllers.common.objects import uid_of
from controllers.common.ownership import controller_ref
from controllers.common.times import as_utc, format_time, parse_time, seconds_until
from controllers.imagepulljob import api

JSON = dict[str, Any]
HASH_LABEL = "controller-revision-hash"
FAILED_MESSAGE = "Please check for details which nodes failed by 'kubectl get ImagePullJob {}'."


def template_hash(list_job: JSON) -> str:
    """A stable hash of the template (upstream hashes the Go struct; any stable hash does, see §2.3)."""
    template = {k: v for k, v in api.spec(list_job).items() if k != "images"}
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def child_name(list_job: JSON, image: str, digest: str) -> str:
    """`<name>-<hash of image and template>`: upstream uses generateName; a name of our own makes a retried round
    find what it created (and a template change gives new names, never one still being deleted)."""
    suffix = hashlib.sha256(f"{digest}/{image}".encode()).hexdigest()[:10]
    return f"{api.meta(list_job)['name'][:240]}-{suffix}"


def _child(list_job: JSON, image: str, digest: str) -> JSON:
    meta = api.meta(list_job)
    template = {k: v for k, v in api.spec(list_job).items() if k != "images"}
    return {"apiVersion": api.GROUP_VERSION, "kind": api.JOB_KIND,
            "metadata": {"name": child_name(list_job, image, digest), "namespace": meta.get("namespace", ""),
                         "labels": {HASH_LABEL: digest},
                         "ownerReferences": [controller_ref(list_job, api.GROUP_VERSION, api.LIST_JOB_KIND)]},
            "spec": {**template, "image": image}}


def status_of(list_job: JSON, children: list[JSON], now) -> JSON:
    images = api.spec(list_job).get("images") or []
    old = api.status(list_job)
    started = [c for c in children if api.status(c).get("startTime")]
    active = sum(1 for c in started if (api.status(c).get("active") or 0) > 0)
    completed = sum(1 for c in started if api.status(c).get("desired", 0) ==
                    api.status(c).get("failed", 0) + api.status(c).get("succeeded", 0))
    succeeded = sum(1 for c in started if api.status(c).get("desired", 0) == api.status(c).get("succeeded", 0))
    failures = [{"imagePullJob": api.meta(c)["name"], "name": api.spec(c).get("image", ""),
                 "message": FAILED_MESSAGE.format(api.meta(c)["name"])}
                for c in sorted(started, key=lambda c: api.spec(c).get("image", "")) if api.status(c).get("failed")]
    status: JSON = {"startTime": old.get("startTime") or format_time(now), "desired": len(images),
                    "active": active, "completed": completed, "succeeded": succeeded}
    if failures:
        status["failedImageStatuses"] = failures
    if old.get("completionTime"):
        status["completionTime"] = old["completionTime"]
    elif api.completion_type(list_job) == api.ALWAYS and completed == len(images):
        status["completionTime"] = format_time(now)
    return status


def reconcile(list_job: JSON, observed: dict[str, list[JSON]], context: Context) -> Plan:
    now = as_utc(context.now)
    if api.is_deleting(list_job):
        return Plan([])
    completed = parse_time(api.status(list_job).get("completionTime"))
    ttl = api.completion_policy(list_job).get("ttlSecondsAfterFinished")
    if completed is not None and ttl is not None:
        left = seconds_until(completed + timedelta(seconds=ttl), now)
        if left <= 0:
            return Plan([Delete(WORKLOAD, api.meta(list_job)["name"], uid_of(list_job))])
    digest = template_hash(list_job)
    actions: list = []
    if (api.meta(list_job).get("labels") or {}).get(HASH_LABEL) != digest:
        actions.append(Patch(WORKLOAD, "", {"metadata": {"labels": {HASH_LABEL: digest}}}, "merge"))
    children = [c for c in observed.get(api.JOBS, []) if not api.is_deleting(c)]
    images = api.spec(list_job).get("images") or []
    by_image: dict[str, JSON] = {}
    for child in sorted(children, key=lambda c: api.meta(c).get("creationTimestamp", "")):
        image = api.spec(child).get("image")
        current = (api.meta(child).get("labels") or {}).get(HASH_LABEL) == digest
        if image in images and current and image not in by_image:
            by_image[image] = child
            continue
        actions.append(Delete(api.JOBS, api.meta(child)["name"], uid_of(child)))
        actions.append(Event("Normal", "SuccessfulDelete", f"Successful delete ImagePullJob {api.meta(child)['name']}"))
    for image in images:
        if image not in by_image:
            actions.append(Create(api.JOBS, _child(list_job, image, digest), ignore=(CONFLICT,)))
            actions.append(Event("Normal", "SuccessfulCreate", f"Successful create ImagePullJob for {image}"))
    status = status_of(list_job, list(by_image.values()), now)
    if status != api.status(list_job):
        actions.append(update_status(status))
    requeue = None
    if "completionTime" in status and ttl is not None:
        requeue = max(1.0, seconds_until(parse_time(status["completionTime"]) + timedelta(seconds=ttl), now))
    return Plan(actions, requeue_after=requeue)
