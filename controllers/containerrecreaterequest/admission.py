"""What the ContainerRecreateRequest webhook decides (kruise-daemon.md §3.2, upstream
`pkg/webhook/containerrecreaterequest/mutating/crr_mutating_handler.go`), as pure functions: the request, its
pod and node in; the request as it is stored, or the refusals with the field named.

Upstream has only a mutating webhook, which both fills the request in and refuses it. Here the same: the
schema's defaults and constraints (types, enums, activeDeadlineSeconds >= 3) are applied by the generic
webhook path as for every kind; what needs the pod and the node, or the old object, is decided here.
"""
from __future__ import annotations

import re
from typing import Any

from apischema.values import FieldError
from controllers.common.pods import container_statuses_of, containers_of, get_condition, node_name_of, phase_of

from . import api

JSON = dict[str, Any]

READ_ONLY = ("preStop", "ports", "statusContext")
SIDECAR_TERMINATED = "SidecarTerminated"  # a pod whose sidecars were stopped after its main container ended


DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def check_create(crr: JSON, gates: dict[str, bool]) -> list[FieldError]:
    """What can be refused before the pod is read (steps 1–5 of the create path)."""
    if not gates.get("KruiseDaemon", True):
        return [FieldError("metadata", "Forbidden: feature-gate KruiseDaemon is not enabled")]
    spec = api.spec(crr)
    errors = []
    if not spec.get("podName"):
        errors.append(FieldError("spec.podName", "Required value: podName must be set"))
    elif not DNS_SUBDOMAIN.match(spec["podName"]) or len(spec["podName"]) > 253:
        # The webhook reads the pod by this name: "../secrets/x" must not name another resource. Found by fuzzing.
        errors.append(FieldError("spec.podName", f'Invalid value: "{spec["podName"]}": a pod name must be a '
                                                 "lowercase RFC 1123 subdomain"))
    if not spec.get("containers"):
        errors.append(FieldError("spec.containers", "Required value: containers must not be empty"))
    strategy = api.strategy(crr)
    if spec.get("activeDeadlineSeconds") is not None and spec["activeDeadlineSeconds"] < 3:
        errors.append(FieldError("spec.activeDeadlineSeconds", "Invalid value: must be at least 3"))
    for name in ("terminationGracePeriodSeconds", "unreadyGracePeriodSeconds"):
        if strategy.get(name) is not None and strategy[name] < 0:
            errors.append(FieldError(f"spec.strategy.{name}", "Invalid value: must not be negative"))
    if strategy.get("failurePolicy") not in (None, api.FAIL, api.IGNORE):
        errors.append(FieldError("spec.strategy.failurePolicy",
                                 f'Unsupported value: "{strategy["failurePolicy"]}": supported values: "Fail", "Ignore"'))
    return errors


def fill_create(crr: JSON, pod: JSON | None, node: JSON | None) -> tuple[JSON, list[FieldError]]:
    """Steps 6–9: the pod must be active and on a node; the request gets the pod's uid and node as labels, the
    pod's grace period, and for each container its preStop (and ports, for an httpGet one) and its status now."""
    name = api.spec(crr).get("podName")
    if pod is None:
        return crr, [FieldError("spec.podName", f'Not found: pod "{name}"')]
    deleting = bool(pod["metadata"].get("deletionTimestamp"))
    terminated = get_condition(pod, SIDECAR_TERMINATED) is not None
    if (phase_of(pod) in ("Succeeded", "Failed") or deleting) and not terminated:
        return crr, [FieldError("spec.podName", f'Invalid value: "{name}": pod is not active')]
    node_name = node_name_of(pod)
    if not node_name:
        return crr, [FieldError("spec.podName", f'Invalid value: "{name}": pod has not been scheduled to a node')]
    if node is None:
        return crr, [FieldError("spec.podName", f'Not found: node "{node_name}" of pod "{name}"')]

    meta = crr.setdefault("metadata", {})
    labels = meta.setdefault("labels", {})
    labels[api.ACTIVE_LABEL] = "true"
    labels[api.NODE_NAME_LABEL] = node_name
    labels[api.POD_UID_LABEL] = pod["metadata"]["uid"]
    if ((node.get("metadata") or {}).get("labels") or {}).get(api.VIRTUAL_KUBELET_LABEL) == api.VIRTUAL_KUBELET_VALUE:
        labels[api.VIRTUAL_KUBELET_LABEL] = api.VIRTUAL_KUBELET_VALUE
    spec = crr["spec"]
    strategy = spec.setdefault("strategy", {})
    if strategy.get("terminationGracePeriodSeconds") is None:
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        if grace is not None:
            strategy["terminationGracePeriodSeconds"] = grace

    in_spec = {c.get("name"): c for c in containers_of(pod)}
    statuses = {s.get("name"): s for s in container_statuses_of(pod)}
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, container in enumerate(spec["containers"]):
        where = f"spec.containers[{index}]"
        cname = container.get("name")
        if cname in seen:
            errors.append(FieldError(f"{where}.name", f'Duplicate value: "{cname}"'))
            continue
        seen.add(cname)
        given = [k for k in READ_ONLY if container.get(k) is not None]
        if given:
            errors.append(FieldError(f"{where}.{given[0]}", "Forbidden: preStop, ports and statusContext are "
                                                             "read-only fields, filled in by the webhook"))
            continue
        pod_container = in_spec.get(cname)
        if pod_container is None:
            errors.append(FieldError(f"{where}.name", f'Not found: "{cname}": no such container in pod "{name}"'))
            continue
        status = statuses.get(cname)
        if not status or not status.get("containerID"):
            errors.append(FieldError(f"{where}.name", f'Invalid value: "{cname}": the container has no '
                                                       f'containerID in the status of pod "{name}"'))
            continue
        pre_stop = ((pod_container.get("lifecycle") or {}).get("preStop"))
        if pre_stop:
            container["preStop"] = {k: pre_stop[k] for k in ("exec", "httpGet", "tcpSocket") if k in pre_stop}
            if "httpGet" in pre_stop and pod_container.get("ports"):
                container["ports"] = pod_container["ports"]
        container["statusContext"] = {"containerID": status["containerID"],
                                      "restartCount": int(status.get("restartCount") or 0)}
    return crr, errors


def check_update(crr: JSON, old: JSON) -> list[FieldError]:
    """The spec never changes; nor do the pod-uid and node-name labels, nor a set unready-acquired time."""
    errors = []
    if crr.get("spec") != old.get("spec"):
        errors.append(FieldError("spec", "Forbidden: spec of ContainerRecreateRequest is immutable"))
    for key in (api.POD_UID_LABEL, api.NODE_NAME_LABEL):
        if api.labels(crr).get(key) != api.labels(old).get(key):
            errors.append(FieldError(f"metadata.labels[{key}]", "Forbidden: field is immutable"))
    before = api.annotations(old).get(api.UNREADY_ACQUIRED_KEY)
    if before and api.annotations(crr).get(api.UNREADY_ACQUIRED_KEY) != before:
        errors.append(FieldError(f"metadata.annotations[{api.UNREADY_ACQUIRED_KEY}]",
                                 "Forbidden: field is immutable once set"))
    return errors
