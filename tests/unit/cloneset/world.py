"""The fake cluster (tests/unit/world.py) running the CloneSet reconcile."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from controllers import schema
from controllers.cloneset.reconcile import reconcile
from controllers.common import actions as A
from controllers.common.names import SequenceNames

from ..world import T0, BaseWorld  # noqa: F401  (T0 is re-exported for the tests)

JSON = dict[str, Any]


@dataclass
class World(BaseWorld):
    names: SequenceNames = field(default_factory=SequenceNames)

    @property
    def cloneset(self) -> JSON:
        return self.workload

    @cloneset.setter
    def cloneset(self, value: JSON) -> None:
        self.workload = value

    def context(self) -> A.Context:
        return dataclasses.replace(super().context(), names=self.names)

    def run_reconcile(self, workload: JSON, observed: dict[str, list[JSON]], context: A.Context) -> A.Plan:
        return reconcile(workload, observed, context)


def cloneset(name: str = "demo", replicas: int = 3, image: str = "nginx:1.25", **strategy: Any) -> JSON:
    """A CloneSet as the webhook would store it (the schema's defaults applied)."""
    update = dict(strategy.pop("update", {}))
    obj = {
        "apiVersion": "apps.kruise.io/v1alpha1",
        "kind": "CloneSet",
        "metadata": {"name": name, "namespace": "default", "uid": "cs-uid", "generation": 1},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "main", "image": image}]}},
            "updateStrategy": update,
        },
    }
    for k, v in strategy.items():
        obj["spec"][k] = v
    return schema.apply_defaults(obj)
