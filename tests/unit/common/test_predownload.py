"""Image pre-download for in-place updates, on plain dicts (`common/predownload`, OpenKruise v1.9.0
`cloneset_predownload_image.go`, `statefulset_predownload_image.go`, `daemonset_predownload_image.go`,
`imagejob_util.go`): the images that changed, every skip case, when it is due, the ImagePullJob's shape, and
the actions of a round."""
from __future__ import annotations

import pytest

from controllers.common import actions as A
from controllers.common import predownload as P
from controllers.common.revision import new_revision, template_revision_data

CLONESET = {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet",
            "metadata": {"name": "web", "namespace": "ns", "uid": "cs-uid", "annotations": {}},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}, "annotations": {"note": "x"}},
                                  "spec": {"containers": [{"name": "main", "image": "app:v1"},
                                                          {"name": "side", "image": "log:v1"}]}}}}


def template(**images: str) -> dict:
    return {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": n, "image": i} for n, i in images.items()]}}


def revision(number: int = 1, labels: dict | None = None, **images: str) -> dict:
    rev = new_revision(CLONESET, "apps.kruise.io/v1alpha1", "CloneSet", template_revision_data(template(**images)),
                       {"app": "web"}, number, 0)
    rev["metadata"]["labels"].update(labels or {})
    return rev


def with_annotations(**annotations: str) -> dict:
    return {**CLONESET, "metadata": {**CLONESET["metadata"], "annotations": annotations}}


# -- which images
def test_changed_images_are_the_new_or_changed_containers_of_the_update_revision():
    old = revision(main="app:v1", side="log:v1")
    new = revision(2, main="app:v2", side="log:v1", extra="tool:v1")
    assert P.changed_images([old], new) == {"main": "app:v2", "extra": "tool:v1"}
    assert P.changed_images([old], revision(2, main="app:v1", side="log:v1")) == {}


def test_changed_images_against_several_old_revisions_as_advanced_daemonset():
    """An image that differs from any old revision's is pulled (some nodes still run that one)."""
    olds = [revision(1, main="app:v1"), revision(2, main="app:v2")]
    assert P.changed_images(olds, revision(3, main="app:v2")) == {"main": "app:v2"}
    assert P.changed_images([revision(2, main="app:v2")], revision(3, main="app:v2")) == {}


def test_an_unreadable_revision_yields_no_images():
    broken = {"metadata": {"name": "web-x"}, "data": "not a template"}
    assert P.changed_images([broken], revision(2, main="app:v2")) == {}


# -- when
@pytest.mark.parametrize("kw, reason", [
    (dict(recreate=True), "the update recreates pods"),
    (dict(pods=3), "replicas 3 <= 3"),
    (dict(partition=0, max_unavailable=5), "all pods update in one batch"),
    (dict(partition=0, max_unavailable=9), "all pods update in one batch"),
    (dict(in_place_possible=False), "the revision cannot be updated in place"),
])
def test_every_skip_case(kw, reason):
    args = dict(pods=5, partition=1, max_unavailable=1) | kw
    assert P.skip_reason(**args) == reason


def test_no_skip_for_a_batched_in_place_rollout():
    assert P.skip_reason(pods=5, partition=1, max_unavailable=1) is None
    assert P.skip_reason(pods=5, partition=0, max_unavailable=4) is None
    assert P.skip_reason(pods=4, partition=0, max_unavailable=1) is None


def test_advanced_daemonset_has_no_minimum_of_pods():
    assert P.skip_reason(pods=2, partition=1, max_unavailable=1, minimum_replicas=None) is None
    assert P.skip_reason(pods=2, partition=0, max_unavailable=2, minimum_replicas=None) == \
        "all pods update in one batch"


@pytest.mark.parametrize("value, total, expected", [
    (None, 10, 0), ("3", 10, 3), ("25%", 10, 3), ("50%", 5, 3), ("bad", 10, 0), ("1.5", 10, 0)])
def test_min_updated_ready_pods_is_an_int_or_a_percentage_rounded_up(value, total, expected):
    annotations = {} if value is None else {P.MIN_UPDATED_READY_ANNOTATION: value}
    assert P.min_updated_ready_pods(annotations, total) == expected


def test_due_once_enough_pods_of_the_update_revision_are_ready():
    wants_two = {P.MIN_UPDATED_READY_ANNOTATION: "2"}
    assert P.due({}, 5, 0, "web-old", "web-new")
    assert not P.due(wants_two, 5, 1, "web-new", "web-new")
    assert P.due(wants_two, 5, 2, "web-new", "web-new")
    # The status' count is of another revision: it does not count.
    assert not P.due(wants_two, 5, 4, "web-old", "web-new")


# -- the job
def test_the_image_pull_job_for_one_new_image():
    update = revision(2, main="app:v2")
    job = P.image_pull_job(CLONESET, "apps.kruise.io/v1alpha1", "CloneSet", update, "main", "app:v2")
    hash_ = update["metadata"]["labels"]["controller.kubernetes.io/hash"]
    assert job["apiVersion"] == "apps.kruise.io/v1beta1" and job["kind"] == "ImagePullJob"
    assert job["metadata"]["name"] == f"{update['metadata']['name']}-main"
    assert job["metadata"]["namespace"] == "ns"
    assert job["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "name": "web", "uid": "cs-uid",
        "controller": True, "blockOwnerDeletion": True}]
    assert job["metadata"]["labels"] == {"app": "web", "controller.kubernetes.io/hash": hash_}
    assert job["spec"] == {
        "image": "app:v2",
        "podSelector": {"matchLabels": {"app": "web"}, "matchExpressions": [
            {"key": "controller-revision-hash", "operator": "NotIn", "values": [update["metadata"]["name"], hash_]}]},
        "parallelism": 1,
        "pullPolicy": {"backoffLimit": 1, "timeoutSeconds": 300},
        "completionPolicy": {"type": "Always", "ttlSecondsAfterFinished": 600},
        "sandboxConfig": {"labels": {"app": "web", "controller.kubernetes.io/hash": hash_},
                          "annotations": {"note": "x"}},
    }


@pytest.mark.parametrize("parallelism, timeout, expected", [
    ("2", "60", (2, 60)), ("+3", "0120", (3, 120)), ("two", "1m", (1, 300)), ("2.5", "99999999999", (1, 300))])
def test_parallelism_and_timeout_annotations_as_upstream_parses_them(parallelism, timeout, expected):
    cs = with_annotations(**{P.PARALLELISM_ANNOTATION: parallelism, P.TIMEOUT_ANNOTATION: timeout})
    job = P.image_pull_job(cs, "apps.kruise.io/v1alpha1", "CloneSet", revision(2, main="app:v2"), "main", "app:v2")
    assert (job["spec"]["parallelism"], job["spec"]["pullPolicy"]["timeoutSeconds"]) == expected


def test_pull_secrets_are_the_templates():
    cs = {**CLONESET, "spec": {**CLONESET["spec"], "template": {
        **CLONESET["spec"]["template"], "spec": {**CLONESET["spec"]["template"]["spec"],
                                                 "imagePullSecrets": [{"name": "reg"}, {"name": "other"}]}}}}
    job = P.image_pull_job(cs, "apps.kruise.io/v1alpha1", "CloneSet", revision(2, main="app:v2"), "main", "app:v2")
    assert job["spec"]["pullSecrets"] == ["reg", "other"]


# -- the round's actions
def rollout(**kw) -> P.Rollout:
    return P.Rollout(**({"rolled_out": False, "due": True, "skip": None, "old_revisions": [revision(main="app:v1")]}
                        | kw))


def plan(update: dict, jobs: list | None = None, **kw) -> list:
    return P.plan_predownload(CLONESET, "apps.kruise.io/v1alpha1", "CloneSet", update, rollout(**kw), jobs or [])


def test_a_new_revision_gets_its_jobs_their_events_and_the_created_label():
    update = revision(2, main="app:v2", side="log:v2")
    name = update["metadata"]["name"]
    actions = plan(update, old_revisions=[revision(main="app:v1", side="log:v1")])
    creates = [a for a in actions if isinstance(a, A.Create)]
    assert [(a.resource, a.name, a.ignore) for a in creates] == [
        (P.IMAGE_PULL_JOBS, f"{name}-main", (A.CONFLICT,)), (P.IMAGE_PULL_JOBS, f"{name}-side", (A.CONFLICT,))]
    assert [a.message for a in actions if isinstance(a, A.Event)] == [
        f"created ImagePullJob {name}-main for image: app:v2", f"created ImagePullJob {name}-side for image: log:v2"]
    last = actions[-1]
    assert isinstance(last, A.Patch) and (last.resource, last.name) == (A.REVISIONS, name)
    assert last.body == {"metadata": {"labels": {"apps.kruise.io/pre-predownload-created": "true"}}}


def test_a_labelled_revision_asks_for_nothing_more():
    for label in (P.CREATED_LABEL, P.IGNORED_LABEL):
        assert plan(revision(2, labels={label: "true"}, main="app:v2")) == []


def test_a_skipped_revision_is_labelled_ignored():
    update = revision(2, main="app:v2")
    [patch] = plan(update, skip="replicas 3 <= 3")
    assert (patch.resource, patch.name, patch.body) == (
        A.REVISIONS, update["metadata"]["name"], {"metadata": {"labels": {P.IGNORED_LABEL: "true"}}})


def test_not_due_yet_asks_for_nothing():
    assert plan(revision(2, main="app:v2"), due=False) == []
    assert plan(revision(2, main="app:v2"), due=False, skip="x") == []


def test_once_rolled_out_the_workloads_jobs_are_deleted():
    jobs = [{"metadata": {"name": "b", "uid": "u-b"}}, {"metadata": {"name": "a", "uid": "u-a"}},
            {"metadata": {"name": "c", "uid": "u-c", "deletionTimestamp": "2026-12-04T10:00:00Z"}}]
    deletes = plan(revision(2, labels={P.CREATED_LABEL: "true"}, main="app:v2"), jobs, rolled_out=True)
    assert [(type(d), d.resource, d.name, d.uid) for d in deletes] == [
        (A.Delete, P.IMAGE_PULL_JOBS, "a", "u-a"), (A.Delete, P.IMAGE_PULL_JOBS, "b", "u-b")]
