"""Advanced StatefulSet status conditions against the real API server."""
from __future__ import annotations

import pytest

from tests.kube import Cluster, wait_for

from .helpers import Sets, asts

pytestmark = pytest.mark.usefixtures("kruise")


def test_failed_create_pod_condition_while_a_quota_refuses_pods(cluster: Cluster, sets: Sets):
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "pods"}, "spec": {"hard": {"pods": "2"}}}
    cluster.apply(quota, sets.ns)
    # Until the quota controller has counted, admission refuses every pod ("status unknown for quota").
    wait_for(lambda: cluster.core.read_namespaced_resource_quota("pods", sets.ns).status.hard, 30, "quota counted")
    sets.create(asts("quota", 3))
    condition = wait_for(lambda: sets.condition("quota", "FailedCreatePod"), 30, "a FailedCreatePod condition",
                         describe=sets.describe("quota"))
    assert condition["status"] == "True"
    assert condition["message"].startswith("StatefulPodControl failed to create Pod error: ")
    assert "exceeded quota: pods" in condition["message"]
    assert sets.status("quota")["replicas"] == 2
    assert any(e["reason"] == "FailedCreate" and "exceeded quota" in e["message"] for e in sets.events("quota"))

    quota["spec"]["hard"]["pods"] = "3"
    cluster.apply(quota, sets.ns)
    sets.wait_ready("quota", 3, timeout=60)
    wait_for(lambda: sets.condition("quota", "FailedCreatePod") is None, 30, "the condition cleared")
