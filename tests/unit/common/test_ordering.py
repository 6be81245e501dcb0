from hypothesis import given, strategies as st

from functools import cmp_to_key

from controllers.common.ordering import (_ranked_less, _same_node_ranks, active_pods_key, active_pods_less,
                                         priority_sort, scatter_sort, sort_active_indexes, sort_for_deletion)

from .podfactory import pod


def sort_for_deletion_reference(pods, available=None):
    """The order of `sort_for_deletion` through the comparator, as upstream writes it."""
    ranks = _same_node_ranks(pods)
    return sorted(pods, key=cmp_to_key(lambda x, y: -1 if _ranked_less(x, y, ranks, available)
                                       else (1 if _ranked_less(y, x, ranks, available) else 0)))


def names(pods, indexes):
    return [pods[i]["metadata"]["name"] for i in indexes]


def test_active_pods_order_follows_kubecontroller():
    pods = [
        pod("ready-old", ready_since="2024-05-01T09:00:00Z"),
        pod("ready-new", ready_since="2024-05-01T11:30:00Z"),
        pod("running-not-ready", ready=False),
        pod("pending", phase="Pending", ready=False),
        pod("unassigned", node="", phase="Pending", ready=False),
        pod("restarted", ready_since="2024-05-01T09:00:00Z", restarts=3),
    ]
    order = names(pods, sort_active_indexes(pods, range(len(pods))))
    assert order == ["unassigned", "pending", "running-not-ready", "ready-new", "restarted", "ready-old"]
    assert active_pods_less(pods[4], pods[0]) and not active_pods_less(pods[0], pods[4])


def test_weight_priority_sums_matching_selectors():
    strategy = {"weightPriority": [
        {"weight": 50, "matchSelector": {"matchLabels": {"tier": "canary"}}},
        {"weight": 30, "matchSelector": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
    ]}
    pods = [pod("none"), pod("zone-a", labels={"zone": "a"}), pod("canary", labels={"tier": "canary"}),
            pod("both", labels={"tier": "canary", "zone": "a"}), pod("none2")]
    assert names(pods, priority_sort(pods, list(range(5)), strategy)) == ["both", "canary", "zone-a", "none", "none2"]


def test_order_priority_by_key_level_then_trailing_number():
    strategy = {"orderPriority": [{"orderedKey": "first"}, {"orderedKey": "second"}]}
    pods = [pod("s-9", labels={"second": "x9"}), pod("f-1", labels={"first": "v1"}),
            pod("f-10", labels={"first": "v10"}), pod("nokey"), pod("f-none", labels={"first": "abc"})]
    # v1.8.3 quirk kept: a pod without any key (level -1) sorts first.
    assert names(pods, priority_sort(pods, list(range(5)), strategy)) == ["nokey", "f-10", "f-1", "f-none", "s-9"]


def test_no_priority_keeps_the_order():
    pods = [pod("a"), pod("b")]
    assert priority_sort(pods, [1, 0], None) == [1, 0]
    assert priority_sort(pods, [1, 0], {"weightPriority": []}) == [1, 0]


def test_scatter_spreads_matching_pods_over_the_rollout():
    pods = [pod(f"p{i}", labels={"zone": "a" if i < 3 else "b"}) for i in range(9)]
    order = scatter_sort(pods, list(range(9)), [{"key": "zone", "value": "a"}])
    zones = [pods[i]["metadata"]["labels"]["zone"] for i in order]
    assert sorted(order) == list(range(9))
    # The three zone-a pods are not updated back to back: one early, one in the middle, one last.
    positions = [n for n, z in enumerate(zones) if z == "a"]
    assert positions[0] <= 2 and positions[-1] == 8 and all(b - a >= 2 for a, b in zip(positions, positions[1:]))


def test_scatter_leaves_small_groups_alone():
    pods = [pod("a", labels={"zone": "a"}), pod("b"), pod("c")]
    assert scatter_sort(pods, [0, 1, 2], [{"key": "zone", "value": "a"}]) == [0, 1, 2]


label_sets = st.fixed_dictionaries({}, optional={"zone": st.sampled_from(["a", "b", "c"]),
                                                  "tier": st.sampled_from(["x", "y"]),
                                                  "order": st.sampled_from(["p1", "p2", "p10", "q"])})


@given(labels=st.lists(label_sets, min_size=0, max_size=25),
       ready=st.lists(st.booleans(), min_size=25, max_size=25),
       strategy=st.sampled_from([None, {"weightPriority": [{"weight": 10, "matchSelector": {"matchLabels": {"tier": "x"}}}]},
                                 {"orderPriority": [{"orderedKey": "order"}]}]),
       scatter=st.sampled_from([None, [{"key": "zone", "value": "a"}],
                                [{"key": "zone", "value": "a"}, {"key": "tier", "value": "y"}]]),
       subset=st.data())
def test_update_order_is_a_permutation(labels, ready, strategy, scatter, subset):
    pods = [pod(f"p{i}", labels=l, ready=ready[i]) for i, l in enumerate(labels)]
    chosen = subset.draw(st.lists(st.sampled_from(range(len(pods))), unique=True) if pods else st.just([]))
    order = sort_active_indexes(pods, chosen)
    order = priority_sort(pods, order, strategy)
    order = scatter_sort(pods, order, scatter)
    assert sorted(order) == sorted(chosen)
    assert sorted(p["metadata"]["name"] for p in sort_for_deletion([pods[i] for i in chosen])) == \
        sorted(pods[i]["metadata"]["name"] for i in chosen)


def test_deletion_order_prefers_unavailable_cheap_and_crowded_pods():
    pods = [
        pod("costly", node="n1", annotations={"controller.kubernetes.io/pod-deletion-cost": "100"}),
        pod("alone", node="n2"),
        pod("crowded-1", node="n3", ready_since="2024-05-01T09:00:00Z"),
        pod("crowded-2", node="n3", ready_since="2024-05-01T10:00:00Z"),
        pod("not-ready", node="n4", ready=False),
        pod("bad-cost", node="n5", annotations={"controller.kubernetes.io/pod-deletion-cost": "+5"}),
    ]
    order = [p["metadata"]["name"] for p in sort_for_deletion(pods)]
    assert order[0] == "not-ready"
    assert order[1] == "crowded-2"  # shares a node; the later-ready one of the pair ranks higher
    assert order[-1] == "costly"
    unavailable = {"alone"}
    order = [p["metadata"]["name"] for p in sort_for_deletion(pods, lambda p: p["metadata"]["name"] not in unavailable)]
    assert order[0] == "alone"


times = st.sampled_from([None, "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "2024-05-01T11:30:00Z"])
pod_shapes = st.builds(
    lambda i, node, phase, ready, since, created, restarts, cost: pod(
        f"p{i}", node=node, phase=phase, ready=ready, ready_since=since, created=created, restarts=restarts,
        annotations={"controller.kubernetes.io/pod-deletion-cost": cost} if cost is not None else {}),
    st.integers(0, 10**6), st.sampled_from(["", "n1", "n2", "n3"]), st.sampled_from(["Pending", "Running", "Unknown", "Failed"]),
    st.booleans(), times, times, st.integers(0, 3), st.sampled_from([None, "-1", "0", "7", "+3", "x"]))


@given(pods=st.lists(pod_shapes, max_size=12, unique_by=lambda p: p["metadata"]["name"]),
       unavailable=st.sets(st.integers(0, 11)))
def test_sort_keys_order_like_the_upstream_comparators(pods, unavailable):
    def key_of(order):
        return [active_pods_key(p) for p in order]
    by_less = [pods[i] for i in sorted(range(len(pods)), key=cmp_to_key(
        lambda a, b: -1 if active_pods_less(pods[a], pods[b]) else (1 if active_pods_less(pods[b], pods[a]) else 0)))]
    by_key = [pods[i] for i in sort_active_indexes(pods, list(range(len(pods))))]
    assert key_of(by_less) == key_of(by_key)  # equal up to ties
    available = lambda p: p["metadata"]["name"] not in {f"p{i}" for i in unavailable}
    ref = sort_for_deletion_reference(pods, available)
    fast = sort_for_deletion(pods, available)
    ranks = {id(p): n for n, p in enumerate(ref)}
    # Same order up to pods the comparator cannot tell apart.
    for a, b in zip(ref, fast):
        if a is not b:
            assert not _ranked_less(a, b, _same_node_ranks(pods), available) and \
                not _ranked_less(b, a, _same_node_ranks(pods), available), (ranks[id(a)], ranks[id(b)])
