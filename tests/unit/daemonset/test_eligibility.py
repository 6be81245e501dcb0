"""Node eligibility (A7.1, A7.2, A7.4): nodeShouldRunDaemonPod on the simulated pod (NewPod)."""
from controllers.daemonset.eligibility import (Eligibility, default_daemon_tolerations, node_should_run_daemon_pod,
                                               simulated_pod)

from .world import daemonset, node

RUN = Eligibility(True, True)
NEVER = Eligibility(False, False)
KEEP_ONLY = Eligibility(False, True)


def taint(key, effect, value=None):
    t = {"key": key, "effect": effect}
    if value is not None:
        t["value"] = value
    return t


def test_default_daemon_tolerations_and_host_network():
    keys = [(t["key"], t["effect"]) for t in default_daemon_tolerations(False)]
    assert keys == [("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
                    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                    ("node.kubernetes.io/unschedulable", "NoSchedule")]
    assert all(t["operator"] == "Exists" for t in default_daemon_tolerations(True))
    assert default_daemon_tolerations(True)[-1]["key"] == "node.kubernetes.io/network-unavailable"
    pod = simulated_pod(daemonset(template_spec={"containers": [], "hostNetwork": True,
                                                 "tolerations": [{"operator": "Exists"}]}))
    assert pod["metadata"]["namespace"] == "ns" and len(pod["spec"]["tolerations"]) == 8


def test_plain_node_runs_and_not_ready_unreachable_cordoned_nodes_stay_eligible():
    ds = daemonset()
    assert node_should_run_daemon_pod(node("n1"), ds) == RUN
    for key, effect in [("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
                        ("node.kubernetes.io/unschedulable", "NoSchedule"),
                        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                        ("node.kubernetes.io/pid-pressure", "NoSchedule")]:
        assert node_should_run_daemon_pod(node("n1", taints=[taint(key, effect)]), ds) == RUN, key
    # spec.unschedulable itself is not read
    cordoned = node("n1", taints=[taint("node.kubernetes.io/unschedulable", "NoSchedule")])
    cordoned["spec"]["unschedulable"] = True
    assert node_should_run_daemon_pod(cordoned, ds) == RUN


def test_network_unavailable_is_tolerated_only_with_host_network():
    n = node("n1", taints=[taint("node.kubernetes.io/network-unavailable", "NoSchedule")])
    assert node_should_run_daemon_pod(n, daemonset()) == KEEP_ONLY
    ds = daemonset(template_spec={"containers": [], "hostNetwork": True})
    assert node_should_run_daemon_pod(n, ds) == RUN


def test_taints():
    ds = daemonset()
    assert node_should_run_daemon_pod(node("n1", taints=[taint("x", "PreferNoSchedule")]), ds) == RUN
    assert node_should_run_daemon_pod(node("n1", taints=[taint("x", "NoSchedule")]), ds) == KEEP_ONLY
    assert node_should_run_daemon_pod(node("n1", taints=[taint("x", "NoExecute")]), ds) == NEVER
    both = node("n1", taints=[taint("x", "NoSchedule"), taint("y", "NoExecute")])
    assert node_should_run_daemon_pod(both, ds) == NEVER
    tolerating = daemonset(template_spec={"containers": [], "tolerations": [
        {"key": "x", "operator": "Equal", "value": "1", "effect": "NoExecute", "tolerationSeconds": 10}]})
    assert node_should_run_daemon_pod(node("n1", taints=[taint("x", "NoExecute", "1")]), tolerating) == RUN
    assert node_should_run_daemon_pod(node("n1", taints=[taint("x", "NoExecute", "2")]), tolerating) == NEVER
    # the e2e fixture tolerates everything
    everything = daemonset(template_spec={"containers": [], "tolerations": [{"operator": "Exists"}]})
    assert node_should_run_daemon_pod(both, everything) == RUN


def test_node_name_selector_and_affinity():
    assert node_should_run_daemon_pod(node("n1"), daemonset(template_spec={"nodeName": "n2"})) == NEVER
    assert node_should_run_daemon_pod(node("n2"), daemonset(template_spec={"nodeName": "n2"})) == RUN
    blue = daemonset(template_spec={"nodeSelector": {"daemonset-color": "blue"}})
    assert node_should_run_daemon_pod(node("n1"), blue) == NEVER
    assert node_should_run_daemon_pod(node("n1", labels={"daemonset-color": "blue"}), blue) == RUN
    required = {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]},
        {"matchExpressions": [{"key": "role", "operator": "In", "values": ["edge"]}]}]}
    by_name = daemonset(template_spec={"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": required}}})
    assert node_should_run_daemon_pod(node("n2"), by_name) == RUN
    assert node_should_run_daemon_pod(node("n3", labels={"role": "edge"}), by_name) == RUN
    assert node_should_run_daemon_pod(node("n1"), by_name) == NEVER
    # affinity and taints: affinity decides first (an untolerated NoSchedule does not make it KEEP_ONLY)
    assert node_should_run_daemon_pod(node("n1", taints=[taint("x", "NoSchedule")]), by_name) == NEVER


def test_upstream_e2e_2_complex_daemon_node_selector_relabel():
    """A17 test 2 ("should run and stop complex daemon"), the eligibility half: a pod only on the blue node, none
    once it turns green, then again once the nodeSelector says green."""
    blue, green = {"daemonset-color": "blue"}, {"daemonset-color": "green"}
    ds_blue = daemonset(template_spec={"nodeSelector": blue})
    ds_green = daemonset(template_spec={"nodeSelector": green})
    assert node_should_run_daemon_pod(node("n1"), ds_blue) == NEVER
    assert node_should_run_daemon_pod(node("n1", labels=blue), ds_blue) == RUN
    assert node_should_run_daemon_pod(node("n1", labels=green), ds_blue) == NEVER
    assert node_should_run_daemon_pod(node("n1", labels=green), ds_green) == RUN
