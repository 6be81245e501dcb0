"""Advanced DaemonSet's events and metrics, as the other kinds have them (spec A15): the events kubectl shows for
the DaemonSet, from source `daemonset-controller`, and the manager's /metrics counting the daemonset controller's
reconciles, their durations, its failures and its queue. No upstream e2e case checks events; A17 #1, #4 and #5
drive the same creates, in-place updates and recreations."""
from __future__ import annotations

import json

import pytest

from tests.kube import Cluster, wait_for

from .helpers import TESTAPP, Daemons, daemonset

pytestmark = pytest.mark.usefixtures("kruise")
ON_SIMULATED = {"nodeSelector": {"node.ack-kruise.io/simulated": "true"},
                "tolerations": daemonset("x")["spec"]["template"]["spec"]["tolerations"]}


def events(cluster: Cluster, namespace: str, name: str) -> list[dict]:
    """The events `kubectl get events` lists for the Advanced DaemonSet `name`."""
    out = cluster.kubectl("get", "events", "-o", "json", "--field-selector",
                          f"involvedObject.kind=DaemonSet,involvedObject.name={name}", namespace=namespace).stdout
    return [e for e in json.loads(out)["items"]
            if e["involvedObject"].get("apiVersion", "").startswith("apps.kruise.io/")]


def reasons(cluster: Cluster, namespace: str, name: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in events(cluster, namespace, name):
        out.setdefault(e["reason"], []).append(e)
    return out


def test_events_of_creates_in_place_updates_recreations_and_failures(cluster: Cluster, daemons: Daemons, kruise):
    def reconciles() -> dict[str, float]:
        return {"ok": sum(kruise.metric("controller_runtime_reconcile_total", controller="daemonset", result=r)
                          for r in ("success", "requeue_after")),
                "errors": kruise.metric("controller_runtime_reconcile_errors_total", controller="daemonset"),
                "timed": kruise.metric("controller_runtime_reconcile_time_seconds_count", controller="daemonset")}

    before = reconciles()
    sim = daemons.simulated_nodes()
    daemons.create(daemonset("ev", placement=ON_SIMULATED,
                             rolling={"rollingUpdateType": "InPlaceIfPossible", "maxUnavailable": 3}))
    pods = daemons.wait_on_nodes("ev", sim)
    names = sorted(p["metadata"]["name"] for p in pods.values())

    def has(reason: str, count: int):
        return lambda: len(reasons(cluster, daemons.ns, "ev").get(reason, [])) >= count
    wait_for(has("SuccessfulCreate", len(sim)), 20, "a SuccessfulCreate event per pod",
             describe=lambda: reasons(cluster, daemons.ns, "ev"))
    created = reasons(cluster, daemons.ns, "ev")["SuccessfulCreate"]
    assert sorted(e["message"] for e in created) == [f"Created pod: {n}" for n in names]
    assert {(e["type"], e["source"]["component"]) for e in created} == {("Normal", "daemonset-controller")}
    table = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=ev", namespace=daemons.ns).stdout
    assert "SuccessfulCreate" in table and "daemonset/ev" in table.lower(), table

    daemons.set_image("ev", f"{TESTAPP}:v2")  # in place: same pods
    daemons.wait_on_nodes("ev", sim, image=f"{TESTAPP}:v2")
    wait_for(has("SuccessfulUpdatePodInPlace", len(sim)), 20, "a SuccessfulUpdatePodInPlace event per pod",
             describe=lambda: reasons(cluster, daemons.ns, "ev"))
    in_place = reasons(cluster, daemons.ns, "ev")["SuccessfulUpdatePodInPlace"]
    assert sorted(n for n in names if any(n in e["message"] for e in in_place)) == names

    daemons.patch("ev", [{"op": "add", "path": "/spec/template/spec/containers/0/env",
                          "value": [{"name": "FOO", "value": "bar"}]}], "json")  # not in place: recreated
    wait_for(has("SuccessfulDelete", len(sim)), 60, "a SuccessfulDelete event per old pod",
             describe=lambda: reasons(cluster, daemons.ns, "ev"))
    deleted = reasons(cluster, daemons.ns, "ev")["SuccessfulDelete"]
    assert sorted(e["message"] for e in deleted) == [f"Deleted pod: {n}" for n in names]

    after = wait_for(lambda: (c := reconciles())["ok"] > before["ok"] and c, 20, "daemonset reconciles counted",
                     describe=reconciles)
    assert after["timed"] > before["timed"], "every reconcile has its duration observed"
    text = kruise.get("/metrics")
    assert 'controller_runtime_reconcile_time_seconds_bucket{controller="daemonset",le="+Inf"}' in text
    assert any(line.startswith('workqueue_depth{name="daemonset"} ') for line in text.splitlines()), text

    # A pod the API server refuses (a quota of 0 pods): a FailedCreate warning, and a failed reconcile counted.
    cluster.apply({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "no-pods"},
                   "spec": {"hard": {"pods": "0"}}}, daemons.ns)
    wait_for(lambda: cluster.core.read_namespaced_resource_quota("no-pods", daemons.ns).status.hard, 20,
             "the quota in force")
    daemons.create(daemonset("refused", placement=ON_SIMULATED))
    failed = wait_for(lambda: reasons(cluster, daemons.ns, "refused").get("FailedCreate"), 30, "a FailedCreate event",
                      describe=lambda: reasons(cluster, daemons.ns, "refused"))
    assert failed[0]["type"] == "Warning" and "exceeded quota" in failed[0]["message"], failed[0]
    wait_for(lambda: reconciles()["errors"] > after["errors"], 20, "the failed reconcile counted",
             describe=reconciles)
    assert daemons.pods("refused") == []
