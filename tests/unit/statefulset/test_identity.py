"""Stable identities: names, hostnames, labels, PVCs; reserveOrdinals and ordinals.start; membership."""
from controllers.common import actions as A
from controllers.common.ownership import claim_pods
from controllers.statefulset.ordinals import OrdinalRange, ReservedOrdinals, parent_and_ordinal
from controllers.statefulset.reconcile import is_member, reconcile

from ..world import owned_objects
from .world import START_ORDINAL, T0, VCT, World, statefulset


def test_new_pod_and_claim_shape():
    sts = statefulset(replicas=1, volumeClaimTemplates=VCT)
    sts["spec"]["template"]["spec"]["volumes"] = [{"name": "data", "emptyDir": {}}, {"name": "log", "emptyDir": {}}]
    sts["spec"]["template"]["metadata"]["annotations"] = {"a": "b"}
    plan = reconcile(sts, owned_objects(), A.Context(T0))
    kinds = [a.what for a in plan.actions]
    assert kinds == ["create controllerrevisions.apps", "patch workload/status", "create persistentvolumeclaims",
                     "create pods", "event", "event"]
    rev = plan.of_type(A.Create, A.REVISIONS)[0].body["metadata"]["name"]
    [pvc] = [a.body for a in plan.of_type(A.Create, A.PVCS)]
    [pod] = [a.body for a in plan.of_type(A.Create, A.PODS)]
    meta = pod["metadata"]
    assert meta["name"] == "web-0" and meta["generateName"] == "web-" and meta["namespace"] == "default"
    assert meta["labels"] == {"app": "web", "controller-revision-hash": rev, "statefulset.kubernetes.io/pod-name": "web-0",
                              "apps.kubernetes.io/pod-index": "0", "lifecycle.apps.kruise.io/state": "Normal"}
    assert meta["annotations"] == {"a": "b", "lifecycle.apps.kruise.io/timestamp": "2024-05-01T12:00:00Z"}
    assert meta["ownerReferences"] == [{"apiVersion": "apps.kruise.io/v1beta1", "kind": "StatefulSet", "name": "web",
                                        "uid": "sts-uid", "controller": True, "blockOwnerDeletion": True}]
    assert pod["spec"]["hostname"] == "web-0" and pod["spec"]["subdomain"] == "web"
    assert "readinessGates" not in pod["spec"]  # the template carries InPlaceUpdateReady, not the controller
    # updateStorage: the claim replaces the template volume of the same name, other volumes stay.
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}},
                                      {"name": "log", "emptyDir": {}}]
    assert pvc == {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "data-web-0", "namespace": "default", "labels": {"app": "web"},
                                "annotations": {"note": "x"}},
                   "spec": VCT[0]["spec"]}
    assert [e.message for e in plan.of_type(A.Event)] == [
        "create Claim data-web-0 Pod web-0 in StatefulSet web success",
        "create Pod web-0 in StatefulSet web successful"]


def test_identity_and_storage_survive_pod_deletion():
    w = World(statefulset(replicas=3, volumeClaimTemplates=VCT))
    w.settle()
    claims = {n: c["metadata"]["uid"] for n, c in w.pvcs.items()}
    old_uid = w.pods["web-1"]["metadata"]["uid"]
    w.delete_pod("web-1")
    w.settle()
    assert w.names() == ["web-0", "web-1", "web-2"]
    pod = w.pods["web-1"]
    assert pod["metadata"]["uid"] != old_uid  # a new pod...
    assert pod["spec"]["hostname"] == "web-1" and pod["spec"]["subdomain"] == "web"  # ...with the same identity
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "data-web-1"
    assert {n: c["metadata"]["uid"] for n, c in w.pvcs.items()} == claims  # and the same volumes


def test_reserve_ordinals_skip_and_do_not_count():
    w = World(statefulset(replicas=3, reserveOrdinals=[1]))
    w.settle()
    assert w.names() == ["web-0", "web-2", "web-3"]
    w.edit_spec(lambda s: s.__setitem__("reserveOrdinals", [1, "3-4"]))
    w.settle()
    assert w.names() == ["web-0", "web-2", "web-5"]
    assert w.status["replicas"] == 3


def test_adding_a_reserved_ordinal_deletes_that_pod():
    w = World(statefulset(replicas=3))
    w.settle()
    uids = w.uids()
    w.edit_spec(lambda s: s.__setitem__("reserveOrdinals", [1]))
    plan = w.reconcile()
    assert [a.body["metadata"]["name"] for a in plan.of_type(A.Create, A.PODS)] == ["web-3"]  # replacement first
    assert not plan.of_type(A.Delete, A.PODS)  # OrderedReady: one step at a time
    w.settle()
    assert w.names() == ["web-0", "web-2", "web-3"]
    assert w.uids()["web-0"] == uids["web-0"] and w.uids()["web-2"] == uids["web-2"]
    assert "delete Pod web-1 in StatefulSet web successful" in [e.message for e in w.events]


def test_ordinals_start():
    w = World(statefulset(replicas=2, ordinals={"start": 5}, volumeClaimTemplates=VCT), gates=START_ORDINAL)
    w.settle()
    assert w.names() == ["web-5", "web-6"] and sorted(w.pvcs) == ["data-web-5", "data-web-6"]
    assert w.pods["web-5"]["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "5"
    w.edit_spec(lambda s: s["ordinals"].__setitem__("start", 6))
    w.settle()
    assert w.names() == ["web-6", "web-7"]
    w.edit_spec(lambda s: s.pop("ordinals"))
    w.settle()
    assert w.names() == ["web-0", "web-1"]


def test_ordinals_start_is_ignored_with_its_feature_gate_off():
    """StatefulSetStartOrdinal is off by default (policies/feature-gates.yaml), as upstream's getStartOrdinal
    reads spec.ordinals only with it on: the pods are numbered from 0 and a later change of start moves none."""
    for gates in (None, {"StatefulSetStartOrdinal": False}):
        w = World(statefulset(replicas=2, ordinals={"start": 5}, volumeClaimTemplates=VCT), gates=gates)
        w.settle()
        assert w.names() == ["web-0", "web-1"] and sorted(w.pvcs) == ["data-web-0", "data-web-1"]
        assert w.pods["web-0"]["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "0"
        uids = w.uids()
        w.edit_spec(lambda s: s["ordinals"].__setitem__("start", 6))
        w.settle()
        assert w.names() == ["web-0", "web-1"] and w.uids() == uids


def test_turning_the_start_ordinal_gate_on_renumbers_the_pods():
    """The gate is the manager's: restarted with it on, the same object moves to its start ordinal."""
    w = World(statefulset(replicas=2, ordinals={"start": 3}))
    w.settle()
    assert w.names() == ["web-0", "web-1"]
    w.gates = START_ORDINAL
    w.settle()
    assert w.names() == ["web-3", "web-4"]


def test_reserved_ordinal_ranges_and_start_together():
    rng = OrdinalRange.of(2, 4, ReservedOrdinals.parse([1, 3]))
    assert rng.ordinals == (2, 4, 5, 6) and (rng.start, rng.end) == (2, 7)
    assert 3 not in rng and 1 not in rng and 6 in rng and 7 not in rng
    huge = ReservedOrdinals.parse(["0-1000000000", "bad", "5-1", True, "  7 "])
    assert huge.intervals == ((0, 1000000000),)
    assert OrdinalRange.of(0, 2, huge).ordinals == (1000000001, 1000000002)
    assert parent_and_ordinal("a-b-12") == ("a-b", 12) and parent_and_ordinal("web") == ("", -1)


def test_identity_label_is_repaired():
    w = World(statefulset(replicas=1))
    w.settle()
    w.pods["web-0"]["metadata"]["labels"].pop("statefulset.kubernetes.io/pod-name")
    plan = w.reconcile()
    [patch] = plan.of_type(A.Patch, A.PODS)
    assert patch.body["metadata"]["labels"] == {"statefulset.kubernetes.io/pod-name": "web-0",
                                                 "apps.kubernetes.io/pod-index": "0"}
    assert A.Event("Normal", "SuccessfulUpdate", "update Pod web-0 in StatefulSet web successful") in plan.actions
    w.apply(plan)
    assert w.reconcile().actions == []


def test_pods_that_are_not_members_are_released_by_the_claim_and_ignored_by_the_reconcile():
    w = World(statefulset(replicas=1))
    w.settle()
    stray = dict(w.pods["web-0"], metadata=dict(w.pods["web-0"]["metadata"], name="web-x", uid="stray"))
    relabelled = dict(w.pods["web-0"], metadata=dict(w.pods["web-0"]["metadata"], name="web-7", uid="other",
                                                     labels={"app": "something-else"}))
    w.pods["web-x"], w.pods["web-7"] = stray, relabelled
    assert w.reconcile().actions == [], "not members: left alone"
    claim = claim_pods(w.sts, "apps.kruise.io/v1beta1", "StatefulSet", list(w.pods.values()), [], is_member)
    assert [p["metadata"]["name"] for p in claim.pods] == ["web-0"]
    assert sorted(a.name for a in claim.actions) == ["web-7", "web-x"]
    assert all(a.what == "patch pods" for a in claim.actions)
    assert claim.actions[0].body["metadata"]["ownerReferences"] == [{"$patch": "delete", "uid": "sts-uid"}]


def test_an_orphan_named_after_the_set_is_adopted_but_not_one_named_otherwise():
    w = World(statefulset(replicas=2))
    w.settle()
    orphan = dict(w.pods["web-1"], metadata=dict(w.pods["web-1"]["metadata"], ownerReferences=[]))
    other = dict(w.pods["web-1"], metadata=dict(w.pods["web-1"]["metadata"], name="web-x", uid="x",
                                                ownerReferences=[]))
    claim = claim_pods(w.sts, "apps.kruise.io/v1beta1", "StatefulSet", [w.pods["web-0"]], [orphan, other], is_member)
    assert [p["metadata"]["name"] for p in claim.pods] == ["web-0", "web-1"]
    [adopt] = claim.actions
    assert adopt.name == "web-1" and adopt.what == "patch pods"
    # The set takes the adopted pod as its own in the same round: nothing to create.
    plan = reconcile(w.sts, owned_objects(claim.pods, [], w.revisions.values()), A.Context(w.now))
    assert not plan.of_type(A.Create, A.PODS)


def test_pods_of_another_owner_are_ignored():
    w = World(statefulset(replicas=1))
    w.settle()
    foreign = dict(w.pods["web-0"], metadata=dict(w.pods["web-0"]["metadata"], name="web-3", uid="f",
                                                  ownerReferences=[{"uid": "someone", "controller": True}]))
    plan = reconcile(w.sts, owned_objects([*w.pods.values(), foreign], [], w.revisions.values()), A.Context(w.now))
    assert plan.actions == []
