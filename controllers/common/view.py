"""What every workload object offers its reconcile: its metadata, spec and status, as the controller reads them.

CloneSet's and Advanced StatefulSet's views (`controllers/<kind>/spec.py`) extend it with their own fields, and
build it from the stored object through the runtime schema (`schema.as_read`): a value the schema refuses reads
as unset, and every field with a webhook default or a fallback is there. So a reconcile never trips over an
object stored before the webhook ran, and no property here restates a default: each is a plain read. This module
does not import the schema; it is handed the object as read and the feature gates with their values.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any, Mapping

JSON = dict[str, Any]


def as_dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def as_int(value: Any, default: int) -> int:
    if isinstance(value, bool) or value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def typed(obj: JSON, api_version: str, kind: str) -> JSON:
    """`obj` (shallow copy) with its apiVersion, kind and spec, for the schema to find its type when a caller
    passes a bare object (tests, or a sparse object a reconcile must not trip over)."""
    return {"apiVersion": api_version, "kind": kind, **obj, "spec": as_dict(obj.get("spec"))}


class WorkloadView:
    """`obj`: the object as the controller reads it; `stored`: as it was handed over; `gates`: every feature
    gate of policies/feature-gates.yaml with its value."""

    def __init__(self, obj: JSON, gates: Mapping[str, bool], stored: JSON | None = None):
        self.obj = obj
        self.gates = gates
        self.stored = obj if stored is None else stored

    def gate(self, name: str) -> bool:
        return bool(self.gates[name])

    @cached_property
    def metadata(self) -> JSON:
        return as_dict(self.obj.get("metadata"))

    @property
    def name(self) -> str:
        return self.metadata.get("name") or ""

    @property
    def namespace(self) -> str:
        return self.metadata.get("namespace") or ""

    @property
    def uid(self) -> str:
        return self.metadata.get("uid") or ""

    @property
    def generation(self) -> int:
        return as_int(self.metadata.get("generation"), 0)

    @property
    def labels(self) -> dict[str, str]:
        return as_dict(self.metadata.get("labels"))

    @property
    def annotations(self) -> dict[str, str]:
        return as_dict(self.metadata.get("annotations"))

    @property
    def resource_version(self) -> str | None:
        return self.metadata.get("resourceVersion")

    @property
    def deleting(self) -> bool:
        return bool(self.metadata.get("deletionTimestamp"))

    @property
    def spec(self) -> JSON:
        return self.obj["spec"]

    @property
    def replicas(self) -> int:
        return self.spec["replicas"]

    @property
    def selector(self) -> Any:
        return self.spec.get("selector")

    @property
    def template(self) -> JSON:
        return as_dict(self.spec.get("template"))

    @property
    def template_labels(self) -> dict[str, str]:
        return as_dict(as_dict(self.template.get("metadata")).get("labels"))

    @property
    def volume_claim_templates(self) -> list[JSON]:
        return [v for v in self.spec.get("volumeClaimTemplates") or [] if isinstance(v, dict)]

    @property
    def revision_history_limit(self) -> int:
        return self.spec["revisionHistoryLimit"]

    @property
    def lifecycle(self) -> JSON | None:
        return self.spec.get("lifecycle")

    @cached_property
    def status(self) -> JSON:
        return as_dict(self.obj.get("status"))

    @property
    def collision_count(self) -> int:
        return max(self.status.get("collisionCount") or 0, 0)  # unset: none yet

    @property
    def current_revision(self) -> str | None:
        return self.status.get("currentRevision") or None
