"""Smaller behaviours of the CloneSet reconcile."""
from datetime import timedelta

from controllers.cloneset.reconcile import reconcile
from controllers.cloneset.spec import CloneSetView
from controllers.cloneset.update import sort_update_indexes
from controllers.common import actions as A
from controllers.common.keys import LIFECYCLE_STATE_LABEL, POD_TEMPLATE_HASH_LABEL
from controllers.common.names import SequenceNames
from controllers.common.revision import hash_revision_data, template_revision_data

from ..world import owned_objects
from .world import T0, World, cloneset


def test_pre_normal_hook_holds_new_pods_in_preparing_normal():
    w = World(cloneset(replicas=2, lifecycle={"preNormal": {"labelsHandler": {"example.com/registered": "true"}}}))
    for _ in range(5):
        w.step()
    assert {p["metadata"]["labels"][LIFECYCLE_STATE_LABEL] for p in w.pods.values()} == {"PreparingNormal"}
    for p in w.pods.values():
        p["metadata"]["labels"]["example.com/registered"] = "true"  # e.g. a service registry is done
    w.settle()
    assert {p["metadata"]["labels"][LIFECYCLE_STATE_LABEL] for p in w.pods.values()} == {"Normal"}


def test_pods_labelled_with_the_short_hash_count_as_updated():
    w = World(cloneset(replicas=2))
    w.settle()
    for p in w.pods.values():
        full = p["metadata"]["labels"]["controller-revision-hash"]
        p["metadata"]["labels"]["controller-revision-hash"] = full.rsplit("-", 1)[1]  # CloneSetShortHash form
    plan = w.reconcile()
    assert not plan.of_type(A.Patch, A.PODS) and not plan.of_type(A.Delete, A.PODS)
    assert not plan.of_type(A.Patch, A.WORKLOAD, "status")
    assert w.status["updatedReplicas"] == 2


def test_missing_pod_template_hash_is_fixed():
    w = World(cloneset(replicas=1))
    w.settle()
    [pod] = w.pods.values()
    expected = pod["metadata"]["labels"].pop(POD_TEMPLATE_HASH_LABEL)
    [patch] = w.reconcile().of_type(A.Patch, A.PODS)
    assert patch.body["metadata"]["labels"] == {POD_TEMPLATE_HASH_LABEL: expected}


def test_preparing_update_pods_go_first():
    cs = CloneSetView(cloneset(replicas=3, update={"priorityStrategy": {"weightPriority": [
        {"weight": 10, "matchSelector": {"matchLabels": {"hot": "1"}}}]}}))
    pods = [{"metadata": {"name": f"p{i}", "labels": labels}} for i, labels in enumerate(
        [{"hot": "1"}, {LIFECYCLE_STATE_LABEL: "PreparingUpdate"}, {}])]
    assert sort_update_indexes(cs, pods, [0, 1, 2]) == [1, 0, 2]


def test_collision_count_reaches_the_status():
    cs = cloneset(replicas=0)
    squatter_name = "demo-" + hash_revision_data(template_revision_data(cs["spec"]["template"]), 0)
    squatter = {"metadata": {"name": squatter_name, "ownerReferences": [{"uid": "cs-uid", "controller": True}]},
                "data": {"spec": {"template": {"something": "else"}}}, "revision": 1}
    plan = reconcile(cs, owned_objects([], [], [squatter]), A.Context(T0, names=SequenceNames()))
    [created] = plan.of_type(A.Create, A.REVISIONS)
    [status] = plan.of_type(A.Patch, A.WORKLOAD, "status")
    assert created.body["metadata"]["name"] != squatter_name
    status = status.body["status"]
    assert status["collisionCount"] == 1 and status["updateRevision"] == created.body["metadata"]["name"]


def test_in_place_state_machine_end_to_end_without_hooks_is_normal():
    """Normal -> Updating -> Normal when the CloneSet has no lifecycle at all."""
    w = World(cloneset(replicas=1, update={"type": "InPlaceIfPossible"}))
    w.settle()
    [name] = w.pods
    w.set_image("nginx:1.26")
    states = []
    for _ in range(10):
        w.step()
        states.append(w.pods[name]["metadata"]["labels"][LIFECYCLE_STATE_LABEL])
    assert "Updating" in states and states[-1] == "Normal" and "Updated" not in states


def test_lifecycle_without_in_place_hook_passes_through_updated():
    """Upstream quirk kept: any lifecycle but no inPlaceUpdate hook ends an update in Updated, then Normal."""
    w = World(cloneset(replicas=1, update={"type": "InPlaceIfPossible"},
                       lifecycle={"preDelete": {"labelsHandler": {"x": "y"}}}))
    w.settle()
    [name] = w.pods
    w.set_image("nginx:1.26")
    states = []
    for _ in range(10):
        w.step()
        states.append(w.pods[name]["metadata"]["labels"][LIFECYCLE_STATE_LABEL])
    assert states.index("Updating") < states.index("Updated") < len(states) - 1 and states[-1] == "Normal"


def test_requeue_for_min_ready_seconds_lands_just_after_the_deadline():
    w = World(cloneset(replicas=1, minReadySeconds=5))
    for _ in range(3):
        w.step()
    plan = w.reconcile()
    w.now += timedelta(seconds=plan.requeue_after)
    assert w.reconcile().of_type(A.Patch, A.WORKLOAD, "status")[0].body["status"]["availableReplicas"] == 1
