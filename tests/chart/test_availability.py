"""Availability of a fail-closed control plane (issue 22 §4): a PodDisruptionBudget in the API version each
supported Kubernetes version serves (policies/compatibility.yaml `chartObjects`), the zone spread where the
API server accepts it, hostNetwork with its ports, priorityClassName, and the combinations the chart refuses
with a message saying what to change."""
from __future__ import annotations

import pytest

from tests import k8s_openapi

from .conftest import VERSIONS, failure, find, render, require_schemas, version_args

SELECTOR = {"app.kubernetes.io/name": "ack-kruise", "app.kubernetes.io/instance": "ack-kruise",
            "app.kubernetes.io/component": "manager"}


def minor(version: str) -> int:
    return int(version.lstrip("v").split(".")[1])


@pytest.mark.parametrize("version, schemas, gate", VERSIONS)
def test_a_disruption_budget_in_the_version_s_api_keeps_one_replica(version: str, schemas: str, gate: bool) -> None:
    require_schemas(schemas)
    docs = render(*version_args(version, gate))
    pdb = find(docs, "PodDisruptionBudget")
    assert pdb["apiVersion"] == ("policy/v1" if minor(version) >= 21 else "policy/v1beta1")
    assert pdb["spec"] == {"minAvailable": 1, "selector": {"matchLabels": SELECTOR}}
    assert find(docs, "Deployment")["spec"]["selector"]["matchLabels"] == SELECTOR
    assert k8s_openapi.validate(pdb, schemas) == []


@pytest.mark.parametrize("version, schemas, gate", VERSIONS)
def test_replicas_spread_across_zones_where_the_api_server_accepts_it(version: str, schemas: str,
                                                                       gate: bool) -> None:
    require_schemas(schemas)
    deployment = find(render(*version_args(version, gate)), "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 2
    if minor(version) >= 18:
        assert spec["topologySpreadConstraints"] == [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": SELECTOR}}]
    else:
        assert "topologySpreadConstraints" not in spec   # unknown to the API server (alpha gate in 1.16/1.17)
    assert k8s_openapi.validate(deployment, schemas) == []
    off = find(render(*version_args(version, gate), "--set", "manager.topologySpread.enabled=false"), "Deployment")
    assert "topologySpreadConstraints" not in off["spec"]["template"]["spec"]


def test_the_budget_takes_max_unavailable_or_a_percentage_instead() -> None:
    pdb = find(render("--kube-version", "1.30.0", "--set", "manager.podDisruptionBudget.minAvailable=",
                      "--set", "manager.podDisruptionBudget.maxUnavailable=1"), "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1 and "minAvailable" not in pdb["spec"]
    pdb = find(render("--kube-version", "1.30.0", "--set", "manager.replicas=3",
                      "--set-string", "manager.podDisruptionBudget.minAvailable=50%"), "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == "50%"
    docs = render("--kube-version", "1.30.0", "--set", "manager.podDisruptionBudget.enabled=false",
                  "--set", "manager.replicas=1")
    assert not [d for d in docs if d["kind"] == "PodDisruptionBudget"]


def test_host_network_priority_class_and_ports() -> None:
    docs = render("--kube-version", "1.30.0", "--set", "manager.hostNetwork=true", "--set", "manager.webhookPort=10263",
                  "--set", "manager.healthPort=10264", "--set", "manager.metricsPort=10265",
                  "--set", "manager.priorityClassName=system-cluster-critical")
    spec = find(docs, "Deployment")["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True and spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert spec["priorityClassName"] == "system-cluster-critical"
    assert {p["name"]: p["containerPort"] for p in spec["containers"][0]["ports"]} == \
        {"webhook-server": 10263, "health": 10264, "metrics": 10265}
    assert "--webhook-port=10263" in spec["containers"][0]["args"]
    default = find(render("--kube-version", "1.30.0"), "Deployment")["spec"]["template"]["spec"]
    assert "hostNetwork" not in default and "dnsPolicy" not in default and "priorityClassName" not in default


@pytest.mark.parametrize("args, message", [
    (("--set", "manager.replicas=1"),
     "manager.podDisruptionBudget.minAvailable=1 with manager.replicas=1 allows no voluntary eviction"),
    (("--set", "manager.podDisruptionBudget.maxUnavailable=1"),
     "manager.podDisruptionBudget sets both minAvailable (1) and maxUnavailable (1)"),
    (("--set", "manager.podDisruptionBudget.minAvailable=", "--set", "manager.podDisruptionBudget.maxUnavailable=0"),
     "manager.podDisruptionBudget.maxUnavailable=0 allows no voluntary eviction"),
    (("--set", "manager.podDisruptionBudget.minAvailable="),
     "manager.podDisruptionBudget needs minAvailable or maxUnavailable (or enabled=false)"),
    (("--set", "manager.webhookPort=8000"),
     "manager.healthPort and manager.webhookPort are both 8000: the manager cannot listen twice on one port"),
    (("--set", "manager.hostNetwork=true", "--set", "manager.metricsPort=8000"),
     "(with manager.hostNetwork=true they are ports of the node: pick free ones)"),
])
def test_combinations_that_cannot_work_are_refused_saying_what_to_change(args: tuple[str, ...], message: str) -> None:
    assert message in failure("--kube-version", "1.30.0", *args)


@pytest.mark.parametrize("value", ["Not Valid", "UPPER", "-dash"])
def test_a_malformed_priority_class_name_is_refused(value: str) -> None:
    assert "manager.priorityClassName: Does not match pattern" in failure(
        "--kube-version", "1.30.0", "--set-string", f"manager.priorityClassName={value}")
