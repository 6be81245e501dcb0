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

from controllers.common.view import WorkloadView, as_dict as _dict, as_int as _int

from controllers import schema
from controllers.common.inplace import RECREATE
from controllers.common.keys import CLONESET_SCALING_EXCLUDE_PREPARING_DELETE_LABEL

JSON = dict[str, Any]

API_VERSION = "apps.kruise.io/v1alpha1"
KIND = "CloneSet"
# The webhook's default, read from the schema (the one place that says it), for objects stored without it.
DEFAULT_MAX_UNAVAILABLE = schema.default_value(KIND, "v1alpha1", "spec.updateStrategy.maxUnavailable")



@dataclass(frozen=True)
class CloneSetView(WorkloadView):
    """A CloneSet as its reconcile reads it."""

    # -- spec
    @property
    def min_ready_seconds(self) -> int:
        return max(_int(self.spec.get("minReadySeconds"), 0), 0)

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