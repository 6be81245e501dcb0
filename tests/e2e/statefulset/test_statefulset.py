"""Advanced StatefulSet against the real API server: the seed walkthrough, identity, storage, ordering,
updates, reserveOrdinals, ordinals.start with its feature gate off, and side by side with the native StatefulSet
controller."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.kube import Cluster, PodWatch, container_status, is_ready, wait_for

from .helpers import GUESTBOOK, SIM, Sets, asts, columns

pytestmark = pytest.mark.usefixtures("kruise")
REPO = Path(__file__).resolve().parents[3]


def test_seed_statefulset_walkthrough(cluster: Cluster, sets: Sets):
    out = cluster.kubectl("create", "-f", str(REPO / "examples/seed/statefulset.yaml"), namespace=sets.ns)
    assert out.stdout.strip() == "statefulset.apps.kruise.io/demo-asts created"
    sets.wait_ready("demo-asts", 3, timeout=90)
    pods = columns(cluster.kubectl("get", "pod", namespace=sets.ns).stdout)
    assert pods[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [r[:4] for r in pods[1:]] == [[f"demo-asts-{i}", "1/1", "Running", "0"] for i in range(3)]
    table = columns(cluster.kubectl("get", "asts", namespace=sets.ns).stdout)
    assert table[0] == ["NAME", "DESIRED", "CURRENT", "UPDATED", "READY", "AGE"]
    assert table[1][:5] == ["demo-asts", "3", "3", "3", "3"]
    before = {p["metadata"]["name"]: p for p in sets.pods("demo-asts")}
    for name, pod in before.items():
        assert pod["spec"]["hostname"] == name and pod["spec"]["subdomain"] == "demo-asts"
        labels = pod["metadata"]["labels"]
        assert labels["statefulset.kubernetes.io/pod-name"] == name
        assert labels["apps.kubernetes.io/pod-index"] == name.rsplit("-", 1)[1]
        assert labels["controller-revision-hash"].startswith("demo-asts-")
    # In-place upgrade (podUpdatePolicy InPlaceIfPossible): the pods keep their UIDs.
    sets.set_image("demo-asts", f"{GUESTBOOK}:v2")
    sets.wait_ready("demo-asts", 3, timeout=120)
    for name, pod in {p["metadata"]["name"]: p for p in sets.pods("demo-asts")}.items():
        assert pod["metadata"]["uid"] == before[name]["metadata"]["uid"]
        assert container_status(pod)["restartCount"] == 1, "restarted in place by the real kubelet"
        assert pod["spec"]["containers"][0]["image"] == f"{GUESTBOOK}:v2"
    table = columns(cluster.kubectl("get", "asts", namespace=sets.ns).stdout)
    assert table[1][:5] == ["demo-asts", "3", "3", "3", "3"]


def test_ordered_ready_creates_in_order_and_halts_on_an_unhealthy_pod(cluster: Cluster, sets: Sets):
    sets.create(asts("ordered", 3, f"{SIM}:broken", parallel=False, rolling={"maxUnavailable": 1}))
    wait_for(lambda: sets.names("ordered") == ["ordered-0"], 30, "the first pod")
    # ordered-0 never becomes ready (broken image): nothing else is created.
    wait_for(lambda: sets.status("ordered").get("replicas") == 1, 30, "status observed")
    assert sets.names("ordered") == ["ordered-0"]
    # Fix the template and replace the broken pod: then 1 and 2 follow, in order.
    with PodWatch(cluster, sets.ns, "app=ordered") as watch:
        sets.set_image("ordered", f"{SIM}:v1")
        cluster.kubectl("delete", "pod", "ordered-0", "--wait=false", namespace=sets.ns)
        sets.wait_ready("ordered", 3)
    assert [p["metadata"]["name"] for p in watch.created()] == ["ordered-0", "ordered-1", "ordered-2"]
    sets.patch("ordered", {"spec": {"replicas": 1}})
    sets.wait_ready("ordered", 1)
    assert sets.names("ordered", include_terminating=False) == ["ordered-0"]


def test_parallel_burst_scale_up_and_down(sets: Sets):
    sets.create(asts("burst", 8))
    sets.wait_ready("burst", 8)
    assert sets.names("burst") == [f"burst-{i}" for i in range(8)]
    sets.patch("burst", {"spec": {"replicas": 2}})
    sets.wait_ready("burst", 2)


def test_identity_and_pvcs_survive_pod_deletion(cluster: Cluster, sets: Sets):
    vct = cluster.static_volumes(sets.ns, 2)
    sets.create(asts("web", 2, volumeClaimTemplates=vct))
    try:
        sets.wait_ready("web", 2, timeout=90)
        claims = {c.metadata.name for c in cluster.core.list_namespaced_persistent_volume_claim(sets.ns).items}
        assert claims == {"data-web-0", "data-web-1"}
        old = cluster.pod(sets.ns, "web-1")
        cluster.kubectl("delete", "pod", "web-1", "--wait=false", namespace=sets.ns)
        wait_for(lambda: (p := cluster.pod(sets.ns, "web-1"))["metadata"]["uid"] != old["metadata"]["uid"]
                 and is_ready(p), 60, "web-1 recreated with the same name")
        pod = cluster.pod(sets.ns, "web-1")
        assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}} in pod["spec"]["volumes"]
        # Scale down with the default retention (Retain): the claim stays.
        sets.patch("web", {"spec": {"replicas": 1}})
        sets.wait_ready("web", 1)
        claims = {c.metadata.name for c in cluster.core.list_namespaced_persistent_volume_claim(sets.ns).items}
        assert "data-web-1" in claims
        # whenScaled Delete: a scaled-away ordinal's claim goes with its pod.
        sets.patch("web", {"spec": {"replicas": 2}})
        sets.wait_ready("web", 2, timeout=60)
        sets.patch("web", {"spec": {"persistentVolumeClaimRetentionPolicy": {"whenScaled": "Delete",
                                                                              "whenDeleted": "Retain"}}})
        sets.patch("web", {"spec": {"replicas": 1}})
        wait_for(lambda: "data-web-1" not in {c.metadata.name for c in
                                             cluster.core.list_namespaced_persistent_volume_claim(sets.ns).items},
                 60, "the scaled-away claim deleted")
    finally:
        cluster.kubectl("delete", "pv", "-l", f"test={sets.ns}", "--wait=false")


def test_partition_canary(sets: Sets):
    sets.create(asts("canary", 4, rolling={"partition": 2, "maxUnavailable": 2}))
    sets.wait_ready("canary", 4)
    sets.set_image("canary", f"{SIM}:v2")
    wait_for(lambda: sets.status("canary").get("updatedReplicas") == 2 and sets.status("canary").get("readyReplicas") == 4,
             60, "ordinals >= 2 updated")
    images = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in sets.pods("canary")}
    assert images == {"canary-0": f"{SIM}:v1", "canary-1": f"{SIM}:v1", "canary-2": f"{SIM}:v2", "canary-3": f"{SIM}:v2"}
    sets.patch("canary", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}})
    sets.wait_ready("canary", 4)


def test_reserve_ordinals_skip_ordinals(sets: Sets):
    sets.create(asts("gaps", 3, reserveOrdinals=[1]))
    sets.wait_ready("gaps", 3)
    assert sets.names("gaps") == ["gaps-0", "gaps-2", "gaps-3"]
    sets.patch("gaps", {"spec": {"reserveOrdinals": [1, "2-3"]}})
    wait_for(lambda: sets.names("gaps") == ["gaps-0", "gaps-4", "gaps-5"], 60, "ordinals 2-3 reserved too")


def test_ordinals_start_is_ignored_with_its_feature_gate_off(sets: Sets):
    """StatefulSetStartOrdinal is off by default (policies/feature-gates.yaml), as in OpenKruise: the field is
    stored but the pods are numbered from 0 (with the gate on: test_feature_gates.py)."""
    sets.create(asts("later", 2, ordinals={"start": 5}))
    sets.wait_ready("later", 2)
    assert sets.names("later") == ["later-0", "later-1"]
    assert sets.get("later")["spec"]["ordinals"] == {"start": 5}


def test_in_place_update_keeps_pod_uids_on_the_real_node(sets: Sets):
    sets.create(asts("inplace", 2, f"{GUESTBOOK}:v1", real_node=True,
                     rolling={"podUpdatePolicy": "InPlaceIfPossible", "maxUnavailable": 1,
                              "inPlaceUpdateStrategy": {"gracePeriodSeconds": 1}}))
    sets.wait_ready("inplace", 2, timeout=90)
    before = {p["metadata"]["name"]: p["metadata"]["uid"] for p in sets.pods("inplace")}
    sets.set_image("inplace", f"{GUESTBOOK}:v2")
    sets.wait_ready("inplace", 2, timeout=90)
    after = {p["metadata"]["name"]: p for p in sets.pods("inplace")}
    assert {n: p["metadata"]["uid"] for n, p in after.items()} == before
    assert all(container_status(p)["restartCount"] == 1 for p in after.values())


def test_recreate_update_goes_from_the_highest_ordinal(cluster: Cluster, sets: Sets):
    sets.create(asts("recreate", 3, parallel=False))
    sets.wait_ready("recreate", 3)
    with PodWatch(cluster, sets.ns, "app=recreate") as watch:
        sets.set_image("recreate", f"{SIM}:v2")
        sets.wait_ready("recreate", 3)
    assert [p["metadata"]["name"] for p in watch.created()] == ["recreate-2", "recreate-1", "recreate-0"]


def test_scale_subresource_and_status(cluster: Cluster, sets: Sets):
    sets.create(asts("scaled", 1))
    sets.wait_ready("scaled", 1)
    cluster.kubectl("scale", "asts/scaled", "--replicas=3", namespace=sets.ns)
    obj = sets.wait_ready("scaled", 3)
    s = obj["status"]
    assert s["labelSelector"] == "app=scaled"
    for field in ("replicas", "readyReplicas", "availableReplicas", "currentReplicas", "updatedReplicas",
                  "updatedReadyReplicas", "updatedAvailableReplicas"):
        assert s[field] == 3, field
    assert s["observedGeneration"] == obj["metadata"]["generation"]


def test_specified_delete_recreates_the_pod(cluster: Cluster, sets: Sets):
    sets.create(asts("spec", 2))
    sets.wait_ready("spec", 2)
    uid = cluster.pod(sets.ns, "spec-0")["metadata"]["uid"]
    cluster.kubectl("label", "pod", "spec-0", "apps.kruise.io/specified-delete=true", namespace=sets.ns)
    wait_for(lambda: (p := cluster.pod(sets.ns, "spec-0"))["metadata"]["uid"] != uid and is_ready(p), 60,
             "spec-0 recreated")


def test_same_names_pvcs_and_order_as_the_native_statefulset(cluster: Cluster, sets: Sets):
    """The same template under both controllers, in two namespaces: pod names, hostnames, PVC names, and the
    exact order of creation (OrderedReady) and of deletion on scale-down match kube-controller-manager's
    StatefulSet (both seen by a pod watch)."""
    native_ns = f"{sets.ns[:50]}-native"
    cluster.create_namespace(native_ns)
    # Volumes for both sets' claims (the storage class is named after this test's namespace).
    vct = cluster.static_volumes(sets.ns, 6)
    try:
        kruise = asts("twin", 3, parallel=False, volumeClaimTemplates=vct)
        kruise["spec"]["template"]["spec"].pop("readinessGates")
        native = json.loads(json.dumps(kruise))
        native["apiVersion"] = "apps/v1"
        native["spec"]["updateStrategy"] = {"type": "RollingUpdate"}
        namespaces = {"native": native_ns, "kruise": sets.ns}

        def ready(side: str, replicas: int) -> bool:
            if side == "kruise":
                s = sets.status("twin")
                return s.get("readyReplicas") == s.get("replicas") == replicas
            s = cluster.apps.read_namespaced_stateful_set("twin", native_ns).status
            return s.ready_replicas == s.replicas == replicas

        def claims(ns: str) -> list[str]:
            return sorted(c.metadata.name for c in cluster.core.list_namespaced_persistent_volume_claim(ns).items)

        with PodWatch(cluster, native_ns, "app=twin") as native_watch, \
                PodWatch(cluster, sets.ns, "app=twin") as kruise_watch:
            cluster.kubectl("create", "-f", "-", input=json.dumps(native), namespace=native_ns)
            sets.create(kruise)
            wait_for(lambda: ready("native", 3) and ready("kruise", 3), 90, "3 ready pods in each set")
        created = {side: [p["metadata"]["name"] for p in w.created()]
                   for side, w in (("native", native_watch), ("kruise", kruise_watch))}
        assert created["native"] == created["kruise"] == ["twin-0", "twin-1", "twin-2"]
        assert claims(native_ns) == claims(sets.ns) == ["data-twin-0", "data-twin-1", "data-twin-2"]
        for ns in namespaces.values():
            for pod in cluster.pods(ns, "app=twin"):
                assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == (pod["metadata"]["name"], "twin")

        with PodWatch(cluster, native_ns, "app=twin") as native_watch, \
                PodWatch(cluster, sets.ns, "app=twin") as kruise_watch:
            cluster.kubectl("scale", "statefulsets.apps/twin", "--replicas=1", namespace=native_ns)
            cluster.kubectl("scale", "statefulsets.apps.kruise.io/twin", "--replicas=1", namespace=sets.ns)
            wait_for(lambda: all(len(cluster.pods(ns, "app=twin")) == 1 for ns in namespaces.values()), 90,
                     "one pod left in each set")
        deleted = {side: [p["metadata"]["name"] for p in w.deleted()]
                   for side, w in (("native", native_watch), ("kruise", kruise_watch))}
        assert deleted["native"] == deleted["kruise"] == ["twin-2", "twin-1"]
        # The default retention (Retain) keeps every claim in both.
        assert claims(native_ns) == claims(sets.ns) == ["data-twin-0", "data-twin-1", "data-twin-2"]
    finally:
        cluster.delete_namespace(native_ns, wait=False)
        cluster.kubectl("delete", "pv", "-l", f"test={sets.ns}", "--wait=false")


def test_a_killed_controller_resumes_without_losing_or_duplicating_pods(sandbox, cluster: Cluster, sets: Sets):
    """As for CloneSet: killed mid scale-up and mid rollout, the set ends with exactly its ordinals."""
    def kill() -> None:
        sandbox.kill_manager()
        sandbox.restart_manager()

    sets.create(asts("crash", 20, rolling={"maxUnavailable": "20%"}))
    wait_for(lambda: 0 < len(sets.pods("crash", True)) < 20, 30, "a scale-up under way", interval=0.02)
    kill()
    sets.wait_ready("crash", 20, timeout=120)
    assert sets.names("crash") == [f"crash-{i}" for i in range(20)]
    sets.set_image("crash", f"{SIM}:v2")
    wait_for(lambda: 0 < sets.status("crash").get("updatedReplicas", 0) < 20, 30, "a rollout under way", interval=0.02)
    kill()
    obj = sets.wait_ready("crash", 20, timeout=180)
    assert sets.names("crash") == [f"crash-{i}" for i in range(20)]
    assert all(p["spec"]["containers"][0]["image"] == f"{SIM}:v2" for p in sets.pods("crash"))
    assert len(cluster.apps.list_namespaced_controller_revision(sets.ns).items) == 2
    assert obj["status"]["currentRevision"] == obj["status"]["updateRevision"]
