"""The pods and PVCs a CloneSet creates (`core/cloneset_core.go newVersionedPods`,
`utils/cloneset_utils.go GetPersistentVolumeClaims/UpdateStorage`; the pod itself: `common.newpods`)."""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from controllers.common import lifecycle
from controllers.common.keys import CLONESET_INSTANCE_ID_LABEL, INPLACE_UPDATE_READY
from controllers.common.newpods import pod_from_template
from controllers.common.objects import name_of
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
    """A pod of `revision` from `template` (that revision's template), named `<cloneset>-<instance id>`, in
    PreparingNormal, with a volume per volumeClaimTemplate on the PVC of its instance id.

    The InPlaceUpdateReady readiness gate goes on every CloneSet pod: it is Ready only once the controller says
    no update runs."""
    labels = {**revision_labels(revision, short=cs.gate("CloneSetShortHash")), CLONESET_INSTANCE_ID_LABEL: instance_id}
    return pod_from_template(cs.obj, template, api_version=API_VERSION, kind=KIND, name=f"{cs.name}-{instance_id}",
                             labels=labels, now=now, state=lifecycle.PREPARING_NORMAL,
                             claims=[(vct, name_of(pvc)) for vct, pvc in pvcs_for(cs, instance_id)],
                             readiness_gates=(INPLACE_UPDATE_READY,))
