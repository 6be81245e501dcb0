"""UnitedDeployment on the sandbox's simulated nodes (zones zone-a..c), with each of the four subset workload
kinds: the upstream e2e cases of openkruise-1.9/daemonset-uniteddeployment.md B12 #1 and #2, and the adapters
(B9), partitions (B10), revisions (B6), status, scale subresource and printer columns (B1, B4)."""
from __future__ import annotations

import json

import pytest

from tests.kube import wait_for

from .helpers import (API, SUBSET_LABEL, TEMPLATE_KINDS, TESTAPP, ZONE, Uds, united_deployment, zone_term)

ZONES = ["zone-a", "zone-b", "zone-c"]
pytestmark = pytest.mark.parametrize("kind", TEMPLATE_KINDS)


def test_elastic_allocator(uds: Uds, kind: str) -> None:
    """B12 #1 "united deployment with elastic allocator": min/max (1,2), (1,2), (1,∞); 3 → {1,1,1}; 7 → {2,2,3};
    1 → {1,0,0}."""
    subsets = [{"name": "s0", "nodeSelectorTerm": zone_term("zone-a"), "minReplicas": 1, "maxReplicas": 2},
               {"name": "s1", "nodeSelectorTerm": zone_term("zone-b"), "minReplicas": 1, "maxReplicas": 2},
               {"name": "s2", "nodeSelectorTerm": zone_term("zone-c"), "minReplicas": 1}]
    uds.create(united_deployment("elastic", kind, subsets, replicas=3))
    for replicas, expected in ((3, [1, 1, 1]), (7, [2, 2, 3]), (1, [1, 0, 0])):
        if replicas != 3:
            uds.scale("elastic", replicas)
        uds.wait_subset_replicas("elastic", dict(zip(["s0", "s1", "s2"], expected)))
        uds.wait_settled("elastic", replicas)
        uds.wait_pods("elastic", ["s0", "s1", "s2"], expected)


def test_specific_allocator(uds: Uds, kind: str) -> None:
    """B12 #2 "united deployment with specific allocator": 25%, 25%, unset; 3 → {1,1,1}; 4 → {1,1,2};
    1 → {0,0,1} (percentages round half up, the rest goes to the unset subset)."""
    subsets = [{"name": "s0", "nodeSelectorTerm": zone_term("zone-a"), "replicas": "25%"},
               {"name": "s1", "nodeSelectorTerm": zone_term("zone-b"), "replicas": "25%"},
               {"name": "s2", "nodeSelectorTerm": zone_term("zone-c")}]
    uds.create(united_deployment("specific", kind, subsets, replicas=3))
    for replicas, expected in ((3, [1, 1, 1]), (4, [1, 1, 2]), (1, [0, 0, 1])):
        if replicas != 3:
            uds.scale("specific", replicas)
        uds.wait_subset_replicas("specific", dict(zip(["s0", "s1", "s2"], expected)))
        uds.wait_settled("specific", replicas)
        uds.wait_pods("specific", ["s0", "s1", "s2"], expected)


def test_subset_workloads_zones_tolerations_and_patch(uds: Uds, kind: str) -> None:
    """B9.2: each subset workload is named <ud>-<subset>-<5 chars>, selects its subset, runs its pods in its
    zone, with the subset's tolerations, and its patch (a strategic merge: a label and the container's env)
    applied to its pod template and recorded in apps.kruise.io/subset-patch."""
    patch = {"metadata": {"labels": {"example.io/zone": "c"}},
             "spec": {"containers": [{"name": "main", "env": [{"name": "ZONE", "value": "c"}]}]}}
    subsets = [{"name": z, "nodeSelectorTerm": zone_term(z)} for z in ZONES]
    subsets[1]["tolerations"] = [{"key": "example.io/dedicated", "operator": "Exists", "effect": "NoSchedule"}]
    subsets[2]["patch"] = patch
    uds.create(united_deployment("placed", kind, subsets, replicas=6))
    uds.wait_settled("placed", 6)
    workloads = uds.subset_workloads(kind)
    assert sorted(workloads) == ZONES
    ud = uds.get("placed")
    revision = ud["status"]["updateStatus"]["updatedRevision"]
    for zone, workload in workloads.items():
        assert workload["metadata"]["name"].startswith(f"placed-{zone}-")
        assert workload["metadata"]["labels"][SUBSET_LABEL] == zone
        assert workload["metadata"]["labels"]["apps.kruise.io/controller-revision-hash"] == revision
        assert workload["spec"]["selector"]["matchLabels"] == {"app": "placed", SUBSET_LABEL: zone}
        assert workload["metadata"]["ownerReferences"][0]["uid"] == ud["metadata"]["uid"]
    annotation = workloads["zone-c"]["metadata"]["annotations"]["apps.kruise.io/subset-patch"]
    assert json.loads(annotation) == patch and workloads["zone-a"]["metadata"]["annotations"][
        "apps.kruise.io/subset-patch"] == ""
    uds.wait_pods("placed", ZONES, [2, 2, 2], ready=True)
    nodes = {n["metadata"]["name"]: n["metadata"]["labels"].get(ZONE) for n in uds.nodes()}  # the real node has none
    for pod in uds.pods("placed"):
        zone = pod["metadata"]["labels"][SUBSET_LABEL]
        assert nodes[pod["spec"]["nodeName"]] == zone
        assert pod["metadata"]["labels"]["apps.kruise.io/controller-revision-hash"] == revision
        tolerated = {t.get("key") for t in pod["spec"].get("tolerations") or []}
        assert ("example.io/dedicated" in tolerated) == (zone == "zone-b")
        env = pod["spec"]["containers"][0].get("env") or []
        assert (pod["metadata"]["labels"].get("example.io/zone") == "c") == (zone == "zone-c")
        assert ({"name": "ZONE", "value": "c"} in env) == (zone == "zone-c")


def test_manual_partitions_and_revisions(uds: Uds, kind: str) -> None:
    """B10 and B6: a template change relabels every subset with the new revision; a subset's partition keeps that
    many pods at the old one (ordinals below it for StatefulSets, a count for CloneSet; a Deployment has none);
    currentRevision moves once every pod is updated and ready; UnitedDeploymentUpdated follows."""
    subsets = [{"name": z, "nodeSelectorTerm": zone_term(z)} for z in ZONES[:2]]
    uds.create(united_deployment("rollout", kind, subsets, replicas=4,
                                 updateStrategy={"type": "Manual", "manualUpdate": {"partitions": {"zone-a": 2}}}))
    old = uds.wait_settled("rollout", 4)["status"]["currentRevision"]
    uds.wait_pods("rollout", ZONES[:2], [2, 2], ready=True)
    uds.patch("rollout", {"spec": {"template": {kind: {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": f"{TESTAPP}:v2"}]}}}}}}})

    def images() -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for pod in uds.pods("rollout"):
            if pod["status"].get("phase") == "Running":
                out.setdefault(pod["metadata"]["labels"][SUBSET_LABEL], []).append(
                    pod["spec"]["containers"][0]["image"].rsplit(":", 1)[1])
        return {k: sorted(v) for k, v in out.items()}
    zone_a = ["v2", "v2"] if kind == "deploymentTemplate" else ["v1", "v1"]
    wait_for(lambda: images() == {"zone-a": zone_a, "zone-b": ["v2", "v2"]}, 120, "zone-b updated, zone-a held",
             interval=0.5, describe=images)
    ud = uds.get("rollout")
    new = ud["status"]["updateStatus"]["updatedRevision"]
    assert new != old and ud["status"]["updateStatus"]["currentPartitions"] == {"zone-a": 2, "zone-b": 0}
    updated = {c["type"]: c for c in ud["status"]["conditions"]}["UnitedDeploymentUpdated"]
    if kind != "deploymentTemplate":
        assert ud["status"]["currentRevision"] == old and updated["status"] == "False"
    assert all(w["metadata"]["labels"]["apps.kruise.io/controller-revision-hash"] == new
               for w in uds.workloads(kind))
    # the partition lifted: everything moves, and the revision becomes current
    uds.patch("rollout", {"spec": {"updateStrategy": {"manualUpdate": {"partitions": {"zone-a": 0}}}}})
    wait_for(lambda: images() == {"zone-a": ["v2", "v2"], "zone-b": ["v2", "v2"]}, 120, "all updated",
             interval=0.5, describe=images)
    wait_for(lambda: uds.get("rollout")["status"]["currentRevision"] == new, 60, "currentRevision moves")
    wait_for(lambda: {c["type"]: c["status"] for c in uds.get("rollout")["status"]["conditions"]}[
        "UnitedDeploymentUpdated"] == "True", 30, "UnitedDeploymentUpdated True")


def test_subset_removed_and_template_kind_switched(uds: Uds, kind: str) -> None:
    """B9.1: a subset dropped from the topology has its workload deleted (its status entry stays); a template of
    another kind replaces every subset workload with that kind's."""
    subsets = [{"name": z, "nodeSelectorTerm": zone_term(z)} for z in ZONES]
    ud = uds.create(united_deployment("reshape", kind, subsets, replicas=3))
    uds.wait_settled("reshape", 3)
    uds.patch("reshape", {"spec": {"topology": {"subsets": subsets[:2]}}})
    wait_for(lambda: sorted(uds.subset_workloads(kind)) == ZONES[:2], 60, "zone-c's workload deleted")
    uds.wait_pods("reshape", ZONES, [1, 2, 0])  # the remainder goes to the later name among equals (B7.2)
    ud = uds.wait_settled("reshape", 3)
    assert [s["name"] for s in ud["status"]["subsetStatuses"]] == ZONES
    other = "deploymentTemplate" if kind != "deploymentTemplate" else "cloneSetTemplate"
    template = united_deployment("reshape", other, subsets[:2])["spec"]["template"]
    uds.patch("reshape", [{"op": "replace", "path": "/spec/template", "value": template}], "json")
    wait_for(lambda: not uds.workloads(kind) and sorted(uds.subset_workloads(other)) == ZONES[:2], 60,
             f"{kind} subsets replaced by {other} ones")
    uds.wait_settled("reshape", 3)
    uds.wait_pods("reshape", ZONES[:2], [1, 2])


def test_scale_subresource_and_printer_columns(uds: Uds, kind: str) -> None:
    """B1: `kubectl get ud` prints DESIRED CURRENT UPDATED READY AGE; the scale subresource (what an HPA uses)
    reads spec.replicas, status.replicas and status.labelSelector and writes spec.replicas."""
    subsets = [{"name": z, "nodeSelectorTerm": zone_term(z)} for z in ZONES]
    uds.create(united_deployment("scaled", kind, subsets, replicas=3))
    uds.wait_settled("scaled", 3)
    wait_for(lambda: uds.get("scaled")["status"].get("readyReplicas") == 3, 60, "3 ready")
    out = uds.cluster.kubectl("get", "ud", "scaled", namespace=uds.ns).stdout.split("\n")
    assert out[0].split() == ["NAME", "DESIRED", "CURRENT", "UPDATED", "READY", "AGE"]
    assert out[1].split()[:5] == ["scaled", "3", "3", "3", "3"]
    path = f"/apis/apps.kruise.io/v1alpha1/namespaces/{uds.ns}/uniteddeployments/scaled/scale"
    scale = json.loads(uds.cluster.kubectl("get", "--raw", path).stdout)
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 3, "selector": "app=scaled"}
    uds.scale("scaled", 5)
    uds.wait_settled("scaled", 5)
    assert uds.get("scaled")["spec"]["replicas"] == 5


def test_bad_specs_are_refused_with_the_field(uds: Uds, kind: str) -> None:
    """B3: the webhook refuses, names the field, and stores nothing."""
    subsets = [{"name": "s0", "replicas": 3}, {"name": "s1", "replicas": 2}]
    bad = united_deployment("refused", kind, subsets, replicas=4)
    proc = uds.cluster.kubectl("create", "-f", "-", input=json.dumps(bad), namespace=uds.ns, check=False)
    assert proc.returncode != 0
    assert ("spec.topology.subsets: Invalid value: 5: sum of indicated subset replicas 5 should not be greater than "
            "UnitedDeployment replicas 4") in proc.stderr
    adaptive = united_deployment("refused", kind, [{"name": "s0", "replicas": 1}, {"name": "s1"}], replicas=4)
    adaptive["spec"]["topology"]["scheduleStrategy"] = {"type": "Adaptive"}
    proc = uds.cluster.kubectl("create", "-f", "-", input=json.dumps(adaptive), namespace=uds.ns, check=False)
    assert "spec.topology.subsets[0].replicas: Forbidden: specify replicas use minReplicas/maxReplicas" in proc.stderr
    assert uds.cluster.kubectl("get", API, "refused", namespace=uds.ns, check=False).returncode != 0
    # on update: a subset's nodeSelectorTerm may not change
    good = united_deployment("kept", kind, [{"name": "s0", "nodeSelectorTerm": zone_term("zone-a")}], replicas=1)
    uds.create(good)
    proc = uds.cluster.kubectl("patch", API, "kept", "--type", "json", "-p", json.dumps(
        [{"op": "replace", "path": "/spec/topology/subsets/0/nodeSelectorTerm", "value": zone_term("zone-b")}]),
        namespace=uds.ns, check=False)
    assert "spec.topology.subsets[0].nodeSelectorTerm: Forbidden: may not be changed in an update" in proc.stderr
