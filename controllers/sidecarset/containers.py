"""The containers one SidecarSet injects into a new pod (sidecarset.md §2.6, §2.7, §2.10).

A SidecarContainer is a core Container plus the fields only the SidecarSet reads (SIDECAR_ONLY_FIELDS); they
steer the build and are left out of the pod. Every injected container gets IS_INJECTED=true, its env is then
completed with the transferred envs and the envs its shared subPathExpr mounts need (the SidecarSet's own value
of a name wins), and its mounts and devices with the app containers' when sharing is enabled.
"""
from __future__ import annotations

import copy
import re

from .annotations import INJECTED_ENV, VERSION_ALT_ENV, VERSION_ENV, version_alt_annotation, version_annotation

SIDECAR_ONLY_FIELDS = ("podInjectPolicy", "upgradeStrategy", "shareVolumePolicy", "shareVolumeDevicePolicy",
                       "transferEnv", "resourcesPolicy")

# `$(NAME)` in a subPathExpr (sidecarcontrol.SubPathExprEnvReg).
_SUBPATH_ENV = re.compile(r"\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")
# `metadata.labels['k']` / `metadata.annotations['k']` (fieldpath.SplitMaybeSubscriptedPath).
_SUBSCRIPTED = re.compile(r"^(metadata\.labels|metadata\.annotations)\['(.*)'\]$")
_QUALIFIED_NAME = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                             r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def is_native_sidecar(container: dict) -> bool:
    """A Kubernetes native sidecar: an init container with restartPolicy Always."""
    return container.get("restartPolicy") == "Always"


def is_hot_upgrade(sidecar: dict) -> bool:
    return (sidecar.get("upgradeStrategy") or {}).get("upgradeType") == "HotUpgrade"


def hot_upgrade_names(name: str) -> tuple[str, str]:
    return f"{name}-1", f"{name}-2"


def is_injected(container: dict) -> bool:
    """IsInjectedSidecarContainerInPod: the container carries IS_INJECTED=true."""
    return any(e.get("name") == INJECTED_ENV and e.get("value") == "true" for e in container.get("env") or [])


def container_part(sidecar: dict) -> dict:
    """The core Container of a SidecarContainer, as it goes into the pod."""
    return {k: v for k, v in sidecar.items() if k not in SIDECAR_ONLY_FIELDS}


def merge_env(original: list[dict], additional: list[dict]) -> list[dict]:
    """util.MergeEnvVar: the additional envs whose names are not there yet, in order."""
    names = {e.get("name") for e in original}
    out = list(original)
    for env in additional:
        if env.get("name") not in names:
            out.append(env)
            names.add(env.get("name"))
    return out


def merge_mounts(container: dict, additional: list[dict]) -> list[dict]:
    """util.MergeVolumeMounts: own mounts, then each additional mount whose path no mount or device uses."""
    used = {m.get("mountPath") for m in container.get("volumeMounts") or []}
    used |= {d.get("devicePath") for d in container.get("volumeDevices") or []}
    out = list(container.get("volumeMounts") or [])
    for mount in additional:
        if mount.get("mountPath") not in used:
            out.append(mount)
            used.add(mount.get("mountPath"))
    return out


def merge_devices(container: dict, additional: list[dict]) -> list[dict]:
    """util.MergeVolumeDevices, by devicePath (also skipping paths a mount uses)."""
    used = {d.get("devicePath") for d in container.get("volumeDevices") or []}
    used |= {m.get("mountPath") for m in container.get("volumeMounts") or []}
    out = list(container.get("volumeDevices") or [])
    for device in additional:
        if device.get("devicePath") not in used:
            out.append(device)
            used.add(device.get("devicePath"))
    return out


def _app_containers(pod: dict) -> list[dict]:
    return [c for c in (pod.get("spec") or {}).get("containers") or [] if not is_injected(c)]


def shared_mounts_and_envs(sidecar: dict, pod: dict) -> tuple[list[dict], list[dict]]:
    """GetInjectedVolumeMountsAndEnvs: with shareVolumePolicy enabled, every mount of every app container (init
    containers are not scanned), and the app container's envs that its subPathExpr mounts refer to."""
    if (sidecar.get("shareVolumePolicy") or {}).get("type") != "enabled":
        return [], []
    mounts, envs = [], []
    for app in _app_containers(pod):
        own_env = {e.get("name"): e for e in app.get("env") or []}
        for mount in app.get("volumeMounts") or []:
            mounts.append(mount)
            for name in _SUBPATH_ENV.findall(mount.get("subPathExpr") or ""):
                if name in own_env:
                    envs.append(own_env[name])
    return mounts, envs


def shared_devices(sidecar: dict, pod: dict) -> list[dict]:
    """GetInjectedVolumeDevices: with shareVolumeDevicePolicy enabled, the app containers' volumeDevices."""
    if (sidecar.get("shareVolumeDevicePolicy") or {}).get("type") != "enabled":
        return []
    return [d for app in _app_containers(pod) for d in app.get("volumeDevices") or []]


def _source_container(transfer: dict, pod: dict) -> str | None:
    """The source container of a transferEnv entry; None when its fieldRef cannot be read (the entry is
    skipped, as upstream only logs it)."""
    field_ref = (transfer.get("sourceContainerNameFrom") or {}).get("fieldRef")
    if not field_ref:
        return transfer.get("sourceContainerName") or ""
    match = _SUBSCRIPTED.match(field_ref.get("fieldPath") or "")
    if not match:
        return None
    path, key = match.groups()
    meta = pod.get("metadata") or {}
    if path == "metadata.annotations":
        if not _QUALIFIED_NAME.match(key.lower()):
            return None
        return (meta.get("annotations") or {}).get(key, "")
    if not _QUALIFIED_NAME.match(key):
        return None
    return (meta.get("labels") or {}).get(key, "")


def transfer_envs(sidecar: dict, pod: dict) -> list[dict]:
    """GetSidecarTransferEnvs (§2.7): per entry, its env names sorted, copied from the source container (regular
    containers only) where that container has them."""
    in_pod = {(c.get("name"), e.get("name")): e for c in (pod.get("spec") or {}).get("containers") or []
              for e in c.get("env") or []}
    out = []
    for transfer in sidecar.get("transferEnv") or []:
        names = set(transfer.get("envNames") or [])
        if transfer.get("envName"):
            names.add(transfer["envName"])
        source = _source_container(transfer, pod)
        if source is None:
            continue
        out += [in_pod[(source, name)] for name in sorted(names) if (source, name) in in_pod]
    return out


def prepared(sidecar: dict, pod: dict) -> dict:
    """The SidecarContainer with its shared mounts and devices, IS_INJECTED and the transferred envs."""
    mounts, subpath_envs = shared_mounts_and_envs(sidecar, pod)
    extra_envs = merge_env(transfer_envs(sidecar, pod), subpath_envs)
    out = copy.deepcopy(sidecar)
    out["volumeMounts"] = merge_mounts(sidecar, mounts)
    out["env"] = merge_env([*(sidecar.get("env") or []), {"name": INJECTED_ENV, "value": "true"}], extra_envs)
    devices = merge_devices(sidecar, shared_devices(sidecar, pod))
    for key, value in (("volumeMounts", out["volumeMounts"]), ("volumeDevices", devices)):
        if value:
            out[key] = value
        else:
            out.pop(key, None)
    return out


def _version_envs(name: str) -> list[dict]:
    return [{"name": VERSION_ENV, "valueFrom": {"fieldRef": {
                "fieldPath": f"metadata.annotations['{version_annotation(name)}']"}}},
            {"name": VERSION_ALT_ENV, "valueFrom": {"fieldRef": {
                "fieldPath": f"metadata.annotations['{version_alt_annotation(name)}']"}}}]


def hot_upgrade_pair(sidecar: dict) -> tuple[list[dict], dict[str, str]]:
    """injectHotUpgradeContainers (§2.10): `<c>-1` working with the image, `<c>-2` standing by with
    hotUpgradeEmptyImage; their version annotations."""
    first, second = hot_upgrade_names(sidecar["name"])
    pair = []
    for name, image in ((first, sidecar.get("image")), (second, (sidecar.get("upgradeStrategy") or {})
                                                        .get("hotUpgradeEmptyImage"))):
        container = copy.deepcopy(sidecar)
        container["name"] = name
        if image:
            container["image"] = image
        else:
            container.pop("image", None)
        container["env"] = [*(container.get("env") or []), *_version_envs(name)]
        pair.append(container)
    annotations = {version_annotation(first): "1", version_alt_annotation(first): "0",
                   version_annotation(second): "0", version_alt_annotation(second): "1"}
    return pair, annotations
