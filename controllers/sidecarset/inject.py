"""Injection at pod creation (sidecarset.md §2): a pure function of the pod, the SidecarSets, the namespace's
labels, the revisions of the install namespace and the clock.

    pod = inject(pod, namespace, sidecarsets, namespace_labels, revisions, now)

Order, as upstream's sidecarsetMutatingPod: match the live SidecarSets (§2.2) and choose each one's revision
(§2.3); patch the pod's annotations with every matched SidecarSet's patchPodMetadata (§2.5); build the
containers (§2.6, §2.7, §2.10); merge them, the volumes and the imagePullSecrets into the pod (§2.8); write
the annotations (§2.11). UPDATE is not injected (§2.4): the webhook is registered for CREATE only, and the API
server forbids adding containers to a pod anyway. Every error is an InjectionError, which denies the pod.
"""
from __future__ import annotations

import copy
import random
from datetime import datetime
from typing import Callable, Iterable, Mapping

from kube import gojson

from . import annotations as keys
from .annotations import BadPodAnnotation
from .containers import container_part, hot_upgrade_pair, is_hot_upgrade, is_native_sidecar, prepared
from .history import Hasher, RevisionNotFound, upstream_hashes
from .matching import is_active_pod, matching_sidecarsets
from .podmeta import BadMetadataPatch, patch_annotations
from .resources import ResourcesPolicyError, apply_resources_policy
from .revision_choice import BadPartition, suitable_revision


class InjectionError(Exception):
    """Why a pod cannot be created: the webhook denies it with this message."""


class PinnedRevisionMissing(InjectionError):
    """The pinned revision is not among those given (a caller reading a cache may look again at the source)."""


def merge_containers(origins: list[dict], injected: list[dict]) -> list[dict]:
    """mergeSidecarContainers (§2.8): a sidecar named like a container of the pod replaces it in place; the
    others go before (BeforeAppContainer) or after (anything else) the pod's own, in the order given."""
    out = list(origins)
    position = {c.get("name"): i for i, c in enumerate(origins)}
    before, after = [], []
    for sidecar in injected:
        if sidecar.get("name") in position:
            out[position[sidecar["name"]]] = container_part(sidecar)
        elif sidecar.get("podInjectPolicy") == "BeforeAppContainer":
            before.append(container_part(sidecar))
        else:
            after.append(container_part(sidecar))
    return before + out + after


def _merge_by_name(original: list[dict], additional: list[dict]) -> list[dict]:
    """MergeVolumes / mergeSidecarSecrets: the first of each name wins; duplicates are dropped silently."""
    seen: set = set()
    out = []
    for item in [*original, *additional]:
        if item.get("name") not in seen:
            seen.add(item.get("name"))
            out.append(item)
    return out


def _build(pod: dict, chosen: list[dict], now: datetime, resources: Callable | None) -> tuple[
        list[dict], list[dict], list[dict], list[dict], dict[str, str]]:
    """buildSidecars (§2.6): (containers, initContainers, imagePullSecrets, volumes, annotations)."""
    hashes = keys.parse_upgrade_specs(pod, keys.HASH)
    hashes_without_image = keys.parse_upgrade_specs(pod, keys.HASH_WITHOUT_IMAGE)
    working = keys.parse_working_containers(pod)
    injected_list = keys.parse_injected_list(pod)
    containers, init_containers, secrets, volumes = [], [], [], []
    annotations: dict[str, str] = {}
    for sidecarset in chosen:
        spec = sidecarset.get("spec") or {}
        injected_list.add(sidecarset["metadata"]["name"])
        pool = {v.get("name"): v for v in spec.get("volumes") or []}
        sidecar_list: list[str] = []

        def take(sidecar: dict, into: list[dict], hot: bool) -> None:
            if resources is not None and sidecar.get("resourcesPolicy"):
                sidecar = resources(pod, sidecar, chosen)
            built = prepared(sidecar, pod)
            for used in [*(sidecar.get("volumeMounts") or []), *(sidecar.get("volumeDevices") or [])]:
                if used.get("name") in pool:   # a mount of a pod volume (shared) is not in the pool
                    volumes.append(pool[used["name"]])
            if hot:
                pair, versions = hot_upgrade_pair(built)
                into.extend(pair)
                annotations.update(versions)
                working[sidecar["name"]] = pair[0]["name"]
                annotations[keys.WORKING_HOT_UPGRADE_CONTAINER] = gojson.dumps(working)
            else:
                into.append(built)

        for init in spec.get("initContainers") or []:
            if is_native_sidecar(init):
                sidecar_list.append(init["name"])
            # only a native sidecar init container becomes a hot pair
            take(init, init_containers, is_native_sidecar(init) and is_hot_upgrade(init))
        secrets += spec.get("imagePullSecrets") or []
        for sidecar in spec.get("containers") or []:
            sidecar_list.append(sidecar["name"])
            take(sidecar, containers, is_hot_upgrade(sidecar))
        if spec.get("initContainers") or spec.get("containers"):
            hashes[sidecarset["metadata"]["name"]] = keys.upgrade_spec(sidecarset, keys.SIDECARSET_HASH,
                                                                       sidecar_list, now, with_revision=True)
            hashes_without_image[sidecarset["metadata"]["name"]] = keys.upgrade_spec(
                sidecarset, keys.SIDECARSET_HASH_WITHOUT_IMAGE, sidecar_list, now, with_revision=False)
    annotations[keys.HASH] = keys.encode_map({k: keys.normalized_spec(v) for k, v in hashes.items()})
    annotations[keys.HASH_WITHOUT_IMAGE] = keys.encode_map(
        {k: keys.normalized_spec(v) for k, v in hashes_without_image.items()})
    annotations[keys.INJECTED_LIST] = ",".join(sorted(injected_list))
    return containers, init_containers, secrets, volumes, annotations


def inject(pod: dict, namespace: str, sidecarsets: Iterable[dict], namespace_labels: Mapping[str, str] | None,
           revisions: Iterable[dict], now: datetime, *, sort_by_name: bool = False,
           rand: Callable[[], float] = random.random, hasher: Hasher | None = upstream_hashes,
           resources: Callable | None = apply_resources_policy) -> dict:
    """The pod as created: `pod` itself when no SidecarSet injects, else a mutated copy.

    `namespace` is the pod's (the request's when the pod has none); `namespace_labels` that Namespace's labels
    (None: unknown, so no namespaceSelector matches); `revisions` the SidecarSets' ControllerRevisions of the
    install namespace; `sort_by_name` the EnableSortSidecarContainerByName gate."""
    if not is_active_pod(pod):
        return pod
    matched = matching_sidecarsets(pod, namespace or "default", sidecarsets, namespace_labels)
    if not matched:
        return pod
    revisions = list(revisions)
    try:
        chosen = [suitable_revision(s, pod, revisions, rand=rand, hasher=hasher) for s in matched]
        out = copy.deepcopy(pod)
        meta = out.setdefault("metadata", {})
        for sidecarset in chosen:
            meta["annotations"] = patch_annotations(meta.get("annotations") or {},
                                                    (sidecarset.get("spec") or {}).get("patchPodMetadata"))
        containers, init_containers, secrets, volumes, annotations = _build(out, chosen, now, resources)
    except RevisionNotFound as e:
        raise PinnedRevisionMissing(str(e)) from None
    except (BadPartition, BadMetadataPatch, BadPodAnnotation, ResourcesPolicyError) as e:
        raise InjectionError(str(e)) from None
    if not containers and not init_containers:
        return out
    spec = out.setdefault("spec", {})
    init_containers.sort(key=lambda c: c["name"])   # stable: hot pairs keep -1 before -2
    if init_containers or spec.get("initContainers"):
        spec["initContainers"] = merge_containers(spec.get("initContainers") or [], init_containers)
    if sort_by_name:
        containers.sort(key=lambda c: c["name"])
    spec["containers"] = merge_containers(spec.get("containers") or [], containers)
    merged_volumes = _merge_by_name(spec.get("volumes") or [], volumes)
    if merged_volumes:
        spec["volumes"] = merged_volumes
    merged_secrets = _merge_by_name(spec.get("imagePullSecrets") or [], secrets)
    if merged_secrets:
        spec["imagePullSecrets"] = merged_secrets
    meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
    return out
