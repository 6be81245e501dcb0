"""Requests per pod, counted without a cluster (issue 21's floor): the CloneSet and Advanced StatefulSet
reconciles in the fake cluster (tests/unit/world.py), with what the runtime adds around a round (the pod
webhook's KruisePodReady readiness gate; the podreadiness writes folded into the plan, as
controllers/runtime/workload.py does), sent as the executor sends them (`executor.steps`: each pod's adjacent
status and metadata writes coalesced into one request to pods/status).

The floor: a gated pod needs one status write before it can be Ready, and spec and status never share a write,
so create to Ready is 2 (POST, then one status write with both conditions and the `Normal` label), an in-place
update 3 with or without a grace period (not ready + new state; the images; ready + `Normal`), ReCreate 4.
`make bench` counts the same on the real API server (column "manager requests / pod")."""
from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

import pytest

from controllers.common import actions as A
from controllers.common.keys import KRUISE_POD_READY
from controllers.common.podreadiness import ready_if_missing
from controllers.runtime.executor import fold_status_patches, steps
from tests.unit.cloneset.world import World as CloneSetWorld, cloneset
from tests.unit.statefulset.world import World as StatefulSetWorld

N = 20
IMAGE = "registry.local/app:v1"


def as_the_runtime_sends(world_class):
    @dataclass
    class Sent(world_class):
        pod_requests: Counter = field(default_factory=Counter)

        def run_reconcile(self, workload, observed, context):
            plan = super().run_reconcile(workload, observed, context)
            readiness = [a for p in observed[A.PODS] if (a := ready_if_missing(p, self.now))]
            actions = fold_status_patches(readiness, plan.actions) if readiness else plan.actions
            sent = [a for step in steps(actions) for chain in step for a in chain]
            for a in sent:
                if not isinstance(a, A.Event) and a.resource == A.PODS:
                    self.pod_requests[f"{type(a).__name__} {a.subresource or ''}".strip()
                                      if isinstance(a, A.Patch) else type(a).__name__] += 1
            return dataclasses.replace(plan, actions=sent)

        def _create(self, a, objects):
            if a.resource == A.PODS:  # the pod webhook (controllers/webhook/pod.py) adds the KruisePodReady gate
                spec = a.body["spec"]
                gates = [g for g in spec.get("readinessGates") or [] if g["conditionType"] != KRUISE_POD_READY]
                a = dataclasses.replace(a, body={**a.body, "spec": {
                    **spec, "readinessGates": [*gates, {"conditionType": KRUISE_POD_READY}]}})
            super()._create(a, objects)

        def per_pod(self) -> float:
            return sum(self.pod_requests.values()) / N

    return Sent


def states(world) -> Counter:
    return Counter(p["metadata"]["labels"].get("lifecycle.apps.kruise.io/state") for p in world.pods.values())


def scaled_up_cloneset(**update):
    world = as_the_runtime_sends(CloneSetWorld)(cloneset("floor", replicas=N, image=IMAGE, update=update))
    world.settle(max_rounds=300)
    assert len(world.ready_pods()) == N and states(world) == {"Normal": N}
    return world


def test_a_cloneset_pod_costs_two_requests_from_create_to_ready():
    world = scaled_up_cloneset(type="InPlaceIfPossible")
    assert world.pod_requests == {"Create": N, "Patch status": N}, world.pod_requests


@pytest.mark.parametrize("grace", [0, 3])
def test_an_in_place_update_costs_three_requests_with_or_without_a_grace_period(grace):
    world = scaled_up_cloneset(type="InPlaceIfPossible", maxUnavailable="20%",
                               inPlaceUpdateStrategy={"gracePeriodSeconds": grace})
    world.pod_requests.clear()
    world.set_image("registry.local/app:v2")
    world.settle(max_rounds=300)
    assert set(world.images().values()) == {"registry.local/app:v2"} and states(world) == {"Normal": N}
    assert world.pod_requests == {"Patch status": 2 * N, "Patch": N}, world.pod_requests


def test_a_recreate_update_costs_four_requests():
    world = scaled_up_cloneset(type="ReCreate", maxUnavailable="20%")
    world.pod_requests.clear()
    world.set_image("registry.local/app:v2")
    world.settle(max_rounds=300)
    assert set(world.images().values()) == {"registry.local/app:v2"} and len(world.ready_pods()) == N
    assert world.per_pod() == 4, world.pod_requests


def test_an_advanced_statefulset_pod_costs_two_requests_from_create_to_ready():
    sts = {"apiVersion": "apps.kruise.io/v1beta1", "kind": "StatefulSet",
           "metadata": {"name": "floor", "namespace": "default", "uid": "sts-uid", "generation": 1},
           "spec": {"replicas": N, "selector": {"matchLabels": {"app": "floor"}}, "serviceName": "floor",
                    "podManagementPolicy": "Parallel",
                    "template": {"metadata": {"labels": {"app": "floor"}},
                                 "spec": {"containers": [{"name": "main", "image": IMAGE}],
                                          "readinessGates": [{"conditionType": "InPlaceUpdateReady"}]}},
                    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {
                        "podUpdatePolicy": "InPlaceIfPossible", "maxUnavailable": "20%"}}}}
    from controllers import schema
    world = as_the_runtime_sends(StatefulSetWorld)(schema.apply_defaults(sts))
    world.settle(max_rounds=300)
    assert len(world.ready_pods()) == N
    assert world.pod_requests == {"Create": N, "Patch status": N}, world.pod_requests
