"""The ContainerRecreateRequest webhook refuses bad requests with the field named and stores nothing; the
printer columns; the kruise-daemon's health and metrics endpoints (kruise-daemon.md §1.5, §3.1, §3.2)."""
from __future__ import annotations

import urllib.request

import pytest
from kubernetes.client.rest import ApiException

from tests.kube import wait_for

from .helpers import Recreations


def _refused(crr: Recreations, name: str, pod: str, containers: list, **spec) -> str:
    body = {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "ContainerRecreateRequest", "metadata": {"name": name},
            "spec": {"podName": pod, "containers": containers, **spec}}
    with pytest.raises(ApiException) as refused:
        crr.cluster.custom.create_namespaced_custom_object("apps.kruise.io", "v1alpha1", crr.ns,
                                                           "containerrecreaterequests", body)
    assert not crr.exists(name)
    return refused.value.body


def test_bad_requests_are_refused_with_the_field_named(crr: Recreations):
    pod = crr.cloneset(1)[0]["metadata"]["name"]
    assert "spec.podName: Not found" in _refused(crr, "a", "no-such-pod", [{"name": "app"}])
    assert "spec.containers: Required value" in _refused(crr, "b", pod, [])
    assert "spec.containers[0].name: Not found" in _refused(crr, "c", pod, [{"name": "nope"}])
    assert "spec.containers[1].name: Duplicate value" in _refused(crr, "d", pod, [{"name": "app"}, {"name": "app"}])
    assert "spec.containers[0].statusContext: Forbidden" in _refused(
        crr, "e", pod, [{"name": "app", "statusContext": {"containerID": "containerd://x", "restartCount": 0}}])
    assert "spec.activeDeadlineSeconds" in _refused(crr, "f", pod, [{"name": "app"}], activeDeadlineSeconds=2)
    assert "spec.strategy.failurePolicy" in _refused(crr, "g", pod, [{"name": "app"}],
                                                     strategy={"failurePolicy": "Sometimes"})
    assert "spec.strategy.unreadyGracePeriodSeconds" in _refused(crr, "h", pod, [{"name": "app"}],
                                                                 strategy={"unreadyGracePeriodSeconds": -1})


def test_spec_and_labels_are_immutable_and_printer_columns(crr: Recreations):
    pod = crr.cloneset(1)[0]["metadata"]["name"]
    crr.create("keep", pod, ["app"], activeDeadlineSeconds=300)
    for patch, field in (({"spec": {"activeDeadlineSeconds": 100}}, "spec: Forbidden"),
                         ({"metadata": {"labels": {"crr.apps.kruise.io/node-name": "elsewhere"}}},
                          "metadata.labels[crr.apps.kruise.io/node-name]: Forbidden")):
        with pytest.raises(ApiException) as refused:
            crr.cluster.custom.patch_namespaced_custom_object("apps.kruise.io", "v1alpha1", crr.ns,
                                                              "containerrecreaterequests", "keep", patch)
        assert field in refused.value.body
    assert crr.get("keep")["spec"]["activeDeadlineSeconds"] == 300
    crr.completed("keep", 70)
    out = crr.cluster.kubectl("get", "crr", "keep", namespace=crr.ns).stdout.split("\n")
    assert out[0].split() == ["NAME", "PHASE", "POD", "NODE", "AGE"]
    assert out[1].split()[:4] == ["keep", "Completed", pod, "real-node-0"]


def test_daemon_serves_health_and_metrics(crr: Recreations, sandbox):
    port = sandbox.state().ports["kruise-daemon-health"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
        assert r.status == 200 and r.read() == b"ok"
    pod = crr.cloneset(1)[0]["metadata"]["name"]
    crr.create("count", pod, ["app"])
    crr.completed("count", 70)

    def killed() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
        return 'kruise_daemon_containers_killed_total{reason="ContainerRecreateRequest"}' in text
    wait_for(killed, 10, "the kill counted in /metrics")
