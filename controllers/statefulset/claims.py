"""PersistentVolumeClaims of an Advanced StatefulSet (`stateful_set_utils.go getPersistentVolumeClaims,
claimOwnerMatchesSetAndPod, updateClaimOwnerRefForSetAndPod`, `stateful_pod_control.go PodClaimIsStale`,
`pkg/util/pvc`).

- One PVC per pod and volumeClaimTemplate, `<template>-<statefulset>-<ordinal>`, labelled with the selector's
  matchLabels, created before its pod and never deleted with it: a recreated pod finds its data again.
- persistentVolumeClaimRetentionPolicy is carried by ownerReferences, as upstream (Kubernetes 1.27+, kruise):
  `whenDeleted: Delete` gives each PVC an ownerReference to the StatefulSet (the garbage collector removes them
  with it); `whenScaled: Delete` gives the PVCs of a pod that is scaled away an ownerReference to that pod,
  set before the pod is deleted, so they go with it (and a PVC the user made for an ordinal that never ran is
  never touched). `Retain` removes those references again.
"""
from __future__ import annotations

import copy
import re
from fractions import Fraction
from typing import Any

from controllers.common import quantity
from controllers.common.actions import PVCS, Patch
from controllers.common.objects import is_terminating, meta, name_of, uid_of

from .spec import DELETE, KIND, StatefulSetView

JSON = dict[str, Any]


def claim_name(template_name: str, set_name: str, ordinal: int) -> str:
    return f"{template_name}-{set_name}-{ordinal}"


def own_claims(statefulset: JSON, pvcs: list[JSON]) -> list[JSON]:
    """The namespace's PVCs named `<template>-<statefulset>-<ordinal>`, as the runtime's `named` watch asks."""
    name = statefulset["metadata"]["name"]
    templates = [t.get("metadata", {}).get("name", "") for t in statefulset["spec"].get("volumeClaimTemplates") or []]
    if not templates:
        return []
    pattern = re.compile("^(" + "|".join(re.escape(f"{t}-{name}-") for t in templates) + r")[0-9]+$")
    return [c for c in pvcs if pattern.match(c["metadata"]["name"])]


def template_name(vct: JSON) -> str:
    return (vct.get("metadata") or {}).get("name") or ""


def claim_names(sts: StatefulSetView, ordinal: int) -> list[tuple[str, str]]:
    """(template name, claim name) for every volumeClaimTemplate, in template order."""
    return [(template_name(v), claim_name(template_name(v), sts.name, ordinal)) for v in sts.volume_claim_templates]


def set_owner_ref(sts: StatefulSetView) -> JSON:
    return {"apiVersion": sts.api_version, "kind": KIND, "name": sts.name, "uid": sts.uid}


def pod_owner_ref(pod: JSON) -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "name": name_of(pod), "uid": uid_of(pod)}


def new_claim(sts: StatefulSetView, vct: JSON, ordinal: int) -> JSON:
    """getPersistentVolumeClaims for one template: its metadata (labels replaced by selector.matchLabels) and
    spec. A new claim belongs to a pod in range, so whenDeleted: Delete is all the retention policy asks."""
    vmeta = vct.get("metadata") or {}
    metadata: JSON = {"name": claim_name(template_name(vct), sts.name, ordinal), "labels": sts.match_labels}
    if sts.namespace:
        metadata["namespace"] = sts.namespace
    if vmeta.get("annotations"):
        metadata["annotations"] = dict(vmeta["annotations"])
    if sts.when_deleted == DELETE and sts.uid:
        metadata["ownerReferences"] = [set_owner_ref(sts)]
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata,
            "spec": copy.deepcopy(vct.get("spec") or {})}


def _refs(obj: JSON) -> list[JSON]:
    return [r for r in meta(obj).get("ownerReferences") or [] if isinstance(r, dict)]


def desired_owner_refs(sts: StatefulSetView, claim: JSON, pod: JSON, scaled_down: bool) -> list[JSON]:
    """updateClaimOwnerRefForSetAndPod: the claim's ownerReferences as the retention policy wants them."""
    refs = _refs(claim)

    def has(uid: str) -> bool:
        return any(r.get("uid") == uid for r in refs)

    def add(ref: JSON) -> None:
        if ref["uid"] and not has(ref["uid"]):
            refs.append(ref)

    def remove(uid: str) -> None:
        nonlocal refs
        if uid:
            refs = [r for r in refs if r.get("uid") != uid]

    set_uid, pod_uid = sts.uid, uid_of(pod)
    deleted, scaled = sts.when_deleted == DELETE, sts.when_scaled == DELETE  # anything else means Retain
    if deleted and not (scaled and scaled_down):
        add(set_owner_ref(sts))
    else:
        remove(set_uid)
    if scaled and scaled_down:
        add(pod_owner_ref(pod))
    else:
        remove(pod_uid)
    return refs


def retention_patches(sts: StatefulSetView, pod: JSON, ordinal: int, scaled_down: bool,
                       pvcs: dict[str, JSON]) -> list[Patch]:
    """ClaimsMatchRetentionPolicy / UpdatePodClaimForRetentionPolicy for one pod's existing claims."""
    if not sts.uid:
        return []
    patches = []
    for _, name in claim_names(sts, ordinal):
        claim = pvcs.get(name)
        if claim is None or is_terminating(claim):
            continue
        refs = desired_owner_refs(sts, claim, pod, scaled_down)
        if refs == _refs(claim):
            continue
        metadata: JSON = {"ownerReferences": refs or None}
        if uid_of(claim):
            metadata["uid"] = uid_of(claim)
        if meta(claim).get("resourceVersion"):
            metadata["resourceVersion"] = meta(claim)["resourceVersion"]
        patches.append(Patch(PVCS, name, {"metadata": metadata}))
    return patches


def blocks_new_pod(sts: StatefulSetView, ordinal: int, pod_name: str, pvcs: dict[str, JSON]) -> bool:
    """PodClaimIsStale, widened: a pod must not be created on a claim that is going away, i.e. one being
    deleted, or (whenScaled: Delete) one still owned by an earlier pod of that name, which the garbage
    collector is about to delete."""
    for _, name in claim_names(sts, ordinal):
        claim = pvcs.get(name)
        if claim is None:
            continue
        if is_terminating(claim):
            return True
        owned_by_old_pod = any(r.get("kind") == "Pod" and r.get("name") == pod_name for r in _refs(claim))
        if sts.when_scaled == DELETE and owned_by_old_pod:
            return True
    return False


# ---------------------------------------------------------------------------------------------------------
# status.volumeClaims (`pkg/util/pvc IsPVCCompatibleAndReady`)

def _storage(resources: Any) -> Fraction | int:
    """The storage quantity; 0 when missing or malformed (Go's zero Quantity)."""
    return quantity.value_of(((resources or {}) if isinstance(resources, dict) else {}).get("storage"), 0)


def compatible_and_ready(claim: JSON, vct: JSON) -> tuple[bool, bool]:
    """Compatible: the claim requests at least the template's storage; ready: its capacity has caught up."""
    wanted = _storage(((vct.get("spec") or {}).get("resources") or {}).get("requests"))
    requested = _storage(((claim.get("spec") or {}).get("resources") or {}).get("requests"))
    if requested < wanted:
        return False, False
    return True, _storage((claim.get("status") or {}).get("capacity")) >= wanted


def volume_claims_status(sts: StatefulSetView, ordinals: list[int], pvcs: dict[str, JSON]) -> list[JSON]:
    """status.volumeClaims: per template, how many replicas (the ordinals of existing pods in range) have a
    claim that matches it, and how many of those are resized."""
    out = []
    for vct in sts.volume_claim_templates:
        compatible = ready = 0
        for ordinal in ordinals:
            claim = pvcs.get(claim_name(template_name(vct), sts.name, ordinal))
            if claim is None:
                continue
            ok, resized = compatible_and_ready(claim, vct)
            compatible += ok
            ready += resized
        out.append({"volumeClaimName": template_name(vct), "compatibleReplicas": compatible,
                    "compatibleReadyReplicas": ready})
    return out
