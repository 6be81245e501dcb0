"""The CloneSet feature gates (openkruise.md §10): each one changes what the reconcile plans, and nothing when off."""
import pytest

from controllers.common.keys import LIFECYCLE_STATE_LABEL, VCT_HASH_ANNOTATION

from .world import World, cloneset

IN_PLACE = {"type": "InPlaceIfPossible"}
HOOK = "example.com/preparing-update-hook"


def revision_of(pod):
    return pod["metadata"]["labels"]["controller-revision-hash"]


def uids(w):
    return {p["metadata"]["uid"] for p in w.live_pods()}


def claim_uids(w):
    return {c["metadata"]["uid"] for c in w.pvcs.values()}


@pytest.mark.parametrize("short", [True, False])
def test_clone_set_short_hash_labels_new_and_updated_pods_with_the_short_hash(short):
    w = World(cloneset(replicas=2, update=IN_PLACE), gates={"CloneSetShortHash": short})
    w.settle()
    w.set_image("nginx:1.26")
    w.settle()
    update = w.status["updateRevision"]
    w.edit_spec(lambda s: s.__setitem__("replicas", 3))
    w.settle()
    expected = update.rsplit("-", 1)[1] if short else update
    assert sorted(revision_of(p) for p in w.pods.values()) == [expected] * 3
    assert w.status["updatedReplicas"] == 3


@pytest.mark.parametrize("rollback", [True, False])
def test_clone_set_partition_rollback_moves_pods_back_when_the_partition_grows(rollback):
    w = World(cloneset(replicas=4, update={**IN_PLACE, "partition": 1}), gates={"CloneSetPartitionRollback": rollback})
    w.settle()
    w.set_image("nginx:1.26")
    w.settle()
    assert w.status["updatedReplicas"] == 3
    w.edit_spec(lambda s: s["updateStrategy"].__setitem__("partition", 3))
    w.settle()
    assert w.status["updatedReplicas"] == (1 if rollback else 3)
    images = sorted(p["spec"]["containers"][0]["image"] for p in w.pods.values())
    assert images == (["nginx:1.25"] * 3 + ["nginx:1.26"] if rollback else ["nginx:1.25"] + ["nginx:1.26"] * 3)


def held_in_preparing_update(w):
    return [p for p in w.live_pods() if p["metadata"]["labels"].get(LIFECYCLE_STATE_LABEL) == "PreparingUpdate"]


@pytest.mark.parametrize("as_update", [True, False])
def test_preparing_update_as_update_counts_a_held_pod_as_updated_when_scaling(as_update):
    """The upstream e2e "regard preparing-update pod as update when scaling": 2 replicas, partition 99%, an
    inPlaceUpdate hook holds the one pod chosen for update in PreparingUpdate. A pod rebuilt, or added by a
    scale-up, then belongs to the current revision only if the held pod counts as updated."""
    w = World(cloneset(replicas=2, update={**IN_PLACE, "partition": "99%", "maxUnavailable": "50%"},
                       lifecycle={"inPlaceUpdate": {"labelsHandler": {HOOK: "true"}}}),
              gates={"PreparingUpdateAsUpdate": as_update})
    w.cloneset["spec"]["template"]["metadata"]["labels"][HOOK] = "true"
    w.settle()
    current = w.status["currentRevision"]
    w.set_image("nginx:1.26")
    w.settle()
    [held] = held_in_preparing_update(w)
    update = w.status["updateRevision"]
    assert revision_of(held) == current
    other = next(p for p in w.live_pods() if p is not held)
    w.delete_pod(other["metadata"]["name"])
    w.settle()
    rebuilt = [p for p in w.live_pods() if p["metadata"]["name"] != held["metadata"]["name"]]
    assert [revision_of(p) for p in rebuilt] == [current if as_update else update]

    w.edit_spec(lambda s: s.__setitem__("replicas", 3))
    w.settle()
    assert len(w.live_pods()) == 3 and len(held_in_preparing_update(w)) == 1
    if not as_update:
        assert sorted(revision_of(p) for p in w.live_pods()) == sorted([current, current, update])
        return
    assert sorted(revision_of(p) for p in w.live_pods()) == [current] * 3
    # Releasing the hook lets the held pod update in place, and only it (partition 99% of 3 keeps 2 old).
    w.pods[held["metadata"]["name"]]["metadata"]["labels"].pop(HOOK)
    w.settle()
    assert revision_of(w.pods[held["metadata"]["name"]]) == update
    assert w.status["updatedReplicas"] == 1


VCT = [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                               "resources": {"requests": {"storage": "1Gi"}}}}]


def resize(size):
    return lambda s: s["volumeClaimTemplates"][0]["spec"]["resources"]["requests"].__setitem__("storage", size)


def claim_sizes(w):
    return sorted(c["spec"]["resources"]["requests"]["storage"] for c in w.pvcs.values())


def test_recreate_pod_when_change_vct_recreates_pods_and_claims_on_an_image_and_vct_change():
    """The upstream e2e "Update with VolumeClaimTemplate changes", step by step."""
    w = World(cloneset(replicas=2, update=IN_PLACE, volumeClaimTemplates=VCT),
              gates={"RecreatePodWhenChangeVCTInCloneSetGate": True})
    w.settle()
    [first] = w.revisions.values()
    assert first["metadata"]["annotations"][VCT_HASH_ANNOTATION]

    # image + VCT: recreated, with new claims of the new size
    pods, claims = uids(w), claim_uids(w)
    w.set_image("nginx:1.26")
    w.edit_spec(resize("2Gi"))
    w.settle()
    assert not uids(w) & pods and not claim_uids(w) & claims
    assert claim_sizes(w) == ["2Gi", "2Gi"]

    # VCT only: no new revision, nothing happens
    pods, claims, revisions = uids(w), claim_uids(w), set(w.revisions)
    w.edit_spec(resize("3Gi"))
    w.settle()
    assert (uids(w), claim_uids(w), set(w.revisions)) == (pods, claims, revisions)

    # image only, after that VCT change: the new revision records 3Gi, so recreated
    w.set_image("nginx:1.27")
    w.settle()
    assert not uids(w) & pods and claim_sizes(w) == ["3Gi", "3Gi"]

    # InPlaceOnly ignores the VCT hash: image + VCT is updated in place, the claims stay
    pods, claims = uids(w), claim_uids(w)
    w.edit_spec(lambda s: s["updateStrategy"].__setitem__("type", "InPlaceOnly"))
    w.set_image("nginx:1.28")
    w.edit_spec(resize("4Gi"))
    w.settle()
    assert (uids(w), claim_uids(w)) == (pods, claims)
    assert {p["spec"]["containers"][0]["image"] for p in w.pods.values()} == {"nginx:1.28"}


def test_without_the_vct_gate_an_image_and_vct_change_is_in_place():
    w = World(cloneset(replicas=2, update=IN_PLACE, volumeClaimTemplates=VCT))
    w.settle()
    assert VCT_HASH_ANNOTATION not in (next(iter(w.revisions.values()))["metadata"].get("annotations") or {})
    pods, claims = uids(w), claim_uids(w)
    w.set_image("nginx:1.26")
    w.edit_spec(resize("2Gi"))
    w.settle()
    assert (uids(w), claim_uids(w)) == (pods, claims)


def test_vct_gate_turned_on_later_does_not_recreate_pods_of_unmarked_revisions():
    w = World(cloneset(replicas=2, update=IN_PLACE, volumeClaimTemplates=VCT))
    w.settle()
    w.gates = {"RecreatePodWhenChangeVCTInCloneSetGate": True}
    pods = uids(w)
    w.set_image("nginx:1.26")
    w.edit_spec(resize("2Gi"))
    w.settle()
    assert uids(w) == pods


def test_a_rollback_to_an_older_revision_records_the_current_vct_hash_on_it():
    w = World(cloneset(replicas=1, update=IN_PLACE, volumeClaimTemplates=VCT),
              gates={"RecreatePodWhenChangeVCTInCloneSetGate": True})
    w.settle()
    first = w.status["updateRevision"]
    old_hash = w.revisions[first]["metadata"]["annotations"][VCT_HASH_ANNOTATION]
    w.set_image("nginx:1.26")
    w.settle()
    w.edit_spec(resize("2Gi"))
    w.set_image("nginx:1.25")  # back to the first template, with other volumes
    w.settle()
    assert w.status["updateRevision"] == first
    assert w.revisions[first]["metadata"]["annotations"][VCT_HASH_ANNOTATION] not in ("", old_hash)
    assert claim_sizes(w) == ["2Gi"]
