import copy

from controllers.common import actions as A
from controllers.common.names import ALPHANUMS, safe_encode
from controllers.common.revision import (canonical_json, equal_to_revision_hash, fnv1_32, hash_revision_data,
                                         live_revision_names, resolve_revisions, revision_labels, short_hash,
                                         template_from_revision, template_revision_data, truncate_history)

PARENT = {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet",
          "metadata": {"name": "demo", "namespace": "ns", "uid": "u1"}}
TEMPLATE = {"metadata": {"labels": {"app": "demo"}},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.25"}]}}


def resolve(template, revisions, collision_count=0, current=None, parent=PARENT):
    return resolve_revisions(parent=parent, api_version="apps.kruise.io/v1alpha1", kind="CloneSet",
                             data=template_revision_data(template), template_labels=template["metadata"]["labels"],
                             revisions=revisions, collision_count=collision_count, current_revision_name=current)


def apply(revisions, result):
    """What the API server holds after the result's actions."""
    out = {r["metadata"]["name"]: r for r in revisions}
    for a in result.actions:
        if a.what == "create controllerrevisions.apps":
            out[a.body["metadata"]["name"]] = a.body
        elif a.what == "patch controllerrevisions.apps":
            out[a.name] = dict(out[a.name], **a.body)
    return list(out.values())


def test_fnv1_32_matches_go_fnv_new32():
    # Known FNV-1 (not FNV-1a) vectors: Kubernetes uses hash/fnv.New32.
    assert fnv1_32(b"") == 0x811C9DC5
    assert fnv1_32(b"a") == 0x050C5D7E
    assert fnv1_32(b"foobar") == 0x31F0B262


def test_safe_encoding_uses_the_vowel_free_alphabet():
    assert safe_encode("0123456789") == "".join(ALPHANUMS[ord(c) % 27] for c in "0123456789")
    assert set(safe_encode("4294967295")) <= set(ALPHANUMS)


def test_canonical_json_is_gos_map_encoding():
    assert canonical_json({"b": 1, "a": {"d": "<&>", "c": [1, 2]}}) == b'{"a":{"c":[1,2],"d":"\\u003c\\u0026\\u003e"},"b":1}'


def test_revision_data_replaces_the_whole_template():
    data = template_revision_data(TEMPLATE)
    assert data == {"spec": {"template": {**TEMPLATE, "$patch": "replace"}}}
    assert "$patch" not in TEMPLATE  # the input is not modified
    assert template_from_revision({"data": data}) == TEMPLATE


def test_golden_hash_for_a_known_template():
    # Pinned: changing the hashing renames every ControllerRevision and relabels every pod in existing clusters.
    # Cross-checked with Go: json.Marshal of the same map, hash/fnv.New32, rand.SafeEncodeString.
    assert hash_revision_data(template_revision_data(TEMPLATE), 0) == "5b66d58856"
    assert hash_revision_data(template_revision_data(TEMPLATE), 1) == "5b66d58857"


def test_same_template_same_name_whatever_the_key_order():
    reordered = {"spec": {"containers": [{"image": "nginx:1.25", "name": "main"}]},
                 "metadata": {"labels": {"app": "demo"}}}
    a, b = resolve(TEMPLATE, []), resolve(reordered, [])
    assert a.update["metadata"]["name"] == b.update["metadata"]["name"] == "demo-5b66d58856"


def test_new_revision_object():
    res = resolve(TEMPLATE, [])
    assert [a.what for a in res.actions] == ["create controllerrevisions.apps"]
    rev = res.actions[0].body
    assert rev["apiVersion"] == "apps/v1" and rev["kind"] == "ControllerRevision"
    assert rev["metadata"]["name"] == "demo-5b66d58856"
    assert rev["metadata"]["namespace"] == "ns"
    assert rev["metadata"]["labels"] == {"app": "demo", "controller.kubernetes.io/hash": "5b66d58856"}
    assert rev["metadata"]["ownerReferences"] == [{"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet",
                                                   "name": "demo", "uid": "u1", "controller": True,
                                                   "blockOwnerDeletion": True}]
    assert rev["revision"] == 1
    assert res.current is res.update  # no currentRevision yet


def test_an_unchanged_template_reuses_the_latest_revision():
    first = resolve(TEMPLATE, [])
    revisions = apply([], first)
    again = resolve(TEMPLATE, revisions, current=first.update["metadata"]["name"])
    assert again.actions == []
    assert again.update["metadata"]["name"] == first.update["metadata"]["name"]


def test_rollback_bumps_the_old_revision_instead_of_creating_one():
    v1 = resolve(TEMPLATE, [])
    revisions = apply([], v1)
    t2 = copy.deepcopy(TEMPLATE)
    t2["spec"]["containers"][0]["image"] = "nginx:1.26"
    v2 = resolve(t2, revisions, current=v1.update["metadata"]["name"])
    revisions = apply(revisions, v2)
    assert v2.update["revision"] == 2
    back = resolve(TEMPLATE, revisions, current=v2.update["metadata"]["name"])
    assert back.actions == [A.Patch(A.REVISIONS, v1.update["metadata"]["name"], {"revision": 3})]
    assert back.update["metadata"]["name"] == v1.update["metadata"]["name"] and back.update["revision"] == 3
    assert back.current["metadata"]["name"] == v2.update["metadata"]["name"]
    assert [r["metadata"]["name"] for r in back.owned] == [v2.update["metadata"]["name"], v1.update["metadata"]["name"]]


def test_a_hash_collision_bumps_the_collision_count():
    squatter = {"metadata": {"name": "demo-5b66d58856", "ownerReferences": [{"uid": "u1", "controller": True}]},
                "data": {"spec": {"template": {"other": True}}}, "revision": 1}
    res = resolve(TEMPLATE, [squatter])
    assert res.collision_count == 1
    name = res.update["metadata"]["name"]
    assert name == "demo-" + hash_revision_data(template_revision_data(TEMPLATE), 1) != "demo-5b66d58856"
    assert res.update["revision"] == 2


def test_a_foreign_revision_with_our_name_counts_as_a_collision_and_is_never_ours():
    foreign = {"metadata": {"name": "demo-5b66d58856", "ownerReferences": [{"uid": "other", "controller": True}]},
               "data": {"x": 1}, "revision": 7}
    res = resolve(TEMPLATE, [foreign])
    assert res.collision_count == 1 and res.update["revision"] == 1
    assert truncate_history(res.owned, set(), 0) == [A.Delete(A.REVISIONS, res.update["metadata"]["name"],
                                                              ignore=(404, 409))]


def test_revision_labels_and_comparisons_accept_either_form():
    assert revision_labels("demo-5b66d58856") == {"controller-revision-hash": "demo-5b66d58856",
                                                  "pod-template-hash": "5b66d58856"}
    assert revision_labels("demo-5b66d58856", short=True)["controller-revision-hash"] == "5b66d58856"
    assert short_hash("my-app-5b66d58856") == "5b66d58856"
    full = {"metadata": {"labels": {"controller-revision-hash": "demo-5b66d58856"}}}
    short = {"metadata": {"labels": {"controller-revision-hash": "5b66d58856"}}}
    assert equal_to_revision_hash(full, "demo-5b66d58856") and equal_to_revision_hash(short, "demo-5b66d58856")
    assert not equal_to_revision_hash(full, "demo-7f7f7f7f7f")
    assert not equal_to_revision_hash({"metadata": {}}, "demo-5b66d58856")


def _rev(name, number):
    return {"metadata": {"name": name}, "revision": number, "data": {"n": number}}


def test_history_truncation_keeps_live_revisions_and_deletes_the_oldest():
    owned = [_rev(f"demo-{i}", i) for i in range(1, 8)]
    pods = [{"metadata": {"labels": {"controller-revision-hash": "demo-2"}}}]
    live = live_revision_names(owned, pods, current="demo-6", update="demo-7")
    assert live == {"demo-2", "demo-6", "demo-7"}
    assert truncate_history(owned, live, 2) == [A.Delete(A.REVISIONS, "demo-1", ignore=(404, 409)),
                                                A.Delete(A.REVISIONS, "demo-3", ignore=(404, 409))]
    assert truncate_history(owned, live, 10) == []
    assert truncate_history(owned, live, 0) == [A.Delete(A.REVISIONS, f"demo-{i}", ignore=(404, 409)) for i in (1, 3, 4, 5)]


def test_history_truncation_deletes_the_revision_seen_not_one_recreated_under_its_name():
    owned = [{"metadata": {"name": f"demo-{i}", "uid": f"u-{i}", "resourceVersion": str(i)}, "revision": i}
             for i in (1, 2)]
    [delete] = truncate_history(owned, {"demo-2"}, 0)
    assert (delete.name, delete.uid, delete.ignore) == ("demo-1", "u-1", (404, 409))
