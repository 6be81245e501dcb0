"""The fake cluster (tests/unit/world.py) running the CloneSet reconcile."""
from __future__ import annotations

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
    gates: dict[str, bool] | None = None  # the manager's --feature-gates (None: defaults)

    @property
    def cloneset(self) -> JSON:
        return self.workload

    @cloneset.setter
    def cloneset(self, value: JSON) -> None:
        self.workload = value

    def run_reconcile(self, workload: JSON, pods: list[JSON], pvcs: list[JSON], revisions: list[JSON],
                      last_failure: A.ActionFailure | None = None) -> A.Plan:
        return reconcile(workload, pods, pvcs, revisions, self.now, self.names, last_failure, self.gates)


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
