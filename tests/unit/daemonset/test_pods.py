"""Daemon pods: target node, the node map, pinning (A7.3), the created pod's template (A9.2), revisions."""
from controllers.daemonset.pods import (creation_order_key, daemon_pod_template, find_updated_pods_on_node,
                                        is_daemon_pod_available, is_pod_updated, nodes_to_daemon_pods, pin_to_node,
                                        target_node_name)

from .world import NOW, daemonset, pod

PIN = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n9"]}]}


def test_target_node_name():
    assert target_node_name(pod("n1")) == "n1"
    assert target_node_name(pod("n1", bound=False)) == "n1"  # from the pinning term
    assert target_node_name({"spec": {}}) is None
    two = pod("n1", bound=False)
    two["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0][
        "matchFields"][0]["values"] = ["a", "b"]
    assert target_node_name(two) is None


def test_nodes_to_daemon_pods_keeps_every_phase_and_drops_pods_without_node():
    a, b, c = pod("n1", phase="Failed"), pod("n1", terminating=True), pod("n2", phase="Succeeded")
    assert nodes_to_daemon_pods([a, b, c, {"metadata": {"name": "x"}, "spec": {}}]) == {"n1": [a, b], "n2": [c]}


def test_pin_replaces_required_terms_keeps_the_rest():
    p = {"spec": {"nodeName": "", "schedulerName": "s", "affinity": {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "role", "operator": "In", "values": ["edge"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {}}]},
        "podAntiAffinity": {"x": 1}}}}
    pinned = pin_to_node(p, "n9")
    na = pinned["spec"]["affinity"]["nodeAffinity"]
    assert na["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [PIN]
    assert na["preferredDuringSchedulingIgnoredDuringExecution"] == [{"weight": 1, "preference": {}}]
    assert pinned["spec"]["affinity"]["podAntiAffinity"] == {"x": 1}
    assert pinned["spec"]["schedulerName"] == "s" and not pinned["spec"]["nodeName"]
    # the input is untouched; no affinity at all gets one
    assert p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0] != PIN
    assert pin_to_node({"spec": {}}, "n9")["spec"]["affinity"] == {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [PIN]}}}
    assert target_node_name(pin_to_node({}, "n9")) == "n9"


def test_daemon_pod_template():
    ds = daemonset(rolling_update={"rollingUpdateType": "InPlaceIfPossible"},
                   template_spec={"containers": [], "readinessGates": [{"conditionType": "InPlaceUpdateReady"}]})
    t = daemon_pod_template(ds, "h1")
    assert t["metadata"]["labels"] == {"app": "d", "controller-revision-hash": "h1"}
    # appended without de-duplication, as upstream
    assert t["spec"]["readinessGates"] == [{"conditionType": "InPlaceUpdateReady"}] * 2
    assert len(t["spec"]["tolerations"]) == 6
    assert "readinessGates" not in daemon_pod_template(daemonset(), "h1")["spec"]
    legacy = daemonset(annotations={"deprecated.daemonset.template.generation": "3"})
    assert daemon_pod_template(legacy, "h1")["metadata"]["labels"]["pod-template-generation"] == "3"
    assert ds["spec"]["template"]["metadata"]["labels"] == {"app": "d"}  # not mutated


def test_revision_matching_and_find_updated_pods():
    assert is_pod_updated(pod("n1", "v2"), "v2") and not is_pod_updated(pod("n1", "v1"), "v2")
    legacy = pod("n1", "v1", labels={"pod-template-generation": "4"})
    assert is_pod_updated(legacy, "v2", 4) and not is_pod_updated(legacy, "v2", 5)
    new, old = pod("n1", "v2"), pod("n1", "v1")
    assert find_updated_pods_on_node([new, old, pod("n1", "v1", terminating=True)], "v2") == (new, old, True)
    assert find_updated_pods_on_node([new, pod("n1", "v2")], "v2") == (None, None, False)
    assert find_updated_pods_on_node([], "v2") == (None, None, True)


def test_creation_order_scheduled_first_then_oldest_then_name():
    a = pod("n1", name="b", age=10)
    b = pod("n1", name="a", age=10)
    c = pod("n1", name="c", age=100, bound=False)
    d = pod("n1", name="d", age=50)
    assert [p["metadata"]["name"] for p in sorted([a, b, c, d], key=creation_order_key)] == ["d", "a", "b", "c"]


def test_daemon_pod_availability_and_in_place_gate():
    assert is_daemon_pod_available(pod("n1", ready_for=20), 10, NOW)
    assert not is_daemon_pod_available(pod("n1", ready_for=10), 10, NOW)  # strictly more than minReadySeconds
    gated = pod("n1", gates=["InPlaceUpdateReady"])
    assert is_daemon_pod_available(gated, 0, NOW)  # a missing condition does not block
    gated["status"]["conditions"].append({"type": "InPlaceUpdateReady", "status": "False"})
    assert not is_daemon_pod_available(gated, 0, NOW)
