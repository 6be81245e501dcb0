"""A read-only view of a CloneSet (`apis/apps/v1alpha1/cloneset_types.go`) as its controller reads it: through the
runtime schema (`schema.as_read`), so the webhook's defaults (`apis/apps/defaults/v1alpha1.go SetDefaultsCloneSet`,
written once, in schema/apps.kruise.io/cloneset.yaml) and the fallbacks are there even on an object stored without
the webhook, and every property is a plain read.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any, Mapping

from controllers import schema
from controllers.common.keys import CLONESET_SCALING_EXCLUDE_PREPARING_DELETE_LABEL
from controllers.common.view import WorkloadView, typed

JSON = dict[str, Any]

API_VERSION = "apps.kruise.io/v1alpha1"
KIND = "CloneSet"



class CloneSetView(WorkloadView):
    """A CloneSet as its reconcile reads it; `gates`: the manager's feature gates (None: every gate at its
    default)."""

    def __init__(self, cloneset: JSON, gates: Mapping[str, bool] | None = None):
        gates = schema.feature_gates(dict(gates or {}))
        super().__init__(schema.as_read(typed(cloneset, API_VERSION, KIND), gates), gates, cloneset)

    # -- spec
    @property
    def min_ready_seconds(self) -> int:
        return self.spec["minReadySeconds"]

    @property
    def progress_deadline_seconds(self) -> int | None:
        return self.spec.get("progressDeadlineSeconds")

    # -- scaleStrategy
    @cached_property
    def scale_strategy(self) -> JSON:
        return self.spec["scaleStrategy"]

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
        return self.spec["updateStrategy"]

    @property
    def update_type(self) -> str:
        return self.update_strategy["type"]

    @property
    def on_delete(self) -> bool:
        """OnDelete (v1.9.0): the controller updates no pod; one the user deletes is recreated at the update
        revision. The rolling-update knobs do not apply: partition and maxSurge read as 0 (OpenKruise drops
        them for OnDelete, which has no rollingUpdate, from v1beta1 on), so replacements and scale-ups are all
        at the update revision, and no surge pod rolls an old one out."""
        return self.update_type == "OnDelete"

    @property
    def partition(self) -> int | str:
        return 0 if self.on_delete else self.update_strategy["partition"]

    @property
    def max_unavailable(self) -> int | str:
        return self.update_strategy["maxUnavailable"]

    @property
    def max_surge(self) -> int | str:
        return 0 if self.on_delete else self.update_strategy["maxSurge"]

    @property
    def paused(self) -> bool:
        return bool(self.update_strategy.get("paused"))

    @property
    def priority_strategy(self) -> JSON | None:
        return self.update_strategy.get("priorityStrategy")

    @property
    def scatter_strategy(self) -> list[JSON] | None:
        return self.update_strategy.get("scatterStrategy")

    @property
    def grace_period_seconds(self) -> int:
        return self.update_strategy["inPlaceUpdateStrategy"]["gracePeriodSeconds"]
