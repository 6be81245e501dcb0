"""Image pre-download wired into each kind's reconcile (the decision itself: tests/unit/common/test_predownload.py),
on the fake cluster: behind its gate, an in-place rollout in batches gets one ImagePullJob per new image and its
revision the created label; a skipped one the ignored label; a finished rollout deletes the jobs."""
from __future__ import annotations

import pytest

from controllers.common.predownload import CREATED_LABEL, IGNORED_LABEL, PARALLELISM_ANNOTATION

from .cloneset.world import World as CloneSetWorld, cloneset
from .daemonset.cluster import daemonset, world as daemonset_world
from .statefulset.world import World as StatefulSetWorld, statefulset

CS_GATE, DS_GATE = "PreDownloadImageForInPlaceUpdate", "PreDownloadImageForDaemonSetUpdate"


def update_revision(w):
    return w.revisions[w.status["updateRevision"]] if "updateRevision" in w.status else None


def revision_labels(w, name):
    return w.revisions[name]["metadata"]["labels"]


def cloneset_world(replicas=5, gates=None, **update):
    cs = cloneset(replicas=replicas, update={"type": "InPlaceIfPossible", "partition": 1, **update})
    cs["metadata"]["annotations"] = {PARALLELISM_ANNOTATION: "2"}
    w = CloneSetWorld(cs, gates={CS_GATE: True} if gates is None else gates)
    w.settle()
    return w


def test_cloneset_rollout_pulls_the_new_image_first_then_deletes_the_job():
    w = cloneset_world()
    assert w.image_pull_jobs == {}
    w.set_image("nginx:1.26")
    w.settle()
    update = w.status["updateRevision"]
    [job] = w.image_pull_jobs.values()
    assert job["metadata"]["name"] == f"{update}-main"
    assert (job["spec"]["image"], job["spec"]["parallelism"]) == ("nginx:1.26", 2)
    assert job["metadata"]["ownerReferences"][0]["uid"] == "cs-uid"
    assert revision_labels(w, update)[CREATED_LABEL] == "true"
    assert w.status["updatedReplicas"] == 4  # partition 1 keeps one pod back
    assert "CreatedImagePullJob" in w.event_reasons()
    w.edit_spec(lambda s: s["updateStrategy"].__setitem__("partition", 0))
    w.settle()
    assert w.status["currentRevision"] == update and w.image_pull_jobs == {}


@pytest.mark.parametrize("replicas, update, why", [
    (3, {}, "three replicas or fewer"),
    (5, {"type": "ReCreate"}, "a recreating update"),
    (5, {"partition": 0, "maxUnavailable": "100%"}, "one batch"),
])
def test_cloneset_skips_label_the_revision_ignored(replicas, update, why):
    w = cloneset_world(replicas, **update)
    w.set_image("nginx:1.26")
    w.step()
    assert w.image_pull_jobs == {}, why
    assert revision_labels(w, w.status["updateRevision"])[IGNORED_LABEL] == "true", why


def test_cloneset_a_change_beyond_images_is_ignored():
    w = cloneset_world()
    w.edit_spec(lambda s: s["template"]["spec"]["containers"][0].__setitem__("image", "nginx:1.26")
                or s["template"]["spec"]["containers"][0].__setitem__("args", ["x"]))
    w.step()
    assert w.image_pull_jobs == {}
    assert revision_labels(w, w.status["updateRevision"])[IGNORED_LABEL] == "true"


@pytest.mark.parametrize("gates", [{}, {CS_GATE: True, "KruiseDaemon": False}])
def test_cloneset_nothing_without_the_gate_or_without_kruise_daemon(gates):
    w = cloneset_world(gates=gates)
    w.set_image("nginx:1.26")
    w.settle()
    assert w.image_pull_jobs == {}
    assert not {CREATED_LABEL, IGNORED_LABEL} & set(revision_labels(w, w.status["updateRevision"]))


def test_cloneset_min_updated_ready_pods_waits_for_updated_pods():
    w = cloneset_world(partition=3)
    w.cloneset["metadata"]["annotations"]["apps.kruise.io/image-predownload-min-updated-ready-pods"] = "2"
    w.set_image("nginx:1.26")
    w.settle()
    assert w.status["updatedReadyReplicas"] == 2
    assert len(w.image_pull_jobs) == 1  # created once 2 updated pods were ready


def test_advanced_statefulset_rollout_pulls_the_new_image():
    sts = statefulset(replicas=5, rolling={"podUpdatePolicy": "InPlaceIfPossible", "partition": 2})
    w = StatefulSetWorld(sts, gates={CS_GATE: True})
    w.settle()
    w.set_image("nginx:1.26")
    w.settle()
    update = w.status["updateRevision"]
    [job] = w.image_pull_jobs.values()
    assert job["metadata"]["name"] == f"{update}-main" and job["spec"]["image"] == "nginx:1.26"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    assert revision_labels(w, update)[CREATED_LABEL] == "true"
    w.rolling(partition=0)
    w.settle()
    assert w.image_pull_jobs == {}


def test_advanced_statefulset_recreate_policy_is_ignored():
    sts = statefulset(replicas=5, rolling={"podUpdatePolicy": "ReCreate", "partition": 2})
    w = StatefulSetWorld(sts, gates={CS_GATE: True})
    w.settle()
    w.set_image("nginx:1.26")
    w.step()
    assert w.image_pull_jobs == {}
    assert revision_labels(w, w.status["updateRevision"])[IGNORED_LABEL] == "true"


def test_advanced_daemonset_rollout_pulls_the_new_image():
    ds = daemonset(rolling={"rollingUpdateType": "InPlaceIfPossible", "partition": 1})
    w = daemonset_world(ds, gates={DS_GATE: True})
    w.settle()
    w.set_image("nginx:1.26")
    w.settle()
    [revision] = [r for r in w.revisions.values() if r["metadata"]["name"].endswith(w.status["updateRevision"])]
    assert revision["metadata"]["labels"][CREATED_LABEL] == "true"
    # As upstream, the first revision got a job as well (no old revision: every container is new), which selects
    # no pod; the rollout deleted it once it was done.
    [job] = w.image_pull_jobs.values()
    assert job["metadata"]["name"] == f"{revision['metadata']['name']}-main"
    assert job["spec"]["image"] == "nginx:1.26" and job["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"
    w.set_rolling(partition=0)
    w.settle()
    assert w.image_pull_jobs == {}


def test_advanced_daemonset_one_batch_is_ignored_and_the_gate_is_its_own():
    ds = daemonset(rolling={"rollingUpdateType": "InPlaceIfPossible", "maxUnavailable": "100%"})
    w = daemonset_world(ds, gates={DS_GATE: True})
    w.settle()
    w.set_image("nginx:1.26")
    w.settle()
    assert w.image_pull_jobs == {}
    assert any(r["metadata"]["labels"].get(IGNORED_LABEL) for r in w.revisions.values())
    other = daemonset_world(daemonset(rolling={"rollingUpdateType": "InPlaceIfPossible", "partition": 1}),
                            gates={CS_GATE: True})
    other.settle()
    other.set_image("nginx:1.26")
    other.settle()
    assert other.image_pull_jobs == {}
