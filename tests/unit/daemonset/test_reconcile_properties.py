"""Level-based, idempotent, pure (`tests/unit/common/properties.py`): the same observed state gives the same
plan (nodes in any order too), a converged DaemonSet asks for nothing, the inputs are never modified, and random
histories of template, strategy and node changes converge to one pod per eligible node at the update revision."""
import copy
import itertools

from hypothesis import HealthCheck, given, settings, strategies as st

from controllers.common import actions as A
from controllers.daemonset.pods import target_node_name

from ..common import properties
from .cluster import daemonset, node, world


def _normalize(plan: A.Plan):
    """Creates get random names: compare them by the node they are pinned to."""
    out = []
    for a in plan.actions:
        if isinstance(a, A.Create) and a.resource == A.PODS:
            out.append(("create", target_node_name(a.body)))
        elif isinstance(a, A.Event) and a.reason == "SuccessfulCreate":
            out.append(("event", a.reason))
        else:
            out.append(a)
    return out, plan.requeue_after


def _fresh_names(w):
    """Both runs of a plan draw names from the same sequence."""
    def run(workload, pods, pvcs, revisions):
        w.names = type(w.names)()
        return w.run_reconcile(workload, properties.owned_objects(pods, pvcs, revisions), w.context())
    return run


def test_inputs_are_not_modified():
    w = world(daemonset(rolling={"rollingUpdateType": "InPlaceIfPossible"},
                        lifecycle={"preDelete": {"labelsHandler": {"hold": "true"}}}))
    w.settle()
    w.set_image("nginx:1.26")
    w.remove_node("node-a")
    w.add_node(node("node-e"))
    properties.assert_inputs_not_modified(w)
    nodes = copy.deepcopy(list(w.nodes.values()))
    w.reconcile()
    assert nodes == list(w.nodes.values())


def test_converged_state_asks_for_nothing():
    properties.assert_converged_asks_for_nothing(world(daemonset(rolling={"rollingUpdateType": "InPlaceIfPossible"},
                                                                 minReadySeconds=3)))


def test_same_state_same_plan_mid_rollout():
    w = world(daemonset(rolling={"maxSurge": 1, "maxUnavailable": 0}))
    w.settle()
    w.set_image("nginx:1.26")
    for _ in range(4):
        properties.assert_same_state_same_plan(w, _fresh_names(w), normalize=_normalize)
        w.step()


def test_same_plan_whatever_the_node_order():
    w = world(daemonset(rolling={"partition": 1}))
    w.settle()
    w.set_image("nginx:1.26")
    w.add_node(node("node-e"))
    ctx = w.context()
    obs = w.observed()
    first = w.run_reconcile(w.workload, {**obs, A.NODES: list(w.nodes.values())}, ctx)
    w.names = type(w.names)()
    second = w.run_reconcile(w.workload, {**obs, A.NODES: list(reversed(list(w.nodes.values())))},
                             w.context())
    assert _normalize(first) == _normalize(second)


EVENTS = st.sampled_from(["step", "step", "step", "image", "env", "add-node", "remove-node", "label", "taint",
                          "surge", "in-place", "partition", "delete-pod"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(EVENTS, min_size=1, max_size=12))
def test_any_history_converges(events):
    w = world(daemonset(tolerate_simulated=False))
    w.edit_spec(lambda s: s["template"]["spec"].__setitem__("nodeSelector", {"role": "worker"}))
    tags = itertools.count(26)
    extra = itertools.count()
    for event in events:
        if event == "step":
            properties.assert_same_state_same_plan(w, _fresh_names(w), normalize=_normalize)
            w.step()
        elif event == "image":
            w.set_image(f"nginx:1.{next(tags)}")
        elif event == "env":
            w.edit_spec(lambda s: s["template"]["spec"]["containers"][0].__setitem__(
                "env", [{"name": "N", "value": str(next(tags))}]))
        elif event == "add-node":
            w.add_node(node(f"node-x{next(extra)}", {"role": "worker"}))
        elif event == "remove-node" and w.nodes:
            w.remove_node(sorted(w.nodes)[0])
        elif event == "label" and w.nodes:
            name = sorted(w.nodes)[-1]
            role = w.nodes[name]["metadata"]["labels"].get("role")
            w.label_node(name, role="other" if role == "worker" else "worker")
        elif event == "taint" and w.nodes:
            w.taint_node(sorted(w.nodes)[-1], {"key": "gone", "effect": "NoExecute"})
        elif event == "surge":
            w.edit_spec(lambda s: s["updateStrategy"].__setitem__(
                "rollingUpdate", {"rollingUpdateType": "Standard", "maxSurge": 1, "maxUnavailable": 0}))
        elif event == "in-place":
            w.edit_spec(lambda s: s["updateStrategy"].__setitem__(
                "rollingUpdate", {"rollingUpdateType": "InPlaceIfPossible", "maxUnavailable": 2}))
        elif event == "partition":
            w.set_rolling(partition=1)
        elif event == "delete-pod" and w.live_pods():
            w.delete_pod(sorted(p["metadata"]["name"] for p in w.live_pods())[0])
    w.set_rolling(partition=0)
    w.settle()
    eligible = sorted(n for n, obj in w.nodes.items() if obj["metadata"]["labels"].get("role") == "worker"
                      and not obj["spec"].get("taints"))  # "gone" (NoExecute) or the simulated taint, there from the start
    assert sorted(w.by_node()) == eligible
    assert all(len(p) == 1 for p in w.by_node().values())
    update = w.status["updateRevision"]
    assert all(w.hash_of(n) == update for n in w.pods)
    assert w.status["desiredNumberScheduled"] == len(eligible) == w.status["numberAvailable"]
