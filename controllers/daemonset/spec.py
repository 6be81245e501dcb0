"""A read-only, defaulted view of an Advanced DaemonSet as stored (apps.kruise.io/v1beta1;
`apis/apps/v1beta1/daemonset_types.go`, defaults from `apis/apps/defaults/v1beta1.go SetDefaultsDaemonSetV1beta1`).

The webhook defaults the object before it is stored, but a reconcile must not trip over one that missed them,
so every field is read defensively here and nowhere else. v1alpha1 differences the controller could meet
(`rollingUpdateType: Surging`, the `daemonset.kruise.io/progressive-create-pod` annotation) read as conversion
would turn them into v1beta1.
"""
from __future__ import annotations

from typing import Any, Mapping

from controllers import schema
from controllers.common.intstr import scaled_value
from controllers.common.lifecycle import hook_of
from controllers.common.partition import partition_replicas
from controllers.common.view import WorkloadView, as_dict, as_int, typed

JSON = dict[str, Any]

API_VERSION = "apps.kruise.io/v1beta1"
KIND = "DaemonSet"

ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"
STANDARD = "Standard"
IN_PLACE_IF_POSSIBLE = "InPlaceIfPossible"
SURGING = "Surging"  # v1alpha1 only; conversion makes it Standard

# pkg/controller/daemonset: BurstReplicas, the default of spec.burstReplicas.
DEFAULT_BURST_REPLICAS = 250
# v1alpha1's spelling of scaleStrategy.partitionedScaling (daemonset_conversion.go).
PROGRESSIVE_CREATE_POD_ANNOTATION = "daemonset.kruise.io/progressive-create-pod"
# apps/v1 DeprecatedTemplateGeneration: pods then also match by label pod-template-generation (IsPodUpdated).
DEPRECATED_TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
TEMPLATE_GENERATION_LABEL = "pod-template-generation"


class DaemonSetView(WorkloadView):
    """A v1beta1 Advanced DaemonSet as its decision layer reads it; `gates`: the manager's feature gates (None:
    every gate at its default).

    Like CloneSet's and Advanced StatefulSet's views, it reads the object through `schema.as_read` (the webhook's
    defaults and the fallbacks of schema/apps.kruise.io/daemonset.yaml), with one exception: the int-or-percent
    knobs upstream scales at sync time (maxUnavailable, maxSurge, partition, burstReplicas) are read as stored
    when stored, so that a malformed one is the error upstream returns (`update.budgets`, `manage`) rather than
    a silent default. The remaining defensive reads cost nothing and stay."""

    def __init__(self, daemonset: JSON, gates: Mapping[str, bool] | None = None):
        gates = schema.feature_gates(dict(gates or {}))
        super().__init__(schema.as_read(typed(daemonset, API_VERSION, KIND), gates), gates, daemonset)

    # -- update strategy
    @property
    def update_strategy(self) -> JSON:
        return as_dict(self.spec.get("updateStrategy"))

    @property
    def update_type(self) -> str:
        return self.update_strategy.get("type") or ROLLING_UPDATE

    @property
    def rolling_update(self) -> JSON | None:
        """updateStrategy.rollingUpdate; the webhook stores {} for RollingUpdate, so a missing one reads as {}."""
        if self.update_type != ROLLING_UPDATE:
            value = self.update_strategy.get("rollingUpdate")
            return value if isinstance(value, dict) else None
        return as_dict(self.update_strategy.get("rollingUpdate"))

    @property
    def rolling_update_type(self) -> str:
        value = (self.rolling_update or {}).get("rollingUpdateType") or STANDARD
        return STANDARD if value == SURGING else value

    @property
    def in_place_if_possible(self) -> bool:
        return self.update_type == ROLLING_UPDATE and self.rolling_update_type == IN_PLACE_IF_POSSIBLE

    def _stored(self, *path: str) -> Any:
        """The value as stored (before the schema's read), None when absent."""
        value: Any = self.stored
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def _knob(self, name: str) -> Any:
        """rollingUpdate.<name>: as stored when stored (a malformed value must surface), else as read."""
        stored = self._stored("spec", "updateStrategy", "rollingUpdate", name)
        return stored if stored is not None else (self.rolling_update or {}).get(name)

    @property
    def max_unavailable_raw(self) -> Any:
        """maxUnavailable as stored; SetDefaultsDaemonSetV1beta1 writes 1 only when both it and maxSurge are nil."""
        maxu, maxs = self._knob("maxUnavailable"), self._knob("maxSurge")
        if maxu is None and maxs is None:
            return 1
        return maxu

    @property
    def max_surge_raw(self) -> Any:
        maxu, maxs = self._knob("maxUnavailable"), self._knob("maxSurge")
        if maxu is None and maxs is None:
            return 0
        return maxs

    @property
    def partition_raw(self) -> Any:
        return self._knob("partition")

    @property
    def update_selector(self) -> JSON | None:
        """rollingUpdate.selector (node labels), None when unset."""
        value = (self.rolling_update or {}).get("selector")
        return value if isinstance(value, dict) else None

    @property
    def paused(self) -> bool:
        """isDaemonSetPaused."""
        return (self.rolling_update or {}).get("paused") is True

    # -- scaling
    @property
    def min_ready_seconds(self) -> int:
        return max(as_int(self.spec.get("minReadySeconds"), 0), 0)

    @property
    def burst_replicas_raw(self) -> Any:
        value = self._stored("spec", "burstReplicas")
        if value is None:
            value = self.spec.get("burstReplicas")
        return DEFAULT_BURST_REPLICAS if value is None else value

    @property
    def partitioned_scaling(self) -> bool:
        """isDaemonSetCreationProgressively (v1beta1 field, or the v1alpha1 annotation conversion reads)."""
        if as_dict(self.spec.get("scaleStrategy")).get("partitionedScaling") is True:
            return True
        return self.annotations.get(PROGRESSIVE_CREATE_POD_ANNOTATION) == "true"

    @property
    def revision_history_limit(self) -> int:
        """revisionHistoryLimit; 10 when unset (cleanupHistory's default)."""
        return max(as_int(self.spec.get("revisionHistoryLimit"), 10), 0)

    # -- lifecycle
    @property
    def pre_delete_hook(self) -> JSON | None:
        return hook_of(self.lifecycle, "preDelete")

    # -- legacy template generation
    @property
    def template_generation(self) -> int | None:
        """GetTemplateGeneration: the deprecated annotation as an int, None when absent or malformed."""
        text = self.annotations.get(DEPRECATED_TEMPLATE_GENERATION_ANNOTATION)
        if text is None:
            return None
        try:
            return int(str(text), 10)
        except ValueError:
            return None

    # -- status as last stored (upstream scales partition and burst on it, not on the fresh count)
    @property
    def stored_desired_number_scheduled(self) -> int:
        return max(as_int(self.status.get("desiredNumberScheduled"), 0), 0)

    @property
    def stored_observed_generation(self) -> int:
        return as_int(self.status.get("observedGeneration"), 0)

    # -- scaled values
    def burst_replicas(self) -> int:
        """getBurstReplicas: burstReplicas scaled against the STORED desiredNumberScheduled, rounded down. Upstream
        ignores the error (0); a negative value (never validated) would panic upstream, here it is 0."""
        try:
            value = scaled_value(self.burst_replicas_raw, self.stored_desired_number_scheduled, round_up=False)
        except ValueError:
            return 0
        return max(value, 0)

    def partition(self) -> int:
        """The partition (nodes kept at the old revision), scaled against the STORED desiredNumberScheduled,
        rounded down; 0 when unset. Raises ValueError for a malformed value (upstream returns the error)."""
        return partition_replicas(self.partition_raw, self.stored_desired_number_scheduled, round_down_uncapped=True)

    def allow_surge(self) -> bool:
        """allowSurge: maxSurge scaled against 1 node, rounded up, is positive (any non-zero maxSurge)."""
        return surge_count(self, 1) > 0


def strategy_count(ds: DaemonSetView, raw: Any, total: int) -> int:
    """GetScaledValueFromIntOrPercent(raw, total, roundUp) under a RollingUpdate strategy, else 0; raises
    ValueError for a malformed value."""
    if ds.update_type != ROLLING_UPDATE or ds.rolling_update is None or raw is None:
        return 0
    return scaled_value(raw, total, round_up=True)


def surge_count(ds: DaemonSetView, number_to_schedule: int) -> int:
    """surgeCount: maxSurge of `number_to_schedule`, rounded up; 0 unless RollingUpdate. An invalid value is 0
    (allowSurge treats the error as no surge; rollingUpdate errors out, see `update.budgets`)."""
    try:
        return strategy_count(ds, ds.max_surge_raw, number_to_schedule)
    except ValueError:
        return 0


def unavailable_count(ds: DaemonSetView, number_to_schedule: int) -> int:
    """unavailableCount: maxUnavailable of `number_to_schedule`, rounded up; 0 unless RollingUpdate."""
    return strategy_count(ds, ds.max_unavailable_raw, number_to_schedule)


def view(ds: JSON | DaemonSetView) -> DaemonSetView:
    return ds if isinstance(ds, DaemonSetView) else DaemonSetView(ds)


