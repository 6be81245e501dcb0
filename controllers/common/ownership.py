"""Owner references (`metav1.NewControllerRef`, `metav1.GetControllerOf`) and the claim of pods by a workload
(`k8s.io/kubernetes/pkg/controller/controller_ref_manager.go` ClaimPods)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .actions import adopt_pod, release_pod
from .objects import is_terminating, labels_of, meta, name_of, uid_of
from .selectors import is_valid_selector, selector_matches

JSON = dict[str, Any]


def controller_ref(owner: JSON, api_version: str, kind: str) -> JSON:
    """The ownerReference a workload puts on what it creates: controller, and blocking foreground deletion."""
    m = meta(owner)
    return {
        "apiVersion": owner.get("apiVersion") or api_version,
        "kind": owner.get("kind") or kind,
        "name": m.get("name", ""),
        "uid": m.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: JSON, kind: str | None = None, api_group: str | None = None) -> JSON | None:
    """GetControllerOf: the ownerReference with `controller: true`; with `kind` or `api_group`, only one to a
    controller of that kind or API group (`apps.kruise.io`, `""` for the core group)."""
    for ref in meta(obj).get("ownerReferences") or []:
        if not isinstance(ref, dict) or not ref.get("controller"):
            continue
        if kind is not None and ref.get("kind") != kind:
            continue
        if api_group is not None and str(ref.get("apiVersion") or "").rpartition("/")[0] != api_group:
            continue
        return ref
    return None


def controller_uid(obj: JSON, kind: str | None = None, api_group: str | None = None) -> str | None:
    """The uid of `controller_of(obj, kind, api_group)`."""
    ref = controller_of(obj, kind, api_group)
    return None if ref is None else ref.get("uid")


def is_orphan(obj: JSON) -> bool:
    """No controller reference at all: any workload whose selector matches may adopt it."""
    return controller_uid(obj) is None


def is_controlled_by(obj: JSON, owner: JSON) -> bool:
    """True when `obj`'s controller is `owner`; an owner without a uid (unit tests, dry runs) owns everything."""
    owner_uid = meta(owner).get("uid")
    return not owner_uid or controller_uid(obj) == owner_uid


@dataclass(frozen=True)
class Claim:
    pods: list[JSON]  # the pods the workload controls from now on (adopted orphans with the reference added)
    actions: list  # adoptions and releases, one per pod that changes hands


def _adopt_patch(owner: JSON, api_version: str, kind: str, pod: JSON) -> JSON:
    """ownerRefControllerPatch: our controller reference, and the pod's uid as a precondition."""
    return {"metadata": {"uid": uid_of(pod), "ownerReferences": [controller_ref(owner, api_version, kind)]}}


def _release_patch(owner: JSON, pod: JSON) -> JSON:
    """GenerateDeleteOwnerRefStrategicMergeBytes: drop the reference with our uid (and only it)."""
    return {"metadata": {"uid": uid_of(pod), "ownerReferences": [{"$patch": "delete", "uid": meta(owner).get("uid")}]}}


def claim_pods(owner: JSON, api_version: str, kind: str, controlled: list[JSON], orphans: list[JSON],
               member: Callable[[JSON, JSON], bool] | None = None) -> Claim:
    """ClaimPods: which pods a workload controls, and the adoptions and releases that make it so.

    `controlled`: the pods whose controller reference is the workload; `orphans`: pods of its namespace without
    a controller reference. A pod matches when the selector selects its labels and `member(owner, pod)` (a
    workload's extra filter, e.g. Advanced StatefulSet's "named after me") accepts it.
    - a controlled pod that matches stays; one that does not is released, unless the workload is being deleted
      (then it is just no longer counted);
    - an orphan that matches, is not being deleted and lives in the workload's namespace is adopted, unless the
      workload is being deleted.
    An invalid selector claims nothing and releases nothing (upstream returns the parse error)."""
    selector = (owner.get("spec") or {}).get("selector")
    if not is_valid_selector(selector) or not meta(owner).get("uid"):
        return Claim(list(controlled), [])
    deleting = bool(meta(owner).get("deletionTimestamp"))
    namespace = meta(owner).get("namespace")

    def matches(pod: JSON) -> bool:
        return selector_matches(selector, labels_of(pod)) and (member is None or member(owner, pod))

    pods: list[JSON] = []
    actions: list = []
    for pod in controlled:
        if matches(pod):
            pods.append(pod)
        elif not deleting:
            actions.append(release_pod(name_of(pod), _release_patch(owner, pod)))
    if deleting:
        return Claim(pods, actions)
    for pod in orphans:
        if not is_orphan(pod) or is_terminating(pod) or not matches(pod):
            continue
        if namespace and meta(pod).get("namespace", namespace) != namespace:
            continue
        patch = _adopt_patch(owner, api_version, kind, pod)
        actions.append(adopt_pod(name_of(pod), patch))
        refs = [r for r in meta(pod).get("ownerReferences") or [] if isinstance(r, dict)]
        pods.append({**pod, "metadata": {**meta(pod), "ownerReferences": refs + patch["metadata"]["ownerReferences"]}})
    return Claim(pods, actions)
