"""Kubernetes' defaults for pod templates and PVC templates, on plain dicts (openkruise.md §2.3).

OpenKruise's mutating webhooks call `SetDefaultPodSpec` (apis/apps/defaults/pod.go) on workload templates,
which applies the core/v1 defaulting functions of the Kubernetes it is built with, the same ones the API
server runs on a PodTemplate (zz_generated.defaults.go SetObjectDefaults_PodTemplate). Here they are as of
Kubernetes v1.20 (pkg/apis/core/v1/defaults.go, checked against the v1.20.2 API server: a template defaulted
here equals the one `kubectl create --dry-run=server` returns for a PodTemplate, tests/e2e/test_template_defaults.py),
with OpenKruise's own choices:

- containers get `imagePullPolicy: Always` whatever the tag ("for in-place update", pod.go); init
  containers follow Kubernetes (Always for `:latest` or no tag, IfNotPresent otherwise);
- ephemeral containers get the field defaults (ports, env, resources, probes, lifecycle) but not the
  container ones, as pod.go does;
- what Kubernetes defaults only on a Pod (SetDefaults_Pod: `enableServiceLinks`, requests copied from
  limits) is not applied: templates never get it, in Kubernetes or in OpenKruise.

Quantities come back as Kubernetes writes them ("1000m" -> "1"), and every container has `resources`
(`{}` when empty), as Go's encoding of a PodTemplate or of OpenKruise's typed object gives. Functions return
new dicts and never fail: values of the wrong type are left as they are, for validation to report.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Callable

from controllers.common import quantity

JSON = dict[str, Any]

# v1.20 constants (k8s.io/api/core/v1 types.go).
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_SCHEDULER = "default-scheduler"
GRACE_PERIOD_SECONDS = 30
VOLUME_DEFAULT_MODE = 0o644   # 420: Secret, ConfigMap, DownwardAPI and Projected volumes
TOKEN_EXPIRATION_SECONDS = 3600
PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}

# Volume sources with defaults, as SetDefaults_<Source>VolumeSource in v1.20: source -> (field -> value,
# whether the fields are pointers in Go, so that only a missing field is defaulted and "" or 0 is kept).
VOLUME_SOURCE_DEFAULTS: dict[str, tuple[dict[str, Any], bool]] = {
    "hostPath": ({"type": ""}, True),                                  # HostPathUnset
    "secret": ({"defaultMode": VOLUME_DEFAULT_MODE}, True),
    "configMap": ({"defaultMode": VOLUME_DEFAULT_MODE}, True),
    "downwardAPI": ({"defaultMode": VOLUME_DEFAULT_MODE}, True),
    "projected": ({"defaultMode": VOLUME_DEFAULT_MODE}, True),
    "azureDisk": ({"cachingMode": "ReadWrite", "fsType": "ext4", "readOnly": False, "kind": "Shared"}, True),
    "iscsi": ({"iscsiInterface": "default"}, False),
    "rbd": ({"pool": "rbd", "user": "admin", "keyring": "/etc/ceph/keyring"}, False),
    "scaleIO": ({"storageMode": "ThinProvisioned", "fsType": "xfs"}, False),
}


def _unset(obj: JSON, field: str, pointer: bool = False) -> bool:
    """Whether Go sees no value: a missing or null field; for a non-pointer field also its zero value ("" for
    strings, 0 for numbers)."""
    value = obj.get(field)
    if value is None or pointer:
        return value is None
    return value == "" or (value == 0 and not isinstance(value, bool))


def _set_defaults(obj: Any, defaults: dict[str, Any], pointer: bool = False) -> None:
    if isinstance(obj, dict):
        for field, value in defaults.items():
            if _unset(obj, field, pointer):
                obj[field] = copy.deepcopy(value)


def _dicts(value: Any) -> list[JSON]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _dict(obj: Any, field: str) -> JSON | None:
    value = obj.get(field) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else None


# ---- quantities

def default_resource_list(resources: Any) -> None:
    """SetDefaults_ResourceList: every quantity rounded up to milli, written as Kubernetes writes it."""
    if isinstance(resources, dict):
        for name, value in resources.items():
            text = quantity.canonical(value, round_to_milli=True)
            if text is not None:
                resources[name] = text


def _canonical_quantity(obj: JSON, field: str) -> None:
    text = quantity.canonical(obj.get(field)) if field in obj else None
    if text is not None:
        obj[field] = text


# ---- containers

# reference := name [ ":" tag ] [ "@" digest ] (github.com/docker/distribution/reference, as
# pkg/util/parsers.ParseImageName reads it).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)(?::(?P<tag>[\w][\w.-]{{0,127}}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$")


def image_tag(image: Any) -> str:
    """The tag ParseImageName gives: "latest" when there is neither tag nor digest, "" when the reference
    does not parse (Kubernetes then assumes it was validated elsewhere)."""
    match = _REFERENCE.match(image) if isinstance(image, str) else None
    if match is None or len(match.group("name")) > 255 or re.fullmatch(r"[a-f0-9]{64}", image):
        return ""
    # splitDockerDomain: a first part without "." or ":" (and not localhost) is a path component, which
    # must be lowercase ("Upper/case" is docker.io/Upper/case, refused).
    first, slash, _ = match.group("name").partition("/")
    if slash and not ({".", ":"} & set(first) or first == "localhost") and not re.fullmatch(_COMPONENT, first):
        return ""
    if match.group("tag"):
        return match.group("tag")
    return "" if match.group("digest") else "latest"


def _default_http_get(handler: Any) -> None:
    """SetDefaults_HTTPGetAction."""
    _set_defaults(_dict(handler, "httpGet"), {"path": "/", "scheme": "HTTP"})


def _default_container_fields(container: JSON, host_network: bool) -> None:
    """What zz_generated.defaults.go does for every container of a PodTemplate besides SetDefaults_Container,
    and OpenKruise's pod.go for containers, init containers and ephemeral containers alike."""
    for port in _dicts(container.get("ports")):
        _set_defaults(port, {"protocol": "TCP"})               # +default="TCP" on ContainerPort.Protocol
        # SetDefaults_PodSpec (v1.20; later versions do it on Pods only): with host networking every
        # container port is a host port.
        if host_network and _unset(port, "hostPort") and "containerPort" in port:
            port["hostPort"] = port["containerPort"]
    for env in _dicts(container.get("env")):
        _set_defaults(_dict(_dict(env, "valueFrom"), "fieldRef"), {"apiVersion": "v1"})   # ObjectFieldSelector
    resources = container.get("resources")
    if resources is None:
        container["resources"] = resources = {}
    if isinstance(resources, dict):
        default_resource_list(resources.get("limits"))
        default_resource_list(resources.get("requests"))
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = _dict(container, probe_name)
        if probe is not None:
            _set_defaults(probe, PROBE_DEFAULTS)                # SetDefaults_Probe
            _default_http_get(probe)
    lifecycle = _dict(container, "lifecycle")
    if lifecycle is not None:
        _default_http_get(lifecycle.get("postStart"))
        _default_http_get(lifecycle.get("preStop"))


def _default_container(container: JSON, pull_policy: str | None) -> None:
    """SetDefaults_Container, with OpenKruise's pull policy for app containers when `pull_policy` is given."""
    if _unset(container, "imagePullPolicy"):
        if pull_policy is None:
            pull_policy = "Always" if image_tag(container.get("image")) == "latest" else "IfNotPresent"
        container["imagePullPolicy"] = pull_policy
    _set_defaults(container, {"terminationMessagePath": TERMINATION_MESSAGE_PATH,
                              "terminationMessagePolicy": "File"})


# ---- volumes

def _default_volume(volume: JSON, sources: tuple[str, ...] = tuple(VOLUME_SOURCE_DEFAULTS)) -> None:
    # SetDefaults_Volume: a volume without a source is an emptyDir.
    if all(value is None for key, value in volume.items() if key != "name"):
        volume["emptyDir"] = {}
    for source in sources:
        defaults, pointer = VOLUME_SOURCE_DEFAULTS[source]
        _set_defaults(_dict(volume, source), defaults, pointer)
    empty_dir = _dict(volume, "emptyDir")
    if empty_dir is not None:
        _canonical_quantity(empty_dir, "sizeLimit")
    for item in _dicts((_dict(volume, "downwardAPI") or {}).get("items")):
        _set_defaults(_dict(item, "fieldRef"), {"apiVersion": "v1"})
    for source in _dicts((_dict(volume, "projected") or {}).get("sources")):
        for item in _dicts((_dict(source, "downwardAPI") or {}).get("items")):
            _set_defaults(_dict(item, "fieldRef"), {"apiVersion": "v1"})
        token = _dict(source, "serviceAccountToken")
        _set_defaults(token, {"expirationSeconds": TOKEN_EXPIRATION_SECONDS}, pointer=True)


# ---- the pod spec and template

def default_pod_spec(spec: Any) -> Any:
    """A copy of a core/v1 PodSpec with the defaults above (OpenKruise SetDefaultPodSpec on Kubernetes v1.20)."""
    if not isinstance(spec, dict):
        return copy.deepcopy(spec)
    spec = copy.deepcopy(spec)
    # SetDefaults_PodSpec.
    _set_defaults(spec, {"dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": DEFAULT_SCHEDULER})
    _set_defaults(spec, {"securityContext": {}, "terminationGracePeriodSeconds": GRACE_PERIOD_SECONDS}, pointer=True)
    host_network = spec.get("hostNetwork") is True
    for volume in _dicts(spec.get("volumes")):
        _default_volume(volume)
    for container in _dicts(spec.get("initContainers")):
        _default_container(container, pull_policy=None)
        _default_container_fields(container, host_network)
    for container in _dicts(spec.get("containers")):
        _default_container(container, pull_policy="Always")
        _default_container_fields(container, host_network)
    for container in _dicts(spec.get("ephemeralContainers")):
        _default_container_fields(container, host_network=False)
    default_resource_list(spec.get("overhead"))
    return spec


def default_pod_template(template: Any) -> Any:
    """A copy of a PodTemplateSpec ({metadata, spec}) whose spec has the defaults; metadata is untouched."""
    if not isinstance(template, dict):
        return copy.deepcopy(template)
    result = copy.deepcopy(template)
    if "spec" in result:
        result["spec"] = default_pod_spec(result["spec"])
    return result


def default_volume_claim_template(claim: Any) -> Any:
    """A copy of a PersistentVolumeClaim template with OpenKruise's defaults for volumeClaimTemplates:
    SetDefaults_PersistentVolumeClaim (v1.20: `status.phase: Pending`, `spec.volumeMode: Filesystem`) and
    SetDefaults_ResourceList on `spec.resources` and `status.capacity`."""
    if not isinstance(claim, dict):
        return copy.deepcopy(claim)
    claim = copy.deepcopy(claim)
    spec = claim.setdefault("spec", {})
    status = claim.setdefault("status", {})
    if isinstance(spec, dict):
        _set_defaults(spec, {"volumeMode": "Filesystem"}, pointer=True)
        resources = _dict(spec, "resources") or {}
        default_resource_list(resources.get("limits"))
        default_resource_list(resources.get("requests"))
    if isinstance(status, dict):
        _set_defaults(status, {"phase": "Pending"})
        default_resource_list(status.get("capacity"))
    return claim


def default_volume_claim_templates(claims: Any) -> Any:
    """Every template of a `volumeClaimTemplates` list."""
    if not isinstance(claims, list):
        return copy.deepcopy(claims)
    return [default_volume_claim_template(claim) for claim in claims]


# ---- SidecarSet containers and volumes

def default_sidecar_container(container: Any) -> Any:
    """A copy of a SidecarSet (init)container with OpenKruise's setDefaultContainerV1beta1 (apis/apps/defaults,
    v1.9.0): SetDefaults_Container (the pull policy from the tag), ports, env and transferEnv fieldRefs,
    quantities, liveness and readiness probes (not startupProbe), lifecycle httpGet; `resources: {}` as Go
    writes the struct. podInjectPolicy, upgradeStrategy and shareVolumePolicy are schema defaults."""
    if not isinstance(container, dict):
        return copy.deepcopy(container)
    container = copy.deepcopy(container)
    _default_container(container, pull_policy=None)
    for port in _dicts(container.get("ports")):
        _set_defaults(port, {"protocol": "TCP"})
    for transfer in _dicts(container.get("transferEnv")):
        _set_defaults(_dict(_dict(transfer, "sourceContainerNameFrom"), "fieldRef"), {"apiVersion": "v1"})
    for env in _dicts(container.get("env")):
        _set_defaults(_dict(_dict(env, "valueFrom"), "fieldRef"), {"apiVersion": "v1"})
    resources = container.get("resources")
    if resources is None:
        container["resources"] = resources = {}
    if isinstance(resources, dict):
        default_resource_list(resources.get("limits"))
        default_resource_list(resources.get("requests"))
    for probe_name in ("livenessProbe", "readinessProbe"):
        probe = _dict(container, probe_name)
        if probe is not None:
            _set_defaults(probe, PROBE_DEFAULTS)
            _default_http_get(probe)
    lifecycle = _dict(container, "lifecycle")
    if lifecycle is not None:
        _default_http_get(lifecycle.get("postStart"))
        _default_http_get(lifecycle.get("preStop"))
    return container


def default_sidecar_containers(containers: Any) -> Any:
    if not isinstance(containers, list):
        return copy.deepcopy(containers)
    return [default_sidecar_container(container) for container in containers]


def default_pod_volumes(volumes: Any) -> Any:
    """A copy of a list of core/v1 Volumes with OpenKruise's SetDefaultPodVolumes (apis/apps/defaults/pod.go)."""
    if not isinstance(volumes, list):
        return copy.deepcopy(volumes)
    volumes = copy.deepcopy(volumes)
    for volume in _dicts(volumes):
        # Only these sources' defaults, not azureDisk, iscsi, rbd or scaleIO as a PodTemplate gets.
        _default_volume(volume, sources=("hostPath", "secret", "configMap", "downwardAPI", "projected"))
    return volumes


# What policies/admission `templateDefaults` may ask for, by the key that lists the paths.
DEFAULTERS: dict[str, Callable[[Any], Any]] = {
    "podTemplates": default_pod_template,
    "volumeClaimTemplates": default_volume_claim_templates,
    "sidecarContainers": default_sidecar_containers,
    "podVolumes": default_pod_volumes,
}

__all__ = ["DEFAULTERS", "default_pod_spec", "default_pod_template", "default_pod_volumes", "default_resource_list",
           "default_sidecar_container", "default_sidecar_containers",
           "default_volume_claim_template", "default_volume_claim_templates", "image_tag"]
