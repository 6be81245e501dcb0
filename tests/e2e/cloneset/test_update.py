"""CloneSet updates against the real API server: in-place (on the real node), recreate, partitions, surge,
pause, priority order, a broken rollout, revisions and rollback."""
from __future__ import annotations

import json

import pytest

from tests.kube import Cluster, PodWatch

from .helpers import GUESTBOOK, SIM_IMAGE, CloneSets, cloneset, container_status, images, is_ready, revision_of, wait_for

pytestmark = pytest.mark.usefixtures("kruise")


@pytest.fixture
def cs(cluster: Cluster, namespace: str) -> CloneSets:
    return CloneSets(cluster, namespace)


def by_name(pods: list[dict]) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in pods}


def test_in_place_update_on_the_real_node_keeps_names_uids_and_ips(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("inplace", 2, f"{GUESTBOOK}:v1", real_node=True,
                       update={"type": "InPlaceIfPossible", "inPlaceUpdateStrategy": {"gracePeriodSeconds": 2}}))
    cs.wait_ready("inplace", 2, timeout=90)
    before = by_name(cs.pods("inplace"))
    cs.set_image("inplace", f"{GUESTBOOK}:v2")
    # During the grace period the pod is marked not ready through the InPlaceUpdateReady gate, images unchanged.
    def in_grace() -> dict | None:
        for p in cs.pods("inplace"):
            conds = {c["type"]: c for c in p["status"].get("conditions", [])}
            gate = conds.get("InPlaceUpdateReady", {})
            if gate.get("status") == "False" and p["spec"]["containers"][0]["image"].endswith(":v1"):
                return p
        return None
    graced = wait_for(in_grace, 30, "a pod in its in-place grace period")
    assert "apps.kruise.io/inplace-update-grace" in graced["metadata"]["annotations"]
    cs.wait_ready("inplace", 2, timeout=90)
    after = by_name(cs.pods("inplace"))
    assert after.keys() == before.keys()
    for name, pod in after.items():
        assert pod["metadata"]["uid"] == before[name]["metadata"]["uid"]
        assert pod["status"]["podIP"] == before[name]["status"]["podIP"]
        assert container_status(pod)["restartCount"] == 1
        state = json.loads(pod["metadata"]["annotations"]["apps.kruise.io/inplace-update-state"])
        assert state["revision"] == revision_of(pod) and "guestbook" not in state["lastContainerStatuses"].get("x", "")
        assert state["lastContainerStatuses"]["main"]["imageID"] == container_status(before[name])["imageID"]
    assert any(e["reason"] == "SuccessfulUpdatePodInPlace" for e in cs.events("inplace"))


def test_a_new_tag_with_the_same_digest_does_not_hang(cs: CloneSets):
    """OpenKruise #1493: `:v1-retag` is the very image of `:v1`, so the imageID does not change."""
    cs.create(cloneset("retag", 1, f"{GUESTBOOK}:v1", real_node=True, update={"type": "InPlaceIfPossible"}))
    cs.wait_ready("retag", 1, timeout=90)
    before = cs.pods("retag")[0]
    cs.set_image("retag", f"{GUESTBOOK}:v1-retag")
    cs.wait_ready("retag", 1, timeout=60)
    after = cs.pods("retag")[0]
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert container_status(after)["imageID"] == container_status(before)["imageID"]
    assert container_status(after)["restartCount"] == 1


def test_recreate_update_replaces_the_pods(cs: CloneSets):
    cs.create(cloneset("recreate", 3, update={"type": "ReCreate"}))
    cs.wait_ready("recreate", 3)
    before = set(by_name(cs.pods("recreate")))
    cs.set_image("recreate", f"{SIM_IMAGE}:v2")
    cs.wait_ready("recreate", 3)
    wait_for(lambda: len(cs.pods("recreate", True)) == 3, 30, "old pods gone")
    after = cs.pods("recreate")
    assert not before & set(by_name(after)), "every pod was replaced"
    assert images(after) == [f"{SIM_IMAGE}:v2"] * 3


def test_in_place_if_possible_recreates_when_more_than_images_change(cs: CloneSets):
    cs.create(cloneset("fallback", 2, update={"type": "InPlaceIfPossible"}))
    cs.wait_ready("fallback", 2)
    before = set(by_name(cs.pods("fallback")))
    cs.patch("fallback", [{"op": "add", "path": "/spec/template/spec/containers/0/env",
                           "value": [{"name": "MODE", "value": "new"}]}], "json")
    cs.wait_ready("fallback", 2)
    wait_for(lambda: not before & set(by_name(cs.pods("fallback", True))), 30, "pods recreated")


def test_in_place_only_refuses_non_image_changes(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("strict", 1, update={"type": "InPlaceOnly"}))
    result = cluster.kubectl("patch", "clone", "strict", "--type=json", "-p", json.dumps(
        [{"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [{"name": "A", "value": "b"}]}]),
        namespace=cs.ns, check=False)
    assert result.returncode != 0 and "only container images may change" in result.stderr


@pytest.mark.parametrize("partition, updated", [("99%", 1), (3, 1), ("50%", 2), (0, 4)])
def test_partition_keeps_pods_at_the_old_revision(cs: CloneSets, partition, updated):
    cs.create(cloneset("canary", 4, update={"type": "ReCreate", "partition": partition, "maxUnavailable": 4}))
    cs.wait_ready("canary", 4)
    first = cs.status("canary")["updateRevision"]
    cs.set_image("canary", f"{SIM_IMAGE}:v2")
    wait_for(lambda: (s := cs.status("canary")).get("updateRevision") != first
             and s.get("observedGeneration") == 2 and s.get("updatedReadyReplicas") == updated
             and s.get("readyReplicas") == 4 and s.get("expectedUpdatedReplicas") == updated
             and len(cs.pods("canary", True)) == 4, 60,
             f"{updated} updated pods", describe=lambda: cs.status("canary"))
    assert images(cs.pods("canary")).count(f"{SIM_IMAGE}:v2") == updated


def test_a_broken_image_stops_the_rollout_at_max_unavailable(cs: CloneSets):
    cs.create(cloneset("broken", 5, update={"type": "ReCreate", "maxUnavailable": 2}))
    cs.wait_ready("broken", 5)
    cs.set_image("broken", f"{SIM_IMAGE}:broken")
    wait_for(lambda: cs.status("broken").get("updatedReplicas") == 2, 30, "two updated pods")
    # The rollout holds there: the updated pods never become ready, so no further pod is touched.
    wait_for(lambda: cs.status("broken").get("readyReplicas") == 3 and len(cs.pods("broken")) == 5, 30,
             "3 old pods still serving")
    assert cs.status("broken")["updatedReplicas"] == 2
    cs.set_image("broken", f"{SIM_IMAGE}:v2")  # the fix rolls out
    cs.wait_ready("broken", 5, timeout=60)


def test_max_surge_creates_extra_pods_during_a_recreate_rollout(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("surge", 3, update={"type": "ReCreate", "maxSurge": 1, "maxUnavailable": 0}))
    cs.wait_ready("surge", 3)
    with PodWatch(cluster, cs.ns, "app=surge") as watch:
        cs.set_image("surge", f"{SIM_IMAGE}:v2")
        cs.wait_ready("surge", 3)
        wait_for(lambda: len(cs.pods("surge", True)) == 3, 30, "the last old pod gone")
    # One extra pod at a time (maxSurge 1), and never fewer than 3 ready (maxUnavailable 0).
    assert watch.most_pods() == 4, watch.counts()
    assert watch.fewest_ready() == 3
    assert len(watch.created()) == 3


def test_paused_holds_the_update_and_resuming_finishes_it(cs: CloneSets):
    cs.create(cloneset("pausable", 3, update={"type": "ReCreate", "paused": True}))
    cs.wait_ready("pausable", 3)
    cs.set_image("pausable", f"{SIM_IMAGE}:v2")
    wait_for(lambda: cs.status("pausable").get("observedGeneration") == 2, 30, "the change observed")
    assert cs.status("pausable")["updatedReplicas"] == 0
    cs.patch("pausable", {"spec": {"replicas": 4}})  # scaling continues while paused
    wait_for(lambda: cs.status("pausable").get("readyReplicas") == 4, 30, "scaled while paused")
    cs.patch("pausable", {"spec": {"updateStrategy": {"paused": False}}})
    cs.wait_ready("pausable", 4)


def test_priority_weights_order_the_rollout(cluster: Cluster, cs: CloneSets):
    weights = {"high": 100, "mid": 50, "low": 10}
    cs.create(cloneset("prio", 3, update={
        "type": "ReCreate", "maxUnavailable": 1,
        "priorityStrategy": {"weightPriority": [{"weight": w, "matchSelector": {"matchLabels": {"tier": t}}}
                                                for t, w in weights.items()]}}))
    cs.wait_ready("prio", 3)
    for pod, tier in zip(sorted(by_name(cs.pods("prio"))), ["low", "high", "mid"]):
        cluster.kubectl("label", "pod", pod, f"tier={tier}", namespace=cs.ns)
    with PodWatch(cluster, cs.ns, "app=prio") as watch:
        cs.set_image("prio", f"{SIM_IMAGE}:v2")
        cs.wait_ready("prio", 3)
    order = [p["metadata"]["labels"]["tier"] for p in watch.deleted()]
    assert order == ["high", "mid", "low"]


def test_revisions_history_limit_and_rollback(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("revs", 2, update={"type": "ReCreate", "maxUnavailable": 2}, revisionHistoryLimit=2))
    cs.wait_ready("revs", 2)
    first = cs.status("revs")["updateRevision"]
    for version in ("v2", "v3", "v4"):
        cs.set_image("revs", f"{SIM_IMAGE}:{version}")
        cs.wait_ready("revs", 2)
    revisions = {r.metadata.name: r for r in cluster.apps.list_namespaced_controller_revision(cs.ns).items}
    assert all(n.startswith("revs-") for n in revisions)
    assert len(revisions) <= 3, "history limit 2 plus the live revision"
    assert first not in revisions
    # Roll back to v3: its revision is reused (same name), with a higher revision number.
    v3 = next(n for n, r in revisions.items() if r.data["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v3"))
    old_number = revisions[v3].revision
    cs.set_image("revs", f"{SIM_IMAGE}:v3")
    cs.wait_ready("revs", 2)
    assert cs.status("revs")["updateRevision"] == v3
    assert cluster.apps.read_namespaced_controller_revision(v3, cs.ns).revision > old_number
    for pod in cs.pods("revs"):
        assert pod["metadata"]["labels"]["controller-revision-hash"] == v3
        assert pod["metadata"]["labels"]["pod-template-hash"] == v3.rsplit("-", 1)[1]


def test_status_reports_every_field(cs: CloneSets):
    cs.create(cloneset("stat", 3, minReadySeconds=0))
    obj = cs.wait_ready("stat", 3)
    s = obj["status"]
    assert s["observedGeneration"] == obj["metadata"]["generation"]
    for field in ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas", "updatedReadyReplicas",
                  "updatedAvailableReplicas", "expectedUpdatedReplicas"):
        assert s[field] == 3, field
    assert s["labelSelector"] == "app=stat"
    assert s["updateRevision"] == s["currentRevision"] and s["collisionCount"] == 0
    assert isinstance(s["conditions"], list)
    reasons = {e["reason"] for e in cs.events("stat")}
    assert "SuccessfulCreate" in reasons
    assert all(is_ready(p) for p in cs.pods("stat"))
