import base64
import copy
import json
from datetime import datetime, timedelta, timezone

import pytest

from controllers.common import actions as A
from controllers.common import inplace as I
from controllers.common.keys import INPLACE_UPDATE_GRACE_ANNOTATION as GRACE
from controllers.common.keys import INPLACE_UPDATE_STATE_ANNOTATION as STATE
from controllers.common.revision import template_revision_data

from .podfactory import pod

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
T1 = {"metadata": {"labels": {"app": "x", "v": "1"}, "annotations": {"note": "a"}},
      "spec": {"containers": [{"name": "main", "image": "nginx:1.25"}, {"name": "side", "image": "busybox:1"}]}}


def rev(name, template):
    return {"metadata": {"name": name}, "data": template_revision_data(template), "revision": 1}


def changed(**edits):
    t = copy.deepcopy(T1)
    for path, value in edits.items():
        target = t
        keys = path.split("__")
        for k in keys[:-1]:
            target = target[int(k)] if isinstance(target, list) else target[k]
        last = keys[-1]
        if value is None:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return t


def test_image_changes_are_in_place():
    spec = I.calculate_update_spec(rev("x-1", T1), rev("x-2", changed(spec__containers__1__image="busybox:2")), 5)
    assert spec == I.UpdateSpec(revision="x-2", container_images={"side": "busybox:2"}, grace_seconds=5)


def test_metadata_changes_are_in_place_and_become_a_patch():
    new = changed(metadata__labels__v="2", metadata__annotations__note=None)
    spec = I.calculate_update_spec(rev("x-1", T1), rev("x-2", new))
    assert spec.container_images == {}
    assert spec.metadata_patch == {"labels": {"v": "2"}, "annotations": {"note": None}}


@pytest.mark.parametrize("edit", [
    {"spec__containers__0__env": [{"name": "A", "value": "1"}]},
    {"spec__containers__0__name": "renamed"},
    {"spec__containers": [{"name": "main", "image": "nginx:1.25"}]},
    {"spec__initContainers": [{"name": "init", "image": "busybox"}]},
    {"spec__containers__0__resources": {"limits": {"cpu": "1"}}},
])
def test_other_spec_changes_need_a_recreate(edit):
    assert I.calculate_update_spec(rev("x-1", T1), rev("x-2", changed(**edit))) is None


def test_a_label_read_by_an_env_cannot_change_in_place():
    reads = copy.deepcopy(T1)
    reads["spec"]["containers"][0]["env"] = [{"name": "V", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['v']"}}}]
    new = copy.deepcopy(reads)
    new["metadata"]["labels"]["v"] = "2"
    assert I.calculate_update_spec(rev("x-1", reads), rev("x-2", new)) is None
    other = copy.deepcopy(reads)
    other["metadata"]["labels"]["app"] = "y"
    assert I.calculate_update_spec(rev("x-1", reads), rev("x-2", other)) is not None


def test_missing_revisions_are_not_in_place():
    assert I.calculate_update_spec(None, rev("x-2", T1)) is None
    assert not I.can_update_in_place(rev("x-1", T1), None)


def running(name="p"):
    return pod(name, labels={"controller-revision-hash": "x-1"}, gates=["InPlaceUpdateReady"],
               conditions=[{"type": "InPlaceUpdateReady", "status": "True"}],
               containers=[{"name": "main", "image": "nginx:1.25"}, {"name": "side", "image": "busybox:1"}])


def test_start_update_drains_then_patches_in_one_go():
    p = running()
    spec = I.UpdateSpec(revision="x-2", container_images={"main": "nginx:1.26"},
                        metadata_patch={"labels": {"v": "2"}})
    res = I.start_update(p, spec, NOW, extra_labels={"lifecycle.apps.kruise.io/state": "Updating"})
    drain, patch = res.actions
    assert drain.what == "patch pods/status"
    conds = {c["type"]: c for c in drain.body["status"]["conditions"]}
    assert conds["InPlaceUpdateReady"]["status"] == "False" and conds["InPlaceUpdateReady"]["reason"] == "StartInPlaceUpdate"
    assert conds["Ready"]["status"] == "False"  # drained at once, not when the kubelet notices
    assert patch.what == "patch pods" and patch.patch_type == "strategic"
    meta = patch.body["metadata"]
    assert meta["uid"] == "uid-p"
    assert meta["labels"] == {"v": "2", "controller-revision-hash": "x-2", "pod-template-hash": "2",
                              "lifecycle.apps.kruise.io/state": "Updating"}
    assert patch.body["spec"] == {"containers": [{"name": "main", "image": "nginx:1.26"}]}
    state = meta["annotations"]["apps.kruise.io/inplace-update-state"]
    assert state == ('{"revision":"x-2","updateTimestamp":"2024-05-01T12:00:00Z",'
                     '"lastContainerStatuses":{"main":{"imageID":"id-nginx:1.25","containerID":"cid-p-main"}},'
                     '"containerBatchesRecord":[{"timestamp":"2024-05-01T12:00:00Z","containers":["main"]}]}')
    assert res.requeue_after is None


def test_start_update_with_a_grace_period_defers_the_images():
    p = running()
    spec = I.UpdateSpec(revision="x-2", container_images={"main": "nginx:1.26"}, grace_seconds=3,
                        metadata_patch={"labels": {"v": "2"}})
    res = I.start_update(p, spec, NOW)
    patch = res.actions[-1].body
    assert "spec" not in patch and "v" not in patch["metadata"]["labels"]
    grace = json.loads(patch["metadata"]["annotations"]["apps.kruise.io/inplace-update-grace"])
    assert grace["revision"] == "x-2" and grace["containerImages"] == {"main": "nginx:1.26"} and grace["graceSeconds"] == 3
    assert json.loads(base64.b64decode(grace["metaDataPatch"])) == {"metadata": {"labels": {"v": "2"}}}
    assert I.UpdateSpec.from_json(patch["metadata"]["annotations"]["apps.kruise.io/inplace-update-grace"]) == spec
    state = json.loads(patch["metadata"]["annotations"]["apps.kruise.io/inplace-update-state"])
    assert state == {"revision": "x-2", "updateTimestamp": "2024-05-01T12:00:00Z", "lastContainerStatuses": None}
    assert res.requeue_after == 3.0


def _after(pod_, patch):
    """Apply a strategic patch the simple way (labels/annotations/containers by name)."""
    p = copy.deepcopy(pod_)
    for kind in ("labels", "annotations"):
        for k, v in ((patch.get("metadata") or {}).get(kind) or {}).items():
            if v is None:
                p["metadata"][kind].pop(k, None)
            else:
                p["metadata"][kind][k] = v
    for c in (patch.get("spec") or {}).get("containers") or []:
        next(x for x in p["spec"]["containers"] if x["name"] == c["name"])["image"] = c["image"]
    return p


def test_grace_period_then_images_then_completion():
    p = running()
    spec = I.UpdateSpec(revision="x-2", container_images={"main": "nginx:1.26"}, grace_seconds=3)
    p = _after(p, I.start_update(p, spec, NOW).actions[-1].body)
    p["status"]["conditions"][-1]["status"] = "False"
    assert I.in_progress(p)
    early = I.refresh(p, NOW + timedelta(seconds=1.2))
    assert early.actions == [] and early.requeue_after == 2.0
    done_waiting = I.refresh(p, NOW + timedelta(seconds=3))
    [patch] = done_waiting.actions
    assert patch.body["spec"] == {"containers": [{"name": "main", "image": "nginx:1.26"}]}
    assert patch.body["metadata"]["annotations"]["apps.kruise.io/inplace-update-grace"] is None
    p = _after(p, patch.body)
    assert I.refresh(p, NOW + timedelta(seconds=4)).actions == []  # kubelet has not restarted it yet
    p["status"]["containerStatuses"][0].update(image="nginx:1.26", imageID="id-nginx:1.26", containerID="cid-new")
    assert not I.in_progress(p)
    [ready] = I.refresh(p, NOW + timedelta(seconds=5)).actions
    assert ready.body["status"]["conditions"][0]["status"] == "True"


def test_grace_is_dropped_when_the_pod_moved_to_another_revision():
    p = running()
    spec = I.UpdateSpec(revision="x-2", container_images={"main": "nginx:1.26"}, grace_seconds=3)
    p = _after(p, I.start_update(p, spec, NOW).actions[-1].body)
    p["metadata"]["labels"]["controller-revision-hash"] = "x-3"
    [drop] = I.refresh(p, NOW + timedelta(seconds=10)).actions
    assert drop.body["metadata"]["annotations"] == {"apps.kruise.io/inplace-update-grace": None}


def _updated(imageID_changes: bool, restarted: bool, image: str = "docker.io/library/nginx:alpine"):
    p = running()
    p["spec"]["containers"] = [{"name": "main", "image": "nginx:alpine"}]
    p["status"]["containerStatuses"] = [{"name": "main", "image": "docker.io/library/nginx:alpine",
                                         "imageID": "sha256:aaa", "containerID": "cid-1", "restartCount": 0}]
    spec = I.UpdateSpec(revision="x-2", container_images={"main": "docker.io/library/nginx:alpine"})
    p = _after(p, I.start_update(p, spec, NOW).actions[-1].body)
    s = p["status"]["containerStatuses"][0]
    s["image"] = image
    if imageID_changes:
        s["imageID"] = "sha256:bbb"
    if restarted:
        s.update(containerID="cid-2", restartCount=1)
    return p


def test_issue_1493_same_digest_new_tag_completes_once_the_container_restarted():
    assert I.pod_update_error(_updated(imageID_changes=False, restarted=False)) == "container main imageID not changed"
    assert I.pod_update_error(_updated(imageID_changes=False, restarted=True)) is None
    assert I.pod_update_error(_updated(imageID_changes=True, restarted=False)) is None  # upstream rule still holds
    # The runtime may report any tag of the digest (containerd does): a restart counts, whatever it reports.
    assert I.pod_update_error(_updated(False, True, image="docker.io/library/nginx:1.0")) is None


def test_legacy_state_without_container_id_uses_the_image_rule():
    p = running()
    p["metadata"]["annotations"]["inplace-update-state"] = json.dumps(
        {"revision": "x-1", "updateTimestamp": "2024-05-01T11:00:00Z",
         "lastContainerStatuses": {"main": {"imageID": "id-nginx:1.25"}}})
    assert I.read_state(p)["revision"] == "x-1"
    assert I.pod_update_error(p) is None  # same imageID, but the status image is the spec image


def test_missing_container_status_is_not_complete():
    p = running()
    p["metadata"]["annotations"]["apps.kruise.io/inplace-update-state"] = json.dumps(
        {"revision": "x-2", "lastContainerStatuses": {"gone": {"imageID": "x"}}})
    assert "not found statuses" in I.pod_update_error(p)


def test_container_priorities_update_in_batches():
    containers = [{"name": "main", "image": "nginx:1.25", "env": [{"name": "KRUISE_CONTAINER_PRIORITY", "value": "10"}]},
                  {"name": "side", "image": "busybox:1"}]
    p = pod("p", labels={"controller-revision-hash": "x-1"}, containers=containers, gates=["InPlaceUpdateReady"])
    p["spec"]["containers"].append({"name": "low", "image": "redis:6",
                                    "env": [{"name": "KRUISE_CONTAINER_PRIORITY", "value": "1"}]})
    p["status"]["containerStatuses"].append({"name": "low", "image": "redis:6", "imageID": "id-redis:6",
                                             "containerID": "cid-low", "ready": True})
    spec = I.UpdateSpec(revision="x-2", container_images={"main": "nginx:1.26", "low": "redis:7", "side": "busybox:2"})
    first = I.start_update(p, spec, NOW).actions[-1].body
    assert sorted(c["name"] for c in first["spec"]["containers"]) == ["main", "side"]  # no priority + highest
    state = json.loads(first["metadata"]["annotations"]["apps.kruise.io/inplace-update-state"])
    assert state["nextContainerImages"] == {"low": "redis:7"}
    assert state["preCheckBeforeNext"] == {"containersRequiredReady": ["main", "side"]}
    p = _after(p, first)
    assert I.pod_update_error(p) is not None
    for s in p["status"]["containerStatuses"][:2]:
        s["imageID"] += "-new"
        s["ready"] = False
    assert I.refresh(p, NOW).actions == []  # batch 1 done but not ready yet
    for s in p["status"]["containerStatuses"][:2]:
        s["ready"] = True
    [second] = I.refresh(p, NOW).actions
    assert second.body["spec"]["containers"] == [{"name": "low", "image": "redis:7"}]
    state = json.loads(second.body["metadata"]["annotations"]["apps.kruise.io/inplace-update-state"])
    assert "nextContainerImages" not in state and len(state["containerBatchesRecord"]) == 2


def test_refresh_marks_ready_unless_held():
    p = running()
    p["status"]["conditions"] = [c for c in p["status"]["conditions"] if c["type"] != "InPlaceUpdateReady"]
    [ready] = I.refresh(p, NOW).actions
    assert ready.body["status"]["conditions"][0]["type"] == "InPlaceUpdateReady"
    assert I.refresh(p, NOW, hold_not_ready=True).actions == []
    assert I.refresh(running(), NOW).actions == []  # already True: nothing to do


@pytest.mark.parametrize("image,full", [
    ("nginx", "docker.io/library/nginx:latest"), ("nginx:alpine", "docker.io/library/nginx:alpine"),
    ("docker.io/library/nginx:alpine", "docker.io/library/nginx:alpine"), ("me/app:1", "docker.io/me/app:1"),
    ("registry:5000/app", "registry:5000/app:latest"), ("localhost/app:2", "localhost/app:2"),
    ("ghcr.io/o/app@sha256:abc", "ghcr.io/o/app@sha256:abc"),
])
def test_normalize_image(image, full):
    assert I.normalize_image(image) == full


# ---------------------------------------------------------------------------------------------------------
# Through the lifecycle hooks (shared by CloneSet and Advanced StatefulSet)

HOOKED = {"inPlaceUpdate": {"labelsHandler": {"hold": "1"}}}
SPEC = I.UpdateSpec(revision="x-2", container_images={"main": "nginx:1.26"})


def test_update_through_hooks_writes_the_workload_revision_labels_and_updating():
    p = running()
    p["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] = "Normal"
    res = I.update_through_hooks(p, SPEC, None, NOW, pod_revision_labels={"controller-revision-hash": "x-2"})
    assert res.started and res.error is None
    drain, patch, event = res.actions
    assert patch.body["metadata"]["labels"] == {"controller-revision-hash": "x-2",
                                                 "lifecycle.apps.kruise.io/state": "Updating"}
    assert event == A.Event("Normal", "SuccessfulUpdatePodInPlace", "successfully update pod p in-place(revision x-2)")


def test_update_through_hooks_leaves_a_pod_without_state_without_state_when_asked():
    res = I.update_through_hooks(running(), SPEC, None, NOW, always_set_updating=False)
    assert "lifecycle.apps.kruise.io/state" not in res.actions[1].body["metadata"]["labels"]
    res = I.update_through_hooks(running(), SPEC, None, NOW)
    assert res.actions[1].body["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] == "Updating"


def test_update_through_hooks_waits_for_the_hook_owner():
    p = running()
    p["metadata"]["labels"].update({"hold": "1", "lifecycle.apps.kruise.io/state": "Normal"})
    res = I.update_through_hooks(p, SPEC, HOOKED, NOW)
    assert not res.started and [a.body["metadata"]["labels"] for a in res.actions] == [
        {"lifecycle.apps.kruise.io/state": "PreparingUpdate"}]
    p["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] = "PreparingUpdate"
    assert I.update_through_hooks(p, SPEC, HOOKED, NOW).actions == []  # still hooked
    del p["metadata"]["labels"]["hold"]
    assert I.update_through_hooks(p, SPEC, HOOKED, NOW).started
    p["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] = "PreparingDelete"
    assert I.update_through_hooks(p, SPEC, HOOKED, NOW).error == "not allowed to in-place update pod p in state PreparingDelete"


def test_a_grace_period_is_measured_from_the_exact_start_not_the_whole_second():
    """Started at 12:00:00.9 with 2 s of grace: at 12:00:02.0 (the whole second + 2 s) the grace is not over."""
    start = datetime(2024, 5, 1, 12, 0, 0, 900000, tzinfo=timezone.utc)
    p = {"metadata": {"name": "p", "labels": {}, "annotations": {}},
         "spec": {"containers": [{"name": "c", "image": "a:1"}]}}
    started = I.start_update(p, I.UpdateSpec(revision="x-2", container_images={"c": "a:2"}, grace_seconds=2), start)
    annotations = started.actions[-1].body["metadata"]["annotations"]
    assert json.loads(annotations[STATE])["updateTimestamp"] == "2024-05-01T12:00:00.9Z"
    p["metadata"]["labels"] = {"controller-revision-hash": "x-2"}
    p["metadata"]["annotations"] = {k: annotations[k] for k in (STATE, GRACE)}
    early = I.refresh(p, start.replace(microsecond=0) + timedelta(seconds=2))
    assert early.actions == [] and early.requeue_after == 1.0
    assert I.refresh(p, start + timedelta(seconds=2)).actions, "the images are patched once 2 s have passed"
