"""Plain-dict DaemonSets, nodes and pods for the decision-layer tests (v1beta1 shape, defaulted as stored)."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

from controllers.common.times import format_time

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=timezone.utc)
HASH = "v2"
OLD = "v1"


def daemonset(*, rolling_update=None, update_type="RollingUpdate", min_ready=0, burst=250, lifecycle=None,
              template_spec=None, status=None, annotations=None, scale_strategy=None, generation=2):
    spec = {
        "selector": {"matchLabels": {"app": "d"}},
        "template": {"metadata": {"labels": {"app": "d"}},
                     "spec": template_spec if template_spec is not None else {
                         "containers": [{"name": "c", "image": "img:v2"}]}},
        "updateStrategy": {"type": update_type},
        "burstReplicas": burst,
        "revisionHistoryLimit": 10,
        "minReadySeconds": min_ready,
    }
    if update_type == "RollingUpdate":
        ru = {"rollingUpdateType": "Standard", "maxUnavailable": 1, "maxSurge": 0}
        ru.update(rolling_update or {})
        spec["updateStrategy"]["rollingUpdate"] = {k: v for k, v in ru.items() if v is not None}
    if lifecycle is not None:
        spec["lifecycle"] = lifecycle
    if scale_strategy is not None:
        spec["scaleStrategy"] = scale_strategy
    return {"apiVersion": "apps.kruise.io/v1beta1", "kind": "DaemonSet",
            "metadata": {"name": "d", "namespace": "ns", "uid": "ds-uid", "generation": generation,
                         "annotations": annotations or {}},
            "spec": spec, "status": status or {}}


def node(name, labels=None, taints=None):
    return {"metadata": {"name": name, "labels": dict({"kubernetes.io/hostname": name}, **(labels or {}))},
            "spec": {"taints": taints or []}}


def nodes(*names, **kw):
    return [node(n, **kw) for n in names]


_counter = [0]


def pod(node_name, rev=HASH, *, name=None, ready=True, ready_for=3600, phase="Running", age=3600, bound=True,
        terminating=False, labels=None, gates=(), conditions=None, finalizers=None):
    _counter[0] += 1
    name = name or f"d-{node_name}-{rev}-{_counter[0]}"
    lab = {"app": "d", "controller-revision-hash": rev}
    lab.update(labels or {})
    meta = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "labels": lab,
            "creationTimestamp": format_time(NOW - timedelta(seconds=age))}
    if terminating:
        meta["deletionTimestamp"] = format_time(NOW)
    if finalizers:
        meta["finalizers"] = list(finalizers)
    spec = {"containers": [{"name": "c", "image": f"img:{rev}"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}}}}
    if bound:
        spec["nodeName"] = node_name
    if gates:
        spec["readinessGates"] = [{"conditionType": g} for g in gates]
    conds = [{"type": "Ready", "status": "True" if ready else "False",
              "lastTransitionTime": format_time(NOW - timedelta(seconds=ready_for))}]
    conds += conditions or []
    return {"metadata": meta, "spec": spec, "status": {"phase": phase, "conditions": conds}}


def copy_of(obj):
    return copy.deepcopy(obj)
