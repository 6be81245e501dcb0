"""ClaimPods (Kubernetes' ControllerRefManager) on plain dicts: adopt matching orphans, release pods that no
longer match, and neither while the workload is being deleted."""
from controllers.common import actions as A
from controllers.common.ownership import claim_pods, controller_of, controller_uid

OWNER = {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet",
         "metadata": {"name": "web", "namespace": "ns", "uid": "cs-uid"},
         "spec": {"selector": {"matchLabels": {"app": "web"}}}}
OURS = [{"uid": "cs-uid", "controller": True, "kind": "CloneSet", "apiVersion": "apps.kruise.io/v1alpha1"}]


def pod(name: str, labels: dict | None = None, refs: list | None = None, **meta) -> dict:
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "labels": labels or {"app": "web"},
                         "ownerReferences": refs if refs is not None else [], **meta}}


def names(pods: list[dict]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_matching_orphans_are_adopted_and_counted_at_once():
    kept, orphan = pod("a", refs=OURS), pod("b", refs=[{"uid": "gc-only", "kind": "Thing"}])
    claim = claim_pods(OWNER, "apps.kruise.io/v1alpha1", "CloneSet", [kept], [orphan])
    assert names(claim.pods) == ["a", "b"]
    [adopt] = claim.actions
    assert adopt == A.adopt_pod("b", {"metadata": {"uid": "uid-b", "ownerReferences": [{
        "apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "name": "web", "uid": "cs-uid",
        "controller": True, "blockOwnerDeletion": True}]}})
    assert [r["uid"] for r in claim.pods[1]["metadata"]["ownerReferences"]] == ["gc-only", "cs-uid"]
    assert orphan["metadata"]["ownerReferences"] == [{"uid": "gc-only", "kind": "Thing"}], "the input is not changed"


def test_pods_that_no_longer_match_are_released():
    claim = claim_pods(OWNER, "apps.kruise.io/v1alpha1", "CloneSet", [pod("a", {"app": "other"}, OURS)], [])
    assert claim.pods == []
    assert claim.actions == [A.release_pod("a", {"metadata": {"uid": "uid-a", "ownerReferences": [
        {"$patch": "delete", "uid": "cs-uid"}]}})]


def test_orphans_not_taken():
    orphans = [pod("other-labels", {"app": "db"}), pod("terminating", deletionTimestamp="2024-05-01T12:00:00Z"),
               pod("elsewhere", namespace="other"), pod("controlled", refs=[{"uid": "x", "controller": True}])]
    claim = claim_pods(OWNER, "apps.kruise.io/v1alpha1", "CloneSet", [], orphans)
    assert claim.pods == [] and claim.actions == []


def test_a_member_filter_narrows_the_selector():
    claim = claim_pods(OWNER, "apps.kruise.io/v1alpha1", "CloneSet", [pod("a", refs=OURS)], [pod("b")],
                       member=lambda owner, p: p["metadata"]["name"] != "a")
    assert names(claim.pods) == ["b"]
    assert [a.what for a in claim.actions] == ["patch pods", "patch pods"]


def test_nothing_changes_hands_while_the_owner_is_being_deleted():
    deleting = {**OWNER, "metadata": {**OWNER["metadata"], "deletionTimestamp": "2024-05-01T12:00:00Z"}}
    claim = claim_pods(deleting, "apps.kruise.io/v1alpha1", "CloneSet",
                       [pod("a", refs=OURS), pod("b", {"app": "other"}, OURS)], [pod("c")])
    assert names(claim.pods) == ["a"], "still its own, but no longer counted"
    assert claim.actions == []


def test_an_invalid_selector_claims_and_releases_nothing():
    broken = {**OWNER, "spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "Bogus"}]}}}
    mine = [pod("a", refs=OURS)]
    claim = claim_pods(broken, "apps.kruise.io/v1alpha1", "CloneSet", mine, [pod("c")])
    assert claim.pods == mine and claim.actions == []


def test_controller_of_reads_the_controller_reference_of_a_kind_or_group():
    kruise = {"apiVersion": "apps.kruise.io/v1beta1", "kind": "StatefulSet", "name": "s", "uid": "u1",
              "controller": True}
    owned = pod("p", refs=[{"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "u0"}, kruise])
    assert controller_of(owned) == kruise and controller_uid(owned) == "u1"
    assert controller_uid(owned, kind="StatefulSet", api_group="apps.kruise.io") == "u1"
    assert controller_of(owned, kind="CloneSet") is None and controller_of(owned, api_group="apps") is None
    assert controller_uid(pod("q")) is None
