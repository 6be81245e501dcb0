
from controllers.common import actions as A
from controllers.common.keys import INPLACE_UPDATE_READY, LIFECYCLE_STATE_LABEL, SPECIFIED_DELETE_LABEL

from .world import World, cloneset

IN_PLACE = {"type": "InPlaceIfPossible"}


def updated_names(w, image="nginx:1.26"):
    return sorted(n for n, p in w.pods.items() if p["spec"]["containers"][0]["image"] == image)


def update_order(w, max_rounds=300):
    """The order in which pods start their in-place update."""
    order = []
    for _ in range(max_rounds):
        plan = w.step()
        order += [e.message.split()[3] for e in plan.of_type(A.Event) if e.reason == "SuccessfulUpdatePodInPlace"]
        if not plan.actions and plan.requeue_after is None:
            return order
    raise AssertionError("no convergence")


def test_partition_99_percent_of_4_updates_exactly_one_pod():
    """e2e: partition="99%", replicas=4 ⇒ exactly one pod upgraded, and it stays one."""
    w = World(cloneset(replicas=4, update={**IN_PLACE, "partition": "99%"}))
    w.settle()
    w.set_image("nginx:1.26")
    w.settle()
    for _ in range(10):
        w.step()
    assert len(updated_names(w)) == 1
    assert w.status["expectedUpdatedReplicas"] == 1 and w.status["updatedReplicas"] == 1
    assert w.status["currentRevision"] != w.status["updateRevision"]
    w.edit_spec(lambda s: s["updateStrategy"].__setitem__("partition", "0%"))
    w.settle()
    assert len(updated_names(w)) == 4 and w.status["currentRevision"] == w.status["updateRevision"]
    assert w.status["expectedUpdatedReplicas"] == 4


def test_in_place_keeps_names_and_uids():
    w = World(cloneset(replicas=3, update=IN_PLACE))
    w.settle()
    before = {n: p["metadata"]["uid"] for n, p in w.pods.items()}
    w.set_image("nginx:1.26")
    w.settle()
    assert {n: p["metadata"]["uid"] for n, p in w.pods.items()} == before
    assert updated_names(w) == sorted(before)
    assert all(p["metadata"]["labels"][LIFECYCLE_STATE_LABEL] == "Normal" for p in w.pods.values())
    assert all(next(c for c in p["status"]["conditions"] if c["type"] == INPLACE_UPDATE_READY)["status"] == "True"
               for p in w.pods.values())


def test_recreate_replaces_pods_one_at_a_time():
    w = World(cloneset(replicas=3))
    w.settle()
    before = set(w.pods)
    w.set_image("nginx:1.26")
    plan = w.reconcile()
    [mark] = plan.of_type(A.Patch, A.PODS)
    assert mark.body["metadata"]["labels"] == {SPECIFIED_DELETE_LABEL: "true"}
    assert [e.reason for e in plan.of_type(A.Event)] == ["SuccessfulUpdatePodReCreate"]
    w.apply(plan)
    worst = 3
    for _ in range(100):
        plan = w.step()
        worst = min(worst, len(w.ready_pods()))
        if not plan.actions and plan.requeue_after is None:
            break
    assert not (set(w.pods) & before) and len(w.pods) == 3
    assert updated_names(w) == sorted(w.pods) and worst >= 2


def test_in_place_if_possible_falls_back_to_recreate_for_other_changes():
    w = World(cloneset(replicas=2, update=IN_PLACE))
    w.settle()
    before = set(w.pods)
    w.edit_spec(lambda s: s["template"]["spec"]["containers"][0].__setitem__("env", [{"name": "A", "value": "1"}]))
    w.settle()
    assert not (set(w.pods) & before)


def test_in_place_only_refuses_other_changes():
    w = World(cloneset(replicas=2, update={"type": "InPlaceOnly"}))
    w.settle()
    before = dict(w.pods)
    w.edit_spec(lambda s: s["template"]["spec"]["containers"][0].__setitem__("env", [{"name": "A", "value": "1"}]))
    plan = w.reconcile()
    assert not plan.of_type(A.Patch, A.PODS) and not plan.of_type(A.Delete, A.PODS)
    warning = [e for e in plan.of_type(A.Event) if e.type == "Warning"]
    assert warning and "InPlaceOnly but can not update in-place" in warning[0].message
    [status] = plan.of_type(A.Patch, A.WORKLOAD, "status")
    [cond] = status.body["status"]["conditions"]
    assert cond["type"] == "FailedUpdate" and cond["status"] == "True"
    w.apply(plan)
    again = w.reconcile()
    assert not again.of_type(A.Patch, A.WORKLOAD, "status")  # the same failure does not rewrite the status
    assert set(w.pods) == set(before)


def test_priority_weight_orders_the_rollout():
    strategy = {**IN_PLACE, "maxUnavailable": 1, "priorityStrategy": {"weightPriority": [
        {"weight": 50, "matchSelector": {"matchLabels": {"canary": "true"}}},
        {"weight": 10, "matchSelector": {"matchLabels": {"zone": "b"}}}]}}
    w = World(cloneset(replicas=4, update=strategy))
    w.settle()
    names = sorted(w.pods)
    w.pods[names[2]]["metadata"]["labels"]["canary"] = "true"
    w.pods[names[3]]["metadata"]["labels"].update(canary="true", zone="b")
    w.pods[names[0]]["metadata"]["labels"]["zone"] = "b"
    w.set_image("nginx:1.26")
    assert update_order(w) == [names[3], names[2], names[0], names[1]]


def test_order_priority_orders_the_rollout():
    strategy = {**IN_PLACE, "maxUnavailable": 1, "priorityStrategy": {"orderPriority": [{"orderedKey": "rank"}]}}
    w = World(cloneset(replicas=3, update=strategy))
    w.settle()
    names = sorted(w.pods)
    for n, rank in zip(names, ["r-2", "r-10", "r-1"]):
        w.pods[n]["metadata"]["labels"]["rank"] = rank
    w.set_image("nginx:1.26")
    assert update_order(w) == [names[1], names[0], names[2]]


def _zone_rollout(scatter):
    strategy = {**IN_PLACE, "maxUnavailable": 1}
    if scatter:
        strategy["scatterStrategy"] = [{"key": "zone", "value": "a"}]
    w = World(cloneset(replicas=6, update=strategy))
    w.settle()
    for n in sorted(w.pods)[:3]:
        w.pods[n]["metadata"]["labels"]["zone"] = "a"
    w.set_image("nginx:1.26")
    return [w.pods[n]["metadata"]["labels"].get("zone") for n in update_order(w)]


def test_scatter_spreads_a_zone_over_the_rollout():
    assert _zone_rollout(scatter=False)[:3] == ["a", "a", "a"]  # same-age pods go in name order
    # Each round re-sorts the pods still to update (as upstream does), so the zone is interleaved early on.
    assert _zone_rollout(scatter=True) == ["a", None, "a", "a", None, None]


def test_a_broken_image_stops_at_max_unavailable():
    w = World(cloneset(replicas=5, update={**IN_PLACE, "maxUnavailable": 2}))
    w.settle()
    w.set_image("nginx:broken")
    for _ in range(40):
        w.step()
    assert len(updated_names(w, "nginx:broken")) == 2
    assert len(w.ready_pods()) == 3
    assert w.status["updatedReplicas"] == 2 and w.status["updatedReadyReplicas"] == 0
    w.set_image("nginx:1.26")  # fix forward
    w.settle()
    assert len(updated_names(w)) == 5 and len(w.ready_pods()) == 5


def test_a_broken_image_stops_a_recreate_rollout_too():
    w = World(cloneset(replicas=4, update={"maxUnavailable": 1}))
    w.settle()
    w.set_image("nginx:broken")
    for _ in range(40):
        w.step()
    assert len(updated_names(w, "nginx:broken")) == 1 and len(w.ready_pods()) == 3


def test_max_surge_updates_above_replicas_without_losing_capacity():
    w = World(cloneset(replicas=3, update={"maxSurge": 1, "maxUnavailable": 0}))
    w.settle()
    w.set_image("nginx:1.26")
    most, fewest_ready = 0, 3
    for _ in range(100):
        plan = w.step()
        most = max(most, len(w.pods))
        fewest_ready = min(fewest_ready, len(w.ready_pods()))
        if not plan.actions and plan.requeue_after is None:
            break
    assert most == 4 and fewest_ready == 3
    assert len(w.pods) == 3 and updated_names(w) == sorted(w.pods)


def test_paused_stops_updates_but_not_scaling():
    w = World(cloneset(replicas=2, update={**IN_PLACE, "paused": True}))
    w.settle()
    w.set_image("nginx:1.26")
    w.edit_spec(lambda s: s.__setitem__("replicas", 3))
    w.settle()
    assert len(w.pods) == 3 and len(w.ready_pods()) == 3
    assert len(updated_names(w)) == 1  # only the new pod has the new template
    w.edit_spec(lambda s: s["updateStrategy"].__setitem__("paused", False))
    w.settle()
    assert len(updated_names(w)) == 3


HOOK = {"inPlaceUpdate": {"labelsHandler": {"example.com/ready-to-update": "false"}}}


def test_in_place_update_hook_state_machine():
    w = World(cloneset(replicas=1, update=IN_PLACE, lifecycle=HOOK))
    w.settle()
    [name] = w.pods
    labels = lambda: w.pods[name]["metadata"]["labels"]
    labels()["example.com/ready-to-update"] = "false"  # the hook owner holds the pod
    w.set_image("nginx:1.26")
    for _ in range(4):
        w.step()
    assert labels()[LIFECYCLE_STATE_LABEL] == "PreparingUpdate"
    assert w.pods[name]["spec"]["containers"][0]["image"] == "nginx:1.25"
    del labels()["example.com/ready-to-update"]  # released
    w.settle()
    assert w.pods[name]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert labels()[LIFECYCLE_STATE_LABEL] == "Updated"  # the hook is not back on
    labels()["example.com/ready-to-update"] = "false"  # the owner re-arms it
    w.settle()
    assert labels()[LIFECYCLE_STATE_LABEL] == "Normal"


def test_updated_pod_gets_the_hook_back_for_the_next_revision():
    w = World(cloneset(replicas=1, update=IN_PLACE, lifecycle=HOOK))
    w.settle()
    [name] = w.pods
    w.set_image("nginx:1.26")
    w.settle()
    assert w.pods[name]["metadata"]["labels"][LIFECYCLE_STATE_LABEL] == "Updated"
    w.set_image("nginx:1.27")
    for _ in range(3):
        w.step()
    labels = w.pods[name]["metadata"]["labels"]
    assert labels[LIFECYCLE_STATE_LABEL] == "PreparingUpdate" and labels["example.com/ready-to-update"] == "false"


def test_rollback_while_waiting_in_preparing_update_does_not_hang():
    """OpenKruise #1156: the pod is at the (rolled back) update revision already; it just leaves PreparingUpdate."""
    w = World(cloneset(replicas=1, update=IN_PLACE, lifecycle=HOOK))
    w.settle()
    [name] = w.pods
    w.pods[name]["metadata"]["labels"]["example.com/ready-to-update"] = "false"
    w.set_image("nginx:1.26")
    for _ in range(3):
        w.step()
    assert w.pods[name]["metadata"]["labels"][LIFECYCLE_STATE_LABEL] == "PreparingUpdate"
    w.set_image("nginx:1.25")
    w.settle()
    assert w.pods[name]["metadata"]["labels"][LIFECYCLE_STATE_LABEL] == "Normal"


def test_rollback_reuses_the_old_revision():
    w = World(cloneset(replicas=2, update=IN_PLACE))
    w.settle()
    v1 = w.status["updateRevision"]
    w.set_image("nginx:1.26")
    w.settle()
    w.set_image("nginx:1.25")
    plan = w.reconcile()
    assert plan.of_type(A.Patch, A.REVISIONS) == [
        A.Patch(A.REVISIONS, v1, {"revision": 3, "metadata": {"resourceVersion": "2"}})], "the revision as seen"
    assert not plan.of_type(A.Create, A.REVISIONS)
    w.apply(plan)
    w.settle()
    assert w.status["updateRevision"] == v1 == w.status["currentRevision"]
    assert updated_names(w, "nginx:1.25") == sorted(w.pods)


def test_history_is_truncated_to_the_limit():
    w = World(cloneset(replicas=1, update=IN_PLACE, revisionHistoryLimit=1))
    w.settle()
    for tag in ("1.26", "1.27", "1.28"):
        w.set_image(f"nginx:{tag}")
        w.settle()
    assert len(w.revisions) == 2  # the live one + one of history
    assert w.status["updateRevision"] in w.revisions


def test_issue_1493_same_digest_new_tag_finishes():
    digest = "@sha256:" + "a" * 64
    w = World(cloneset(replicas=2, image=f"registry.local/app:v1{digest}", update=IN_PLACE))
    w.settle()
    w.set_image(f"registry.local/app:v2{digest}")  # same content, new tag: the imageID does not change
    w.settle()
    for p in w.pods.values():
        s = p["status"]["containerStatuses"][0]
        assert s["image"] == f"registry.local/app:v2{digest}" and s["restartCount"] == 1
    assert len(w.ready_pods()) == 2 and w.status["updatedReadyReplicas"] == 2


def test_issue_2276_a_drain_without_its_patch_is_not_undone():
    w = World(cloneset(replicas=2, update=IN_PLACE))
    w.settle()
    w.set_image("nginx:1.26")
    w.fail_when = lambda a: a.what == "patch pods"  # the spec patch fails after the drain
    w.step()
    w.fail_when = None
    [drained] = [n for n, p in w.pods.items()
                 if next(c for c in p["status"]["conditions"] if c["type"] == INPLACE_UPDATE_READY)["status"] == "False"]
    plan = w.reconcile()
    status_patches = [a for a in plan.of_type(A.Patch, A.PODS, "status") if a.name == drained]
    assert all(c["status"] != "True" for a in status_patches for c in a.body["status"]["conditions"])
    assert [a.name for a in plan.of_type(A.Patch, A.PODS)] == [drained]  # the patch is retried
    w.apply(plan)
    w.settle()
    assert len(updated_names(w)) == 2


def test_no_drain_flip_for_pods_that_are_not_updated_after_all():
    """A pod drained for an update that is no longer wanted (partition raised) gets Ready back."""
    w = World(cloneset(replicas=2, update=IN_PLACE))
    w.settle()
    w.set_image("nginx:1.26")
    w.fail_when = lambda a: a.what == "patch pods"
    w.step()
    w.fail_when = None
    w.edit_spec(lambda s: s["updateStrategy"].__setitem__("partition", 2))
    w.settle()
    assert len(w.ready_pods()) == 2 and updated_names(w) == []


def test_metadata_only_change_is_in_place():
    w = World(cloneset(replicas=2, update=IN_PLACE))
    w.settle()
    before = {n: p["metadata"]["uid"] for n, p in w.pods.items()}
    w.edit_spec(lambda s: s["template"]["metadata"].setdefault("annotations", {}).__setitem__("team", "blue"))
    w.settle()
    assert {n: p["metadata"]["uid"] for n, p in w.pods.items()} == before
    assert all(p["metadata"]["annotations"]["team"] == "blue" for p in w.pods.values())
    assert all(p["status"]["containerStatuses"][0]["restartCount"] == 0 for p in w.pods.values())


def test_a_cleared_failure_is_removed_even_by_a_merge_patch():
    w = World(cloneset(replicas=1, update={"type": "InPlaceOnly"}))
    w.settle()
    w.edit_spec(lambda s: s["template"]["spec"]["containers"][0].__setitem__("env", [{"name": "A", "value": "1"}]))
    w.step()
    assert w.status["conditions"][0]["type"] == "FailedUpdate"
    w.edit_spec(lambda s: s["template"]["spec"]["containers"][0].pop("env"))
    plan = w.reconcile()
    [status] = plan.of_type(A.Patch, A.WORKLOAD, "status")
    assert status.body["status"]["conditions"] == []  # explicit, so that a merge patch clears it too
    w.apply(plan)
    w.settle()


def test_a_scale_up_held_back_by_broken_pods_can_still_be_fixed_by_an_update():
    """All pods on a broken image and scale-up limited by scaleStrategy.maxUnavailable: fixing the image
    must still roll out (upstream's update budget counts the missing pods and stays stuck)."""
    w = World(cloneset(replicas=5, image="app:broken", scaleStrategy={"maxUnavailable": 2}))
    for _ in range(5):
        w.step()
    assert len(w.pods) == 2 and "ScaleUpLimited" in w.event_reasons()
    w.set_image("app:v1")
    w.settle()
    assert len(w.live_pods()) == 5 and len(w.ready_pods()) == 5
    assert set(w.images().values()) == {"app:v1"}
