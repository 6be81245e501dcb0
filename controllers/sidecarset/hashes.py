"""The two hash annotations of a SidecarSet (sidecarset.md §3, upstream pkg/control/sidecarcontrol/hash.go).

    kruise.io/sidecarset-hash                = SafeEncode(hex(sha256(JSON(m))))
    kruise.io/sidecarset-hash-without-image  = the same with every container's and initContainer's image ""

where m = {"containers": spec.containers}, plus "initContainers": spec.initContainers (all of them) when at least
one initContainer is a native sidecar (restartPolicy Always). The webhook writes both on every CREATE and
UPDATE after the defaults; the pod webhook copies them into pods, and the upgrade controller compares them.

JSON(m) is Go's `json.Marshal` of a map holding typed `[]v1beta1.SidecarContainer`, so the bytes follow the Go
structs: fields in declaration order, `omitempty` dropping zero values, non-pointer structs always written
(`"resources":{}`), unknown fields dropped, quantities canonical, `<>&` escaped. `STRUCTS` below is
k8s.io/api v0.32.10 core/v1 (the version OpenKruise v1.9.0 builds with) and apis/apps/v1beta1 of v1.9.0, field
for field. Byte parity with Go matters only to adopt pods that upstream OpenKruise injected; it is checked
against vectors computed by Go's encoding/json from the same struct declarations
(tests/unit/sidecarset/test_hashes.py).

The functions take a v1beta1 SidecarSet dict (or its spec) as the API server holds it, after the webhook's
defaults (controllers/webhook admission), and never fail on bad input: a value of the wrong type is written as
Go would fail to decode it, i.e. left as its zero value.
"""
from __future__ import annotations

import copy
import hashlib
from typing import Any

from controllers.common import quantity
from kube import gojson

HASH_ANNOTATION = "kruise.io/sidecarset-hash"
HASH_WITHOUT_IMAGE_ANNOTATION = "kruise.io/sidecarset-hash-without-image"

# k8s.io/apimachinery/pkg/util/rand SafeEncodeString alphabet (no vowels, no confusable characters).
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"

# Field kinds: "str", "int", "bool" (Go zero values "", 0, false), "quantity" (resource.Quantity, a struct:
# never omitted, "0" when unset), "intstr" (intstr.IntOrString, a struct), "strs" ([]string),
# "resources" (map[ResourceName]Quantity), ("struct", Name) (a non-pointer struct: never omitted),
# ("list", Name), ("inline", Name) (an embedded struct whose fields join the parent's).
# Each field: (json name, kind, pointer, omitempty).
_S, _I, _B = "str", "int", "bool"
STRUCTS: dict[str, list[tuple[str, Any, bool, bool]]] = {
    "Container": [
        ("name", _S, False, False), ("image", _S, False, True), ("command", "strs", False, True),
        ("args", "strs", False, True), ("workingDir", _S, False, True),
        ("ports", ("list", "ContainerPort"), False, True), ("envFrom", ("list", "EnvFromSource"), False, True),
        ("env", ("list", "EnvVar"), False, True), ("resources", ("struct", "ResourceRequirements"), False, True),
        ("resizePolicy", ("list", "ContainerResizePolicy"), False, True), ("restartPolicy", _S, True, True),
        ("volumeMounts", ("list", "VolumeMount"), False, True), ("volumeDevices", ("list", "VolumeDevice"), False, True),
        ("livenessProbe", ("struct", "Probe"), True, True), ("readinessProbe", ("struct", "Probe"), True, True),
        ("startupProbe", ("struct", "Probe"), True, True), ("lifecycle", ("struct", "Lifecycle"), True, True),
        ("terminationMessagePath", _S, False, True), ("terminationMessagePolicy", _S, False, True),
        ("imagePullPolicy", _S, False, True), ("securityContext", ("struct", "SecurityContext"), True, True),
        ("stdin", _B, False, True), ("stdinOnce", _B, False, True), ("tty", _B, False, True)],
    "ContainerPort": [("name", _S, False, True), ("hostPort", _I, False, True), ("containerPort", _I, False, False),
                      ("protocol", _S, False, True), ("hostIP", _S, False, True)],
    "EnvFromSource": [("prefix", _S, False, True), ("configMapRef", ("struct", "ConfigMapEnvSource"), True, True),
                      ("secretRef", ("struct", "SecretEnvSource"), True, True)],
    "LocalObjectReference": [("name", _S, False, True)],
    "ConfigMapEnvSource": [("", ("inline", "LocalObjectReference"), False, False), ("optional", _B, True, True)],
    "SecretEnvSource": [("", ("inline", "LocalObjectReference"), False, False), ("optional", _B, True, True)],
    "EnvVar": [("name", _S, False, False), ("value", _S, False, True),
               ("valueFrom", ("struct", "EnvVarSource"), True, True)],
    "EnvVarSource": [("fieldRef", ("struct", "ObjectFieldSelector"), True, True),
                     ("resourceFieldRef", ("struct", "ResourceFieldSelector"), True, True),
                     ("configMapKeyRef", ("struct", "ConfigMapKeySelector"), True, True),
                     ("secretKeyRef", ("struct", "SecretKeySelector"), True, True)],
    "ObjectFieldSelector": [("apiVersion", _S, False, True), ("fieldPath", _S, False, False)],
    "ResourceFieldSelector": [("containerName", _S, False, True), ("resource", _S, False, False),
                              ("divisor", "quantity", False, True)],
    "ConfigMapKeySelector": [("", ("inline", "LocalObjectReference"), False, False), ("key", _S, False, False),
                             ("optional", _B, True, True)],
    "SecretKeySelector": [("", ("inline", "LocalObjectReference"), False, False), ("key", _S, False, False),
                          ("optional", _B, True, True)],
    "ResourceRequirements": [("limits", "resources", False, True), ("requests", "resources", False, True),
                             ("claims", ("list", "ResourceClaim"), False, True)],
    "ResourceClaim": [("name", _S, False, False), ("request", _S, False, True)],
    "ContainerResizePolicy": [("resourceName", _S, False, False), ("restartPolicy", _S, False, False)],
    "VolumeMount": [("name", _S, False, False), ("readOnly", _B, False, True), ("recursiveReadOnly", _S, True, True),
                    ("mountPath", _S, False, False), ("subPath", _S, False, True),
                    ("mountPropagation", _S, True, True), ("subPathExpr", _S, False, True)],
    "VolumeDevice": [("name", _S, False, False), ("devicePath", _S, False, False)],
    "Probe": [("", ("inline", "ProbeHandler"), False, False), ("initialDelaySeconds", _I, False, True),
              ("timeoutSeconds", _I, False, True), ("periodSeconds", _I, False, True),
              ("successThreshold", _I, False, True), ("failureThreshold", _I, False, True),
              ("terminationGracePeriodSeconds", _I, True, True)],
    "ProbeHandler": [("exec", ("struct", "ExecAction"), True, True), ("httpGet", ("struct", "HTTPGetAction"), True, True),
                     ("tcpSocket", ("struct", "TCPSocketAction"), True, True),
                     ("grpc", ("struct", "GRPCAction"), True, True)],
    "GRPCAction": [("port", _I, False, False), ("service", _S, True, False)],
    "Lifecycle": [("postStart", ("struct", "LifecycleHandler"), True, True),
                  ("preStop", ("struct", "LifecycleHandler"), True, True)],
    "LifecycleHandler": [("exec", ("struct", "ExecAction"), True, True),
                         ("httpGet", ("struct", "HTTPGetAction"), True, True),
                         ("tcpSocket", ("struct", "TCPSocketAction"), True, True),
                         ("sleep", ("struct", "SleepAction"), True, True)],
    "ExecAction": [("command", "strs", False, True)],
    "HTTPGetAction": [("path", _S, False, True), ("port", "intstr", False, False), ("host", _S, False, True),
                      ("scheme", _S, False, True), ("httpHeaders", ("list", "HTTPHeader"), False, True)],
    "HTTPHeader": [("name", _S, False, False), ("value", _S, False, False)],
    "TCPSocketAction": [("port", "intstr", False, False), ("host", _S, False, True)],
    "SleepAction": [("seconds", _I, False, False)],
    "SecurityContext": [
        ("capabilities", ("struct", "Capabilities"), True, True), ("privileged", _B, True, True),
        ("seLinuxOptions", ("struct", "SELinuxOptions"), True, True),
        ("windowsOptions", ("struct", "WindowsSecurityContextOptions"), True, True),
        ("runAsUser", _I, True, True), ("runAsGroup", _I, True, True), ("runAsNonRoot", _B, True, True),
        ("readOnlyRootFilesystem", _B, True, True), ("allowPrivilegeEscalation", _B, True, True),
        ("procMount", _S, True, True), ("seccompProfile", ("struct", "SeccompProfile"), True, True),
        ("appArmorProfile", ("struct", "AppArmorProfile"), True, True)],
    "Capabilities": [("add", "strs", False, True), ("drop", "strs", False, True)],
    "SELinuxOptions": [("user", _S, False, True), ("role", _S, False, True), ("type", _S, False, True),
                       ("level", _S, False, True)],
    "WindowsSecurityContextOptions": [("gmsaCredentialSpecName", _S, True, True), ("gmsaCredentialSpec", _S, True, True),
                                      ("runAsUserName", _S, True, True), ("hostProcess", _B, True, True)],
    "SeccompProfile": [("type", _S, False, False), ("localhostProfile", _S, True, True)],
    "AppArmorProfile": [("type", _S, False, False), ("localhostProfile", _S, True, True)],
    # apis/apps/v1beta1 (v1.9.0).
    "SidecarContainer": [
        ("", ("inline", "Container"), False, False), ("podInjectPolicy", _S, False, True),
        ("upgradeStrategy", ("struct", "SidecarContainerUpgradeStrategy"), False, True),
        ("shareVolumePolicy", ("struct", "ShareVolumePolicy"), False, True),
        ("shareVolumeDevicePolicy", ("struct", "ShareVolumePolicy"), True, True),
        ("transferEnv", ("list", "TransferEnvVar"), False, True),
        ("resourcesPolicy", ("struct", "ResourcesPolicy"), True, True)],
    "SidecarContainerUpgradeStrategy": [("upgradeType", _S, False, True), ("hotUpgradeEmptyImage", _S, False, True)],
    "ShareVolumePolicy": [("type", _S, False, True)],
    "TransferEnvVar": [("sourceContainerName", _S, False, True),
                       ("sourceContainerNameFrom", ("struct", "SourceContainerNameSource"), True, True),
                       ("envName", _S, False, True), ("envNames", "strs", False, True)],
    "SourceContainerNameSource": [("fieldRef", ("struct", "ObjectFieldSelector"), True, True)],
    "ResourcesPolicy": [("targetContainersMode", _S, False, False), ("targetContainersNameRegex", _S, False, True),
                        ("resourcesExpr", ("struct", "ResourcesExpr"), False, False)],
    "ResourcesExpr": [("limits", ("struct", "ResourceExprValues"), True, True),
                      ("requests", ("struct", "ResourceExprValues"), True, True)],
    "ResourceExprValues": [("cpu", _S, False, True), ("memory", _S, False, True)],   # Limits and Requests alike
}


def _scalar(kind: str, value: Any) -> tuple[str, bool]:
    """(Go's JSON for the decoded value, whether it is the zero value)."""
    if kind == _S:
        text = value if isinstance(value, str) else ""
        return gojson.dumps(text), text == ""
    if kind == _I:
        number = value if isinstance(value, int) and not isinstance(value, bool) else 0
        return str(number), number == 0
    if kind == _B:
        flag = value is True
        return ("true" if flag else "false"), not flag
    if kind == "quantity":
        return gojson.dumps(quantity.canonical(value) or "0"), False
    if kind == "intstr":
        if isinstance(value, str):
            return gojson.dumps(value), False
        return str(value if isinstance(value, int) and not isinstance(value, bool) else 0), False
    raise ValueError(kind)


def _fields(name: str, obj: dict) -> list[str]:
    parts = []
    for key, kind, pointer, omitempty in STRUCTS[name]:
        if isinstance(kind, tuple) and kind[0] == "inline":
            parts.extend(_fields(kind[1], obj))
            continue
        value = obj.get(key)
        encoded = _field(kind, pointer, omitempty, value)
        if encoded is not None:
            parts.append(f"{gojson.dumps(key)}:{encoded}")
    return parts


def _struct(name: str, value: Any) -> str:
    return "{" + ",".join(_fields(name, value if isinstance(value, dict) else {})) + "}"


def _field(kind: Any, pointer: bool, omitempty: bool, value: Any) -> str | None:
    """The JSON of one field, or None when Go leaves it out."""
    if isinstance(kind, tuple) and kind[0] == "struct":
        if pointer and not isinstance(value, dict):
            return None if omitempty else "null"
        return _struct(kind[1], value)
    if isinstance(kind, tuple) and kind[0] == "list" or kind == "strs":
        items = value if isinstance(value, list) else None
        if not items:
            # A nil slice is null and an empty one []; omitempty drops both.
            return None if omitempty else ("[]" if items == [] else "null")
        if kind == "strs":
            return "[" + ",".join(_scalar(_S, item)[0] for item in items) + "]"
        return "[" + ",".join(_struct(kind[1], item) for item in items) + "]"
    if kind == "resources":
        resources = value if isinstance(value, dict) else None
        if not resources:
            return None if omitempty else ("{}" if resources == {} else "null")
        return "{" + ",".join(f"{gojson.dumps(k)}:{_scalar('quantity', resources[k])[0]}"
                              for k in sorted(resources)) + "}"
    if pointer:
        if value is None:
            return None if omitempty else "null"
        return _scalar(kind, value)[0]
    encoded, zero = _scalar(kind, value)
    return None if omitempty and zero and kind not in ("quantity", "intstr") else encoded


def encode_containers(containers: Any) -> str:
    """Go's JSON of a `[]v1beta1.SidecarContainer` (null when there is none)."""
    if not isinstance(containers, list):
        return "null"
    return "[" + ",".join(_struct("SidecarContainer", c) for c in containers) + "]"


def is_native_sidecar(container: Any) -> bool:
    """sidecarcontrol.IsSidecarContainer: an initContainer with restartPolicy Always."""
    return isinstance(container, dict) and container.get("restartPolicy") == "Always"


def _spec(sidecarset: dict) -> dict:
    """The spec of a SidecarSet, or the argument itself when it is a spec."""
    spec = sidecarset.get("spec") if "spec" in sidecarset or "kind" in sidecarset else sidecarset
    return spec if isinstance(spec, dict) else {}


def encode(sidecarset: dict) -> str:
    """encodeSidecarSetV1beta1: the bytes that are hashed, for a SidecarSet dict or its spec."""
    spec = _spec(sidecarset)
    parts = [f'"containers":{encode_containers(spec.get("containers"))}']
    init = spec.get("initContainers")
    if isinstance(init, list) and any(is_native_sidecar(c) for c in init):
        parts.append(f'"initContainers":{encode_containers(init)}')
    return "{" + ",".join(parts) + "}"


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString."""
    return "".join(_ALPHANUMS[ord(ch) % len(_ALPHANUMS)] for ch in text)


def _hash(data: str) -> str:
    return safe_encode(hashlib.sha256(data.encode()).hexdigest())


def sidecarset_hash(sidecarset: dict) -> str:
    """SidecarSetHashV1beta1: the value of kruise.io/sidecarset-hash."""
    return _hash(encode(sidecarset))


def without_images(sidecarset: dict) -> dict:
    """The spec with every container's and initContainer's image set to "" (SidecarSetHashWithoutImageV1beta1)."""
    spec = copy.deepcopy(_spec(sidecarset))
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                container["image"] = ""
    return spec


def sidecarset_hash_without_image(sidecarset: dict) -> str:
    """SidecarSetHashWithoutImageV1beta1: the value of kruise.io/sidecarset-hash-without-image."""
    return _hash(encode(without_images(sidecarset)))


def hash_annotations(sidecarset: dict) -> dict[str, str]:
    """Both annotations, as SetHashSidecarSetV1beta1 writes them."""
    return {HASH_ANNOTATION: sidecarset_hash(sidecarset),
            HASH_WITHOUT_IMAGE_ANNOTATION: sidecarset_hash_without_image(sidecarset)}


__all__ = ["HASH_ANNOTATION", "HASH_WITHOUT_IMAGE_ANNOTATION", "encode", "encode_containers", "hash_annotations",
           "is_native_sidecar", "safe_encode", "sidecarset_hash", "sidecarset_hash_without_image", "without_images"]
