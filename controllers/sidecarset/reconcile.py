"""SidecarSet reconcile: observed state in, a `Plan` out (`sidecarset_processor.go UpdateSidecarSet`, v1.9.0
order, sidecarset.md §5.4).

    plan = reconcile(sidecarset, {pods, namespaces, controllerrevisions.apps}, context)

`sidecarset` is the stored apps.kruise.io/v1beta1 object, with the hash annotations its webhook writes; `pods`
the pods its selector matches in every namespace (injected ones: the runtime's index keeps only those);
`namespaces` every Namespace (for namespaceSelector); `controllerrevisions.apps` the revisions it controls,
which live in the install namespace (`context.settings.namespace`).

1. the matched pods (§5.2);
2. the latest revision registered (create, or renumber an identical older one), its custom-version label, and
   the history truncated (§4);
3. the status, written when a field differs (§1.6), even when NotUpdate or paused;
4. (upstream's update and resourceVersion expectations: the runtime holds the round until its index shows
   every pod write of the previous one);
5. NotUpdate, 6. paused: done;
7. hot upgrade: pods whose new working containers run and are ready get their old ones reset to the empty
   image (the flip), and nothing else happens this round (v1.9.0);
8. every matched pod updated: done;
9. the upgrade: SidecarSetUpgradable=False on pods that are not upgradable (Event NotUpgradablePods), then
   each chosen pod's sidecar images in place and SidecarSetUpgradable=True (§5.5, §5.6).
"""
from __future__ import annotations

from typing import Any

from controllers.common.actions import PODS, REVISIONS, Context, Plan, update_status
from controllers.common.objects import is_terminating, labels_of, name_of
from controllers.common.times import as_utc
from controllers.settings import ENVIRONMENT

from .revisions import register_latest_revision, truncate_history
from .status import compute_status, status_needs_write
from .upgrade import (flip_pod, matched_pods, not_upgradable_event, ready_to_flip, select_pods, sidecars,
                      upgradable_condition, upgrade_pod)
from .containers import is_hot_upgrade

JSON = dict[str, Any]
NAMESPACES = "namespaces"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def install_namespace(context: Context) -> str:
    """Where the revisions live: the manager's namespace (POD_NAMESPACE)."""
    return getattr(context.settings, "namespace", None) or ENVIRONMENT["POD_NAMESPACE"]


def namespace_labels(namespaces: list[JSON]) -> dict[str, dict[str, str]]:
    """Each Namespace's labels, with `kubernetes.io/metadata.name` as Kubernetes 1.21+ sets it (older API
    servers do not, and v1alpha1's `namespace` converts to a selector on it)."""
    return {name_of(n): {**labels_of(n), NAMESPACE_NAME_LABEL: name_of(n)} for n in namespaces}


def reconcile(sidecarset: JSON, observed: dict[str, list[JSON]], context: Context) -> Plan:
    now = as_utc(context.now)
    if is_terminating(sidecarset):
        return Plan([])
    namespace = install_namespace(context)
    # 1.
    pods = matched_pods(sidecarset, observed.get(PODS, []), namespace_labels(observed.get(NAMESPACES, [])))
    # 2.
    registration = register_latest_revision(sidecarset, observed.get(REVISIONS, []), namespace)
    actions: list = list(registration.actions)
    actions += truncate_history(sidecarset, registration.revisions, pods, namespace)
    # 3.
    status = compute_status(sidecarset, pods, name_of(registration.latest), registration.collision_count)
    if status_needs_write(sidecarset, status):
        actions.append(update_status(status))
    sidecarset = {**sidecarset, "status": status}
    strategy = (sidecarset.get("spec") or {}).get("updateStrategy") or {}
    # 5., 6.
    if strategy.get("type") == "NotUpdate" or strategy.get("paused"):
        return Plan(actions)
    # 7.
    if any(is_hot_upgrade(sc) for sc in sidecars(sidecarset)):
        flipping = [p for p in pods if ready_to_flip(sidecarset, p)]
        if flipping:
            for pod in flipping:
                actions += flip_pod(sidecarset, pod, now)
            return Plan(actions)
    # 8.
    if status["updatedPods"] >= status["matchedPods"]:
        return Plan(actions)
    # 9.
    selection = select_pods(sidecarset, pods)
    for pod in selection.not_upgradable:
        condition = upgradable_condition(sidecarset, pod, False, now)
        if condition is not None:
            actions.append(condition)
    if selection.not_upgradable:
        actions.append(not_upgradable_event(len(selection.not_upgradable)))
    for pod in selection.upgrade:
        actions.append(upgrade_pod(sidecarset, pod, now))
        condition = upgradable_condition(sidecarset, pod, True, now)
        if condition is not None:
            actions.append(condition)
    return Plan(actions)
