"""The in-place upgrade of injected sidecars (sidecarset.md §5.2-§5.9): which pods a SidecarSet matches, the
predicates on them, which pods go this round, and the pod writes that upgrade them.

Only `image` ever changes in a pod (the API server allows nothing else); a sidecar whose change is more than
its image (`hash-without-image` differs) is not upgradable (§5.9): its pods get SidecarSetUpgradable=False.

Completion (§5.7) is the shared in-place rule of `common/inplace.containers_update_error`, judged by restarts:
each upgraded container is recorded with its containerID (and imageID, upstream's field) in the pod annotation
`kruise.io/sidecarset-inplace-update-state`, and it is done once the kubelet runs a new container (another
containerID). Upstream compares imageIDs, which a new tag of one digest never changes (OpenKruise #1493) and
which containerd reports in several forms; an image change is never "done" here before the restart.

Hot upgrade (§5.8): sidecar `c` runs as `c-1` and `c-2`; the working one serves, the other holds the empty
image. An upgrade puts the new image on the empty one and makes it the working one at once; once it runs and
the pod is ready, a later round resets the old one to the empty image (the flip).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controllers.common.actions import CONFLICT, NOT_FOUND, Event, Patch, patch_pod_status, regarding
from controllers.common.inplace import containers_update_error, dump_state
from controllers.common.intstr import scaled_value_or
from controllers.common.objects import annotations_of, labels_of, meta, name_of, uid_of
from controllers.common.ordering import priority_sort, scatter_sort, sort_active_indexes
from controllers.common.partition import resolve_partition
from controllers.common.pods import (container_status, container_statuses_of, containers_of, get_condition,
                                     is_pod_ready, phase_of)
from controllers.common.selectors import is_valid_selector, selector_matches
from controllers.common.times import format_time
from kube import gojson

from .annotations import (HASH, HASH_WITHOUT_IMAGE, INPLACE_UPDATE_STATE, SIDECARSET_HASH,
                          SIDECARSET_HASH_WITHOUT_IMAGE, WORKING_HOT_UPGRADE_CONTAINER, encode_map, normalized_spec,
                          parse_injected_list, parse_upgrade_specs, parse_working_containers, upgrade_spec,
                          version_alt_annotation, version_annotation)
from .containers import hot_upgrade_names, is_hot_upgrade, is_native_sidecar
from .matching import is_active_pod, selects_pod
from .podmeta import BadMetadataPatch, patch_annotations

JSON = dict[str, Any]

UPGRADABLE = "SidecarSetUpgradable"  # the pod condition (sidecarcontrol.SidecarSetUpgradable)
ALL_UPGRADABLE, IMMUTABLE_FIELD = "AllSidecarsetUpgradable", "UpdateImmutableField"
NOT_UPGRADABLE_MESSAGE = "SidecarSet in-place update detected {} not upgradable pod(s) in this round, will skip them."


# ---------------------------------------------------------------------------------------------------------
# The SidecarSet as the upgrade reads it

def _spec(sidecarset: JSON) -> JSON:
    return sidecarset.get("spec") or {}


def _strategy(sidecarset: JSON) -> JSON:
    return _spec(sidecarset).get("updateStrategy") or {}


def sidecars(sidecarset: JSON) -> list[JSON]:
    return list(_spec(sidecarset).get("containers") or [])


def sidecar_container_names(sidecarset: JSON) -> set[str]:
    """GetSidecarContainersInPod: the containers' names, both of a hot pair."""
    names: set[str] = set()
    for sc in sidecars(sidecarset):
        names.update(hot_upgrade_names(sc["name"]) if is_hot_upgrade(sc) else (sc["name"],))
    return names


def sidecar_list(sidecarset: JSON) -> list[str]:
    """What the pod's hash annotation lists: native init sidecars and containers (hot ones by base name)."""
    spec = _spec(sidecarset)
    return sorted({c["name"] for c in spec.get("initContainers") or [] if is_native_sidecar(c)}
                  | {c["name"] for c in spec.get("containers") or []})


def _empty_image(sc: JSON) -> str:
    return (sc.get("upgradeStrategy") or {}).get("hotUpgradeEmptyImage") or ""


def hot_containers(sc_name: str, pod: JSON) -> tuple[str, str]:
    """GetPodHotUpgradeContainers: (working, other); the working one is `-2` unless the annotation says `-1`."""
    one, two = hot_upgrade_names(sc_name)
    return (one, two) if parse_working_containers(pod).get(sc_name) == one else (two, one)


def _images(pod: JSON) -> dict[str, str]:
    return {c.get("name"): c.get("image", "") for c in containers_of(pod)}


# ---------------------------------------------------------------------------------------------------------
# Matched pods (§5.2) and predicates (§5.3)

def is_consistent_with_sidecarset(pod: JSON, sidecarset: JSON) -> bool:
    """IsPodConsistentWithSidecarSet: every current sidecar is in the pod (a hot one as its pair, with an entry
    in the working-container annotation): a SidecarSet re-created as hot meets cold pods (#855)."""
    names = {c.get("name") for c in containers_of(pod)} | {c.get("name") for c in
                                                            (pod.get("spec") or {}).get("initContainers") or []}
    working = parse_working_containers(pod)
    for sc in sidecars(sidecarset):
        if is_hot_upgrade(sc):
            if sc["name"] not in working or not set(hot_upgrade_names(sc["name"])) <= names:
                return False
        elif sc["name"] not in names:
            return False
    return True


def matched_pods(sidecarset: JSON, pods: list[JSON], namespaces: dict[str, dict[str, str]]) -> list[JSON]:
    """getMatchingPods: active pods the SidecarSet selects (namespaceSelector over the Namespace's labels), that
    were injected by it (injected-list) and hold its current sidecars; by namespace and name."""
    out = []
    for pod in pods:
        ns = meta(pod).get("namespace") or ""
        if not is_active_pod(pod) or name_of(sidecarset) not in parse_injected_list(pod):
            continue
        if not selects_pod(sidecarset, pod, namespaces.get(ns)):
            continue
        if is_consistent_with_sidecarset(pod, sidecarset):
            out.append(pod)
    return sorted(out, key=lambda p: (meta(p).get("namespace") or "", name_of(p)))


def _specs(pod: JSON, key: str) -> dict[str, JSON]:
    try:
        return parse_upgrade_specs(pod, key)
    except ValueError:
        return {}  # upstream logs it and reads no entry


def is_updated(sidecarset: JSON, pod: JSON) -> bool:
    """The pod's hash entry for the SidecarSet is the SidecarSet's hash."""
    entry = _specs(pod, HASH).get(name_of(sidecarset)) or {}
    return entry.get("hash", "") == annotations_of(sidecarset).get(SIDECARSET_HASH, "")


def _last_statuses(pod: JSON, sidecarset_names: set[str]) -> dict[str, JSON] | None:
    """The containers recorded by the SidecarSets' in-place updates; None: the annotation does not parse."""
    text = annotations_of(pod).get(INPLACE_UPDATE_STATE)
    if text is None:
        return {}
    try:
        states = json.loads(text)
    except ValueError:
        return None
    if not isinstance(states, dict):
        return None
    last: dict[str, JSON] = {}
    for name in sorted(sidecarset_names):
        last.update(((states.get(name) or {}).get("lastContainerStatuses")) or {})
    return last


def is_update_completed(pod: JSON, sidecarset_names: set[str], containers: set[str]) -> bool:
    """IsSidecarContainerUpdateCompleted, by restarts (module docstring): every recorded container among
    `containers` runs anew since it was changed."""
    last = _last_statuses(pod, sidecarset_names)
    if last is None:
        return False
    present = {cs.get("name") for cs in container_statuses_of(pod)}
    recorded = {name: status for name, status in last.items() if name in containers and name in present}
    return containers_update_error(pod, {"lastContainerStatuses": recorded}) is None


def _is_digest(image: str) -> bool:
    return "@sha256:" in image or "@sha512:" in image


def _image_equal(spec_image: str, image_id: str) -> bool:
    """IsContainerImageEqual for a digest image: same repository and digest, the imageID's scheme dropped."""
    image_id = image_id.split("://", 1)[-1]
    return spec_image.rsplit("/", 1)[-1] == image_id.rsplit("/", 1)[-1] and \
        spec_image.split("@", 1)[0].rsplit("/", 1)[-1] == image_id.split("@", 1)[0].rsplit("/", 1)[-1]


def is_state_consistent(sidecarset: JSON, pod: JSON, names: set[str] | None = None) -> bool:
    """IsPodStateConsistent: every container has a status; digest images must run that digest; otherwise the
    upgraded containers among `names` (default: all the SidecarSet's) have restarted."""
    if len(containers_of(pod)) != len(container_statuses_of(pod)):
        return False
    names = names or sidecar_container_names(sidecarset)
    all_digest = True
    for c in containers_of(pod):
        if c.get("name") not in names:
            continue
        if not _is_digest(c.get("image", "")):
            all_digest = False
            break
        cs = container_status(pod, c["name"])
        if cs is None or not _image_equal(c["image"], cs.get("imageID") or ""):
            return False
    if all_digest:
        return True
    return is_update_completed(pod, {name_of(sidecarset)}, names)


def is_ready(sidecarset: JSON, pod: JSON) -> bool:
    """The SidecarSet's IsPodReady: each hot sidecar's other container holds the empty image, and the pod is
    Running and Ready."""
    images = _images(pod)
    for sc in sidecars(sidecarset):
        if is_hot_upgrade(sc):
            _, other = hot_containers(sc["name"], pod)
            if _empty_image(sc) and images.get(other) != _empty_image(sc):
                return False
    return phase_of(pod) == "Running" and is_pod_ready(pod)


def upgradable(sidecarset: JSON, pod: JSON) -> tuple[bool, bool]:
    """IsSidecarSetUpgradable → (can, consistent): the change is the image only (hash-without-image equal), and
    no sidecar is ready while an earlier upgrade of it has not finished."""
    entry = _specs(pod, HASH_WITHOUT_IMAGE).get(name_of(sidecarset)) or {}
    if entry.get("hash", "") != annotations_of(sidecarset).get(SIDECARSET_HASH_WITHOUT_IMAGE, ""):
        return False, False
    for name in sorted(sidecar_container_names(sidecarset)):
        cs = container_status(pod, name) or {}
        if cs.get("ready") and not is_state_consistent(sidecarset, pod, {name}):
            return True, False
    return True, True


# ---------------------------------------------------------------------------------------------------------
# Which pods go this round (§5.5)

@dataclass
class Selection:
    upgrade: list[JSON]
    not_upgradable: list[JSON]


def _expand_scatter(strategy: list[JSON], pods: list[JSON]) -> list[JSON]:
    """A term `{key, value: "*"}` becomes one term per value of the key among the pods (in pod order)."""
    out: list[JSON] = []
    for term in strategy:
        if term.get("value") != "*":
            out.append(term)
            continue
        seen: list[str] = []
        for p in pods:
            value = labels_of(p).get(term.get("key"))
            if value is not None and value not in seen:
                seen.append(value)
        out.extend({"key": term.get("key"), "value": v} for v in seen)
    return out


def select_pods(sidecarset: JSON, pods: list[JSON]) -> Selection:
    """GetNextUpgradePods: candidates (not updated, in the update selector, upgradable), ordered (ActivePods,
    priority, scatter), less the partition (the last ones stay), within maxUnavailable (rounded up; a not-ready
    candidate never uses the budget; only updated pods that are not ready or not consistent are unavailable)."""
    strategy = _strategy(sidecarset)
    selector = strategy.get("selector")
    wait: list[int] = []
    not_upgradable: list[JSON] = []
    for i, pod in enumerate(pods):
        if is_updated(sidecarset, pod):
            continue
        if selector is not None and (not is_valid_selector(selector) or not selector_matches(selector,
                                                                                              labels_of(pod))):
            continue
        can, consistent = upgradable(sidecarset, pod)
        if can and consistent:
            wait.append(i)
        elif not can:
            not_upgradable.append(pod)
    wait = sort_active_indexes(pods, wait)
    if strategy.get("priorityStrategy"):
        wait = priority_sort(pods, wait, strategy["priorityStrategy"])
    if strategy.get("scatterStrategy"):
        wait = scatter_sort(pods, wait, _expand_scatter(strategy["scatterStrategy"], pods))
    total = len(pods)
    partition = resolve_partition(strategy.get("partition"), total)
    if len(wait) - partition <= 0:
        return Selection([], not_upgradable)
    wait = wait[:len(wait) - partition]
    max_unavailable = scaled_value_or(strategy.get("maxUnavailable"), total, round_up=True, fallback=1)
    unavailable = sum(1 for p in pods if is_updated(sidecarset, p) and (
        not is_state_consistent(sidecarset, p) or not is_ready(sidecarset, p)))
    chosen: list[JSON] = []
    for i in wait:
        if not is_ready(sidecarset, pods[i]):
            chosen.append(pods[i])
            continue
        if unavailable >= max_unavailable:
            break
        unavailable += 1
        chosen.append(pods[i])
    return Selection(chosen, not_upgradable)


# ---------------------------------------------------------------------------------------------------------
# Pod writes (§5.6, §5.8)

def _dump_states(states: dict[str, JSON]) -> str:
    """map[sidecarset]InPlaceUpdateState as Go writes it: keys sorted, each state in its field order."""
    return "{" + ",".join(f"{gojson.dumps(k)}:{dump_state(states[k])}" for k in sorted(states)) + "}"


def _record_changed(pod: JSON, sidecarset: JSON, changed: list[str], now: datetime) -> str:
    """UpdatePodAnnotationsInUpgrade: the SidecarSet's state (revision and time only when first written), with
    each changed container's containerID and imageID as they are before the change."""
    try:
        states = json.loads(annotations_of(pod).get(INPLACE_UPDATE_STATE) or "{}")
    except ValueError:
        states = {}
    states = states if isinstance(states, dict) else {}
    state = dict(states.get(name_of(sidecarset)) or {
        "revision": annotations_of(sidecarset).get(SIDECARSET_HASH, ""), "updateTimestamp": format_time(now)})
    last = dict(state.get("lastContainerStatuses") or {})
    for name in changed:
        cs = container_status(pod, name) or {}
        last[name] = {"imageID": cs.get("imageID", ""), "containerID": cs.get("containerID", "")}
    state["lastContainerStatuses"] = last
    states[name_of(sidecarset)] = state
    return _dump_states(states)


def _pod_patch(pod: JSON, containers: dict[str, str], annotations: dict[str, str]) -> Patch:
    """One strategic patch of the pod, as the pod was seen (uid and resourceVersion): another SidecarSet that
    rewrote the shared annotations meanwhile makes it fail (409), and that write wakes this SidecarSet again."""
    body: JSON = {"metadata": {"uid": uid_of(pod), "resourceVersion": meta(pod).get("resourceVersion"),
                               "annotations": annotations}}
    if not body["metadata"]["resourceVersion"]:
        del body["metadata"]["resourceVersion"]
    if containers:
        body["spec"] = {"containers": [{"name": n, "image": i} for n, i in containers.items()]}
    return Patch("pods", name_of(pod), body, "strategic", ignore=(NOT_FOUND, CONFLICT),
                 namespace=meta(pod).get("namespace"))


def _hot_target(sidecarset: JSON, sc: JSON, pod: JSON) -> tuple[str, str]:
    """findContainerToHotUpgrade → (target, other): the one with the empty image; else the one not ready
    (while the other is); else the older (not working) one."""
    one, two = hot_upgrade_names(sc["name"])
    images = _images(pod)
    if images.get(one) == _empty_image(sc):
        return one, two
    if images.get(two) == _empty_image(sc):
        return two, one

    def ready(name: str) -> bool:
        return bool((container_status(pod, name) or {}).get("ready")) and is_state_consistent(sidecarset, pod, {name})
    if ready(one) and not ready(two):
        return two, one
    if ready(two) and not ready(one):
        return one, two
    working, other = hot_containers(sc["name"], pod)
    return other, working


def upgrade_pod(sidecarset: JSON, pod: JSON, now: datetime) -> Patch:
    """updatePodSidecarAndHash: the new images of the sidecars (only `image`; hot: onto the target, which
    becomes the working one, with the version annotations), the hash entry, the in-place state, the
    SidecarSet's patchPodMetadata (as at injection)."""
    images = _images(pod)
    annotations = dict(annotations_of(pod))
    new_annotations: dict[str, str] = {}
    containers: dict[str, str] = {}
    working = parse_working_containers(pod)
    version = str(meta(sidecarset).get("resourceVersion") or "")
    for sc in sidecars(sidecarset):
        if is_hot_upgrade(sc):
            target, other = _hot_target(sidecarset, sc, pod)
            old_image = images.get(other)
        else:
            target, old_image = sc["name"], images.get(sc["name"])
        if sc.get("image") == old_image or target not in images:
            continue
        containers[target] = sc.get("image", "")
        if is_hot_upgrade(sc):
            working[sc["name"]] = target
            new_annotations[version_annotation(target)] = version
            new_annotations[version_alt_annotation(target)] = annotations.get(version_annotation(other), "")
            new_annotations[version_alt_annotation(other)] = version
    if any(is_hot_upgrade(sc) for sc in sidecars(sidecarset)) and containers:
        new_annotations[WORKING_HOT_UPGRADE_CONTAINER] = gojson.dumps(dict(sorted(working.items())))
    specs = {k: normalized_spec(v) for k, v in _specs(pod, HASH).items()}
    specs[name_of(sidecarset)] = upgrade_spec(sidecarset, SIDECARSET_HASH, sidecar_list(sidecarset), now, True)
    new_annotations[HASH] = encode_map(specs)
    new_annotations[INPLACE_UPDATE_STATE] = _record_changed(pod, sidecarset, list(containers), now)
    try:
        patched = patch_annotations({**annotations, **new_annotations}, _spec(sidecarset).get("patchPodMetadata"))
    except BadMetadataPatch:
        patched = {**annotations, **new_annotations}  # upstream's error aborts; the image upgrade still goes
    new_annotations.update({k: v for k, v in patched.items() if annotations.get(k) != v})
    return _pod_patch(pod, containers, new_annotations)


def in_hot_upgrade(sidecarset: JSON, pod: JSON) -> bool:
    """isPodSidecarInHotUpgrading: some hot sidecar's other container does not hold the empty image."""
    images = _images(pod)
    return any(images.get(hot_containers(sc["name"], pod)[1]) != _empty_image(sc)
               for sc in sidecars(sidecarset) if is_hot_upgrade(sc))


def _hot_upgrade_ready(sidecarset: JSON, pod: JSON) -> bool:
    """isHotUpgradingReady: Running and Ready, or every container but the other (old) ones ready."""
    if phase_of(pod) == "Running" and is_pod_ready(pod):
        return True
    others = {hot_containers(sc["name"], pod)[1] for sc in sidecars(sidecarset) if is_hot_upgrade(sc)}
    return all(cs.get("ready") for cs in container_statuses_of(pod) if cs.get("name") not in others)


def ready_to_flip(sidecarset: JSON, pod: JSON) -> bool:
    """A pod mid hot upgrade whose new working containers run (consistent) and are ready."""
    others = {hot_containers(sc["name"], pod)[1] for sc in sidecars(sidecarset) if is_hot_upgrade(sc)}
    names = sidecar_container_names(sidecarset) - others
    return in_hot_upgrade(sidecarset, pod) and is_state_consistent(sidecarset, pod, names) and \
        _hot_upgrade_ready(sidecarset, pod)


def flip_pod(sidecarset: JSON, pod: JSON, now: datetime) -> list:
    """flipPodSidecarContainer: the old containers back to the empty image (version "0", the working one's
    versionalt "0"), recorded so that consistency waits for their restart; the hash is not touched. Then
    ResetContainerSucceed on the pod (a refused write is reported by the runtime)."""
    images = _images(pod)
    containers: dict[str, str] = {}
    annotations: dict[str, str] = {}
    for sc in sidecars(sidecarset):
        if not is_hot_upgrade(sc):
            continue
        working, other = hot_containers(sc["name"], pod)
        if images.get(other) == _empty_image(sc):
            continue
        containers[other] = _empty_image(sc)
        annotations[version_annotation(other)] = "0"
        annotations[version_alt_annotation(working)] = "0"
    annotations[INPLACE_UPDATE_STATE] = _record_changed(pod, sidecarset, list(containers), now)
    return [_pod_patch(pod, containers, annotations),
            Event("Normal", "ResetContainerSucceed", "reset sidecar container image empty successfully",
                  regarding(pod))]


def upgradable_condition(sidecarset: JSON, pod: JSON, value: bool, now: datetime) -> Patch | None:
    """updatePodSidecarSetUpgradableCondition: the condition's message is a JSON map SidecarSet → upgradable;
    True (AllSidecarsetUpgradable) only when all are; lastTransitionTime moves with the status; no write
    when nothing changes."""
    old = get_condition(pod, UPGRADABLE) or {}
    try:
        values = json.loads(old.get("message") or "{}")
    except ValueError:
        values = {}
    values = values if isinstance(values, dict) else {}
    values[name_of(sidecarset)] = value
    status = "True" if all(v is not False for v in values.values()) else "False"
    reason = ALL_UPGRADABLE if status == "True" else IMMUTABLE_FIELD
    message = gojson.dumps(dict(sorted(values.items())))
    if old.get("status") == status and old.get("reason") == reason and old.get("message") == message:
        return None
    since = old.get("lastTransitionTime") if old.get("status") == status and old.get("lastTransitionTime") \
        else format_time(now)
    condition = {"type": UPGRADABLE, "status": status, "lastTransitionTime": since, "reason": reason,
                 "message": message}
    patch = patch_pod_status(name_of(pod), {"status": {"conditions": [condition]}}, meta(pod).get("namespace"))
    return Patch(patch.resource, patch.name, patch.body, patch.patch_type, patch.subresource,
                 ignore=(NOT_FOUND,), namespace=patch.namespace)


def not_upgradable_event(count: int) -> Event:
    return Event("Normal", "NotUpgradablePods", NOT_UPGRADABLE_MESSAGE.format(count))
