"""The rolling update (A10), in place (A11), preDelete during updates (A13), the A16 worked examples."""
import pytest
from hypothesis import given, settings, strategies as st

from controllers.daemonset import decisions as why
from controllers.daemonset.pods import nodes_to_daemon_pods
from controllers.daemonset.update import (Budgets, budgets, can_pod_update_in_place, nodes_to_update, rolling_update,
                                          update_map)
from controllers.daemonset.eligibility import eligibility_by_node

from .world import NOW, daemonset, node, nodes, pod

SURGE = {"maxSurge": 1, "maxUnavailable": 0}


def names(n):
    return [f"n{i}" for i in range(1, n + 1)]


def update(ds, node_list, pods, in_place_ok=None):
    return rolling_update(ds, node_list, nodes_to_daemon_pods(pods), "v2", NOW, in_place_ok=in_place_ok)


def deleted(d):
    return [(x.node, x.reason) for x in d.delete]


# ---------------------------------------------------------------------------------------------------------
# Budgets (updatedDesiredNodeCounts; TestGetUnavailableNumbers; A16 example 1)

@pytest.mark.parametrize("ru, n, expected", [
    ({"maxUnavailable": "30%", "maxSurge": 0}, 10, (3, 0)),   # A16.1: ceil(3.0)
    ({"maxUnavailable": "25%", "maxSurge": 0}, 10, (3, 0)),   # A16.1: ceil(2.5)
    ({"maxUnavailable": 0, "maxSurge": "10%"}, 10, (0, 1)),   # A16.1: ceil(1.0)
    ({"maxUnavailable": 1, "maxSurge": 0}, 2, (1, 0)),        # two nodes with ready pods
    ({"maxUnavailable": "50%", "maxSurge": 0}, 2, (1, 0)),    # MaxUnavailable in percents
    ({"maxUnavailable": 0, "maxSurge": "50%"}, 2, (0, 1)),    # ... surge
    ({"maxUnavailable": 0, "maxSurge": "100%"}, 2, (0, 2)),   # MaxUnavailable is 100%, surge
    ({"maxUnavailable": "50%", "maxSurge": 0}, 3, (2, 0)),    # pod terminating: 3 nodes
    ({"maxUnavailable": 0, "maxSurge": 0}, 3, (1, 0)),        # both 0: maxUnavailable 1
    ({"maxUnavailable": 0, "maxSurge": 0}, 0, (0, 0)),        # no nodes
])
def test_budgets(ru, n, expected):
    b = budgets(daemonset(rolling_update=ru), nodes(*names(n)))
    assert (b.max_unavailable, b.max_surge) == expected and b.desired == n


def test_budgets_count_fresh_eligible_nodes_only():
    ns = nodes("n1", "n2") + [node("n3", taints=[{"key": "x", "effect": "NoSchedule"}])]
    assert budgets(daemonset(rolling_update={"maxUnavailable": "100%"}), ns) == Budgets(2, 2, 0)
    with pytest.raises(ValueError):
        budgets(daemonset(rolling_update={"maxUnavailable": "abc"}), ns)


# ---------------------------------------------------------------------------------------------------------
# Candidate filter (filterDaemonPodsNodeToUpdate; TestFilterDaemonPodsNodeToUpdate, all five vectors)

def _filter(revs, partition, selector=None, labels=None, terminating=()):
    ns = [node(n, labels=(labels or {}).get(n)) for n in revs]
    pods = [pod(n, r, terminating=n in terminating) for n, r in revs.items()]
    ds = daemonset(rolling_update={"partition": partition, "selector": selector})
    return nodes_to_update(ds, ns, nodes_to_daemon_pods(pods), "v2")


CANARY = {"matchLabels": {"node-type": "canary"}}
C = {"node-type": "canary"}


def test_filter_upstream_vectors():
    assert _filter({"n1": "v1", "n2": "v2", "n3": "v1"}, 0) == ["n2", "n3", "n1"]
    assert _filter({"n1": "v2", "n2": "v1", "n3": "v1"}, 1) == ["n1", "n3"]
    four = {"n1": "v1", "n2": "v2", "n3": "v1", "n4": "v1"}
    assert _filter(four, 1, CANARY, {"n3": C}) == ["n2", "n3"]
    assert _filter(four, 2, CANARY, {"n1": C, "n3": C, "n4": C}) == ["n2", "n4"]
    assert _filter(four, 0, CANARY, {"n1": C, "n3": C}, terminating={"n3"}) == ["n2", "n3", "n1"]


def test_a16_example_2_percent_partition_of_stored_desired_rounds_down():
    """partition "50%" with status desired 5 → floor(2.5) = 2 kept: the 3 highest node names are updated."""
    ns = nodes(*names(5))
    ds = daemonset(rolling_update={"partition": "50%"}, status={"desiredNumberScheduled": 5})
    pods = [pod(n, "v1") for n in names(5)]
    assert nodes_to_update(ds, ns, nodes_to_daemon_pods(pods), "v2") == ["n5", "n4", "n3"]
    # with maxUnavailable 5, the rolling update replaces exactly those three
    ds5 = daemonset(rolling_update={"partition": "50%", "maxUnavailable": 5}, status={"desiredNumberScheduled": 5})
    assert deleted(update(ds5, ns, pods)) == [("n5", why.UPDATE), ("n4", why.UPDATE), ("n3", why.UPDATE)]


def test_a16_example_5_canary_by_node_label():
    ns = [node("n1", labels={"nodeType": "canary"}), node("n2"), node("n3", labels={"nodeType": "canary"})]
    ds = daemonset(rolling_update={"partition": 0, "maxUnavailable": 3,
                                   "selector": {"matchLabels": {"nodeType": "canary"}}})
    pods = [pod(n, "v1") for n in ("n1", "n2", "n3")]
    assert deleted(update(ds, ns, pods)) == [("n3", why.UPDATE), ("n1", why.UPDATE)]
    ns[1]["metadata"]["labels"]["nodeType"] = "canary"  # labelling more nodes widens the rollout
    assert ("n2", why.UPDATE) in deleted(update(ds, ns, pods))


def test_partition_counts_misscheduled_nodes_and_empty_eligible_nodes():
    ns = nodes("n1", "n2") + [node("n3", taints=[{"key": "x", "effect": "NoSchedule"}])]
    pods = [pod("n1", "v1"), pod("n3", "v1")]  # n2 is eligible and empty, n3 misscheduled
    pods_map = update_map(ns, nodes_to_daemon_pods(pods), eligibility_by_node(ns, daemonset()))
    assert sorted(pods_map) == ["n1", "n2", "n3"]
    ds = daemonset(rolling_update={"partition": 1, "maxUnavailable": 3})
    assert nodes_to_update(ds, ns, pods_map, "v2") == ["n2", "n3"]


# ---------------------------------------------------------------------------------------------------------
# No-surge path

def test_no_surge_respects_max_unavailable_but_replaces_unavailable_old_pods_without_limit():
    """A10.3 (issues #898, #1323): unavailable old pods are replaced outside the budget."""
    ns = nodes(*names(4))
    pods = [pod("n1", "v1"), pod("n2", "v1"), pod("n3", "v1", ready=False), pod("n4", "v1", ready=False)]
    d = update(daemonset(rolling_update={"maxUnavailable": 1}), ns, pods)
    # walked n4, n3 (allowed), n2 (candidate: 0 unavailable counted so far), n1 (candidate)
    assert deleted(d) == [("n4", why.UPDATE_UNAVAILABLE), ("n3", why.UPDATE_UNAVAILABLE), ("n2", why.UPDATE)]


def test_no_surge_counts_unavailable_nodes_against_the_budget():
    ns = nodes(*names(4))
    pods = [pod("n1", "v1"), pod("n2", "v1"), pod("n4", "v2", ready=False)]  # n3 empty, n4 new not ready
    assert deleted(update(daemonset(rolling_update={"maxUnavailable": 2}), ns, pods)) == []
    assert deleted(update(daemonset(rolling_update={"maxUnavailable": 3}), ns, pods)) == [("n2", why.UPDATE)]
    # a terminating old pod is invisible: its node counts as empty, hence unavailable
    pods2 = [pod("n1", "v1"), pod("n2", "v1", terminating=True)]
    assert deleted(update(daemonset(rolling_update={"maxUnavailable": 1}), nodes("n1", "n2"), pods2)) == []


def test_no_surge_min_ready_seconds_availability():
    ns = nodes("n1", "n2")
    fresh = [pod("n1", "v1"), pod("n2", "v2", ready_for=5)]
    assert deleted(update(daemonset(rolling_update={"maxUnavailable": 1}, min_ready=10), ns, fresh)) == []
    settled = [pod("n1", "v1"), pod("n2", "v2", ready_for=11)]
    assert deleted(update(daemonset(rolling_update={"maxUnavailable": 1}, min_ready=10), ns, settled)) == [
        ("n1", why.UPDATE)]


def test_pre_deleting_pods_count_as_gone():
    pd = {"lifecycle.apps.kruise.io/state": "PreparingDelete"}
    ns = nodes("n1", "n2", "n3")
    pods = [pod("n1", "v1"), pod("n2", "v1"), pod("n3", "v1", labels=pd)]
    # n3 is "in progress" (unavailable): with maxUnavailable 1 nothing else goes
    assert deleted(update(daemonset(rolling_update={"maxUnavailable": 1}), ns, pods)) == []
    # a new pod on its way out next to a live old one: the node counts once, twice when it is also unavailable
    pods = [pod("n1", "v1"), pod("n2", "v1"), pod("n3", "v1"), pod("n3", "v2", labels=pd)]
    assert deleted(update(daemonset(rolling_update={"maxUnavailable": 2}), ns, pods)) == [("n2", why.UPDATE)]
    pods = [pod("n1", "v1"), pod("n2", "v1"), pod("n3", "v1"), pod("n3", "v2", labels=pd, ready=False)]
    assert deleted(update(daemonset(rolling_update={"maxUnavailable": 2}), ns, pods)) == []


# ---------------------------------------------------------------------------------------------------------
# Surge path

def test_a16_example_4_and_upstream_e2e_7_surge_with_min_ready_seconds():
    """maxSurge 100%, maxUnavailable 0, minReadySeconds 10: every node gets a second pod at once; old pods go only
    once the new pod has been ready for more than 10 s."""
    ns = nodes(*names(3))
    ds = daemonset(rolling_update={"maxSurge": "100%", "maxUnavailable": 0}, min_ready=10)
    old = [pod(n, "v1") for n in names(3)]
    d = update(ds, ns, old)
    assert [(c.node, c.reason) for c in d.create] == [("n3", why.SURGE_UPDATE), ("n2", why.SURGE_UPDATE),
                                                      ("n1", why.SURGE_UPDATE)]
    assert d.delete == []
    young = old + [pod(n, "v2", ready_for=5) for n in names(3)]
    assert update(ds, ns, young).delete == [] and update(ds, ns, young).create == []
    grown = old + [pod(n, "v2", ready_for=11) for n in names(3)]
    assert deleted(update(ds, ns, grown)) == [(n, why.SURGE_NEW_AVAILABLE) for n in ("n3", "n2", "n1")]


def test_surge_budget_and_unavailable_old_pods():
    ns = nodes(*names(3))
    ds = daemonset(rolling_update=SURGE)
    pods = [pod("n1", "v1"), pod("n2", "v1", ready=False), pod("n3", "v1")]
    d = update(ds, ns, pods)
    assert [(c.node, c.reason) for c in d.create] == [("n2", why.SURGE_REPLACE_UNAVAILABLE), ("n3", why.SURGE_UPDATE)]
    in_progress = pods + [pod("n3", "v2", ready=False)]
    assert [c.node for c in update(ds, ns, in_progress).create] == ["n2"]


# ---------------------------------------------------------------------------------------------------------
# In place (A11)

def test_in_place_split_and_burst():
    ds = daemonset(rolling_update={"rollingUpdateType": "InPlaceIfPossible", "maxUnavailable": 3}, burst=1)
    ns = nodes("n1", "n2", "n3")
    pods = [pod("n1", "v1", gates=["InPlaceUpdateReady"]), pod("n2", "v1", gates=["InPlaceUpdateReady"]),
            pod("n3", "v1")]
    ok = {p["metadata"]["name"] for p in pods[:2]}
    d = update(ds, ns, pods, in_place_ok=lambda p: p["metadata"]["name"] in ok)
    assert [u.node for u in d.update_in_place] == ["n2"]  # capped at burst 1
    assert d.skipped_in_place == [pods[0]["metadata"]["name"]]  # neither updated nor deleted this pass
    assert deleted(d) == [("n3", why.UPDATE)]
    # Standard never updates in place
    std = update(daemonset(rolling_update={"maxUnavailable": 3}), ns, pods, in_place_ok=lambda p: True)
    assert std.update_in_place == [] and len(std.delete) == 3


def _revision(hash_, image, labels=None):
    return {"metadata": {"name": f"d-{hash_}", "labels": {"controller-revision-hash": hash_}},
            "data": {"spec": {"template": {"metadata": {"labels": labels or {"app": "d"}},
                                           "spec": {"containers": [{"name": "c", "image": image}]}}}}}


def test_can_pod_update_in_place_upstream_e2e_4_and_5():
    """A17 tests 4 and 5: an image change is in place for pods with the readiness gate; an env change recreates;
    pods without the gate (created before InPlaceIfPossible) are recreated."""
    v1, v2 = _revision("v1", "img:v1"), _revision("v2", "img:v2")
    env = _revision("v3", "img:v2")
    env["data"]["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "foo", "value": "bar"}]
    gated = pod("n1", "v1", gates=["InPlaceUpdateReady"])
    assert can_pod_update_in_place(gated, v2, [v1])
    assert not can_pod_update_in_place(pod("n1", "v1"), v2, [v1])
    assert not can_pod_update_in_place(gated, env, [v1])
    assert not can_pod_update_in_place(gated, v2, [])  # its revision is unknown
    assert can_pod_update_in_place(gated, env, [v1], can_update=lambda old, new: True)


# ---------------------------------------------------------------------------------------------------------
# Properties

STATES = ["old", "old-unready", "new", "new-unready", "empty", "old+new", "old+new-unready"]


def _world(states):
    ns, pods = [], []
    for i, s in enumerate(states):
        n = f"n{i:02d}"
        ns.append(node(n))
        if "old" in s:
            pods.append(pod(n, "v1", ready="old-unready" not in s))
        if "new" in s:
            pods.append(pod(n, "v2", ready="new-unready" not in s))
    return ns, pods


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(STATES), min_size=1, max_size=12), st.integers(1, 5), st.integers(0, 12))
def test_no_surge_never_takes_an_available_old_pod_beyond_max_unavailable(states, max_unavailable, partition):
    ns, pods = _world(states)
    ds = daemonset(rolling_update={"maxUnavailable": max_unavailable, "partition": partition},
                   status={"desiredNumberScheduled": len(ns)})
    d = update(ds, ns, pods)
    unavailable = sum(1 for s in states if s in ("empty", "old+new", "old+new-unready", "new-unready"))
    budgeted = [x for x in d.delete if x.reason == why.UPDATE]
    assert len(budgeted) <= max(0, max_unavailable - unavailable)
    assert len(d.delete) <= len(ns) - min(partition, len(ns))  # partition counts nodes
    assert len({x.node for x in d.delete}) == len(d.delete)  # at most one pod per node
    assert not d.create


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(STATES), min_size=1, max_size=12), st.integers(1, 5))
def test_surge_never_exceeds_max_surge_for_available_old_pods(states, max_surge):
    ns, pods = _world(states)
    d = update(daemonset(rolling_update={"maxSurge": max_surge, "maxUnavailable": 0}), ns, pods)
    surging = sum(1 for s in states if s == "old+new-unready")
    budgeted = [c for c in d.create if c.reason == why.SURGE_UPDATE]
    assert len(budgeted) <= max(0, max_surge - surging)
    # a new pod is only ever asked for on a node holding exactly one live old pod and no new one
    for c in d.create:
        assert states[int(c.node[1:])] in ("old", "old-unready")
