"""A read-only, defaulted view of an Advanced StatefulSet as stored (apps.kruise.io/v1beta1;
`apis/apps/v1beta1/statefulset_types.go`, defaults from `apis/apps/defaults/v1beta1.go`).

The webhook applies defaults before the object is stored, but the reconcile must not crash on an object that
missed them (created while the webhook was down, or written through v1alpha1 by an older client), so every
field is read defensively here and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from controllers.common.view import WorkloadView, as_dict as _dict, as_int as _int

from controllers.common.inplace import RECREATE
from controllers.common.intstr import scaled_value
from controllers.common.partition import resolve_partition

from .ordinals import ReservedOrdinals

JSON = dict[str, Any]

API_VERSION = "apps.kruise.io/v1beta1"
KIND = "StatefulSet"

PARALLEL = "Parallel"
ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"
RETAIN = "Retain"
DELETE = "Delete"

# Pod labels written by the StatefulSet controllers (k8s.io/api/apps/v1).
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def _int_or_percent(value: Any, total: int, fallback: int) -> int:
    """GetValueFromIntOrPercent (a percentage rounds down); `fallback` when missing or malformed."""
    if value is None:
        return fallback
    try:
        return scaled_value(value, total, round_up=False)
    except ValueError:
        return fallback


@dataclass(frozen=True)
class StatefulSetView(WorkloadView):
    """A v1beta1 Advanced StatefulSet as its reconcile reads it."""

    # -- metadata
    @property
    def api_version(self) -> str:
        return self.obj.get("apiVersion") or API_VERSION

    # -- spec
    @property
    def match_labels(self) -> dict[str, str]:
        return dict(_dict(_dict(self.selector).get("matchLabels")))

    @cached_property
    def volume_claim_templates(self) -> list[JSON]:
        return [v for v in self.spec.get("volumeClaimTemplates") or []
                if isinstance(v, dict) and _dict(v.get("metadata")).get("name")]

    @property
    def service_name(self) -> str:
        return self.spec.get("serviceName") or ""

    @property
    def parallel(self) -> bool:
        """allowsBurst: Parallel pod management; anything else is OrderedReady (monotonic)."""
        return self.spec.get("podManagementPolicy") == PARALLEL

    @cached_property
    def reserved(self) -> ReservedOrdinals:
        return ReservedOrdinals.parse(self.spec.get("reserveOrdinals"))

    @property
    def start_ordinal(self) -> int:
        """spec.ordinals.start (feature gate StatefulSetStartOrdinal, on), 0 when unset."""
        return max(_int(_dict(self.spec.get("ordinals")).get("start"), 0), 0)

    @property
    def scale_max_unavailable(self) -> int | None:
        """getScaleMaxUnavailable: scaleStrategy.maxUnavailable of spec.replicas (rounded down, at least 1);
        None when unset (no limit). A malformed value counts as 1, the most careful reading."""
        value = _dict(self.spec.get("scaleStrategy")).get("maxUnavailable")
        if value is None:
            return None
        return max(_int_or_percent(value, self.replicas, 1), 1)

    @property
    def when_deleted(self) -> str:
        return _dict(self.spec.get("persistentVolumeClaimRetentionPolicy")).get("whenDeleted") or RETAIN

    @property
    def when_scaled(self) -> str:
        return _dict(self.spec.get("persistentVolumeClaimRetentionPolicy")).get("whenScaled") or RETAIN

    # -- updateStrategy
    @cached_property
    def update_strategy(self) -> JSON:
        return _dict(self.spec.get("updateStrategy"))

    @property
    def update_type(self) -> str:
        return ON_DELETE if self.update_strategy.get("type") == ON_DELETE else ROLLING_UPDATE

    @cached_property
    def rolling_update(self) -> JSON:
        return _dict(self.update_strategy.get("rollingUpdate"))

    @property
    def partition(self) -> int:
        """rollingUpdate.partition within [0, replicas]; 0 when malformed."""
        return resolve_partition(self.rolling_update.get("partition"), self.replicas)

    @property
    def max_unavailable(self) -> int:
        """rollingUpdate.maxUnavailable of spec.replicas (default 1, a percentage rounds down, at least 1)."""
        return max(_int_or_percent(self.rolling_update.get("maxUnavailable"), self.replicas, 1), 1)

    @property
    def pod_update_policy(self) -> str:
        return self.rolling_update.get("podUpdatePolicy") or RECREATE

    @property
    def paused(self) -> bool:
        return bool(self.rolling_update.get("paused"))

    @property
    def unordered(self) -> bool:
        return isinstance(self.rolling_update.get("unorderedUpdate"), dict)

    @property
    def priority_strategy(self) -> JSON | None:
        value = _dict(self.rolling_update.get("unorderedUpdate")).get("priorityStrategy")
        return value if isinstance(value, dict) else None

    @property
    def grace_period_seconds(self) -> int:
        return max(_int(_dict(self.rolling_update.get("inPlaceUpdateStrategy")).get("gracePeriodSeconds"), 0), 0)

    @property
    def min_ready_seconds(self) -> int:
        return max(_int(self.rolling_update.get("minReadySeconds"), 0), 0)

    # -- status