"""Reading an AdmissionReview or ConversionReview off the wire, before any handler sees it.

The API server only ever sends well-formed reviews, but the webhook port is reachable by anything that can
reach the Service, and a handler that trips over a body answers 500 (which the API server reports as
`failed calling webhook`). So the server parses and checks the envelope here, once, and answers a refusal
that names the problem (HTTP 400 for a body that is not a JSON object; a review whose response denies with
code 400, or a conversion Failure, for a malformed request) instead. Found by fuzzing (issue 19 item 4,
tests/unit/webhook/test_fuzz_envelopes.py).

What is refused, and why:
- not UTF-8, not JSON, or JSON with NaN or Infinity (Go's encoding/json, on the API server's side, can read
  neither, so an answer echoing them would be unreadable);
- a review nested deeper than MAX_DEPTH, refused as a review (the API server accepts objects up to 10000 levels
  deep in schemaless fields such as pod templates, and must get a refusal, not a failed call): the handlers
  (defaults, validation, conversion, JSON patch) walk objects recursively, and Python's recursion limit is about
  1000 frames. The deepest object a workload legitimately has (a UnitedDeployment's StatefulSet template's node
  affinity, inside a review) is about 20 levels;
- a body that is not a JSON object, a `request` that is not an object, and an object, old object or
  converted object whose metadata is not ObjectMeta-shaped (labels and annotations maps of strings; name,
  namespace strings): every handler reads these before the schema of its kind is known.
"""
from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 100
ADMISSION_VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
CONVERSION_VERSIONS = ("apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1")


class Malformed(ValueError):
    """The body or its request cannot be handled; the message names what is wrong."""


def _no_constant(name: str) -> Any:
    raise Malformed(f"the body is not JSON: {name} is not a JSON value")


TOO_DEEP = f"the object is nested more than {MAX_DEPTH} levels deep"
# How the API server starts every review it sends (Go writes struct fields in order, the uid first): enough to
# answer one that Python's json cannot read at all (about 1000 levels deep), which the API server may still send
# (its own limit is 10000), with a refusal it can match to its request instead of a failed call.
_REVIEW_HEAD = re.compile(r'^\s*\{"kind":"(?:AdmissionReview|ConversionReview)","apiVersion":"([a-z0-9./]+)",'
                          r'"request":\{"uid":"([^"\\]*)"')


def parse(raw: bytes) -> dict:
    """The body as a JSON object, or Malformed. A review nested too deeply for Python's json to read comes back
    as its head only (apiVersion, uid) with `"tooDeep": true`, so that it can be refused like any other."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Malformed(f"the body is not UTF-8: {e.reason} at byte {e.start}") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        head = _REVIEW_HEAD.match(text)
        if head is None:
            raise Malformed(f"the body is nested more than {MAX_DEPTH} levels deep") from None
        return {"apiVersion": head.group(1), "request": {"uid": head.group(2)}, "tooDeep": True}
    except Malformed:
        raise
    except ValueError as e:
        raise Malformed(f"the body is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise Malformed(f"the body is not a JSON object but {_json_type(value)}")
    return value


def _depth(value: Any) -> int:
    """How deep objects and lists nest in `value` (a scalar: 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if level <= MAX_DEPTH:
            stack.extend((child, level + 1) for child in children)
    return deepest


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


# A namespace name (RFC 1123 label): handlers put it into API paths (the pods of the namespace, dry-run creates).
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def namespace_errors(namespace: Any, path: str) -> list[str]:
    if not isinstance(namespace, str) or namespace == "" or DNS_LABEL.match(namespace):
        return []
    return [f"{path}: Invalid value: {json.dumps(namespace)[:80]}: a namespace must be a lowercase RFC 1123 label"]


def _string_map_errors(value: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: Invalid value: must be an object of strings, not {_json_type(value)}"]
    return [f"{path}[{key}]: Invalid value: must be a string, not {_json_type(item)}"
            for key, item in value.items() if not isinstance(item, str)]


def object_errors(obj: Any, path: str) -> list[str]:
    """What an apps.kruise.io object (or a pod) must be for any handler to read it: an object whose apiVersion
    and kind are strings and whose metadata is ObjectMeta-shaped."""
    if not isinstance(obj, dict):
        return [f"{path}: Invalid value: must be an object, not {_json_type(obj)}"]
    errors = [f"{path}.{key}: Invalid value: must be a string, not {_json_type(obj[key])}"
              for key in ("apiVersion", "kind") if key in obj and not isinstance(obj[key], str)]
    if "metadata" not in obj:
        return errors
    meta = obj["metadata"]
    if not isinstance(meta, dict):
        return errors + [f"{path}.metadata: Invalid value: must be an object, not {_json_type(meta)}"]
    for key in ("name", "namespace", "generateName", "uid", "resourceVersion"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            errors.append(f"{path}.metadata.{key}: Invalid value: must be a string, not {_json_type(meta[key])}")
    errors += namespace_errors(meta.get("namespace"), f"{path}.metadata.namespace")
    for key in ("labels", "annotations"):
        if meta.get(key) is not None:
            errors += _string_map_errors(meta[key], f"{path}.metadata.{key}")
    for key in ("ownerReferences", "finalizers"):
        if meta.get(key) is not None and not isinstance(meta[key], list):
            errors.append(f"{path}.metadata.{key}: Invalid value: must be a list, not {_json_type(meta[key])}")
    if isinstance(meta.get("ownerReferences"), list) and not all(isinstance(r, dict) for r in meta["ownerReferences"]):
        errors.append(f"{path}.metadata.ownerReferences: Invalid value: every item must be an object")
    return errors


def _envelope_errors(review: dict, versions: tuple[str, ...]) -> list[str]:
    if review.get("tooDeep") is True or _depth(review) > MAX_DEPTH:
        # Checked before anything else: every other check, and every handler, may recurse.
        return [TOO_DEEP]
    errors = []
    if "apiVersion" in review and review["apiVersion"] not in versions:
        errors.append(f"apiVersion: Unsupported value: {json.dumps(review['apiVersion'])[:80]}: "
                      f"supported values: {', '.join(versions)}")
    request = review.get("request")
    if not isinstance(request, dict):
        return errors + [f"request: Required value: must be an object, not {_json_type(request)}"]
    if "uid" in request and not isinstance(request["uid"], str):
        errors.append(f"request.uid: Invalid value: must be a string, not {_json_type(request['uid'])}")
    return errors


def admission_errors(review: dict) -> list[str]:
    """The problems of an AdmissionReview's envelope ([] when a handler can read it)."""
    errors = _envelope_errors(review, ADMISSION_VERSIONS)
    request = review.get("request")
    if not isinstance(request, dict) or errors == [TOO_DEEP]:
        return errors
    for key in ("operation", "namespace", "name", "subResource"):
        if request.get(key) is not None and not isinstance(request[key], str):
            errors.append(f"request.{key}: Invalid value: must be a string, not {_json_type(request[key])}")
    errors += namespace_errors(request.get("namespace"), "request.namespace")
    for key in ("object", "oldObject"):
        if request.get(key) is not None:
            errors += object_errors(request[key], f"request.{key}")
    return errors


def conversion_errors(review: dict) -> list[str]:
    """The problems of a ConversionReview's envelope ([] when it can be converted)."""
    errors = _envelope_errors(review, CONVERSION_VERSIONS)
    request = review.get("request")
    if not isinstance(request, dict) or errors == [TOO_DEEP]:
        return errors
    if not isinstance(request.get("desiredAPIVersion"), str):
        errors.append("request.desiredAPIVersion: Required value: must be a string")
    objects = request.get("objects")
    if objects is not None and not isinstance(objects, list):
        return errors + [f"request.objects: Invalid value: must be a list, not {_json_type(objects)}"]
    for index, obj in enumerate(objects or []):
        errors += object_errors(obj, f"request.objects[{index}]")
    return errors


def uid_of(review: dict) -> str:
    """The request's uid when it is a string (the response must echo it), else ""."""
    request = review.get("request")
    uid = request.get("uid") if isinstance(request, dict) else None
    return uid if isinstance(uid, str) else ""


def summary(errors: list[str]) -> str:
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
