"""The runtime schema of the apps.kruise.io API: defaulting and validation on plain dicts.

Everything here is driven by `controllers/_generated/schema.json`, which `make generate` writes from
schema/ (fields, defaults, constraints) and policies/ (admission rules, feature-gate defaults). Nothing in
this module names a field of a workload.

    from controllers import schema
    obj = schema.apply_defaults(obj)             # what the mutating webhook does (returns a new dict)
    view = schema.as_read(obj, gates)            # what a controller reads: refused values dropped, defaults
                                                 # and fallbacks applied (controllers/<kind>/spec.py)
    obj = schema.apply_template_defaults(obj, old)   # and Kubernetes' defaults in its pod/PVC templates
    errors = schema.validate(obj, old=old)       # what the validating webhook does: [FieldError(path, message)]

Rules that need cluster state declare it (`needs`, e.g. ["pods"]); they run only when the caller passes that
state (`validate(obj, pods={name: pod})`). Conditions are documented in generator/conditions.py.

The value checker and the conditions live in apischema/ (the generator uses them too); the admission rules'
checks in controllers/webhook/rules.py.
"""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from apischema import TEMPLATE_DEFAULT_KEYS, FieldError, check_value, evaluate, get, shape_errors, values_at
from controllers.common.template_defaults import DEFAULTERS as TEMPLATE_DEFAULTERS
from controllers.webhook.rules import CHECKS, RuleContext

SCHEMA_FILE = Path(__file__).resolve().parent / "_generated" / "schema.json"


class SchemaLookupError(KeyError):
    """The object's kind or apiVersion is not part of the schema."""


# --------------------------------------------------------------------------------------------------------
# The schema

class Schema:
    """One loaded runtime schema (the generated file, or any dict with the same shape)."""

    def __init__(self, data: dict):
        self.data = data
        self.gate_defaults: dict[str, bool] = {
            name: bool(gate["default"]) for name, gate in data.get("featureGates", {}).items()}

    # -- lookups
    def kinds(self) -> list[str]:
        return sorted(self.data["kinds"])

    def version(self, kind: str, version: str) -> dict:
        try:
            return self.data["kinds"][kind]["versions"][version]
        except KeyError:
            raise SchemaLookupError(f"{kind} {version} is not part of the schema") from None

    def of(self, obj: dict) -> tuple[str, str, dict]:
        kind = obj.get("kind")
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        info = self.data["kinds"].get(kind)
        if info is None or info["group"] != group:
            raise SchemaLookupError(f"{obj.get('apiVersion')} {kind} is not part of the schema")
        return kind, version, self.version(kind, version)

    def gates(self, feature_gates: dict[str, bool] | None) -> dict[str, bool]:
        return {**self.gate_defaults, **(feature_gates or {})}

    # -- defaults
    def defaults_for(self, kind: str, version: str) -> list[dict]:
        """The defaults in the order they apply: [{parent, field, value[, when]}], `parent` a path pattern
        (`spec.containers[*]`), `when` a condition on the parent as it was before its own defaults."""
        return copy.deepcopy(self.version(kind, version)["defaults"])

    def default_value(self, kind: str, version: str, path: str) -> Any:
        """The unconditional webhook default of `path` (e.g. "spec.updateStrategy.maxUnavailable"), for a
        controller that must assume it when an object was stored without the webhook (or before it ran)."""
        parent, _, name = path.rpartition(".")
        for d in self.version(kind, version)["defaults"]:
            if d["parent"] == parent and d["field"] == name and "when" not in d and "value" in d:
                return copy.deepcopy(d["value"])
        raise SchemaLookupError(f"{kind} {version} has no unconditional default for {path}")

    def fallback(self, kind: str, version: str, path: str) -> Any:
        """The value a controller assumes for an unset field that has no default (e.g. timeouts)."""
        return self.version(kind, version)["fallbacks"].get(path)

    def apply_defaults(self, obj: dict, feature_gates: dict[str, bool] | None = None) -> dict:
        """A copy of `obj` with the mutating-webhook defaults applied (idempotent)."""
        _, _, info = self.of(obj)
        result = copy.deepcopy(obj)
        self._default(info, result, self.gates(feature_gates))
        return result

    def as_read(self, obj: dict, feature_gates: dict[str, bool] | None = None) -> dict:
        """A copy of `obj` as a controller reads it, so that every field with a default or a fallback is there:
        1. a value the schema refuses (type, enum, bounds, pattern) is dropped, so it reads as unset: a
           controller must not trip over an object stored without the webhook (items of lists and maps are
           left to their readers, so that one bad item does not hide the others);
        2. the webhook's defaults apply, with these feature gates;
        3. the fallbacks apply, creating the objects on their path (an OnDelete StatefulSet has no
           rollingUpdate, yet its controller assumes its minReadySeconds)."""
        _, _, info = self.of(obj)
        result = copy.deepcopy(obj)
        _drop_refused(info["schema"], result)
        self._default(info, result, self.gates(feature_gates))
        for path, value in info["fallbacks"].items():
            _fill(result, _path_segments(path), value)
        return result

    @staticmethod
    def _default(info: dict, result: dict, gates: dict[str, bool]) -> None:
        entries = info["defaults"]
        index = 0
        while index < len(entries):
            parent = entries[index]["parent"]
            end = index
            while end < len(entries) and entries[end]["parent"] == parent:
                end += 1
            for _, target in values_at(parent, result, result) if parent else [("", result)]:
                if not isinstance(target, dict):
                    continue
                # A shallow copy is enough: this group only adds keys to `target` itself.
                before = dict(target)
                for entry in entries[index:end]:
                    if "rewrite" in entry:
                        # A value this version still accepts but replaces (after the defaults that read it,
                        # since conditions see `before`).
                        current = target.get(entry["field"])
                        if isinstance(current, str) and current in entry["rewrite"]:
                            target[entry["field"]] = copy.deepcopy(entry["rewrite"][current])
                        continue
                    if target.get(entry["field"]) is not None:
                        continue
                    if "when" in entry and not evaluate(entry["when"], before, result, gates):
                        continue
                    target[entry["field"]] = copy.deepcopy(entry["value"])
            index = end

    def apply_template_defaults(self, obj: dict, old: dict | None = None,
                                feature_gates: dict[str, bool] | None = None) -> dict:
        """A copy of `obj` whose pod and PVC templates (`templateDefaults` of policies/admission) carry
        Kubernetes' defaults. With `old` (an UPDATE) only templates that differ from the old ones are
        defaulted, as OpenKruise does, unless `always` (SidecarSet's containers and volumes); the
        `unlessFeatureGate` gate, where there is one, turns it off."""
        _, _, info = self.of(obj)
        spec = info.get("templateDefaults")
        if not spec or self.gates(feature_gates).get(spec.get("unlessFeatureGate", ""), False):
            return copy.deepcopy(obj)
        result = copy.deepcopy(obj)
        for key in TEMPLATE_DEFAULT_KEYS:
            defaulter = TEMPLATE_DEFAULTERS[key]
            for path in spec.get(key, []):
                value = get(path, result)
                if value is None or (old is not None and not spec.get("always") and get(path, old) == value):
                    continue
                parent_path, _, field = path.rpartition(".")
                get(parent_path, result)[field] = defaulter(value)
        return result

    # -- validation
    def shape_errors(self, obj: dict, prefix: str = "") -> list[FieldError]:
        """The values of `obj`'s spec and status whose JSON type is not the schema's (apischema.shape_errors):
        what code that follows the schema cannot read. Paths start with `prefix`."""
        _, _, info = self.of(obj)
        errors = []
        for name in ("spec", "status"):
            node = info["schema"]["properties"].get(name)
            if node is not None and obj.get(name) is not None:
                errors += [FieldError(prefix + e.path, e.message) for e in shape_errors(node, obj[name], name)]
        return errors

    def validate(self, obj: dict, old: dict | None = None, *, operation: str | None = None,
                 pods: dict[str, dict] | None = None, state: dict[str, Any] | None = None,
                 feature_gates: dict[str, bool] | None = None) -> list[FieldError]:
        """Field errors of `obj` for `operation` (CREATE, UPDATE with `old`, DELETE). Rules needing cluster
        state run only if it is passed (`pods`: the pods of the object's namespace by name; `state`: the other
        `needs` by name, controllers/webhook/rules.py RuleContext). Rules marked `last` run only when every
        other rule accepts the object."""
        kind, version, info = self.of(obj)
        operation = operation or ("UPDATE" if old is not None else "CREATE")
        errors: list[FieldError] = []
        if operation != "DELETE":
            for name in ("spec", "status"):
                node = info["schema"]["properties"].get(name)
                if node is None:
                    continue
                if obj.get(name) is None:
                    if node.get("required"):
                        errors.append(FieldError(name, "Required value"))
                    continue
                errors.extend(check_value(node, obj[name], name))
        # The rules follow the schema as they read the object (and the old one): a value of another JSON type
        # than the schema says, which the API server's own schema check refuses before any validating webhook
        # sees it, stops them (as a typed decode stops upstream's webhooks), after naming it.
        shapes = self.shape_errors(obj) if operation != "DELETE" else []
        shapes += self.shape_errors(old, "oldObject.") if old is not None else []
        if shapes:
            named = {e.path for e in errors}
            return errors + [e for e in shapes if e.path not in named]
        context = RuleContext(kind=kind, obj=obj, old=old, operation=operation, pods=pods,
                              gates=self.gates(feature_gates), state=state or {})
        available = {"pods": pods is not None, **{need: True for need in state or {}}}
        rules = [r for r in info["rules"] if not r.get("last")] + [r for r in info["rules"] if r.get("last")]
        for rule in rules:
            if operation not in rule["operations"]:
                continue
            if any(not available.get(need, False) for need in rule.get("needs", [])):
                continue
            if "featureGate" in rule and not context.gates.get(rule["featureGate"], False):
                continue
            if rule.get("last") and errors:
                continue
            errors.extend(CHECKS[rule["check"]](rule, context))
        return errors


def _drop_refused(node: dict, value: dict) -> None:
    """Remove from `value` (an object of `node`) every property value the schema refuses, through nested
    objects; arrays, maps and schemaless values are only checked to be lists and objects."""
    for name, child in node.get("properties", {}).items():
        item = value.get(name)
        if item is None:
            continue
        kind = child.get("type")
        if kind == "object" and isinstance(item, dict):
            _drop_refused(child, item)
            continue
        if kind == "array":
            refused = not isinstance(item, list)
        elif kind in ("object", "map", "schemaless"):
            refused = not isinstance(item, dict)
        else:
            refused = bool(check_value(child, item, name, check_required=False))
        if refused:
            del value[name]


def _path_segments(path: str) -> list[str]:
    """`a.b[*].c` -> [a, b, [*], c] (fallback paths: dotted, with [*] and {*} wildcards)."""
    segments: list[str] = []
    for part in path.split("."):
        if part.endswith(("[*]", "{*}")):
            segments += [part[:-3], part[-3:]]
        else:
            segments.append(part)
    return segments


def _fill(target: Any, segments: list[str], value: Any) -> None:
    """Set the field at `segments` to `value` where it is unset, creating the objects on the way (items of
    lists and maps only where they exist)."""
    if not segments:
        return
    head, rest = segments[0], segments[1:]
    if head in ("[*]", "{*}"):
        items = target if head == "[*]" and isinstance(target, list) else (
            target.values() if head == "{*}" and isinstance(target, dict) else [])
        for item in items:
            _fill(item, rest, value)
        return
    if not isinstance(target, dict):
        return
    if not rest:
        if target.get(head) is None:
            target[head] = copy.deepcopy(value)
        return
    if target.get(head) is None:
        if rest[0] in ("[*]", "{*}"):
            return
        target[head] = {}
    _fill(target[head], rest, value)


# --------------------------------------------------------------------------------------------------------
# The generated schema, loaded once

@lru_cache(maxsize=1)
def default_schema() -> Schema:
    with open(SCHEMA_FILE, encoding="utf-8") as handle:
        return Schema(json.load(handle))


def defaults_for(kind: str, version: str) -> list[dict]:
    return default_schema().defaults_for(kind, version)


def apply_defaults(obj: dict, feature_gates: dict[str, bool] | None = None) -> dict:
    return default_schema().apply_defaults(obj, feature_gates)


def as_read(obj: dict, feature_gates: dict[str, bool] | None = None) -> dict:
    return default_schema().as_read(obj, feature_gates)


def apply_template_defaults(obj: dict, old: dict | None = None,
                            feature_gates: dict[str, bool] | None = None) -> dict:
    return default_schema().apply_template_defaults(obj, old, feature_gates)


def validate(obj: dict, old: dict | None = None, **kwargs: Any) -> list[FieldError]:
    return default_schema().validate(obj, old, **kwargs)


def fallback(kind: str, version: str, path: str) -> Any:
    return default_schema().fallback(kind, version, path)


def default_value(kind: str, version: str, path: str) -> Any:
    return default_schema().default_value(kind, version, path)


def kinds() -> list[str]:
    return default_schema().kinds()


def compatibility() -> dict:
    """policies/compatibility.yaml as `ack-kruise preflight` needs it: `variants` (oldest first: since, profile,
    API versions, the kube-apiserver gates they need on) and `apiServerFeatureGates` (when on by default, and the
    chart value that confirms one)."""
    return default_schema().data["compatibility"]


def chart_objects() -> dict:
    """The chart's cluster-wide objects with fixed names: `customResourceDefinitions`, `conversionWebhookCRDs`,
    `webhookConfigurations` ({mutating, validating}); and `podWebhookRequiredNamespaceLabel` ({key, value}: the
    namespaces where the pod webhook fails closed, policies/webhooks.yaml)."""
    return default_schema().data["chartObjects"]


def feature_gates(overrides: dict[str, bool] | None = None) -> dict[str, bool]:
    """Every gate of policies/feature-gates.yaml with its value: the policy's default unless `overrides` says."""
    return default_schema().gates(overrides)


__all__ = ["FieldError", "Schema", "SchemaLookupError", "apply_defaults", "apply_template_defaults", "as_read",
           "chart_objects", "check_value", "compatibility", "default_value", "defaults_for", "evaluate", "fallback",
           "feature_gates", "kinds", "validate", "values_at"]
