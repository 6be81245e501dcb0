"""The pods and PVCs a CloneSet creates (`core/cloneset_core.go newVersionedPods`,
`utils/cloneset_utils.go GetPersistentVolumeClaims/UpdateStorage`, `kubecontroller.GetPodFromTemplate`)."""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from controllers.common import lifecycle
from controllers.common.keys import CLONESET_INSTANCE_ID_LABEL, INPLACE_UPDATE_READY
from controllers.common.ownership import controller_ref
from controllers.common.revision import revision_labels

from .spec import API_VERSION, KIND, CloneSetView

JSON = dict[str, Any]


def pvc_name(vct_name: str, cs_name: str, instance_id: str) -> str:
    return f"{vct_name}-{cs_name}-{instance_id}"


def pvcs_for(cs: CloneSetView, instance_id: str) -> list[tuple[str, JSON]]:
    """(template name, PVC) for each volumeClaimTemplate: labels = the VCT's + selector.matchLabels + instance id."""
    selector_labels = (cs.selector or {}).get("matchLabels") or {} if isinstance(cs.selector, dict) else {}
    out = []
    for vct in cs.volume_claim_templates:
        vmeta = vct.get("metadata") or {}
        vct_name = vmeta.get("name") or ""
        labels = dict(vmeta.get("labels") or {})
        labels.update(selector_labels)
        labels[CLONESET_INSTANCE_ID_LABEL] = instance_id
        metadata: JSON = {"name": pvc_name(vct_name, cs.name, instance_id), "labels": labels,
                          "ownerReferences": [controller_ref(cs.obj, API_VERSION, KIND)]}
        if cs.namespace:
            metadata["namespace"] = cs.namespace
        if vmeta.get("annotations"):
            metadata["annotations"] = dict(vmeta["annotations"])
        pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata,
               "spec": copy.deepcopy(vct.get("spec") or {})}
        out.append((vct_name, pvc))
    return out


def new_pod(cs: CloneSetView, template: JSON, revision: str, instance_id: str, now: datetime) -> JSON:
    """A pod of `revision` from `template` (that revision's template), named `<cloneset>-<instance id>`."""
    tmeta = template.get("metadata") or {}
    labels = dict(tmeta.get("labels") or {})
    labels.update(revision_labels(revision, short=cs.gate("CloneSetShortHash")))
    labels[CLONESET_INSTANCE_ID_LABEL] = instance_id
    state_label, state_annotation = lifecycle.state_labels(lifecycle.PREPARING_NORMAL, now)
    labels.update(state_label)
    annotations = dict(tmeta.get("annotations") or {})
    annotations.update(state_annotation)
    metadata: JSON = {
        "name": f"{cs.name}-{instance_id}",
        "generateName": f"{cs.name}-",
        "labels": labels,
        "annotations": annotations,
        "ownerReferences": [controller_ref(cs.obj, API_VERSION, KIND)],
    }
    if cs.namespace:
        metadata["namespace"] = cs.namespace
    if tmeta.get("finalizers"):
        metadata["finalizers"] = list(tmeta["finalizers"])
    spec = copy.deepcopy(template.get("spec") or {})

    # InPlaceUpdateReady gates every CloneSet pod: it is Ready only once the controller says no update runs.
    gates = spec.setdefault("readinessGates", [])
    if not any(g.get("conditionType") == INPLACE_UPDATE_READY for g in gates):
        gates.append({"conditionType": INPLACE_UPDATE_READY})

    claims = pvcs_for(cs, instance_id)
    if claims:
        claimed = {name for name, _ in claims}
        volumes = [{"name": name, "persistentVolumeClaim": {"claimName": pvc["metadata"]["name"]}}
                   for name, pvc in claims]
        volumes += [v for v in spec.get("volumes") or [] if v.get("name") not in claimed]
        spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
