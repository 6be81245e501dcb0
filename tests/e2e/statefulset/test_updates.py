"""Advanced StatefulSet updates against the real API server, pods on the simulated nodes: OnDelete, paused,
minReadySeconds, unordered updates by priority, in place (InPlaceOnly, the grace period), lifecycle hooks,
revision history and rollback, phased rollouts, specified delete, and what forces a recreate."""
from __future__ import annotations

import json

import pytest

from tests.kube import Cluster, PodWatch, container_status, is_ready, wait_for

from .helpers import SIM, Sets, asts, image_of, names, ordinal, revision_of

pytestmark = pytest.mark.usefixtures("kruise")
STATE = "lifecycle.apps.kruise.io/state"
IN_PLACE = {"podUpdatePolicy": "InPlaceIfPossible", "maxUnavailable": 1}


def uids(sets: Sets, name: str) -> dict[str, str]:
    return {n: p["metadata"]["uid"] for n, p in sets.by_name(name).items()}


def images(sets: Sets, name: str) -> dict[str, str]:
    return {n: image_of(p) for n, p in sets.by_name(name).items()}


def not_ready(pods: list[dict]) -> int:
    return sum(1 for p in pods if not is_ready(p) or p["metadata"].get("deletionTimestamp"))


def test_on_delete_updates_a_pod_only_when_it_is_deleted(cluster: Cluster, sets: Sets):
    obj = asts("ondelete", 3)
    obj["spec"]["updateStrategy"] = {"type": "OnDelete"}
    sets.create(obj)
    sets.wait_ready("ondelete", 3)
    before = uids(sets, "ondelete")
    with PodWatch(cluster, sets.ns, "app=ondelete") as watch:
        sets.set_image("ondelete", f"{SIM}:v2")
        old = sets.wait_status("ondelete", updatedReplicas=0)["currentRevision"]
        cluster.kubectl("delete", "pod", "ondelete-1", "--wait=false", namespace=sets.ns)
        status = sets.wait_status("ondelete", updatedReplicas=1, readyReplicas=3)
    assert names(watch.deleted()) == ["ondelete-1"], "only the pod the user deleted"
    assert images(sets, "ondelete") == {"ondelete-0": f"{SIM}:v1", "ondelete-1": f"{SIM}:v2",
                                        "ondelete-2": f"{SIM}:v1"}
    after = uids(sets, "ondelete")
    assert after["ondelete-0"] == before["ondelete-0"] and after["ondelete-2"] == before["ondelete-2"]
    assert status["currentRevision"] == old != status["updateRevision"]
    assert revision_of(cluster.pod(sets.ns, "ondelete-1")) == status["updateRevision"]


def test_paused_holds_the_rollout_but_not_a_scale_up(cluster: Cluster, sets: Sets):
    sets.create(asts("paused", 2, rolling={"paused": True}))
    sets.wait_ready("paused", 2)
    with PodWatch(cluster, sets.ns, "app=paused") as watch:
        sets.set_image("paused", f"{SIM}:v2")
        sets.patch("paused", {"spec": {"replicas": 3}})
        # The new pod gets the update revision (partition 0); the paused rollout touches no existing pod.
        sets.wait_status("paused", replicas=3, readyReplicas=3, updatedReplicas=1)
        assert watch.deleted() == []
    assert images(sets, "paused") == {"paused-0": f"{SIM}:v1", "paused-1": f"{SIM}:v1", "paused-2": f"{SIM}:v2"}
    sets.rolling("paused", paused=False)
    sets.wait_ready("paused", 3)
    assert set(images(sets, "paused").values()) == {f"{SIM}:v2"}


def test_min_ready_seconds_delays_availability_and_the_ordered_rollout(cluster: Cluster, sets: Sets):
    min_ready = 2
    # Ready conditions and availability use second-resolution timestamps, so a wait may be up to 1 s short.
    at_least = min_ready - 1
    with PodWatch(cluster, sets.ns, "app=slow") as created:
        sets.create(asts("slow", 2, parallel=False, rolling={"minReadySeconds": min_ready}))
        status = sets.wait_status("slow", readyReplicas=2)
        assert status["availableReplicas"] < 2, "slow-1 has only just become ready"
        sets.wait_status("slow", availableReplicas=2, updatedAvailableReplicas=2)
    ready0 = created.first(lambda _, p: p["metadata"]["name"] == "slow-0" and is_ready(p))
    added1 = created.first(lambda _, p: p["metadata"]["name"] == "slow-1")
    assert added1[1] - ready0[1] >= at_least, "OrderedReady waits until slow-0 is available"

    old = uids(sets, "slow")
    with PodWatch(cluster, sets.ns, "app=slow") as watch:
        sets.set_image("slow", f"{SIM}:v2")
        sets.wait_ready("slow", 2)
        sets.wait_status("slow", availableReplicas=2)
    assert names(watch.deleted()) == ["slow-1", "slow-0"]
    new1_ready = watch.first(lambda _, p: p["metadata"]["name"] == "slow-1"
                             and p["metadata"]["uid"] != old["slow-1"] and is_ready(p))
    delete0 = watch.first(lambda _, p: p["metadata"]["uid"] == old["slow-0"] and p["metadata"].get("deletionTimestamp"))
    assert delete0[1] - new1_ready[1] >= at_least, "slow-0 is replaced only once the new slow-1 is available"


def test_unordered_update_follows_the_priority_weights(cluster: Cluster, sets: Sets):
    priority = {"weightPriority": [{"weight": 100, "matchSelector": {"matchLabels": {"prio": "high"}}},
                                   {"weight": 50, "matchSelector": {"matchLabels": {"prio": "mid"}}}]}
    sets.create(asts("prio", 4, rolling={"maxUnavailable": 1, "unorderedUpdate": {"priorityStrategy": priority}}))
    sets.wait_ready("prio", 4)
    cluster.kubectl("label", "pod", "prio-0", "prio=high", namespace=sets.ns)
    cluster.kubectl("label", "pod", "prio-2", "prio=mid", namespace=sets.ns)
    with PodWatch(cluster, sets.ns, "app=prio") as watch:
        sets.set_image("prio", f"{SIM}:v2")
        sets.wait_ready("prio", 4)
    # Highest weight first; pods of equal weight from the highest ordinal down.
    expected = ["prio-0", "prio-2", "prio-3", "prio-1"]
    assert names(watch.deleted()) == expected
    assert names(watch.created()) == expected


def test_in_place_only_updates_images_in_place_and_holds_other_changes(cluster: Cluster, sets: Sets):
    sets.create(asts("only", 2, rolling={"podUpdatePolicy": "InPlaceOnly", "maxUnavailable": 1}))
    sets.wait_ready("only", 2)
    before = uids(sets, "only")
    sets.set_image("only", f"{SIM}:v2")
    sets.wait_ready("only", 2)
    assert uids(sets, "only") == before
    for pod in sets.pods("only"):
        assert image_of(pod) == f"{SIM}:v2" and container_status(pod)["restartCount"] == 1

    # An env change cannot be done in place: under InPlaceOnly the webhook refuses it (validateTemplateInPlaceOnly,
    # README "Admission rules")...
    env = {"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [{"name": "MODE", "value": "fast"}]}
    refused = cluster.kubectl("patch", "asts", "only", "--type=json", "-p", json.dumps([env]), namespace=sets.ns,
                                   check=False)
    assert refused.returncode != 0 and "spec.template.spec: Forbidden: invalid template modified with InPlaceOnly" \
        in refused.stderr, refused.stderr
    # ...but one made under another policy, held by the partition, then met by InPlaceOnly, is neither recreated:
    # the rollout holds and says why in a FailedUpdatePod condition.
    policy = "/spec/updateStrategy/rollingUpdate/podUpdatePolicy"
    with PodWatch(cluster, sets.ns, "app=only") as watch:
        sets.patch("only", [env, {"op": "replace", "path": policy, "value": "InPlaceIfPossible"},
                            {"op": "replace", "path": "/spec/updateStrategy/rollingUpdate/partition", "value": 2}],
                   "json")
        sets.patch("only", [{"op": "replace", "path": policy, "value": "InPlaceOnly"},
                            {"op": "replace", "path": "/spec/updateStrategy/rollingUpdate/partition", "value": 0}],
                   "json")
        condition = wait_for(lambda: sets.condition("only", "FailedUpdatePod"), 30, "a FailedUpdatePod condition")
        assert condition["status"] == "True"
        assert condition["message"] == "find strategy is InPlaceOnly but Pod only-1 can not update in-place"
        assert sets.status("only")["updatedReplicas"] == 0
        assert any(e["reason"] == "FailedUpdatePodInPlace" for e in sets.events("only"))
        # Rolled back (away from InPlaceOnly, which would refuse it): the pods are at the update revision again
        # and the condition goes.
        sets.patch("only", [{"op": "remove", "path": "/spec/template/spec/containers/0/env"},
                            {"op": "replace", "path": policy, "value": "InPlaceIfPossible"}], "json")
        sets.wait_ready("only", 2)
        wait_for(lambda: sets.condition("only", "FailedUpdatePod") is None, 30, "the condition cleared")
    assert watch.deleted() == [] and watch.created() == []
    assert uids(sets, "only") == before


def test_in_place_grace_period_keeps_the_pod_not_ready_before_the_image_changes(cluster: Cluster, sets: Sets):
    grace = 2
    sets.create(asts("grace", 1, rolling={**IN_PLACE, "inPlaceUpdateStrategy": {"gracePeriodSeconds": grace}}))
    sets.wait_ready("grace", 1)
    with PodWatch(cluster, sets.ns, "app=grace") as watch:
        sets.set_image("grace", f"{SIM}:v2")
        sets.wait_ready("grace", 1)
    drained = watch.first(lambda _, p: not is_ready(p))
    changed = watch.first(lambda _, p: image_of(p) == f"{SIM}:v2")
    assert drained and changed and drained[0] < changed[0]
    assert all(not is_ready(p) for _, p in watch.events[drained[0]:changed[0] + 1]), "not Ready throughout"
    assert changed[1] - drained[1] >= grace, f"the image changed {changed[1] - drained[1]:.2f}s after the drain"
    assert len(watch.created()) == 0 and container_status(cluster.pod(sets.ns, "grace-0"))["restartCount"] == 1


def test_pre_delete_hook_holds_a_recreate_update_until_the_label_goes(cluster: Cluster, sets: Sets):
    hook = {"preDelete": {"labelsHandler": {"example.io/hold": "true"}}}
    obj = asts("hooked", 2, lifecycle=hook)
    obj["spec"]["template"]["metadata"]["labels"]["example.io/hold"] = "true"
    sets.create(obj)
    sets.wait_ready("hooked", 2)
    with PodWatch(cluster, sets.ns, "app=hooked") as watch:
        sets.set_image("hooked", f"{SIM}:v2")
        wait_for(lambda: cluster.pod(sets.ns, "hooked-1")["metadata"]["labels"].get(STATE) == "PreparingDelete", 30,
                 "hooked-1 in PreparingDelete")
        # The status of this generation is written after the round that moved the pod: still there.
        sets.wait_status("hooked", updatedReplicas=0)
        assert watch.deleted() == []
        cluster.kubectl("label", "pod", "hooked-1", "example.io/hold-", namespace=sets.ns)
        wait_for(lambda: sets.status("hooked").get("updatedReplicas") == 1, 30, "hooked-1 replaced")
    released = watch.first(lambda _, p: p["metadata"]["name"] == "hooked-1"
                           and "example.io/hold" not in p["metadata"]["labels"])
    deleted = watch.first(lambda _, p: p["metadata"]["name"] == "hooked-1" and p["metadata"].get("deletionTimestamp"))
    assert released[0] < deleted[0], "deleted only after the hook label was removed"
    # The new hooked-1 carries the hook again (template label): hooked-0 now waits the same way.
    wait_for(lambda: cluster.pod(sets.ns, "hooked-0")["metadata"]["labels"].get(STATE) == "PreparingDelete", 30,
             "hooked-0 in PreparingDelete")
    cluster.kubectl("label", "pod", "hooked-0", "example.io/hold-", namespace=sets.ns)
    sets.wait_ready("hooked", 2)


def test_in_place_update_hook_holds_the_update_until_the_label_goes(cluster: Cluster, sets: Sets):
    hook = {"inPlaceUpdate": {"labelsHandler": {"example.io/upgrade": "hold"}}}
    obj = asts("inhook", 1, rolling=IN_PLACE, lifecycle=hook)
    obj["spec"]["template"]["metadata"]["labels"]["example.io/upgrade"] = "hold"
    sets.create(obj)
    sets.wait_ready("inhook", 1)
    uid = cluster.pod(sets.ns, "inhook-0")["metadata"]["uid"]
    with PodWatch(cluster, sets.ns, "app=inhook") as watch:
        sets.set_image("inhook", f"{SIM}:v2")
        wait_for(lambda: cluster.pod(sets.ns, "inhook-0")["metadata"]["labels"].get(STATE) == "PreparingUpdate", 30,
                 "inhook-0 in PreparingUpdate")
        sets.wait_status("inhook", updatedReplicas=0)
        assert image_of(cluster.pod(sets.ns, "inhook-0")) == f"{SIM}:v1"
        cluster.kubectl("label", "pod", "inhook-0", "example.io/upgrade-", namespace=sets.ns)
        # Updated in place; it stays Updated until the hook owner puts the label back.
        wait_for(lambda: cluster.pod(sets.ns, "inhook-0")["metadata"]["labels"].get(STATE) == "Updated", 30,
                 "inhook-0 Updated")
        cluster.kubectl("label", "pod", "inhook-0", "example.io/upgrade=hold", namespace=sets.ns)
        sets.wait_ready("inhook", 1)
    pod = cluster.pod(sets.ns, "inhook-0")
    assert pod["metadata"]["uid"] == uid and image_of(pod) == f"{SIM}:v2"
    assert pod["metadata"]["labels"][STATE] == "Normal"
    released = watch.first(lambda _, p: "example.io/upgrade" not in p["metadata"]["labels"])
    changed = watch.first(lambda _, p: image_of(p) == f"{SIM}:v2")
    assert released[0] < changed[0], "the image changed only after the hook label was removed"


def test_revision_history_limit_and_rollback_to_an_older_template(cluster: Cluster, sets: Sets):
    sets.create(asts("hist", 2, rolling={"maxUnavailable": 2}, revisionHistoryLimit=2))
    sets.wait_ready("hist", 2)
    by_image = {}
    for version in ("v1", "v2", "v3", "v4"):
        if version != "v1":
            sets.set_image("hist", f"{SIM}:{version}")
        by_image[version] = sets.wait_ready("hist", 2)["status"]["updateRevision"]
    # v4 is live; of the three old revisions only the newest two are kept. The round that writes the status
    # "v4 current" truncates the history after that write (upstream's order too): the status can be seen first.
    kept = [by_image["v2"], by_image["v3"], by_image["v4"]]

    def truncated() -> list[dict] | None:
        found = sets.revisions()
        return found if [r["metadata"]["name"] for r in found] == kept else None
    revisions = wait_for(truncated, 30, "the history truncated to the two newest old revisions",
                         describe=lambda: [r["metadata"]["name"] for r in sets.revisions()])
    newest = revisions[-1]["revision"]

    with PodWatch(cluster, sets.ns, "app=hist") as watch:
        sets.set_image("hist", f"{SIM}:v2")
        obj = sets.wait_ready("hist", 2)
    assert obj["status"]["updateRevision"] == by_image["v2"], "the old ControllerRevision is reused"
    revisions = {r["metadata"]["name"]: r for r in sets.revisions()}
    assert set(revisions) == {by_image["v2"], by_image["v3"], by_image["v4"]}
    assert revisions[by_image["v2"]]["revision"] == newest + 1
    assert {revision_of(p) for p in sets.pods("hist")} == {by_image["v2"]}
    assert set(images(sets, "hist").values()) == {f"{SIM}:v2"}
    assert len(watch.created()) == 2


def test_phased_rollout_lowers_the_partition_step_by_step(cluster: Cluster, sets: Sets):
    sets.create(asts("phased", 4, rolling={"partition": 4}))
    sets.wait_ready("phased", 4)
    with PodWatch(cluster, sets.ns, "app=phased") as watch:
        sets.set_image("phased", f"{SIM}:v2")
        sets.wait_status("phased", updatedReplicas=0, readyReplicas=4)
        for partition in (3, 1, 0):
            sets.rolling("phased", partition=partition)
            sets.wait_status("phased", updatedReplicas=4 - partition, readyReplicas=4)
            assert images(sets, "phased") == {f"phased-{i}": f"{SIM}:{'v2' if i >= partition else 'v1'}"
                                              for i in range(4)}
    assert names(watch.deleted()) == ["phased-3", "phased-2", "phased-1", "phased-0"]


def test_specified_delete_ignores_the_partition_and_respects_max_unavailable(cluster: Cluster, sets: Sets):
    sets.create(asts("marked", 4, rolling={"partition": 4, "maxUnavailable": 2}))
    sets.wait_ready("marked", 4)
    sets.set_image("marked", f"{SIM}:v2")
    sets.wait_status("marked", updatedReplicas=0)
    before = uids(sets, "marked")
    with PodWatch(cluster, sets.ns, "app=marked") as watch:
        cluster.kubectl("label", "pod", "marked-0", "marked-1", "marked-3", "apps.kruise.io/specified-delete=true",
                        namespace=sets.ns)
        wait_for(lambda: len(watch.created()) == 3 and len(sets.pods("marked")) == 4
                 and all(is_ready(p) for p in sets.pods("marked")), 60, "three pods replaced")
    assert sorted(names(watch.deleted()), key=ordinal) == ["marked-0", "marked-1", "marked-3"]
    assert watch.largest(not_ready) <= 2, "never more than maxUnavailable pods unavailable"
    after = uids(sets, "marked")
    assert after["marked-2"] == before["marked-2"]
    # The partition still holds every ordinal below 4 at the current revision: they come back as v1.
    assert set(images(sets, "marked").values()) == {f"{SIM}:v1"}


def test_a_resources_change_under_in_place_if_possible_recreates_the_pods(cluster: Cluster, sets: Sets):
    sets.create(asts("res", 2, rolling={**IN_PLACE, "maxUnavailable": 2}))
    sets.wait_ready("res", 2)
    before = uids(sets, "res")
    sets.patch("res", [{"op": "add", "path": "/spec/template/spec/containers/0/resources",
                        "value": {"requests": {"cpu": "10m"}}}], "json")
    sets.wait_ready("res", 2)
    after = sets.by_name("res")
    assert set(after) == set(before)
    for name, pod in after.items():
        assert pod["metadata"]["uid"] != before[name], f"{name} recreated"
        assert pod["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "10m"}}


def test_an_update_goes_through_while_scale_strategy_is_set(cluster: Cluster, sets: Sets):
    sets.create(asts("scaled", 3, rolling={"maxUnavailable": 2}, scaleStrategy={"maxUnavailable": 1}))
    sets.wait_ready("scaled", 3)
    with PodWatch(cluster, sets.ns, "app=scaled") as watch:
        sets.set_image("scaled", f"{SIM}:v2")
        sets.wait_ready("scaled", 3)
    assert set(images(sets, "scaled").values()) == {f"{SIM}:v2"}
    assert len(watch.deleted()) == 3
    assert watch.largest(not_ready) <= 2, "rollingUpdate.maxUnavailable still bounds the update"
