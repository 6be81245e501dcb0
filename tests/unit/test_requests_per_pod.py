"""Requests per pod, counted without a cluster (issue 21's floor): the CloneSet and Advanced StatefulSet
reconciles in the fake cluster (tests/unit/world.py), with what the runtime adds around a round (the pod
webhook's KruisePodReady readiness gate; the podreadiness writes folded into the plan, as
controllers/runtime/workload.py does), sent as the executor sends them (`executor.steps`: each pod's adjacent
status and metadata writes coalesced into one request to pods/status).

The floor: a gated pod needs one status write before it can be Ready, and spec and status never share a write,
so create to Ready is 2 (POST, then one status write with both conditions and the `Normal` label), an in-place
update 3 with or without a grace period (not ready + new state; the images; ready + `Normal`), ReCreate 4.
The Advanced DaemonSet meets the same floor: create to Ready 2, in place 3, and a recreate 3 (DELETE, POST, the
status write), one pod per node.

`make bench` counts the same on the real API server (column "manager requests / pod")."""
from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

import pytest

from controllers.common import actions as A
from controllers.common.keys import KRUISE_POD_READY
from controllers.common.podreadiness import ready_if_missing
from controllers.runtime.executor import creates_per_round, fold_status_patches, steps
from tests.unit.cloneset.world import World as CloneSetWorld, cloneset
from tests.unit.daemonset.cluster import World as DaemonSetWorld, daemonset, node
from tests.unit.statefulset.world import World as StatefulSetWorld

N = 20
IMAGE = "registry.local/app:v1"


def as_the_runtime_sends(world_class, max_creates: int | None = None):
    @dataclass
    class Sent(world_class):
        pod_requests: Counter = field(default_factory=Counter)
        sent: int = 0  # requests sent so far (events left out), the clock of a rate-limited client
        ready_at: dict = field(default_factory=dict)  # pod name → requests sent when its readiness write went

        def run_reconcile(self, workload, observed, context):
            plan = super().run_reconcile(workload, observed, context)
            readiness = [a for p in observed[A.PODS] if (a := ready_if_missing(p, self.now))]
            actions = fold_status_patches(readiness, plan.actions) if readiness else plan.actions
            sent = [a for step in steps(actions, max_creates) for chain in step for a in chain]
            for a in sent:
                if isinstance(a, A.Event):
                    continue
                self.sent += 1
                if a.resource == A.PODS:
                    self.pod_requests[f"{type(a).__name__} {a.subresource or ''}".strip()
                                      if isinstance(a, A.Patch) else type(a).__name__] += 1
                    if isinstance(a, A.Patch) and a.subresource == "status":
                        self.ready_at.setdefault(a.name, self.sent)
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


@pytest.mark.parametrize("max_creates", [None, 5])
@pytest.mark.parametrize("update_type, rolled", [
    ("InPlaceIfPossible", {"Patch status": 2 * N, "Patch": N}),
    ("Standard", {"Delete": N, "Create": N, "Patch status": N}),
])
def test_an_advanced_daemonset_pod_costs_two_requests_from_create_to_ready_and_three_to_roll(
        update_type, rolled, max_creates):
    """`max_creates`: the runtime's cap on a round's creates (`creates_per_round`), which spreads the creates over
    rounds that upstream would not refresh in (it waits for the creates' expectations): the pods of the earlier
    rounds still get InPlaceUpdateReady in their one status write (3 writes a pod in place before)."""
    world = as_the_runtime_sends(DaemonSetWorld, max_creates)(daemonset("floor", image=IMAGE, rolling={
        "rollingUpdateType": update_type, "maxUnavailable": "20%"}))
    for i in range(N):
        world.add_node(node(f"node-{i:02d}"))
    world.settle(max_rounds=300)
    assert len(world.ready_pods()) == N
    assert world.pod_requests == {"Create": N, "Patch status": N}, world.pod_requests
    world.pod_requests.clear()
    world.set_image("registry.local/app:v2")
    world.settle(max_rounds=300)
    assert set(world.image_by_node().values()) == {"registry.local/app:v2"} and len(world.ready_pods()) == N
    assert world.pod_requests == rolled, world.pod_requests


@pytest.mark.parametrize("max_creates", [None, 20, creates_per_round(20)])
def test_capped_creates_make_the_median_pod_ready_after_about_twice_the_deployments_requests(max_creates):
    """Issue 21 item 4 on a client whose every request costs the same time (a rate limit): a Deployment's pod
    is Ready after its create, so its i-th pod after i requests; ours needs a create and a readiness write.
    Created all in one round, the first readiness write waits for the last create: the median pod is Ready
    after 1.5 N requests, 3x the Deployment's N/2 (as measured at 1000 pods, QPS 20).
    With C creates a round (`creates_per_round`), each round writes the readiness of the pods the previous one
    created before it creates more, so the median pod waits N + C requests, plus a workload status write per
    round: 2x the floor (two writes against one) plus C / (N/2). At 1000 pods and QPS 20 (C = 40): 2.13x with no
    time lost between rounds; a smaller C loses more of the budget between rounds on a real manager."""
    n = 200
    world = as_the_runtime_sends(CloneSetWorld, max_creates)(cloneset("ramp", replicas=n, image=IMAGE))
    world.settle(max_rounds=300)
    assert len(world.ready_pods()) == n and world.pod_requests == {"Create": n, "Patch status": n}
    median = sorted(world.ready_at.values())[n // 2 - 1]
    if max_creates is None:
        assert median >= 1.5 * n, median
    else:
        rounds = -(-n // max_creates)
        assert median <= n + max_creates + rounds, (median, world.sent)
