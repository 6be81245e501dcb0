"""The SidecarSet upgrade (sidecarset.md §5) on plain dicts: matched pods, predicates, the candidate selection
with upstream's golden numbers (`sidecarset_strategy_test.go`), the in-place pod write, completion only after
the restart, the status, and the v1.9.0 pipeline order."""
import json

import pytest

from controllers.common import actions as A
from controllers.sidecarset import annotations as keys
from controllers.sidecarset.status import compute_status
from controllers.sidecarset.upgrade import (is_state_consistent, is_updated, matched_pods, select_pods,
                                            upgradable, upgrade_pod)

from .upgrade_world import NOW, apply_pod_patches, injected_pod, plan_for, run, sidecarset


def factory_pods(ss, total, updated, updated_and_consistent, labels=lambda i: {}):
    """factoryPods: every pod Running and Ready; the first `updated` carry the SidecarSet's hash, and those past
    `updated_and_consistent` have been patched but their sidecar has not restarted yet."""
    pods = []
    for i in range(total):
        p = injected_pod(f"pod-{i:04d}", ss, hash_="h1" if i < updated else "h0", labels=labels(i))
        if updated_and_consistent <= i < updated:
            cid = p["status"]["containerStatuses"][0]["containerID"]
            state = {"ss": {"revision": "h1", "updateTimestamp": "2026-07-01T07:00:00Z",
                            "lastContainerStatuses": {"nginx-sidecar": {"imageID": "x", "containerID": cid}}}}
            p["metadata"]["annotations"][keys.INPLACE_UPDATE_STATE] = json.dumps(state)
        pods.append(p)
    return pods


GOLDEN = [  # total, updated, updated & consistent, partition, maxUnavailable, upgraded this round
    (100, 30, 26, None, 10, 6),
    (1000, 300, 260, None, "10%", 60),
    (1000, 300, 250, None, "5%", 0),
    (100, 30, 27, None, 100, 70),
    (1000, 800, 760, 180, 100, 20),
    (1000, 800, 760, 100, 100, 60),
    (1000, 800, 760, "18%", 100, 20),
    (1000, 800, 760, "10%", 100, 60),
    (5, 0, 0, None, "5%", 1),
    (5, 0, 0, "99%", 5, 1),
    (5, 0, 0, "1%", 5, 4),
]


@pytest.mark.parametrize("total,updated,consistent,partition,max_unavailable,expected", GOLDEN)
def test_selection_golden_numbers(total, updated, consistent, partition, max_unavailable, expected):
    ss = sidecarset(strategy={"partition": partition, "maxUnavailable": max_unavailable})
    pods = factory_pods(ss, total, updated, consistent)
    assert len(select_pods(ss, pods).upgrade) == expected


def test_selection_selector_golden_numbers():
    """1000 pods, 30 match the update selector, maxUnavailable 100 → 30."""
    ss = sidecarset(strategy={"selector": {"matchLabels": {"canary": "true"}}, "maxUnavailable": 100})
    pods = factory_pods(ss, 1000, 0, 0, labels=lambda i: {"canary": "true"} if i % 10 == 0 and i < 300 else {})
    chosen = select_pods(ss, pods).upgrade
    assert len(chosen) == 30 and all(p["metadata"]["labels"].get("canary") == "true" for p in chosen)


def test_selection_hash_without_image_differs_nothing_upgradable():
    ss = sidecarset(strategy={"maxUnavailable": 100})
    pods = [injected_pod(f"p{i}", ss, hash_="h0", hwi="w0") for i in range(100)]
    selection = select_pods(ss, pods)
    assert selection.upgrade == [] and len(selection.not_upgradable) == 100


def test_selection_order_priority_then_scatter():
    ss = sidecarset(strategy={"maxUnavailable": 100, "priorityStrategy": {"weightPriority": [
        {"weight": 50, "matchSelector": {"matchLabels": {"tier": "high"}}}]}})
    pods = [injected_pod(f"p{i}", ss, hash_="h0", labels={"tier": "high"} if i == 2 else {}) for i in range(4)]
    assert select_pods(ss, pods).upgrade[0]["metadata"]["name"] == "p2"
    ss = sidecarset(strategy={"maxUnavailable": 100, "scatterStrategy": [{"key": "zone", "value": "*"}]})
    pods = [injected_pod(f"p{i}", ss, hash_="h0", labels={"zone": "a" if i < 4 else "b"}) for i in range(8)]
    order = [p["metadata"]["labels"]["zone"] for p in select_pods(ss, pods).upgrade]
    assert order != sorted(order) and sorted(order) == ["a"] * 4 + ["b"] * 4  # spread, not back to back


def test_not_ready_candidates_never_use_the_budget():
    ss = sidecarset(strategy={"maxUnavailable": 0})  # C6: 0 is accepted; only not-ready pods move
    pods = [injected_pod("ready", ss, hash_="h0"), injected_pod("broken", ss, hash_="h0", ready=False)]
    assert [p["metadata"]["name"] for p in select_pods(ss, pods).upgrade] == ["broken"]


def test_matched_pods_need_the_injected_list_the_sidecars_the_namespace_and_to_be_active():
    ss = sidecarset(namespaceSelector={"matchLabels": {"inject": "sidecar"}})
    ok = injected_pod("ok", ss)
    other_ns = injected_pod("other", ss, namespace="plain")
    not_injected = injected_pod("not-injected", ss)
    del not_injected["metadata"]["annotations"][keys.INJECTED_LIST]
    missing_sidecar = injected_pod("missing", ss)
    missing_sidecar["spec"]["containers"] = [c for c in missing_sidecar["spec"]["containers"] if c["name"] == "main"]
    terminating = injected_pod("terminating", ss)
    terminating["metadata"]["deletionTimestamp"] = "2026-07-01T07:59:00Z"
    namespaces = {"ns": {"inject": "sidecar"}, "plain": {}}
    found = matched_pods(ss, [ok, other_ns, not_injected, missing_sidecar, terminating], namespaces)
    assert [p["metadata"]["name"] for p in found] == ["ok"]


def test_upgrade_patches_only_sidecar_images_with_hash_state_and_condition():
    """[SidecarSetUpgrade] upgrade cold sidecar container image only: the pod patch touches the sidecar's
    image and the annotations, never the app container; the condition SidecarSetUpgradable=True follows."""
    old = sidecarset()
    pod = injected_pod("p", old)
    new = sidecarset(containers=[{**old["spec"]["containers"][0], "image": "nginx:2"}], hash_="h2")
    new["status"] = {"latestRevision": "ss-rev2"}
    plan = plan_for(new, [pod])
    [patch] = plan.of_type(A.Patch, "pods")
    assert patch.namespace == "ns" and patch.body["metadata"]["uid"] == "uid-p"
    assert patch.body["metadata"]["resourceVersion"] == "1"
    assert patch.body["spec"] == {"containers": [{"name": "nginx-sidecar", "image": "nginx:2"}]}
    ann = patch.body["metadata"]["annotations"]
    entry = json.loads(ann[keys.HASH])["ss"]
    assert list(entry) == ["updateTimestamp", "hash", "sidecarSetName", "sidecarList", "controllerRevision"]
    assert entry["hash"] == "h2" and entry["controllerRevision"].startswith("ss-")
    state = json.loads(ann[keys.INPLACE_UPDATE_STATE])["ss"]
    assert state["revision"] == "h2"
    assert state["lastContainerStatuses"] == {"nginx-sidecar": {
        "imageID": "nginx:1@sha256:x", "containerID": "containerd://nginx-sidecar-1"}}
    assert keys.HASH_WITHOUT_IMAGE not in ann
    [condition] = plan.of_type(A.Patch, "pods", "status")
    cond = condition.body["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "SidecarSetUpgradable", "True", "AllSidecarsetUpgradable", '{"ss":true}')


def test_completion_waits_for_the_restart_not_the_image():
    """Never counted before the container restarted: the patched pod is updated but not ready/consistent until
    the kubelet runs a new container, even if the status already names the new image (a same-digest tag)."""
    old = sidecarset()
    pod = injected_pod("p", old)
    new = sidecarset(containers=[{**old["spec"]["containers"][0], "image": "nginx:2"}], hash_="h2")
    plan = plan_for(new, [pod])
    apply_pod_patches(plan, [pod])
    assert is_updated(new, pod) and not is_state_consistent(new, pod)
    pod["status"]["containerStatuses"][0]["image"] = "nginx:2"  # the image string alone decides nothing
    assert not is_state_consistent(new, pod)
    status = compute_status(new, [pod], "r", 0)
    assert (status["matchedPods"], status["updatedPods"], status["readyPods"], status["updatedReadyPods"]) == (
        1, 1, 0, 0)
    run(pod, restart={"nginx-sidecar"})
    assert is_state_consistent(new, pod)
    main = next(cs for cs in pod["status"]["containerStatuses"] if cs["name"] == "main")
    assert main["restartCount"] == 0 and main["containerID"] == "containerd://main-1"
    status = compute_status(new, [pod], "r", 0)
    assert (status["updatedPods"], status["readyPods"], status["updatedReadyPods"]) == (1, 1, 1)


def test_a_ready_sidecar_mid_upgrade_is_skipped_not_upgraded_again():
    old = sidecarset()
    pod = injected_pod("p", old)
    v2 = sidecarset(containers=[{**old["spec"]["containers"][0], "image": "nginx:2"}], hash_="h2")
    apply_pod_patches(plan_for(v2, [pod]), [pod])
    v3 = sidecarset(containers=[{**old["spec"]["containers"][0], "image": "nginx:3"}], hash_="h3")
    assert upgradable(v3, pod) == (True, False)
    assert select_pods(v3, [pod]).upgrade == []


def test_more_than_image_changed_marks_pods_not_upgradable():
    """[SidecarSetUpgrade] upgrade sidecar container (more than image field): condition False
    (UpdateImmutableField), event NotUpgradablePods, no pod spec change; status 1/0/0/1."""
    ss = sidecarset(hash_="h2", hwi="w2")
    pod = injected_pod("p", ss, hash_="h1", hwi="w1")
    plan = plan_for(ss, [pod])
    assert plan.of_type(A.Patch, "pods") == []
    [condition] = plan.of_type(A.Patch, "pods", "status")
    cond = condition.body["status"]["conditions"][0]
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "UpdateImmutableField", '{"ss":false}')
    [event] = plan.of_type(A.Event)
    assert event.reason == "NotUpgradablePods" and "detected 1 not upgradable pod(s)" in event.message
    status = plan.of_type(A.Patch, A.WORKLOAD, "status")[0].body["status"]
    assert (status["matchedPods"], status["updatedPods"], status["updatedReadyPods"], status["readyPods"]) == (
        1, 0, 0, 1)
    apply_pod_patches(plan, [pod])
    assert plan_for(ss, [pod]).of_type(A.Patch, "pods", "status") == []  # no write when nothing changes


def test_condition_message_keeps_other_sidecarsets():
    """[SidecarSetUpgrade] multi sidecarSet upgrade: one map across SidecarSets, True only when all are."""
    ss = sidecarset(hash_="h2", hwi="w2")
    pod = injected_pod("p", ss, hash_="h1", hwi="w1")
    pod["status"]["conditions"].append({"type": "SidecarSetUpgradable", "status": "True",
                                        "reason": "AllSidecarsetUpgradable", "message": '{"other":true}',
                                        "lastTransitionTime": "2026-07-01T07:00:00Z"})
    [condition] = plan_for(ss, [pod]).of_type(A.Patch, "pods", "status")
    assert condition.body["status"]["conditions"][0]["message"] == '{"other":true,"ss":false}'


@pytest.mark.parametrize("strategy", [{"type": "NotUpdate"}, {"paused": True}])
def test_not_update_and_paused_write_the_status_and_nothing_else(strategy):
    """[SidecarSetUpgrade] cold image, and paused: the status is written every round, no pod is touched."""
    ss = sidecarset(hash_="h2", strategy=strategy)
    pod = injected_pod("p", ss, hash_="h1")
    plan = plan_for(ss, [pod])
    assert plan.of_type(A.Patch, "pods") == [] and plan.of_type(A.Patch, "pods", "status") == []
    status = plan.of_type(A.Patch, A.WORKLOAD, "status")[0].body["status"]
    assert (status["matchedPods"], status["updatedPods"], status["observedGeneration"]) == (1, 0, 1)


def test_partition_and_max_unavailable_rounds():
    """[SidecarSetUpgrade] cold image with partition "50%" → 1 of 2; maxUnavailable "50%" of 4 with a broken
    image → 2 upgraded, and no more while they are not ready."""
    ss = sidecarset(hash_="h2", strategy={"partition": "50%"})
    pods = [injected_pod(f"p{i}", ss, hash_="h1") for i in range(2)]
    assert len(plan_for(ss, pods).of_type(A.Patch, "pods")) == 1
    ss = sidecarset(containers=[{**sidecarset()["spec"]["containers"][0], "image": "nginx:broken"}], hash_="h2",
                    strategy={"maxUnavailable": "50%"})
    pods = [injected_pod(f"p{i}", ss, hash_="h1", images={"nginx-sidecar": "nginx:1"}) for i in range(4)]
    first = plan_for(ss, pods)
    assert len(first.of_type(A.Patch, "pods")) == 2
    apply_pod_patches(first, pods)
    for p in pods:  # the broken image never starts: the patched pods go not ready
        if p["spec"]["containers"][0]["image"] == "nginx:broken":
            run(p, ready=False)
    second = plan_for(ss, pods)
    assert second.of_type(A.Patch, "pods") == []
    status = second.of_type(A.Patch, A.WORKLOAD, "status")[0].body["status"]
    assert (status["matchedPods"], status["updatedPods"], status["updatedReadyPods"], status["readyPods"]) == (
        4, 2, 0, 2)


def test_patch_pod_metadata_rides_with_the_upgrade_only():
    """[SidecarSetUpgrade] patch pod metadata: a patch change alone touches no pod; with the next image change
    the pods get it (MergePatchJson into the existing value)."""
    ss = sidecarset(patchPodMetadata=[{"annotations": {"key": '{"c":2}'}, "patchPolicy": "MergePatchJson"}])
    pod = injected_pod("p", ss)
    pod["metadata"]["annotations"]["key"] = '{"c":1}'
    assert plan_for(ss, [pod]).of_type(A.Patch, "pods") == []
    ss2 = sidecarset(containers=[{**ss["spec"]["containers"][0], "image": "busybox"}], hash_="h2",
                     patchPodMetadata=ss["spec"]["patchPodMetadata"])
    [patch] = plan_for(ss2, [pod]).of_type(A.Patch, "pods")
    assert patch.body["metadata"]["annotations"]["key"] == '{"c":2}'


def test_upgrade_pod_keeps_other_sidecarsets_entries():
    ss = sidecarset(hash_="h2")
    pod = injected_pod("p", ss, hash_="h1")
    specs = json.loads(pod["metadata"]["annotations"][keys.HASH])
    specs["other"] = {"updateTimestamp": "2026-07-01T06:00:00Z", "hash": "o", "sidecarSetName": "other",
                      "sidecarList": ["x"]}
    pod["metadata"]["annotations"][keys.HASH] = json.dumps(specs)
    patch = upgrade_pod(ss, pod, NOW)
    out = json.loads(patch.body["metadata"]["annotations"][keys.HASH])
    assert list(out) == ["other", "ss"] and out["other"]["hash"] == "o" and out["ss"]["hash"] == "h2"
