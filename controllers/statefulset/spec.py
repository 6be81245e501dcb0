"""A read-only view of an Advanced StatefulSet as stored (apps.kruise.io/v1beta1; `apis/apps/v1beta1/
statefulset_types.go`) as its controller reads it: through the runtime schema (`schema.as_read`), so the webhook's
defaults (`apis/apps/defaults/v1beta1.go`, written once, in schema/apps.kruise.io/statefulset.yaml) and the
fallbacks are there even on an object stored without the webhook (or written through v1alpha1 by an older
client), and every property is a plain read.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any, Mapping

from controllers import schema
from controllers.common.intstr import scaled_value
from controllers.common.view import WorkloadView, as_dict, typed

from .ordinals import ReservedOrdinals

JSON = dict[str, Any]

API_VERSION = "apps.kruise.io/v1beta1"
KIND = "StatefulSet"

PARALLEL = "Parallel"
ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"
IN_PLACE_IF_POSSIBLE = "InPlaceIfPossible"
IN_PLACE_ONLY = "InPlaceOnly"
DELETE = "Delete"
# Feature gate (policies/feature-gates.yaml): spec.ordinals.start takes effect only when it is on.
START_ORDINAL_GATE = "StatefulSetStartOrdinal"

# Pod labels written by the StatefulSet controllers (k8s.io/api/apps/v1).
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


class StatefulSetView(WorkloadView):
    """A v1beta1 Advanced StatefulSet as its reconcile reads it; `gates`: the manager's feature gates (None: every
    gate at its default)."""

    def __init__(self, statefulset: JSON, gates: Mapping[str, bool] | None = None):
        gates = schema.feature_gates(dict(gates or {}))
        super().__init__(schema.as_read(typed(statefulset, API_VERSION, KIND), gates), gates, statefulset)

    # -- metadata
    @property
    def api_version(self) -> str:
        return self.obj["apiVersion"]

    # -- spec
    @property
    def match_labels(self) -> dict[str, str]:
        return dict(as_dict(as_dict(self.selector).get("matchLabels")))

    @cached_property
    def volume_claim_templates(self) -> list[JSON]:
        return [v for v in self.spec.get("volumeClaimTemplates") or []
                if isinstance(v, dict) and as_dict(v.get("metadata")).get("name")]

    @property
    def service_name(self) -> str:
        return self.spec.get("serviceName") or ""

    @property
    def parallel(self) -> bool:
        """allowsBurst: Parallel pod management; otherwise OrderedReady (monotonic)."""
        return self.spec["podManagementPolicy"] == PARALLEL

    @cached_property
    def reserved(self) -> ReservedOrdinals:
        return ReservedOrdinals.parse(self.spec.get("reserveOrdinals"))

    @property
    def start_ordinal(self) -> int:
        """getStartOrdinal: spec.ordinals.start with feature gate StatefulSetStartOrdinal on; with it off (its
        default) the field is ignored and pods are numbered from 0."""
        if not self.gate(START_ORDINAL_GATE):
            return 0
        return self.spec["ordinals"]["start"]

    @property
    def scale_max_unavailable(self) -> int | None:
        """getScaleMaxUnavailable: scaleStrategy.maxUnavailable of spec.replicas (rounded down, at least 1);
        None when unset (no limit). A value the schema refuses (so not read) counts as 1, the most careful
        reading, rather than as no limit."""
        value = as_dict(self.spec.get("scaleStrategy")).get("maxUnavailable")
        if value is None:
            stored = as_dict(as_dict(self.stored.get("spec")).get("scaleStrategy")).get("maxUnavailable")
            return None if stored is None else 1
        return max(scaled_value(value, self.replicas, round_up=False), 1)

    @property
    def when_deleted(self) -> str:
        return self.spec["persistentVolumeClaimRetentionPolicy"]["whenDeleted"]

    @property
    def when_scaled(self) -> str:
        return self.spec["persistentVolumeClaimRetentionPolicy"]["whenScaled"]

    # -- updateStrategy
    @cached_property
    def update_strategy(self) -> JSON:
        return self.spec["updateStrategy"]

    @property
    def update_type(self) -> str:
        return self.update_strategy["type"]

    @cached_property
    def rolling_update(self) -> JSON:
        """Always there: defaulted for RollingUpdate, and made by the fallbacks for OnDelete, whose controller
        reads only its minReadySeconds."""
        return self.update_strategy["rollingUpdate"]

    @property
    def partition(self) -> int:
        return self.rolling_update["partition"]

    @property
    def max_unavailable(self) -> int:
        """rollingUpdate.maxUnavailable of spec.replicas (a percentage rounds down, at least 1)."""
        return max(scaled_value(self.rolling_update["maxUnavailable"], self.replicas, round_up=False), 1)

    @property
    def pod_update_policy(self) -> str:
        return self.rolling_update["podUpdatePolicy"]

    @property
    def in_place(self) -> bool:
        return self.pod_update_policy in (IN_PLACE_IF_POSSIBLE, IN_PLACE_ONLY)

    @property
    def paused(self) -> bool:
        return bool(self.rolling_update.get("paused"))

    @property
    def unordered(self) -> bool:
        return self.rolling_update.get("unorderedUpdate") is not None

    @property
    def priority_strategy(self) -> JSON | None:
        return as_dict(self.rolling_update.get("unorderedUpdate")).get("priorityStrategy")

    @property
    def grace_period_seconds(self) -> int:
        return self.rolling_update["inPlaceUpdateStrategy"]["gracePeriodSeconds"]

    @property
    def min_ready_seconds(self) -> int:
        return self.rolling_update["minReadySeconds"]
