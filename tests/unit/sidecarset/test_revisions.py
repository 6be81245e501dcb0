"""A SidecarSet's ControllerRevisions (sidecarset.md §4): name, data, labels, owner, namespace, registration,
rollback, custom version and the history limit with upstream's e2e golden numbers (§4.3, §7.2 "history
revision checker")."""
import json

from controllers.common import actions as A
from controllers.common.revision import canonical_json, fnv1_32
from controllers.common.names import safe_encode
from controllers.sidecarset import annotations as keys
from controllers.sidecarset.revisions import (new_sidecarset_revision, register_latest_revision,
                                              sidecarset_revision_data, truncate_history)

from .upgrade_world import INSTALL_NS, RevisionStore, injected_pod, plan_for, sidecarset


def with_secret(ss, n):
    ss["spec"]["imagePullSecrets"] = [{"name": f"secret-{n}"}]
    return ss


def test_data_has_the_five_fields_with_nulls_and_replace():
    data = sidecarset_revision_data(with_secret(sidecarset(), 1))
    assert list(data) == ["spec"]
    assert set(data["spec"]) == {"$patch", "containers", "initContainers", "imagePullSecrets", "patchPodMetadata",
                                 "volumes"}
    assert data["spec"]["$patch"] == "replace" and data["spec"]["volumes"] is None
    assert canonical_json(data).startswith(b'{"spec":{"$patch":"replace","containers":[{"image":"nginx:1",')


def test_name_is_fnv1_32_of_the_data_then_the_collision_count_safe_encoded():
    ss = sidecarset(name="test-sidecarset")
    h = 0x811C9DC5
    for byte in canonical_json(sidecarset_revision_data(ss)) + b"0":
        h = (h * 0x01000193) & 0xFFFFFFFF  # FNV-1: multiply, then xor (FNV-1a is the other way round)
        h ^= byte
    rev = new_sidecarset_revision(ss, 1, 0, INSTALL_NS)
    assert rev["metadata"]["name"] == f"test-sidecarset-{safe_encode(str(h))}"
    assert set(rev["metadata"]["name"].rsplit("-", 1)[1]) <= set("456789bcdf")
    assert fnv1_32(b"") == 0x811C9DC5


def test_revision_object_lives_in_the_install_namespace_owned_by_the_v1beta1_sidecarset():
    ss = sidecarset(customVersion="3")
    ss["metadata"]["labels"] = {"team": "a"}
    rev = new_sidecarset_revision(ss, 1, 0, INSTALL_NS)
    meta = rev["metadata"]
    assert meta["namespace"] == INSTALL_NS
    assert meta["labels"] == {"team": "a", "controller.kubernetes.io/hash": meta["name"].rsplit("-", 1)[1],
                              keys.REVISION_SIDECARSET_LABEL: "ss", keys.REVISION_CUSTOM_VERSION_LABEL: "3"}
    assert meta["annotations"] == ss["metadata"]["annotations"]
    assert meta["ownerReferences"] == [{"apiVersion": "apps.kruise.io/v1beta1", "kind": "SidecarSet", "name": "ss",
                                        "uid": "uid-ss", "controller": True, "blockOwnerDeletion": True}]


def test_history_revision_checker_golden_numbers():
    """[SidecarSetUpgrade] history revision checker: 15 specs, limit 10 → 6..15; spec #12 again → 6..11, 13, 14,
    15, 16 (its revision renumbered, nothing created)."""
    store = RevisionStore()
    ss = sidecarset()
    for n in range(1, 16):
        with_secret(ss, n)
        plan = plan_for(ss, revisions=store.list())
        store.apply(plan)
        if n == 1:
            [rev] = store.list()
            assert set(rev["data"]["spec"]) >= {"volumes", "containers", "initContainers", "imagePullSecrets"}
    assert store.numbers() == list(range(6, 16))
    with_secret(ss, 12)
    plan = plan_for(ss, revisions=store.list())
    assert not plan.of_type(A.Create) and not plan.of_type(A.Delete)
    store.apply(plan)
    assert store.numbers() == [6, 7, 8, 9, 10, 11, 13, 14, 15, 16]
    latest = max(store.list(), key=lambda r: r["revision"])
    assert latest["data"]["spec"]["imagePullSecrets"] == [{"name": "secret-12"}]
    status = plan.of_type(A.Patch, A.WORKLOAD, "status")[0].body["status"]
    assert status["latestRevision"] == latest["metadata"]["name"] and status["collisionCount"] == 0


def test_history_revision_data_checker():
    """[SidecarSetUpgrade] history revision data checker: patchPodMetadata is recorded, old and new."""
    store = RevisionStore()
    ss = sidecarset()
    for v in ("version-1", "version-2"):
        ss["spec"]["patchPodMetadata"] = [{"annotations": {"sidecarset.kruise.io/test": v}, "patchPolicy": "Retain"}]
        store.apply(plan_for(ss, revisions=store.list()))
    old, new = sorted(store.list(), key=lambda r: r["revision"])
    assert old["data"]["spec"]["patchPodMetadata"][0]["annotations"]["sidecarset.kruise.io/test"] == "version-1"
    assert new["data"]["spec"]["patchPodMetadata"][0]["annotations"]["sidecarset.kruise.io/test"] == "version-2"


def test_no_change_no_write_and_plan_is_level_based():
    store = RevisionStore()
    ss = sidecarset()
    store.apply(plan_for(ss, revisions=store.list()))
    again = plan_for(ss, revisions=store.list())
    assert not [a for a in again.actions if getattr(a, "resource", "") == "controllerrevisions.apps"]


def test_active_revisions_survive_truncation():
    """Pods' controllerRevision, the pinned revisionName and the newest revision of the pinned customVersion are
    kept; the newest is never deleted; below the limit nothing goes."""
    ss = sidecarset(revisionHistoryLimit=2)
    revs = []
    for n in range(1, 6):
        with_secret(ss, n)
        ss["spec"]["customVersion"] = "v-odd" if n % 2 else "v-even"
        rev = new_sidecarset_revision(ss, n, 0, INSTALL_NS)
        rev["metadata"]["uid"] = f"r{n}"
        revs.append(rev)
    name = [r["metadata"]["name"] for r in revs]
    pod = injected_pod("p", ss)
    spec = json.loads(pod["metadata"]["annotations"][keys.HASH])
    spec["ss"]["controllerRevision"] = name[0]
    pod["metadata"]["annotations"][keys.HASH] = json.dumps(spec)
    ss["spec"]["injectionStrategy"] = {"revision": {"customVersion": "v-even", "policy": "Always"}}
    deletions = truncate_history(ss, revs, [pod], INSTALL_NS)
    # 5 revisions, limit 2: 3 should go, but r1 (a pod's), r4 (the newest v-even) and r5 (the newest) stay
    assert [d.name for d in deletions] == [name[1], name[2]]
    assert all(d.namespace == INSTALL_NS for d in deletions)
    ss["spec"]["revisionHistoryLimit"] = 10
    assert truncate_history(ss, revs, [pod], INSTALL_NS) == []


def test_custom_version_labels_the_latest_revision():
    store = RevisionStore()
    ss = sidecarset()
    store.apply(plan_for(ss, revisions=store.list()))
    ss["spec"]["customVersion"] = "7"  # not in the data: the same revision, relabelled
    plan = plan_for(ss, revisions=store.list())
    [patch] = plan.of_type(A.Patch, "controllerrevisions.apps")
    assert patch.body == {"metadata": {"labels": {keys.REVISION_CUSTOM_VERSION_LABEL: "7"}}}
    assert patch.namespace == INSTALL_NS


def test_a_name_held_by_another_object_bumps_the_collision_count():
    ss = sidecarset()
    squatter = new_sidecarset_revision(sidecarset(), 1, 0, INSTALL_NS)
    squatter["data"] = {"spec": {"other": True}}
    squatter["metadata"]["ownerReferences"] = []
    registration = register_latest_revision(ss, [squatter], INSTALL_NS)
    assert registration.collision_count == 1
    assert registration.latest["metadata"]["name"] != squatter["metadata"]["name"]
