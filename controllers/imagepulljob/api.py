"""The names, labels and field readers of ImagePullJob and NodeImage, shared by the manager's controllers and
the kruise-daemon (upstream `apis/apps/v1beta1/imagepulljob_types.go`, `nodeimage_types.go`). Pure."""
from __future__ import annotations

from typing import Any

from controllers.common.times import parse_time

JSON = dict[str, Any]

GROUP = "apps.kruise.io"
GROUP_VERSION = "apps.kruise.io/v1beta1"  # the storage version, which every party reads and writes
JOB_KIND, JOB_PLURAL = "ImagePullJob", "imagepulljobs"
LIST_JOB_KIND, LIST_JOB_PLURAL = "ImageListPullJob", "imagelistpulljobs"
NODE_IMAGE_KIND, NODE_IMAGE_PLURAL = "NodeImage", "nodeimages"
JOBS = "imagepulljobs.apps.kruise.io"
LIST_JOBS = "imagelistpulljobs.apps.kruise.io"
NODE_IMAGES = "nodeimages.apps.kruise.io"
SECRETS = "secrets"

DELETION_PROTECTION_FINALIZER = "apps.kruise.io/deletion-protection"
FAKE_NODE_IMAGE_LABEL = "apps.kruise.io/fake-nodeimage"  # a NodeImage without a node (upstream's e2e)
VIRTUAL_KUBELET_LABEL, VIRTUAL_KUBELET_VALUE = "type", "virtual-kubelet"
DAEMON_CONFIG_NAMESPACE = "kruise-daemon-config"  # where the daemons read pull secrets (copied there)
# On a copied pull secret (v1.9.0 shares one copy per source secret between jobs).
SOURCE_KEY_ANNOTATION = "imagepulljobs.kruise.io/source-key"
REFERENCES_ANNOTATION = "imagepulljobs.kruise.io/references"
MODE_ANNOTATION = "imagepulljobs.kruise.io/mode"
MODE_BATCH = "batch"
PULLING_BY_ANNOTATION = "apps.kruise.io/pulling-image-by"  # on the CRI sandbox config of every pull

ALWAYS, NEVER = "Always", "Never"  # completionPolicy.type
IF_NOT_PRESENT = "IfNotPresent"
WAITING, PULLING, SUCCEEDED, FAILED = "Waiting", "Pulling", "Succeeded", "Failed"

DEFAULT_TIMEOUT_SECONDS = 600
DEFAULT_BACKOFF_LIMIT = 3
NODE_RESPONSE_SECONDS = 600  # upstream's responseTimeout: a node that never answers a tag fails it after this
ALWAYS_TAG_TTL_SLACK_SECONDS = 300  # --default-ttlseconds-for-always-nodeimage (v1.9.0)
NEVER_TAG_TTL_SECONDS = 24 * 3600  # Never jobs re-pull daily: the tag expires, the job adds it again
NEVER_MIN_DEADLINE_SECONDS = 1800

# status.message of a job.
MESSAGE_NO_PROGRESS = "job is running, no progress"
MESSAGE_COMPLETED = "job has completed"
MESSAGE_DEADLINE = "job exceeds activeDeadlineSeconds"
NODE_SILENT = "node has not responded for a long time"
TAG_DEADLINE = "pulling exceeds the activeDeadlineSeconds"


def meta(obj: JSON) -> JSON:
    return obj.get("metadata") or {}


def spec(obj: JSON) -> JSON:
    return obj.get("spec") or {}


def status(obj: JSON) -> JSON:
    return obj.get("status") or {}


def completion_policy(job: JSON) -> JSON:
    return spec(job).get("completionPolicy") or {}


def completion_type(job: JSON) -> str:
    return completion_policy(job).get("type") or ALWAYS


def pull_policy(job: JSON) -> JSON:
    return spec(job).get("pullPolicy") or {}


def timeout_seconds(job: JSON) -> int:
    value = pull_policy(job).get("timeoutSeconds")
    return DEFAULT_TIMEOUT_SECONDS if value is None else int(value)


def backoff_limit(job: JSON) -> int:
    value = pull_policy(job).get("backoffLimit")
    return DEFAULT_BACKOFF_LIMIT if value is None else int(value)


def parallelism(job: JSON) -> int:
    """intstr IntValue(): an int, or a string's integer value; a percentage reads as 0 and pauses the job (as
    upstream). Unset is 1."""
    value = spec(job).get("parallelism")
    if value is None:
        return 1
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except ValueError:
        return 0


def is_deleting(obj: JSON) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def owner_reference(job: JSON) -> JSON:
    """How a NodeImage tag names a job that wants it (a core ObjectReference)."""
    m = meta(job)
    return {"apiVersion": GROUP_VERSION, "kind": JOB_KIND, "namespace": m.get("namespace", ""),
            "name": m.get("name", ""), "uid": m.get("uid", "")}


def tag_status(node_image: JSON, name: str, tag: str) -> JSON | None:
    for entry in ((status(node_image).get("imageStatuses") or {}).get(name) or {}).get("tags") or []:
        if entry.get("tag") == tag:
            return entry
    return None


def is_finished(tag_state: JSON | None) -> bool:
    return bool(tag_state) and tag_state.get("phase") in (SUCCEEDED, FAILED)


def completion_of(tag_state: JSON | None):
    return parse_time((tag_state or {}).get("completionTime"))
