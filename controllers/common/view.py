"""What every workload object offers its reconcile: a defensive read of its metadata, spec and status.

CloneSet's and Advanced StatefulSet's views (`controllers/<kind>/spec.py`) extend it with their own fields.
Missing or malformed values read as the webhook's defaults, so a reconcile never trips over an object that was
stored before the webhook ran.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping

from .revision import DEFAULT_REVISION_HISTORY_LIMIT

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


@dataclass(frozen=True)
class WorkloadView:
    obj: JSON
    # The manager's feature gates (policies/feature-gates.yaml); None: every gate at its default.
    gates: Mapping[str, bool] | None = None

    def gate(self, name: str) -> bool:
        if self.gates is not None and name in self.gates:
            return bool(self.gates[name])
        from controllers import schema  # the runtime schema knows the defaults; loaded once
        return schema.feature_gates().get(name, False)

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

    @cached_property
    def spec(self) -> JSON:
        return as_dict(self.obj.get("spec"))

    @property
    def replicas(self) -> int:
        return max(as_int(self.spec.get("replicas"), 1), 0)

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
        return as_int(self.spec.get("revisionHistoryLimit"), DEFAULT_REVISION_HISTORY_LIMIT)

    @property
    def lifecycle(self) -> JSON | None:
        value = self.spec.get("lifecycle")
        return value if isinstance(value, dict) else None

    @cached_property
    def status(self) -> JSON:
        return as_dict(self.obj.get("status"))

    @property
    def collision_count(self) -> int:
        return max(as_int(self.status.get("collisionCount"), 0), 0)

    @property
    def current_revision(self) -> str | None:
        return self.status.get("currentRevision") or None
