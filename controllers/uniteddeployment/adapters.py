"""The subset workloads (openkruise-1.9/daemonset-uniteddeployment.md B9): one adapter per template kind, and
`subset_workload`, which writes what every adapter writes (`ApplySubsetTemplate`, B9.2).

| template                     | workload (resource key)                          | partition                           |
|------------------------------|--------------------------------------------------|-------------------------------------|
| cloneSetTemplate             | CloneSet, `clonesets.apps.kruise.io`             | `updateStrategy.partition` (a count)|
| advancedStatefulSetTemplate  | Advanced StatefulSet, `statefulsets.apps.kruise.io` (v1beta1) | `rollingUpdate.partition` (ordinals) |
| statefulSetTemplate          | StatefulSet, `statefulsets.apps`                 | `rollingUpdate.partition` (ordinals)|
| deploymentTemplate           | Deployment, `deployments.apps`                   | none                                |

The workload's whole spec is recomputed from the template on every create and update (B9.2): labels, the
selector plus the subset name, the subset's node selector term ANDed into every required node-affinity term,
its tolerations appended, then `subset.patch` as a strategic merge patch of the pod template, last.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Callable

from controllers.common.intstr import scaled_value_or
from controllers.common.objects import annotations_of, labels_of, meta
from controllers.common.ownership import controller_ref
from controllers.common.strategicmerge import strategic_merge

JSON = dict[str, Any]

API_VERSION = "apps.kruise.io/v1alpha1"
KIND = "UnitedDeployment"
SUBSET_NAME_LABEL = "apps.kruise.io/subset-name"
REVISION_LABEL = "apps.kruise.io/controller-revision-hash"  # value: the UD's ControllerRevision name
SUBSET_PATCH_ANNOTATION = "apps.kruise.io/subset-patch"
RESERVED_POD_LABEL = "apps.kruise.io/united-deployment-reserved-pod"


def _rolling_partition(spec: JSON, partition: int) -> None:
    """StatefulSet and Advanced StatefulSet: with RollingUpdate (or no type), ordinals < P stay old."""
    strategy = spec.setdefault("updateStrategy", {})
    if strategy.get("type") in (None, "", "RollingUpdate"):
        strategy["type"] = "RollingUpdate"
        rolling = strategy.get("rollingUpdate")
        strategy["rollingUpdate"] = dict(rolling) if isinstance(rolling, dict) else {}
        strategy["rollingUpdate"]["partition"] = partition


def _cloneset_partition(spec: JSON, partition: int) -> None:
    strategy = spec.get("updateStrategy")
    spec["updateStrategy"] = dict(strategy) if isinstance(strategy, dict) else {}
    spec["updateStrategy"]["partition"] = partition


def _no_partition(spec: JSON, partition: int) -> None:
    """A Deployment has no partition (B9.3)."""


def _rolling_max_unavailable(spec: JSON, value: Any) -> None:
    strategy = spec.setdefault("updateStrategy", {})
    if strategy.get("type") in (None, "", "RollingUpdate"):
        strategy.setdefault("rollingUpdate", {})["maxUnavailable"] = value


def _cloneset_max_unavailable(spec: JSON, value: Any) -> None:
    spec.setdefault("updateStrategy", {})["maxUnavailable"] = value


def _deployment_max_unavailable(spec: JSON, value: Any) -> None:
    strategy = spec.setdefault("strategy", {})
    if strategy.get("type") in (None, "", "RollingUpdate"):
        strategy.setdefault("rollingUpdate", {})["maxUnavailable"] = value


def _revision_label(obj: JSON) -> str:
    return labels_of(obj).get(REVISION_LABEL, "")


def _statefulset_partition_of(workload: JSON, pods: list[JSON]) -> int:
    """GetSpecPartition: OnDelete counts the pods whose UD revision differs from the workload's; else the
    rollingUpdate partition."""
    spec = workload.get("spec") or {}
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        revision = _revision_label(workload)
        return sum(1 for p in pods if _revision_label(p) != revision)
    value = (strategy.get("rollingUpdate") or {}).get("partition")
    return value if isinstance(value, int) else 0


def _cloneset_partition_of(workload: JSON, pods: list[JSON]) -> int:
    spec = workload.get("spec") or {}
    replicas = spec.get("replicas") if isinstance(spec.get("replicas"), int) else 1
    return scaled_value_or((spec.get("updateStrategy") or {}).get("partition"), replicas, True, 0)


@dataclass(frozen=True)
class Adapter:
    template: str  # the key under spec.template
    resource: str  # its key in the resource table (policies/controllers.yaml)
    api_version: str
    kind: str
    set_partition: Callable[[JSON, int], None]
    partition_of: Callable[[JSON, list[JSON]], int]
    set_max_unavailable: Callable[[JSON, Any], None]
    has_partition: bool = True


ADAPTERS: dict[str, Adapter] = {a.template: a for a in (
    Adapter("cloneSetTemplate", "clonesets.apps.kruise.io", "apps.kruise.io/v1alpha1", "CloneSet",
            _cloneset_partition, _cloneset_partition_of, _cloneset_max_unavailable),
    Adapter("advancedStatefulSetTemplate", "statefulsets.apps.kruise.io", "apps.kruise.io/v1beta1", "StatefulSet",
            _rolling_partition, _statefulset_partition_of, _rolling_max_unavailable),
    Adapter("statefulSetTemplate", "statefulsets.apps", "apps/v1", "StatefulSet",
            _rolling_partition, _statefulset_partition_of, _rolling_max_unavailable),
    Adapter("deploymentTemplate", "deployments.apps", "apps/v1", "Deployment",
            _no_partition, lambda workload, pods: 0, _deployment_max_unavailable, has_partition=False),
)}
WORKLOAD_RESOURCES = tuple(a.resource for a in ADAPTERS.values())


def adapter_for(template: JSON) -> Adapter | None:
    """The adapter of the one template kind set (the webhook refuses zero or several)."""
    return next((a for key, a in ADAPTERS.items() if isinstance(template.get(key), dict)), None)


def merge_node_selector_term(pod_spec: JSON, term: JSON | None) -> None:
    """B9.2: the subset's matchExpressions ANDed into every required node-selector term (one empty term added
    when there is none); matchFields of the subset term are ignored, as upstream."""
    expressions = list((term or {}).get("matchExpressions") or [])
    if not expressions:
        return
    affinity = pod_spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    terms = required.get("nodeSelectorTerms") or [{}]
    required["nodeSelectorTerms"] = [dict(t, matchExpressions=list(t.get("matchExpressions") or []) + expressions)
                                     for t in terms]


def subset_patch_text(subset: JSON) -> str:
    """The annotation's value: the raw patch as JSON, or "" without one."""
    patch = subset.get("patch")
    return json.dumps(patch, separators=(",", ":"), sort_keys=True) if patch not in (None, {}) else ""


def subset_workload(ud: JSON, adapter: Adapter, subset: JSON, revision: str, replicas: int, partition: int,
                    existing: JSON | None = None, name: str | None = None,
                    max_unavailable: Any = None) -> JSON:
    """ApplySubsetTemplate: the whole workload for `subset` (its metadata merged into `existing`'s).
    Raises StrategicMergeError when the subset's patch cannot be applied."""
    template = copy.deepcopy((ud.get("spec") or {}).get("template", {}).get(adapter.template) or {})
    ud_meta = meta(ud)
    selector = copy.deepcopy((ud.get("spec") or {}).get("selector") or {})
    subset_name = subset.get("name") or ""
    labels = {**labels_of(existing or {}), **(meta(template).get("labels") or {}),
              **(selector.get("matchLabels") or {}), REVISION_LABEL: revision, SUBSET_NAME_LABEL: subset_name}
    annotations = {**annotations_of(existing or {}), **(meta(template).get("annotations") or {}),
                   SUBSET_PATCH_ANNOTATION: subset_patch_text(subset)}
    spec = copy.deepcopy(template.get("spec") or {})
    selector.setdefault("matchLabels", {})[SUBSET_NAME_LABEL] = subset_name
    spec["selector"] = selector
    spec["replicas"] = replicas
    adapter.set_partition(spec, partition)
    if max_unavailable is not None:
        adapter.set_max_unavailable(spec, max_unavailable)
    pod_template = spec.setdefault("template", {})
    pod_meta = pod_template.setdefault("metadata", {})
    pod_meta["labels"] = {**(pod_meta.get("labels") or {}), SUBSET_NAME_LABEL: subset_name, REVISION_LABEL: revision}
    pod_spec = pod_template.setdefault("spec", {})
    merge_node_selector_term(pod_spec, subset.get("nodeSelectorTerm"))
    if subset.get("tolerations"):
        pod_spec["tolerations"] = list(pod_spec.get("tolerations") or []) + copy.deepcopy(subset["tolerations"])
    if subset.get("patch") not in (None, {}):
        spec["template"] = strategic_merge(pod_template, subset["patch"])
    metadata: JSON = {"name": name or meta(existing or {}).get("name"), "namespace": ud_meta.get("namespace"),
                      "labels": labels, "annotations": annotations,
                      "ownerReferences": [controller_ref(ud, API_VERSION, KIND)]}
    return {"apiVersion": adapter.api_version, "kind": adapter.kind, "metadata": metadata, "spec": spec}
