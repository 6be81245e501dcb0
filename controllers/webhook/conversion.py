"""Lossless conversion between the served versions of a kind (Advanced StatefulSet, Advanced DaemonSet and
SidecarSet, v1alpha1 ↔ v1beta1).

OpenKruise drops every field the target version cannot hold (reserveOrdinals, lifecycle, scaleStrategy, …),
so a v1alpha1 client that reads and writes back a StatefulSet silently erases them (kruise #1082, #2102).
Here the fields the target version has no place for travel in one annotation, and come back when the object
is converted to a version that has them: a round trip through any version returns the same object.

Which fields a version holds, and the `conversionMappings` of schema/ (renames, an annotation standing for a
field, a label standing for a string field, values one version does not have, a name written as a one-label
selector), come from the runtime schema (`controllers/schema`), so nothing here names a field of a workload.
Where a mapping loses information upstream (Surging becomes Standard; a stale progressive-create-pod annotation
turns partitionedScaling on; SidecarSet's namespace becomes a namespaceSelector and wins over the one set next
to it), a record in the same annotation puts the original back.
"""
from __future__ import annotations

import copy
import json
from typing import Any

from controllers import schema as schemas

STASH_ANNOTATION = "conversion.apps.kruise.io/fields-not-in-this-version"
_SCHEMALESS = ("schemaless",)


def _split(obj: Any, node: dict, path: tuple, stash: dict[str, Any]) -> Any:
    """obj without the fields `node` cannot hold; those go into `stash` under their JSON-pointer path."""
    if node.get("type") in _SCHEMALESS:
        return obj
    if isinstance(obj, dict) and "properties" in node:
        kept = {}
        for key, value in obj.items():
            child = node["properties"].get(key)
            if child is None and node.get("preserveUnknownFields"):
                kept[key] = value       # a field both versions keep as given (a SidecarSet container's)
            elif child is None:
                stash[_pointer(path + (key,))] = value
            else:
                kept[key] = _split(value, child, path + (key,), stash)
        return kept
    if isinstance(obj, dict) and node.get("type") == "map" and "values" in node:
        return {k: _split(v, node["values"], path + (k,), stash) for k, v in obj.items()}
    if isinstance(obj, list) and "items" in node:
        return [_split(v, node["items"], path + (i,), stash) for i, v in enumerate(obj)]
    return obj


def _pointer(path: tuple) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _unpointer(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]


def _is_index(part: str) -> bool:
    return part.isascii() and part.isdigit()


def _restore(obj: dict, stash: dict[str, Any]) -> None:
    """Put stashed fields back where the object has nothing of its own (the client's own edits win)."""
    for pointer, value in stash.items():
        parts = _unpointer(pointer)
        target: Any = obj
        for i, part in enumerate(parts[:-1]):
            nxt_is_index = _is_index(parts[i + 1])
            if isinstance(target, list):
                idx = int(part) if _is_index(part) else len(target)    # not an index: the entry does not fit
                if idx >= len(target):
                    target = None
                    break
                target = target[idx]
            else:
                if part not in target or target[part] is None:
                    target[part] = [] if nxt_is_index else {}
                target = target[part]
            if not isinstance(target, (dict, list)):
                target = None
                break
        if isinstance(target, dict) and parts[-1] not in target:
            target[parts[-1]] = copy.deepcopy(value)


# Stash entries for a value a mapping rewrote: {"value": before (None: absent), "as": what was written}. When the
# object comes back still showing "as", "value" is put back; a client's own change wins.
WAS = "was:"


def _at(path: str) -> list[str]:
    return path.split(".")


def _get(obj: dict, path: str) -> Any:
    for part in _at(path):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _set(obj: dict, path: str, value: Any) -> None:
    *parents, last = _at(path)
    for part in parents:
        if not isinstance(obj.get(part), dict):
            obj[part] = {}
        obj = obj[part]
    obj[last] = value


def _pop(obj: dict, path: str) -> Any:
    """Remove the field, and the parents this leaves empty."""
    *parents, last = _at(path)
    chain = [obj]
    for part in parents:
        if not isinstance(chain[-1].get(part), dict):
            return None
        chain.append(chain[-1][part])
    value = chain[-1].pop(last, None)
    for parent, part in zip(reversed(chain[:-1]), reversed(parents)):
        if value is not None and parent[part] == {}:
            del parent[part]
    return value


def _field_pointer(path: str) -> str:
    return WAS + _pointer(tuple(_at(path)))


def _annotation_pointer(key: str) -> str:
    return WAS + _pointer(("metadata", "annotations", key))


def _label_pointer(key: str) -> str:
    return WAS + _pointer(("metadata", "labels", key))


def _put(mapping: dict, key: str, value: Any) -> None:
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value


def _name_selector(m: dict, name: str) -> dict:
    return {"matchLabels": {m["selectorLabel"]: name}}


def _to_storage(out: dict, annotations: dict, labels: dict, mappings: list[dict], records: dict,
                new_records: dict) -> None:
    for m in mappings:
        if "annotation" in m:
            record, current = records.get(_annotation_pointer(m["annotation"])), annotations.get(m["annotation"])
            if record is not None and current == record["as"]:
                # Unchanged since it was written: the annotation as it was; the field came back from the stash.
                _put(annotations, m["annotation"], record["value"])
            elif current == "true":
                _set(out, m["storageField"], True)
            elif record is not None:
                _pop(out, m["storageField"])     # the client took the flag away
        elif "label" in m:
            record, current = records.get(_label_pointer(m["label"])), labels.get(m["label"])
            if record is not None and current == record["as"]:
                # Unchanged since it was written: the label as it was; the field came back from the stash.
                _put(labels, m["label"], record["value"])
            elif current is not None:
                _set(out, m["storageField"], labels.pop(m["label"]))   # the label leaves metadata
            elif record is not None:
                _pop(out, m["storageField"])     # the client took the label away
        elif "storageSelector" in m:
            name = _pop(out, m["field"])
            if name is not None:
                # The name wins over a selector set next to it, which waits in the record.
                before = _get(out, m["storageSelector"])
                written = _name_selector(m, name) if name != "" else before
                _put_field(out, m["storageSelector"], written)
                new_records[_field_pointer(m["field"])] = {"value": before, "as": written, "name": name}
        elif "storageField" in m:
            value = _pop(out, m["field"])
            if value is not None:
                _set(out, m["storageField"], value)
        else:
            value, record = _get(out, m["field"]), records.get(_field_pointer(m["field"]))
            if record is not None and record["value"] == record["as"] == value:
                continue    # the storage version's own value (see _from_storage), not the other version's
            if isinstance(value, str) and value in m["storageValues"]:
                _set(out, m["field"], m["storageValues"][value])
                new_records[_field_pointer(m["field"])] = {"value": value, "as": m["storageValues"][value]}


def _put_field(out: dict, path: str, value: Any) -> None:
    if value is None:
        _pop(out, path)
    else:
        _set(out, path, copy.deepcopy(value))


def _from_storage(out: dict, annotations: dict, labels: dict, mappings: list[dict], records: dict,
                  new_records: dict) -> None:
    for m in mappings:
        if "annotation" in m:
            before, flag = annotations.get(m["annotation"]), _get(out, m["storageField"])
            written = "true" if flag is True else before
            _put(annotations, m["annotation"], written)
            if written == before and flag == (True if written == "true" else None):
                _pop(out, m["storageField"])     # the annotation says it all
            else:
                # The annotation cannot say it: remember it, and let the field travel in the stash.
                new_records[_annotation_pointer(m["annotation"])] = {"value": before, "as": written}
        elif "label" in m:
            # The field's value becomes the label, over any label the object has (upstream skips an empty
            # value, which Go cannot tell from an unset one; here "" stays "" both ways).
            before, value = labels.get(m["label"]), _get(out, m["storageField"])
            written = value if isinstance(value, str) else before
            _put(labels, m["label"], written)
            if before is None and value == written:
                _pop(out, m["storageField"])     # the label says it all
            else:
                new_records[_label_pointer(m["label"])] = {"value": before, "as": written}
        elif "storageSelector" in m:
            record = records.get(_field_pointer(m["field"]))
            if record is not None and "name" in record and _get(out, m["storageSelector"]) == record["as"]:
                _set(out, m["field"], record["name"])
                _put_field(out, m["storageSelector"], record["value"])
        elif "storageField" in m:
            value = _pop(out, m["storageField"])
            if value is not None:
                _set(out, m["field"], value)
        else:
            record, current = records.get(_field_pointer(m["field"])), _get(out, m["field"])
            if record is not None and current == record["as"]:
                _set(out, m["field"], record["value"])
            elif isinstance(current, str) and current in m["storageValues"]:
                # The storage version holds the value the mapping rewrites (written without the webhook, which
                # refuses it there): remember it, or the way back would rewrite it. Found by fuzzing.
                new_records[_field_pointer(m["field"])] = {"value": current, "as": current}


def _read_stash(text: Any) -> dict[str, Any]:
    """The stash annotation as written by `convert`: {JSON pointer: value} and {WAS + pointer: record}. The
    annotation is ours, but a client can edit it: what is not in that shape is ignored (the fields it held
    are lost, as upstream loses them all), so that an object can always be read in every version."""
    try:
        stash = json.loads(text) if isinstance(text, str) and text else {}
    except (ValueError, RecursionError):
        return {}
    if not isinstance(stash, dict):
        return {}
    return {key: value for key, value in stash.items() if key.startswith("/") or (
        key.startswith(WAS) and isinstance(value, dict) and "as" in value and "value" in value)}


def convert(obj: dict, desired_api_version: str, schema: schemas.Schema | None = None) -> dict:
    """`obj` as `desired_api_version` (same group and kind), losing nothing. Kinds with `conversionMappings`
    (Advanced DaemonSet: a renamed status field, an annotation for a v1beta1 field, a v1alpha1-only value) go
    through the storage version, where OpenKruise's hub is."""
    schema = schema or schemas.default_schema()
    out = copy.deepcopy(obj)
    if out.get("apiVersion") == desired_api_version:
        return out
    kind, source, _ = schema.of(out)
    info = schema.data["kinds"][kind]
    storage, target = info.get("storageVersion", source), desired_api_version.rpartition("/")[2]
    if source != storage and target != storage:
        return convert(convert(out, f"{info['group']}/{storage}", schema), desired_api_version, schema)
    annotations = dict((out.get("metadata") or {}).get("annotations") or {})
    stash = _read_stash(annotations.pop(STASH_ANNOTATION, None))
    records = {key: stash.pop(key) for key in list(stash) if key.startswith(WAS)}
    _restore(out, stash)
    out["apiVersion"] = desired_api_version
    _, _, node_info = schema.of(out)
    node = node_info["schema"]
    new_stash: dict[str, Any] = {}
    labels = dict((out.get("metadata") or {}).get("labels") or {})
    mappings = (info.get("conversionMappings") or {}).get(source if target == storage else target, [])
    (_to_storage if target == storage else _from_storage)(out, annotations, labels, mappings, records, new_stash)
    for section in ("spec", "status"):
        if section in out and section in node.get("properties", {}):
            out[section] = _split(out[section], node["properties"][section], (section,), new_stash)
    if new_stash:
        annotations[STASH_ANNOTATION] = json.dumps(new_stash, sort_keys=True, separators=(",", ":"))
    meta = out.setdefault("metadata", {})
    for key, values in (("annotations", annotations), ("labels", labels)):
        if values:
            meta[key] = values
        else:
            meta.pop(key, None)
    return out


def review(request_body: dict, schema: schemas.Schema | None = None) -> dict:
    """Answer an apiextensions ConversionReview (v1 or v1beta1) whose envelope the server has checked
    (controllers/webhook/reviews.py)."""
    request = request_body.get("request") or {}
    uid = request.get("uid", "")
    desired = request.get("desiredAPIVersion", "")
    try:
        converted = [convert(o, desired, schema) for o in request.get("objects") or []]
    except schemas.SchemaLookupError as e:
        return failure(request_body, str(e))
    return {"apiVersion": request_body.get("apiVersion", "apiextensions.k8s.io/v1"), "kind": "ConversionReview",
            "response": {"uid": uid, "convertedObjects": converted, "result": {"status": "Success"}}}


def failure(request_body: dict, message: str) -> dict:
    """A ConversionReview answering that nothing was converted, and why."""
    request = request_body.get("request") if isinstance(request_body.get("request"), dict) else {}
    uid = request.get("uid") if isinstance(request.get("uid"), str) else ""
    return {"apiVersion": request_body.get("apiVersion", "apiextensions.k8s.io/v1"), "kind": "ConversionReview",
            "response": {"uid": uid, "convertedObjects": [], "result": {"status": "Failure", "message": message}}}
