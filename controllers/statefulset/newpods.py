"""The pods an Advanced StatefulSet creates, and the identity it enforces on them (`stateful_set_utils.go
newStatefulSetPod/newVersionedStatefulSetPod/isCurrentRevisionNeeded/initIdentity/updateIdentity/
updateStorage/identityMatches/storageMatches`; the pod itself: `common.newpods`).

A pod is `<statefulset>-<ordinal>`, with hostname = its name and subdomain = serviceName; its labels are the
template's plus controller-revision-hash (`<statefulset>-<hash>`, the revision's name),
statefulset.kubernetes.io/pod-name and apps.kubernetes.io/pod-index; its volumes named after the
volumeClaimTemplates point at its own PVCs (replacing template volumes of the same name).
Unlike CloneSet, the InPlaceUpdateReady readiness gate is not injected: the template carries it (the webhook
requires it for in-place updates).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from controllers.common import lifecycle
from controllers.common.actions import Patch, patch_pod
from controllers.common.keys import CONTROLLER_REVISION_HASH_LABEL
from controllers.common.newpods import pod_from_template
from controllers.common.objects import labels_of, meta, name_of, uid_of
from controllers.common.pods import spec_of

from .claims import claim_names
from .ordinals import pod_name
from .spec import API_VERSION, KIND, POD_INDEX_LABEL, POD_NAME_LABEL, ROLLING_UPDATE, StatefulSetView

JSON = dict[str, Any]


def revision_label(revision: str) -> dict[str, str]:
    """The pod's revision label (Advanced StatefulSet's revision adapter: only controller-revision-hash)."""
    return {CONTROLLER_REVISION_HASH_LABEL: revision}


def identity_labels(sts: StatefulSetView, ordinal: int) -> dict[str, str]:
    return {POD_NAME_LABEL: pod_name(sts.name, ordinal), POD_INDEX_LABEL: str(ordinal)}


def new_pod(sts: StatefulSetView, template: JSON, revision: str, ordinal: int, now: datetime) -> JSON:
    """A pod of `revision` from `template` (that revision's template) for `ordinal`."""
    name = pod_name(sts.name, ordinal)
    pre_normal = lifecycle.hook_of(sts.lifecycle, "preNormal")
    # Created straight into Normal unless a preNormal hook has to be satisfied first.
    state = lifecycle.PREPARING_NORMAL if pre_normal is not None else lifecycle.NORMAL
    pod = pod_from_template(sts.obj, template, api_version=API_VERSION, kind=KIND, name=name,
                            labels={**identity_labels(sts, ordinal), **revision_label(revision)}, now=now,
                            state=state, claims=claim_names(sts, ordinal))
    pod["spec"]["hostname"] = name
    if sts.service_name:
        pod["spec"]["subdomain"] = sts.service_name
    if pre_normal is not None and lifecycle.is_pod_all_hooked(pre_normal, pod):
        pod["metadata"]["labels"].update(lifecycle.state_labels(lifecycle.NORMAL, now)[0])
    return pod


def current_revision_needed(sts: StatefulSetView, rank: int, not_updated_others: int) -> bool:
    """isCurrentRevisionNeeded: does a new pod keep the current revision?

    `rank` is the pod's position among the ordinals in range (0 for the first); `not_updated_others` the
    number of the other replicas (existing, or created before it this round) not at the update revision.
    OnDelete always creates at the update revision; ordered RollingUpdate keeps the first `partition` ordinals
    at the current one; unordered keeps `partition` pods at the current one, whichever they are."""
    if sts.update_type != ROLLING_UPDATE:
        return False
    if not sts.unordered:
        return rank + 1 <= sts.partition
    return not_updated_others < sts.partition


def identity_matches(sts: StatefulSetView, pod: JSON, ordinal: int) -> bool:
    """identityMatches: the name, namespace and pod-name label fit the ordinal. Pods are matched to ordinals by
    name, so only the label can be off (a pod created by something else, or an edited label)."""
    return (name_of(pod) == pod_name(sts.name, ordinal)
            and (meta(pod).get("namespace") or sts.namespace) == sts.namespace
            and labels_of(pod).get(POD_NAME_LABEL) == name_of(pod))


def identity_patch(sts: StatefulSetView, pod: JSON, ordinal: int) -> Patch:
    """updateIdentity, as a patch: the pod-name and pod-index labels."""
    metadata: JSON = {"labels": identity_labels(sts, ordinal)}
    if uid_of(pod):
        metadata["uid"] = uid_of(pod)
    return patch_pod(name_of(pod), {"metadata": metadata}, "strategic")


def storage_matches(sts: StatefulSetView, pod: JSON, ordinal: int) -> bool:
    """storageMatches: every volumeClaimTemplate has a volume of its name pointing at the pod's own claim."""
    volumes = {v.get("name"): v for v in spec_of(pod).get("volumes") or [] if isinstance(v, dict)}
    for template, claim in claim_names(sts, ordinal):
        source = (volumes.get(template) or {}).get("persistentVolumeClaim") or {}
        if source.get("claimName") != claim:
            return False
    return True
