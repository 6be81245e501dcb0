"""Image pre-download for in-place updates, shared by CloneSet, Advanced StatefulSet and Advanced DaemonSet
(OpenKruise v1.9.0 `cloneset_predownload_image.go`, `statefulset_predownload_image.go`,
`daemonset_predownload_image.go`, `pkg/util/imagejob/utilfunction/imagejob_util.go`).

While a workload rolls out a new revision, one ImagePullJob per changed container image pulls it onto the
nodes of the pods still at an old revision, so that the later batches of an in-place update start with the
image already there. The update revision is then labelled `apps.kruise.io/pre-predownload-created=true` (sic,
upstream's key), or `apps.kruise.io/image-predownload-ignored=true` when the rollout gains nothing from it
(`skip_reason`); either label ends the attempts for that revision. Once the rollout is done, the workload's
ImagePullJobs are deleted.

Each kind decides from its own fields whether pre-download is due (`due` for CloneSet and Advanced StatefulSet;
Advanced DaemonSet's own condition) and what its batch figures are, and hands them to `plan_predownload`,
which returns the actions (creates, their events, the revision's label, or the deletes). A kind puts them last
in its plan: a refused ImagePullJob is retried by the next round and never holds the rollout back.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .actions import CONFLICT, NOT_FOUND, REVISIONS, Create, Delete, Event, Patch
from .intstr import scaled_value
from .keys import CONTROLLER_REVISION_HASH_LABEL, REVISION_HASH_LABEL
from .objects import is_terminating, labels_of, name_of, uid_of
from .ownership import controller_ref
from .revision import template_from_revision

JSON = dict[str, Any]

IMAGE_PULL_JOBS = "imagepulljobs.apps.kruise.io"
IMAGE_PULL_JOB_API_VERSION = "apps.kruise.io/v1beta1"

CREATED_LABEL = "apps.kruise.io/pre-predownload-created"  # the double "pre" is upstream's
IGNORED_LABEL = "apps.kruise.io/image-predownload-ignored"
PARALLELISM_ANNOTATION = "apps.kruise.io/image-predownload-parallelism"
TIMEOUT_ANNOTATION = "apps.kruise.io/image-predownload-timeout-seconds"
MIN_UPDATED_READY_ANNOTATION = "apps.kruise.io/image-predownload-min-updated-ready-pods"

MINIMUM_REPLICAS = 3  # minimumReplicasToPreDownloadImage: at most this many replicas never pre-download
DEFAULT_PARALLELISM = 1
DEFAULT_TIMEOUT_SECONDS = 300
BACKOFF_LIMIT = 1
TTL_SECONDS_AFTER_FINISHED = 600

_INT = re.compile(r"^[+-]?[0-9]+$")  # strconv.Atoi / ParseInt(s, 10, 32)
_INT32 = (-(2**31), 2**31 - 1)


def _annotation_int(annotations: dict[str, str], key: str, default: int) -> int:
    """An int annotation as upstream parses it: anything else (or out of int32) leaves the default."""
    text = (annotations or {}).get(key)
    if text is None or not _INT.match(text):
        return default
    value = int(text)
    return value if _INT32[0] <= value <= _INT32[1] else default


def changed_images(old_revisions: list[JSON], update_revision: JSON) -> dict[str, str]:
    """diffImagesBetweenRevisions: container name → new image, for the update revision's containers whose image
    differs from the one of the same name in an old revision, or that no old revision has. An unreadable
    revision yields nothing, as upstream."""
    old_templates = [template_from_revision(r) for r in old_revisions]
    new_template = template_from_revision(update_revision)
    if new_template is None or any(t is None for t in old_templates):
        return {}
    images: dict[str, str] = {}
    for container in (new_template.get("spec") or {}).get("containers") or []:
        name, image = container.get("name", ""), container.get("image", "")
        found = False
        for old in old_templates:
            same = [c for c in (old.get("spec") or {}).get("containers") or [] if c.get("name") == name]
            if same:
                found = True
                if same[0].get("image") != image:
                    images[name] = image
        if not found:
            images[name] = image
    return images


def min_updated_ready_pods(annotations: dict[str, str], total: int) -> int:
    """The annotation `apps.kruise.io/image-predownload-min-updated-ready-pods`: an int, or a percentage of
    `total` rounded up; 0 when absent or malformed (upstream logs the error and carries on with 0)."""
    text = (annotations or {}).get(MIN_UPDATED_READY_ANNOTATION)
    if text is None:
        return 0
    try:
        return scaled_value(int(text) if _INT.match(text) else text, total, round_up=True)
    except ValueError:
        return 0


def due(annotations: dict[str, str], replicas: int, updated_ready_replicas: int, status_update_revision: str | None,
        update_revision: str) -> bool:
    """CloneSet and Advanced StatefulSet, while current ≠ update revision: enough pods of the update revision
    are ready (the status counts only if it already names that revision)."""
    ready = updated_ready_replicas if status_update_revision == update_revision else 0
    return min_updated_ready_pods(annotations, replicas) <= ready


def skip_reason(*, pods: int, partition: int, max_unavailable: int, recreate: bool = False,
                in_place_possible: bool = True, minimum_replicas: int | None = MINIMUM_REPLICAS) -> str | None:
    """Why pre-download gains nothing for this revision (the revision is then labelled ignored), or None.
    In upstream's order: a recreating update; `minimum_replicas` or fewer (None: no such rule, Advanced
    DaemonSet); every pod updated in one batch (partition 0 and maxUnavailable ≥ the pods); a change that
    cannot be made in place."""
    if recreate:
        return "the update recreates pods"
    if minimum_replicas is not None and pods <= minimum_replicas:
        return f"replicas {pods} <= {minimum_replicas}"
    if partition == 0 and max_unavailable >= pods:
        return "all pods update in one batch"
    if not in_place_possible:
        return "the revision cannot be updated in place"
    return None


def image_pull_job(workload: JSON, api_version: str, kind: str, update_revision: JSON, container: str,
                   image: str) -> JSON:
    """CreateJobForWorkload: the ImagePullJob `<update revision>-<container>` for one new image, pulling it on
    the nodes of the workload's pods not at the update revision."""
    spec, meta = workload.get("spec") or {}, workload.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    template = spec.get("template") or {}
    template_meta = template.get("metadata") or {}
    revision_hash = labels_of(update_revision).get(REVISION_HASH_LABEL, "")
    labels = {**(template_meta.get("labels") or {}), REVISION_HASH_LABEL: revision_hash}
    selector = dict(spec.get("selector") or {})
    selector["matchExpressions"] = [*(selector.get("matchExpressions") or []), {
        "key": CONTROLLER_REVISION_HASH_LABEL, "operator": "NotIn",
        "values": [name_of(update_revision), revision_hash]}]
    job_spec: JSON = {
        "image": image,
        "podSelector": selector,
        "parallelism": _annotation_int(annotations, PARALLELISM_ANNOTATION, DEFAULT_PARALLELISM),
        "pullPolicy": {"backoffLimit": BACKOFF_LIMIT,
                       "timeoutSeconds": _annotation_int(annotations, TIMEOUT_ANNOTATION, DEFAULT_TIMEOUT_SECONDS)},
        "completionPolicy": {"type": "Always", "ttlSecondsAfterFinished": TTL_SECONDS_AFTER_FINISHED},
        "sandboxConfig": {"labels": dict(labels), "annotations": dict(template_meta.get("annotations") or {})},
    }
    secrets = [s.get("name", "") for s in (template.get("spec") or {}).get("imagePullSecrets") or []]
    if secrets:
        job_spec["pullSecrets"] = secrets
    job_meta: JSON = {"name": f"{name_of(update_revision)}-{container}", "labels": labels,
                      "ownerReferences": [controller_ref(workload, api_version, kind)]}
    if meta.get("namespace"):
        job_meta["namespace"] = meta["namespace"]
    return {"apiVersion": IMAGE_PULL_JOB_API_VERSION, "kind": "ImagePullJob", "metadata": job_meta, "spec": job_spec}


def label_revision(revision: JSON, key: str) -> Patch:
    return Patch(REVISIONS, name_of(revision), {"metadata": {"labels": {key: "true"}}}, "merge")


@dataclass(frozen=True)
class Rollout:
    """What `plan_predownload` needs of a workload's rollout, as its kind reads it."""

    rolled_out: bool  # no pod left to update (CloneSet/ASTS: current == update revision)
    due: bool  # enough updated pods are ready to start (the min-updated-ready annotation)
    skip: str | None  # `skip_reason`
    old_revisions: list[JSON]  # the revisions the images are compared with (ADS: every old one)


def plan_predownload(workload: JSON, api_version: str, kind: str, update_revision: JSON, rollout: Rollout,
                     jobs: list[JSON]) -> list:
    """The pre-download actions of one round. `jobs`: the ImagePullJobs the workload controls."""
    if rollout.rolled_out:
        return [Delete(IMAGE_PULL_JOBS, name_of(j), uid_of(j) or None, "the rollout is done",
                       ignore=(NOT_FOUND, CONFLICT)) for j in sorted(jobs, key=name_of) if not is_terminating(j)]
    labels = labels_of(update_revision)
    if not rollout.due or CREATED_LABEL in labels or IGNORED_LABEL in labels:
        return []
    if rollout.skip is not None:
        return [label_revision(update_revision, IGNORED_LABEL)]
    actions: list = []
    for container, image in sorted(changed_images(rollout.old_revisions, update_revision).items()):
        job = image_pull_job(workload, api_version, kind, update_revision, container, image)
        # AlreadyExists (409) is fine, as upstream: the job of an earlier round, or a rollback to this revision.
        actions.append(Create(IMAGE_PULL_JOBS, job, ignore=(CONFLICT,)))
        actions.append(Event("Normal", "CreatedImagePullJob",
                             f"created ImagePullJob {job['metadata']['name']} for image: {image}"))
    actions.append(label_revision(update_revision, CREATED_LABEL))
    return actions
