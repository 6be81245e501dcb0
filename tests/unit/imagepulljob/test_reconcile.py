"""The pure parts of image pre-download: the ImagePullJob, NodeImage and ImageListPullJob reconciles and the
daemon's status, on plain dicts (openkruise-1.9/kruise-daemon.md §2)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from controllers.common.actions import Context, Create, Delete, Event, Patch
from controllers.imagelistpulljob import reconcile as list_reconcile
from controllers.imagepulljob import api, reconcile as job_reconcile, secrets
from controllers.nodeimage import reconcile as node_reconcile
from daemon import imagepull

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
T = lambda seconds=0: (NOW + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731


def job(name="j", uid="ju", **spec) -> dict:
    return {"metadata": {"name": name, "namespace": "d", "uid": uid, "resourceVersion": "1",
                         "finalizers": [api.DELETION_PROTECTION_FINALIZER]},
            "spec": {"image": "nginx:1", "completionPolicy": {"type": "Always"}, **spec}}


def node_image(name, tags=None, statuses=None, labels=None) -> dict:
    obj = {"metadata": {"name": name, "resourceVersion": "7", "labels": labels or {}}, "spec": {}, "status": {}}
    if tags is not None:
        obj["spec"]["images"] = {"nginx": {"tags": tags}}
    if statuses is not None:
        obj["status"]["imageStatuses"] = {"nginx": {"tags": statuses}}
    return obj


def owned_tag(j, version=0, **extra) -> dict:
    return {"tag": "1", "version": version, "createdAt": T(-10), "ownerReferences": [api.owner_reference(j)],
            "pullPolicy": {"ttlSecondsAfterFinished": 600}, **extra}


def plan_of(j, nodes, **observed):
    return job_reconcile.reconcile(j, {api.NODE_IMAGES: nodes, **observed}, Context(NOW))


def test_parallelism_limits_the_nodes_synced_and_counts_unanswered_tags_active():
    """v1.9.0 (#2212): a synced node with no status of the tag's version counts active, so parallelism 2 with
    one node pulling syncs one more."""
    j = job(parallelism=2)
    nodes = [node_image("a", [owned_tag(j)]), node_image("b"), node_image("c"), node_image("d")]
    plan = plan_of(j, nodes)
    patched = [a.name for a in plan.actions if isinstance(a, Patch) and a.resource == api.NODE_IMAGES]
    assert patched == ["b"]
    status = plan.actions[-1].body["status"]
    assert (status["desired"], status["active"], status["message"]) == (4, 1, api.MESSAGE_NO_PROGRESS)
    body = plan.actions[0].body
    assert body["metadata"]["resourceVersion"] == "7"
    tag = body["spec"]["images"]["nginx"]["tags"][0]
    assert (tag["tag"], tag["version"], tag["ownerReferences"][0]["uid"]) == ("1", 0, "ju")


def test_percent_parallelism_pauses_as_upstream():
    assert api.parallelism(job(parallelism="50%")) == 0
    assert api.parallelism(job()) == 1 and api.parallelism(job(parallelism="3")) == 3


def test_a_job_completes_when_every_node_finished():
    j = job()
    done = {"tag": "1", "version": 0, "phase": "Succeeded", "completionTime": T()}
    failed = {"tag": "1", "version": 0, "phase": "Failed", "completionTime": T(), "message": "x"}
    plan = plan_of(j, [node_image("a", [owned_tag(j)], [done]), node_image("b", [owned_tag(j)], [failed])])
    status = plan.actions[-1].body["status"]
    assert status["completionTime"] == T() and status["message"] == api.MESSAGE_COMPLETED
    assert (status["succeeded"], status["failed"], status["failedNodes"]) == (1, 1, ["b"])


def test_an_old_version_status_is_still_active():
    j = job()
    old = {"tag": "1", "version": 0, "phase": "Succeeded", "completionTime": T()}
    status = plan_of(j, [node_image("a", [owned_tag(j, version=1)], [old])]).actions[-1].body["status"]
    assert status["active"] == 1 and "completionTime" not in status


def test_the_deadline_fails_the_unfinished_nodes():
    j = job(completionPolicy={"type": "Always", "activeDeadlineSeconds": 30})
    j["status"] = {"startTime": T(-31)}
    done = {"tag": "1", "version": 0, "phase": "Succeeded", "completionTime": T()}
    status = plan_of(j, [node_image("a", [owned_tag(j)], [done]), node_image("b", [owned_tag(j)]),
                         node_image("c")]).actions[-1].body["status"]
    assert status["message"] == api.MESSAGE_DEADLINE and status["completionTime"] == T()
    assert (status["succeeded"], status["failed"], status["failedNodes"]) == (1, 2, ["b", "c"])


def test_a_second_job_joins_the_owners_with_a_new_version():
    first, second = job("one", "u1"), job("two", "u2")
    state = {"tag": "1", "version": 3, "phase": "Succeeded", "completionTime": T()}
    patch = job_reconcile.sync_node_image(second, node_image("a", [owned_tag(first, version=3)], [state]), [], NOW)
    tag = patch.body["spec"]["images"]["nginx"]["tags"][0]
    assert tag["version"] == 4 and [o["uid"] for o in tag["ownerReferences"]] == ["u1", "u2"]


def test_selector_names_labels_and_pods():
    nodes = [node_image("a", labels={"zone": "x"}), node_image("b", labels={"zone": "y"})]
    assert [n["metadata"]["name"] for n in job_reconcile.node_images_for(job(selector={"names": ["b", "z"]}), nodes,
                                                                           [])] == ["b"]
    labelled = job(selector={"matchLabels": {"zone": "x"}})
    assert [n["metadata"]["name"] for n in job_reconcile.node_images_for(labelled, nodes, [])] == ["a"]
    pods = [{"metadata": {"name": "p", "labels": {"app": "w"}, "creationTimestamp": T()},
             "spec": {"nodeName": "b"}, "status": {"phase": "Running"}},
            {"metadata": {"name": "q", "labels": {"app": "w"}}, "spec": {}, "status": {"phase": "Pending"}}]
    by_pods = job(podSelector={"matchLabels": {"app": "w"}})
    assert [n["metadata"]["name"] for n in job_reconcile.node_images_for(by_pods, nodes, pods)] == ["b"]


def test_tag_ttl_for_always_and_never():
    rand = random.Random(0)
    always = job_reconcile.tag_pull_policy(job(completionPolicy={"type": "Always", "ttlSecondsAfterFinished": 20}),
                                           rand)
    assert 20 + 300 <= always["ttlSecondsAfterFinished"] <= 20 + 600
    never = job_reconcile.tag_pull_policy(job(completionPolicy={"type": "Never"}), rand)
    assert abs(never["ttlSecondsAfterFinished"] - 86400) <= 600 and never["activeDeadlineSeconds"] == 1800


def test_finished_job_releases_secrets_and_finalizer_then_goes_after_its_ttl():
    j = job(pullSecrets=["auth"], completionPolicy={"type": "Always", "ttlSecondsAfterFinished": 10})
    j["status"] = {"completionTime": T(-11)}
    copy = {"metadata": {"name": secrets.copy_name("d", "auth"), "namespace": api.DAEMON_CONFIG_NAMESPACE,
                         "uid": "s1", "annotations": {api.REFERENCES_ANNOTATION: "d/j"}}}
    plan = plan_of(j, [], secrets=[copy])
    assert [type(a).__name__ for a in plan.actions] == ["Delete", "Patch", "Delete"]
    assert plan.actions[0].namespace == api.DAEMON_CONFIG_NAMESPACE
    assert plan.actions[1].body["metadata"]["finalizers"] is None


def test_pull_secrets_are_copied_once_and_shared():
    source = {"metadata": {"name": "auth", "namespace": "d"}, "type": "kubernetes.io/dockerconfigjson",
              "data": {".dockerconfigjson": "e30="}}
    created = secrets.secret_actions(job(pullSecrets=["auth"]), [source], keep=True)
    assert isinstance(created[0], Create)
    copy = created[0].body
    assert copy["metadata"]["namespace"] == api.DAEMON_CONFIG_NAMESPACE and copy["data"] == source["data"]
    assert copy["metadata"]["annotations"][api.REFERENCES_ANNOTATION] == "d/j"
    other = secrets.secret_actions(job("k", pullSecrets=["auth"]), [source, copy], keep=True)
    assert other[0].body["metadata"]["annotations"][api.REFERENCES_ANNOTATION] == "d/j,d/k"


# ---- NodeImage controller ------------------------------------------------------------------------------

def node(name="a", ready_since=-60, labels=None) -> dict:
    return {"metadata": {"name": name, "uid": "n1", "labels": labels or {}},
            "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": T(ready_since)}]}}


def node_plan(n, nodeimages, jobs=()):
    return node_reconcile.reconcile(n, {api.NODE_IMAGES: nodeimages, api.JOBS: list(jobs)}, Context(NOW))


def test_a_node_image_is_made_30_seconds_after_the_node_became_ready():
    assert node_plan(node(ready_since=-10), []).requeue_after == 20
    created = node_plan(node(labels={"zone": "x"}), []).actions[0]
    assert isinstance(created, Create) and created.body["metadata"]["labels"] == {"zone": "x"}
    assert created.body["metadata"]["ownerReferences"][0]["kind"] == "Node"
    assert node_plan(node(labels={"type": "virtual-kubelet"}), []).actions == []


def test_tags_of_gone_jobs_and_expired_tags_leave_the_spec():
    alive, gone = job("alive", "u1"), job("gone", "u2")
    expired = {"tag": "2", "version": 0, "phase": "Succeeded", "completionTime": T(-700)}
    ni = node_image("a", [owned_tag(gone), {**owned_tag(alive), "tag": "2"}], [expired])
    patch = node_plan(node(), [ni], [alive]).actions[0]
    assert patch.body["spec"]["images"] == {"nginx": None}
    ni = node_image("a", [owned_tag(gone), {**owned_tag(alive), "tag": "3"}])
    patch = node_plan(node(), [ni], [alive]).actions[0]
    assert [t["tag"] for t in patch.body["spec"]["images"]["nginx"]["tags"]] == ["3"]


def test_a_node_that_never_answers_fails_the_tag_after_ten_minutes():
    j = job()
    ni = node_image("a", [owned_tag(j, createdAt=T(-601))])
    plan = node_plan(node(), [ni], [j])
    status = plan.actions[0].body["status"]
    assert status["imageStatuses"]["nginx"]["tags"][0]["message"] == api.NODE_SILENT
    assert (status["failed"], status["desired"]) == (1, 1)
    assert [e.regarding["kind"] for e in plan.actions if isinstance(e, Event)] == ["ImagePullJob", "NodeImage"]
    waiting = node_plan(node(), [node_image("a", [owned_tag(j, createdAt=T(-500))])], [j])
    assert 99 <= waiting.requeue_after <= 101


def test_a_deleting_node_loses_its_node_image():
    n = node()
    n["metadata"]["deletionTimestamp"] = T()
    assert isinstance(node_plan(n, [node_image("a")]).actions[0], Delete)


# ---- ImageListPullJob, the daemon's status -------------------------------------------------------------------

def test_list_job_creates_one_child_per_image_and_counts_them():
    lj = {"metadata": {"name": "l", "namespace": "d", "uid": "lu"},
          "spec": {"images": ["a:1", "b:1"], "completionPolicy": {"type": "Always"}}}
    plan = list_reconcile.reconcile(lj, {api.JOBS: []}, Context(NOW))
    creates = [a for a in plan.actions if isinstance(a, Create)]
    assert [c.body["spec"]["image"] for c in creates] == ["a:1", "b:1"]
    digest = list_reconcile.template_hash(lj)
    lj["metadata"]["labels"] = {"controller-revision-hash": digest}
    children = [{"metadata": {"name": f"l-{i}", "labels": {"controller-revision-hash": digest}},
                 "spec": {"image": image}, "status": {"startTime": T(), "desired": 1, "succeeded": 1, "failed": 0}}
                for i, image in enumerate(["a:1", "b:1"])]
    status = list_reconcile.reconcile(lj, {api.JOBS: children}, Context(NOW)).actions[-1].body["status"]
    assert (status["desired"], status["completed"], status["succeeded"], status["completionTime"]) == (2, 2, 2, T())


def test_daemon_status_counts_the_spec_and_carries_finished_rounds():
    ni = node_image("a", [{"tag": "1", "version": 2}, {"tag": "2", "version": 0}],
                    [{"tag": "1", "version": 2, "phase": "Succeeded", "completionTime": T()}])
    wanted = imagepull.wanted(ni)
    assert imagepull.carried(ni, wanted[0]) is not None and imagepull.carried(ni, wanted[1]) is None
    states = {wanted[0].key: imagepull.carried(ni, wanted[0]),
              wanted[1].key: {"tag": "2", "version": 0, "phase": "Waiting"}}
    status = imagepull.build_status(ni, states)
    assert {k: status[k] for k in ("desired", "succeeded", "waiting", "pulling", "failed")} == {
        "desired": 2, "succeeded": 1, "waiting": 1, "pulling": 0, "failed": 0}
    assert [t["tag"] for t in status["imageStatuses"]["nginx"]["tags"]] == ["1", "2"]
