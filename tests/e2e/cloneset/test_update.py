"""CloneSet updates against the real API server: in-place (on the real node), recreate, partitions, surge,
pause, priority order, a broken rollout, revisions and rollback."""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.kube import Cluster, PodWatch

from .helpers import GUESTBOOK, SIM_IMAGE, CloneSets, cloneset, container_status, images, is_ready, revision_of, wait_for

pytestmark = pytest.mark.usefixtures("kruise")



def by_name(pods: list[dict]) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in pods}


def timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def condition(pod: dict, kind: str) -> dict:
    return next((c for c in pod.get("status", {}).get("conditions") or [] if c["type"] == kind), {})


def assert_in_place_state(pod: dict, before: dict, containers: list[str]) -> dict:
    """apps.kruise.io/inplace-update-state as OpenKruise writes it: the pod's new revision, when the update
    began, and the imageID (and containerID and restartCount) each updated container ran before; one batch, no
    next batch."""
    state = json.loads(pod["metadata"]["annotations"]["apps.kruise.io/inplace-update-state"])
    assert set(state) == {"revision", "updateTimestamp", "lastContainerStatuses", "containerBatchesRecord"}, state
    assert state["revision"] == revision_of(pod) != revision_of(before)
    assert timestamp(state["updateTimestamp"]) >= timestamp(pod["metadata"]["creationTimestamp"])
    assert state["lastContainerStatuses"] == {
        name: {"imageID": container_status(before, name)["imageID"],
               "containerID": container_status(before, name)["containerID"],
               "restartCount": container_status(before, name)["restartCount"]} for name in containers}
    assert [b["containers"] for b in state["containerBatchesRecord"]] == [containers]
    return state


def test_in_place_update_on_the_real_node_keeps_names_uids_and_ips(cluster: Cluster, cs: CloneSets):
    """Close to OpenKruise e2e "CloneSet ... in-place update images with the same imageID" (the containerID
    changes), on the real node and with a grace period: same names, UIDs and IPs, one restart. The grace period is read from a watch, every stored
    version in order: the drain (InPlaceUpdateReady and Ready False) is written first, the pod patch with the
    `apps.kruise.io/inplace-update-grace` annotation right after it, as upstream does, so that the pod leaves its
    Services before anything about it changes. A poll that samples the pod between those two writes sees it
    drained at v1 without the annotation yet (issue 19: that sample failed this test once); the watch checks
    that the annotation is stored before the image changes, and for the whole time between."""
    cs.create(cloneset("inplace", 2, f"{GUESTBOOK}:v1", real_node=True,
                       update={"type": "InPlaceIfPossible", "inPlaceUpdateStrategy": {"gracePeriodSeconds": 2}}))
    cs.wait_ready("inplace", 2, timeout=90)
    before = by_name(cs.pods("inplace"))
    with PodWatch(cluster, cs.ns, "app=inplace") as watch:
        cs.set_image("inplace", f"{GUESTBOOK}:v2")
        cs.wait_ready("inplace", 2, timeout=90)
    for name in before:
        versions = [(at, pod) for at, (_, pod) in zip(watch.received, watch.events) if pod["metadata"]["name"] == name]
        first_drained = next(i for i, (_, pod) in enumerate(versions) if not is_ready(pod))
        patched = next(i for i, (_, pod) in enumerate(versions) if image_of(pod).endswith(":v2"))
        assert first_drained < patched, f"{name}: the image changed before the pod was drained"
        assert not is_ready(versions[patched - 1][1]), f"{name}: the image changed while the pod was Ready"
        # The grace counts from the pod's last turn to not ready: a kubelet status write computed before the
        # kubelet saw the gate may land after the drain and turn Ready True again for a moment (seen once).
        drained = max(i for i in range(first_drained, patched) if not is_ready(versions[i][1])
                      and (i == first_drained or is_ready(versions[i - 1][1])))
        graced = [i for i, (_, pod) in enumerate(versions[:patched]) if GRACE in pod["metadata"]["annotations"]]
        assert graced, f"{name}: the grace annotation was never stored before the image changed"
        for _, pod in versions[first_drained:patched]:
            gate = condition(pod, "InPlaceUpdateReady")
            assert (gate["status"], gate["reason"]) == ("False", "StartInPlaceUpdate")
            assert image_of(pod).endswith(":v1")
        assert not any(is_ready(pod) for _, pod in versions[drained:patched])
        for _, pod in versions[graced[0]:patched]:
            assert GRACE in pod["metadata"]["annotations"], f"{name}: the grace annotation went before the image"
        assert GRACE not in versions[patched][1]["metadata"]["annotations"]
        waited = versions[patched][0] - versions[drained][0]
        assert waited >= 2 - 0.05, f"{name}: the image changed {waited:.2f}s after the drain"
    after = by_name(cs.pods("inplace"))
    assert after.keys() == before.keys()
    for name, pod in after.items():
        assert pod["metadata"]["uid"] == before[name]["metadata"]["uid"]
        assert pod["status"]["podIP"] == before[name]["status"]["podIP"]
        assert container_status(pod)["restartCount"] == 1
        assert_in_place_state(pod, before[name], ["main"])
    assert any(e["reason"] == "SuccessfulUpdatePodInPlace" for e in cs.events("inplace"))


GRACE = "apps.kruise.io/inplace-update-grace"


def image_of(pod: dict) -> str:
    return pod["spec"]["containers"][0]["image"]


def test_in_place_grace_period_holds_the_pod_not_ready_before_its_image_changes(cluster: Cluster, cs: CloneSets):
    """gracePeriodSeconds is the time between draining the pod (InPlaceUpdateReady and Ready False) and
    patching its image; the watch sees both writes and every one in between."""
    grace = 2
    cs.create(cloneset("grace", 1, update={"type": "InPlaceIfPossible",
                                           "inPlaceUpdateStrategy": {"gracePeriodSeconds": grace}}))
    cs.wait_ready("grace", 1)
    [before] = cs.pods("grace")
    with PodWatch(cluster, cs.ns, "app=grace") as watch:
        cs.set_image("grace", f"{SIM_IMAGE}:v2")
        cs.wait_ready("grace", 1)
    seen = list(zip(watch.received, (pod for _, pod in watch.events)))
    drained = next(i for i, (_, pod) in enumerate(seen) if not is_ready(pod))
    patched = next(i for i, (_, pod) in enumerate(seen) if image_of(pod) == f"{SIM_IMAGE}:v2")
    gate = condition(seen[drained][1], "InPlaceUpdateReady")
    assert (gate["status"], gate["reason"]) == ("False", "StartInPlaceUpdate")
    for _, pod in seen[drained:patched]:
        assert not is_ready(pod) and image_of(pod) == f"{SIM_IMAGE}:v1"
    assert "apps.kruise.io/inplace-update-grace" in seen[patched - 1][1]["metadata"]["annotations"]
    assert "apps.kruise.io/inplace-update-grace" not in seen[patched][1]["metadata"]["annotations"]
    # Both times are when the watch received the event: the same stream, so the same delivery delay (allow 50 ms).
    waited = seen[patched][0] - seen[drained][0]
    assert waited >= grace - 0.05, f"the image changed {waited:.2f}s after the drain"
    [after] = cs.pods("grace")
    assert after["metadata"]["uid"] == before["metadata"]["uid"] and container_status(after)["restartCount"] == 1
    assert_in_place_state(after, before, ["main"])


def test_a_template_metadata_change_is_applied_in_place_without_a_restart(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("meta", 2, update={"type": "InPlaceIfPossible"}))
    cs.wait_ready("meta", 2)
    before = by_name(cs.pods("meta"))
    cs.patch("meta", {"spec": {"template": {"metadata": {"labels": {"tier": "gold"},
                                                         "annotations": {"example.io/note": "in place"}}}}})
    status = cs.wait_ready("meta", 2)["status"]
    after = by_name(cs.pods("meta"))
    assert after.keys() == before.keys()
    for name, pod in after.items():
        assert pod["metadata"]["uid"] == before[name]["metadata"]["uid"]
        assert pod["metadata"]["labels"]["tier"] == "gold"
        assert pod["metadata"]["annotations"]["example.io/note"] == "in place"
        assert revision_of(pod) == status["updateRevision"] != revision_of(before[name])
        assert container_status(pod)["restartCount"] == 0, "no container changed: nothing restarts"
        assert container_status(pod)["containerID"] == container_status(before[name])["containerID"]
        state = json.loads(pod["metadata"]["annotations"]["apps.kruise.io/inplace-update-state"])
        assert state["revision"] == status["updateRevision"] and state["lastContainerStatuses"] is None
    assert sum(e["reason"] == "SuccessfulUpdatePodInPlace" for e in cs.events("meta")) == 2


def test_in_place_only_updates_an_image_in_place(cs: CloneSets):
    cs.create(cloneset("only", 2, update={"type": "InPlaceOnly"}))
    cs.wait_ready("only", 2)
    before = by_name(cs.pods("only"))
    cs.set_image("only", f"{SIM_IMAGE}:v2")
    cs.wait_ready("only", 2)
    after = by_name(cs.pods("only"))
    assert after.keys() == before.keys()
    for name, pod in after.items():
        assert pod["metadata"]["uid"] == before[name]["metadata"]["uid"]
        assert image_of(pod) == f"{SIM_IMAGE}:v2" and container_status(pod)["restartCount"] == 1
        assert condition(pod, "InPlaceUpdateReady")["status"] == "True"
        assert_in_place_state(pod, before[name], ["main"])
    assert sum(e["reason"] == "SuccessfulUpdatePodInPlace" for e in cs.events("only")) == 2


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


@pytest.mark.parametrize("field, value", [
    ("env", [{"name": "MODE", "value": "new"}]),
    # Resources change in place only with the InPlaceWorkloadVerticalScaling gate, which OpenKruise keeps off.
    ("resources", {"requests": {"cpu": "10m"}}),
])
def test_in_place_if_possible_recreates_when_more_than_images_change(cluster: Cluster, cs: CloneSets, field, value):
    cs.create(cloneset("fallback", 2, update={"type": "InPlaceIfPossible"}))
    cs.wait_ready("fallback", 2)
    before = {p["metadata"]["uid"] for p in cs.pods("fallback")}
    with PodWatch(cluster, cs.ns, "app=fallback") as watch:
        cs.patch("fallback", [{"op": "add", "path": f"/spec/template/spec/containers/0/{field}", "value": value}],
                 "json")
        cs.wait_ready("fallback", 2)
        wait_for(lambda: len(cs.pods("fallback", True)) == 2, 30, "the old pods gone")
    assert {p["metadata"]["uid"] for p in watch.deleted()} == before
    assert [p["spec"]["containers"][0][field] for p in cs.pods("fallback")] == [value, value]
    assert not any(e["reason"] == "SuccessfulUpdatePodInPlace" for e in cs.events("fallback"))


def test_in_place_only_refuses_non_image_changes(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("strict", 1, update={"type": "InPlaceOnly"}))
    result = cluster.kubectl("patch", "clone", "strict", "--type=json", "-p", json.dumps(
        [{"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [{"name": "A", "value": "b"}]}]),
        namespace=cs.ns, check=False)
    assert result.returncode != 0 and "only allowed to update images in spec for InPlaceOnly, but found add " \
                                      "/containers/0/env" in result.stderr, result.stderr


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


def test_a_broken_image_stops_the_rollout_at_max_unavailable(cluster: Cluster, cs: CloneSets):
    cs.create(cloneset("broken", 5, update={"type": "ReCreate", "maxUnavailable": 2}))
    cs.wait_ready("broken", 5)
    with PodWatch(cluster, cs.ns, "app=broken") as watch:
        cs.set_image("broken", f"{SIM_IMAGE}:broken")
        wait_for(lambda: cs.status("broken").get("updatedReplicas") == 2, 30, "two updated pods")
        # The rollout holds there: the updated pods never become ready, so no further pod is touched.
        wait_for(lambda: (s := cs.status("broken")).get("readyReplicas") == 3 and s.get("replicas") == 5
                 and len(cs.pods("broken", True)) == 5, 30, "3 old pods still serving")
        status = cs.status("broken")
    assert status["updatedReplicas"] == 2
    # At every moment: at most 2 pods on the broken image, and never fewer than 3 Ready pods.
    assert watch.fewest_ready() == 3
    assert watch.most(lambda p: image_of(p) == f"{SIM_IMAGE}:broken") == 2
    assert len(watch.created()) == 2 and len(watch.deleted()) == 2
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


def test_order_priority_orders_the_rollout(cluster: Cluster, cs: CloneSets):
    """orderPriority: pods with the first key go first, highest trailing number first, then the second key. A pod
    with none of the keys goes before all of them (OpenKruise v1.8.3's sort gives it level -1)."""
    cs.create(cloneset("ordered", 4, update={
        "type": "ReCreate", "maxUnavailable": 1,
        "priorityStrategy": {"orderPriority": [{"orderedKey": "example.io/first"},
                                               {"orderedKey": "example.io/second"}]}}))
    cs.wait_ready("ordered", 4)
    keys = {"a": "example.io/first=group-2", "b": "example.io/first=group-7", "c": "example.io/second=group-9",
            "d": None}
    for pod, (tag, label) in zip(sorted(by_name(cs.pods("ordered"))), keys.items()):
        cluster.kubectl("label", "pod", pod, f"tag={tag}", *([label] if label else []), namespace=cs.ns)
    with PodWatch(cluster, cs.ns, "app=ordered") as watch:
        cs.set_image("ordered", f"{SIM_IMAGE}:v2")
        cs.wait_ready("ordered", 4)
    assert [p["metadata"]["labels"]["tag"] for p in watch.deleted()] == ["d", "b", "a", "c"]


def test_scatter_strategy_spreads_matching_pods_over_the_rollout(cluster: Cluster, cs: CloneSets):
    """Weights fix the base order rank 1..6 (ranks 1-3 in zone a); the scatter term zone=a spreads those three
    over the batches of two that the partition lets through: {1,4}, {2,5}, {3,6} instead of {1,2}, {3,4}, {5,6}."""
    cs.create(cloneset("scatter", 6, update={
        "type": "ReCreate", "maxUnavailable": 2, "partition": 4,
        "priorityStrategy": {"weightPriority": [{"weight": 70 - 10 * rank,
                                                 "matchSelector": {"matchLabels": {"rank": str(rank)}}}
                                                for rank in range(1, 7)]},
        "scatterStrategy": [{"key": "zone", "value": "a"}]}))
    cs.wait_ready("scatter", 6)
    for rank, pod in enumerate(sorted(by_name(cs.pods("scatter"))), start=1):
        cluster.kubectl("label", "pod", pod, f"rank={rank}", f"zone={'a' if rank <= 3 else 'b'}", namespace=cs.ns)
    with PodWatch(cluster, cs.ns, "app=scatter") as watch:
        cs.set_image("scatter", f"{SIM_IMAGE}:v2")
        for partition, updated in ((4, 2), (2, 4), (0, 6)):
            cs.patch("scatter", {"spec": {"updateStrategy": {"partition": partition}}})
            wait_for(lambda: (s := cs.status("scatter")).get("updatedReadyReplicas") == updated
                     and s.get("readyReplicas") == 6 and len(cs.pods("scatter", True)) == 6, 30,
                     f"{updated} pods updated")
    ranks = [int(p["metadata"]["labels"]["rank"]) for p in watch.deleted()]
    assert [set(ranks[i:i + 2]) for i in (0, 2, 4)] == [{1, 4}, {2, 5}, {3, 6}], ranks


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
    assert s["conditions"] == [], "neither FailedScale nor FailedUpdate"
    # events are posted after the writes they report, and may trail the status
    wait_for(lambda: "SuccessfulCreate" in {e["reason"] for e in cs.events("stat")}, 30, "a SuccessfulCreate event")
    assert all(is_ready(p) for p in cs.pods("stat"))


def test_a_revision_name_taken_by_another_object_bumps_collision_count(cluster: Cluster, cs: CloneSets):
    """The ControllerRevision name is `<cloneset>-<hash of the template and collisionCount>`: when an object of
    another owner holds it, status.collisionCount goes up and the next name is used, as upstream."""
    cs.create(cloneset("coll", 0))
    taken = wait_for(lambda: cs.status("coll").get("updateRevision"), 30, "the first revision")
    cluster.kubectl("delete", "clone", "coll", namespace=cs.ns)
    def revisions() -> set[str]:
        return {r.metadata.name for r in cluster.apps.list_namespaced_controller_revision(cs.ns).items}
    wait_for(lambda: taken not in revisions(), 30, f"{taken} garbage-collected")
    cluster.apply({"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": taken},
                   "revision": 1, "data": {"someone": "else"}}, cs.ns)
    cs.create(cloneset("coll", 1))
    status = cs.wait_ready("coll", 1)["status"]
    assert status["collisionCount"] == 1 and status["updateRevision"] != taken
    assert revision_of(cs.pods("coll")[0]) == status["updateRevision"]
    foreign = cluster.apps.read_namespaced_controller_revision(taken, cs.ns)
    assert foreign.data == {"someone": "else"} and not foreign.metadata.owner_references


def test_an_in_place_update_of_a_container_never_started_completes_once_the_new_image_runs(cs: CloneSets):
    """Issue 19: a container the kubelet had not started when the update began (its image never pulled) is
    recorded with no containerID (restartCount 0), and the update is done once a container runs the spec's new
    image, not as soon as any container runs (the kubelet may first start the old spec). No upstream case."""
    cs.create(cloneset("unstarted", 1, f"{SIM_IMAGE}:broken", update={"type": "InPlaceIfPossible"}))
    wait_for(lambda: (pods := cs.pods("unstarted")) and container_status(pods[0]).get("state", {}).get("waiting"),
             30, "the container waiting on its image")
    [before] = cs.pods("unstarted")
    assert not container_status(before).get("containerID")
    cs.set_image("unstarted", f"{SIM_IMAGE}:v2")
    cs.wait_ready("unstarted", 1, timeout=60)
    [after] = cs.pods("unstarted")
    assert after["metadata"]["uid"] == before["metadata"]["uid"], "updated in place"
    status = container_status(after)
    assert status["image"] == f"{SIM_IMAGE}:v2" and status["containerID"] and status["ready"]
    state = json.loads(after["metadata"]["annotations"]["apps.kruise.io/inplace-update-state"])
    assert state["lastContainerStatuses"] == {"main": {"restartCount": container_status(before)["restartCount"]}}
    assert condition(after, "InPlaceUpdateReady")["status"] == "True"
