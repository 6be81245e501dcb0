"""Strategic merge patches (`k8s.io/apimachinery/pkg/util/strategicpatch`) on core objects, for controllers that
apply a user's patch to a pod template themselves (UnitedDeployment's `subset.patch`, B9.2).

Lists whose items the Kubernetes API types merge by a key (`patchMergeKey`: containers by name, ports by
containerPort, ...) merge item by item; other lists are replaced; maps merge key by key and a null removes the
key. Directives: `$patch: replace` (a map replaces the original), `$patch: delete` (a map is removed; a list item
so marked removes the item with its key), `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`
(the order of merged items; honoured), `$retainKeys` (the keys a map keeps). The merge keys are those of the
core/v1 types a pod template holds, found by field name (the same field name has the same key everywhere there).
"""
from __future__ import annotations

import copy
from typing import Any

# patchMergeKey of the core/v1 list fields found in a PodTemplateSpec (and its metadata), by field name.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
    "ownerReferences": "uid",
}
_PATCH = "$patch"
_RETAIN = "$retainKeys"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
_ORDER = "$setElementOrder/"


class StrategicMergeError(ValueError):
    """The patch is not a strategic merge patch this helper can apply (upstream: the subset update fails)."""


def strategic_merge(original: Any, patch: Any) -> Any:
    """`patch` applied to `original` as a new value (neither is modified)."""
    if not isinstance(patch, dict):
        raise StrategicMergeError(f"a strategic merge patch must be an object, not {type(patch).__name__}")
    return _merge_map(copy.deepcopy(original) if isinstance(original, dict) else {}, patch)


def _merge_map(original: dict, patch: dict) -> Any:
    directive = patch.get(_PATCH)
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != _PATCH}
    if directive == "delete":
        return None
    if directive is not None:
        raise StrategicMergeError(f"unknown patch directive {directive!r}")
    out = dict(original)
    orders = {}
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE):]
            if isinstance(out.get(field), list) and isinstance(value, list):
                out[field] = [item for item in out[field] if item not in value]
            continue
        if key.startswith(_ORDER):
            orders[key[len(_ORDER):]] = value
            continue
        if key == _RETAIN:
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            merged = _merge_map(out[key] if isinstance(out.get(key), dict) else {}, value)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        elif isinstance(value, list) and key in MERGE_KEYS:
            out[key] = _merge_list(out.get(key) if isinstance(out.get(key), list) else [], value, MERGE_KEYS[key])
        else:
            out[key] = copy.deepcopy(value)
    for field, order in orders.items():
        if isinstance(out.get(field), list) and isinstance(order, list):
            out[field] = _ordered(out[field], order, MERGE_KEYS.get(field))
    if _RETAIN in patch and isinstance(patch[_RETAIN], list):
        keep = set(patch[_RETAIN])
        out = {k: v for k, v in out.items() if k in keep}
    return out


def _merge_list(original: list, patch: list, key: str) -> list:
    if any(isinstance(item, dict) and item.get(_PATCH) == "replace" for item in patch):
        return [copy.deepcopy({k: v for k, v in item.items() if k != _PATCH}) for item in patch
                if isinstance(item, dict) and item.get(_PATCH) != "replace"]
    out = [copy.deepcopy(item) for item in original]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise StrategicMergeError(f"a list item merged by {key!r} must have it: {item!r}")
        at = next((i for i, existing in enumerate(out) if isinstance(existing, dict)
                   and existing.get(key) == item[key]), None)
        if item.get(_PATCH) == "delete":
            if at is not None:
                del out[at]
            continue
        if at is None:
            out.append(_merge_map({}, item))
        else:
            out[at] = _merge_map(out[at], item)
    return out


def _ordered(items: list, order: list, key: str | None) -> list:
    """$setElementOrder: the listed items first, in that order; the others after, as they were."""
    def ident(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item
    wanted = [ident(o) for o in order]
    rank = {value: i for i, value in enumerate(wanted) if isinstance(value, (str, int))}
    return sorted(items, key=lambda item: rank.get(ident(item), len(rank)))
