"""A read-only, defaulted view of a CloneSet (`apis/apps/v1alpha1/cloneset_types.go`, defaults from
`apis/apps/defaults/v1alpha1.go SetDefaultsCloneSet`).

The webhook applies defaults before the object is stored, but the reconcile must not crash on an object that
missed them (created while the webhook was down, or written by an older version), so every field is read
defensively here and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from controllers.common.keys import CLONESET_SCALING_EXCLUDE_PREPARING_DELETE_LABEL
from controllers.common.revision import DEFAULT_REVISION_HISTORY_LIMIT

JSON = dict[str, Any]

API_VERSION = "apps.kruise.io/v1alpha1"
KIND = "CloneSet"
DEFAULT_MAX_UNAVAILABLE = "20%"

RECREATE = "ReCreate"
IN_PLACE_IF_POSSIBLE = "InPlaceIfPossible"
IN_PLACE_ONLY = "InPlaceOnly"


def _dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _int(value: Any, default: int) -> int:
    if isinstance(value, bool) or value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class CloneSetView:
    obj: JSON

    # -- metadata
    @cached_property
    def metadata(self) -> JSON:
        return _dict(self.obj.get("metadata"))

    @property
    def name(self) -> str:
        return self.metadata.get("name") or ""

    @property
    def namespace(self) -> str:
        return self.metadata.get("namespace") or ""

    @property
    def generation(self) -> int:
        return _int(self.metadata.get("generation"), 0)

    @property
    def labels(self) -> dict[str, str]:
        return _dict(self.metadata.get("labels"))

    @property
    def annotations(self) -> dict[str, str]:
        return _dict(self.metadata.get("annotations"))

    @property
    def resource_version(self) -> str | None:
        return self.metadata.get("resourceVersion")

    @property
    def deleting(self) -> bool:
        return bool(self.metadata.get("deletionTimestamp"))

    # -- spec
    @cached_property
    def spec(self) -> JSON:
        return _dict(self.obj.get("spec"))

    @property
    def replicas(self) -> int:
        return max(_int(self.spec.get("replicas"), 1), 0)

    @property
    def selector(self) -> Any:
        return self.spec.get("selector")

    @property
    def template(self) -> JSON:
        return _dict(self.spec.get("template"))

    @property
    def template_labels(self) -> dict[str, str]:
        return _dict(_dict(self.template.get("metadata")).get("labels"))

    @property
    def volume_claim_templates(self) -> list[JSON]:
        return [v for v in self.spec.get("volumeClaimTemplates") or [] if isinstance(v, dict)]

    @property
    def revision_history_limit(self) -> int:
        return _int(self.spec.get("revisionHistoryLimit"), DEFAULT_REVISION_HISTORY_LIMIT)

    @property
    def min_ready_seconds(self) -> int:
        return max(_int(self.spec.get("minReadySeconds"), 0), 0)

    @property
    def lifecycle(self) -> JSON | None:
        value = self.spec.get("lifecycle")
        return value if isinstance(value, dict) else None

    # -- scaleStrategy
    @cached_property
    def scale_strategy(self) -> JSON:
        return _dict(self.spec.get("scaleStrategy"))

    @property
    def pods_to_delete(self) -> list[str]:
        return [n for n in self.scale_strategy.get("podsToDelete") or [] if isinstance(n, str)]

    @property
    def scale_max_unavailable(self) -> int | str | None:
        return self.scale_strategy.get("maxUnavailable")

    @property
    def disable_pvc_reuse(self) -> bool:
        return bool(self.scale_strategy.get("disablePVCReuse"))

    @property
    def scaling_excludes_preparing_delete(self) -> bool:
        return self.labels.get(CLONESET_SCALING_EXCLUDE_PREPARING_DELETE_LABEL) == "true"

    # -- updateStrategy
    @cached_property
    def update_strategy(self) -> JSON:
        return _dict(self.spec.get("updateStrategy"))

    @property
    def update_type(self) -> str:
        return self.update_strategy.get("type") or RECREATE

    @property
    def in_place(self) -> bool:
        return self.update_type in (IN_PLACE_IF_POSSIBLE, IN_PLACE_ONLY)

    @property
    def partition(self) -> int | str | None:
        return self.update_strategy.get("partition")

    @property
    def max_unavailable(self) -> int | str:
        value = self.update_strategy.get("maxUnavailable")
        return DEFAULT_MAX_UNAVAILABLE if value is None else value

    @property
    def max_surge(self) -> int | str | None:
        return self.update_strategy.get("maxSurge")

    @property
    def paused(self) -> bool:
        return bool(self.update_strategy.get("paused"))

    @property
    def priority_strategy(self) -> JSON | None:
        value = self.update_strategy.get("priorityStrategy")
        return value if isinstance(value, dict) else None

    @property
    def scatter_strategy(self) -> list[JSON] | None:
        value = self.update_strategy.get("scatterStrategy")
        return value if isinstance(value, list) else None

    @property
    def grace_period_seconds(self) -> int:
        return max(_int(_dict(self.update_strategy.get("inPlaceUpdateStrategy")).get("gracePeriodSeconds"), 0), 0)

    # -- status
    @cached_property
    def status(self) -> JSON:
        return _dict(self.obj.get("status"))

    @property
    def collision_count(self) -> int:
        return max(_int(self.status.get("collisionCount"), 0), 0)

    @property
    def current_revision(self) -> str | None:
        return self.status.get("currentRevision") or None
