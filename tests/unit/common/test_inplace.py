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


def in_progress(pod):
    return I.pod_update_error(pod) is not None


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
                     '"lastContainerStatuses":{"main":{"imageID":"id-nginx:1.25","containerID":"cid-p-main","restartCount":0}},'
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
    p["status"]["conditions"][0]["status"] = "False"  # the drain turns Ready False too
    assert in_progress(p)
    early = I.refresh(p, NOW + timedelta(seconds=1.2))
    assert early.actions == [] and early.requeue_after == 2.0
    done_waiting = I.refresh(p, NOW + timedelta(seconds=3))
    [patch] = done_waiting.actions
    assert patch.body["spec"] == {"containers": [{"name": "main", "image": "nginx:1.26"}]}
    assert patch.body["metadata"]["annotations"]["apps.kruise.io/inplace-update-grace"] is None
    p = _after(p, patch.body)
    assert I.refresh(p, NOW + timedelta(seconds=4)).actions == []  # kubelet has not restarted it yet
    p["status"]["containerStatuses"][0].update(image="nginx:1.26", imageID="id-nginx:1.26", containerID="cid-new")
    assert not in_progress(p)
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
    # Not upstream's rule: an imageID that changed while the same container runs is a change of form (issue 19).
    assert I.pod_update_error(_updated(imageID_changes=True, restarted=False)) == "container main imageID not changed"
    assert I.pod_update_error(_updated(imageID_changes=True, restarted=True)) is None
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
        s["containerID"] += "-new"  # the kubelet restarted them
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


# ---------------------------------------------------------------------------------------------------------
# Completion as a real kubelet reports it (issue 19: judged complete while the container showed restartCount 0)

GB = "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook"


def _kubelet_sequence():
    """A pod updated in place from guestbook:v1 to :v2, and the container statuses a v1.20 kubelet over
    containerd reports for it, in order. containerd looks the imageID up in its image store at every status
    (the first repo digest, or the bare image id while the image has none), so the same running container's
    imageID changes form when another pod pulls the image under another name."""
    p = running()
    p["spec"]["containers"] = [{"name": "main", "image": f"{GB}:v1"}]
    old = {"name": "main", "image": f"{GB}:v1", "imageID": f"{GB}@sha256:1111", "ready": True,
           "containerID": "containerd://old", "restartCount": 0, "state": {"running": {"startedAt": "x"}}}
    p["status"]["containerStatuses"] = [old]
    spec = I.UpdateSpec(revision="x-2", container_images={"main": f"{GB}:v2"})
    p = _after(p, I.start_update(p, spec, NOW).actions[-1].body)
    p["status"]["conditions"][-1].update(status="False", reason="StartInPlaceUpdate")
    steps = {
        # 1. the spec changed, the kubelet has not acted yet: the old container, as recorded
        "old container running": dict(old),
        # 2. the same old container, its imageID now in another form (another pod pulled v1 from localhost:5000)
        "old container, imageID in another form": {**old,
                                                   "imageID": "localhost:5000/kruise-test/guestbook@sha256:1111"},
        # 2'. the same, as the bare image id (the repo digest not known to the store) or as dockershim reports it
        "old container, bare image id": {**old, "imageID": "sha256:cafe"},
        "old container, docker-pullable": {**old, "imageID": f"docker-pullable://{GB}@sha256:1111"},
        # 3. killed, the new one not created yet (pulling v2): waiting, no imageID, no containerID
        "waiting for the new container": {"name": "main", "image": f"{GB}:v2", "imageID": "", "ready": False,
                                          "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}},
        # 3'. killed, the old container's ids still shown while the new one is being created
        "old container terminated": {**old, "ready": False,
                                     "state": {"terminated": {"exitCode": 0, "containerID": "containerd://old"}}},
    }
    done = {"name": "main", "image": f"{GB}:v2", "imageID": f"{GB}@sha256:2222", "ready": True,
            "containerID": "containerd://new", "restartCount": 1, "state": {"running": {"startedAt": "y"}},
            "lastState": {"terminated": {"exitCode": 0, "containerID": "containerd://old"}}}
    return p, steps, done


def test_completion_waits_for_the_kubelet_to_restart_the_container():
    p, steps, done = _kubelet_sequence()
    for what, status in steps.items():
        p["status"]["containerStatuses"] = [status]
        assert I.pod_update_error(p) is not None, what
        assert in_progress(p), what
        assert I.refresh(p, NOW + timedelta(seconds=5)).actions == [], f"{what}: InPlaceUpdateReady stays False"
    p["status"]["containerStatuses"] = [done]
    assert I.pod_update_error(p) is None
    [ready] = I.refresh(p, NOW + timedelta(seconds=6)).actions
    assert ready.body["status"]["conditions"][0] == {
        "type": "InPlaceUpdateReady", "status": "True", "lastTransitionTime": "2024-05-01T12:00:06Z",
        "reason": None, "message": None}


def test_a_restart_count_above_the_recorded_one_counts_as_a_restart():
    p, _, done = _kubelet_sequence()
    state = I.read_state(p)
    state["lastContainerStatuses"]["main"] = {"imageID": f"{GB}@sha256:1111", "restartCount": 0}
    p["metadata"]["annotations"][STATE] = json.dumps(state)
    p["status"]["containerStatuses"] = [{**done, "containerID": ""}]
    assert I.pod_update_error(p) is None
    p["status"]["containerStatuses"] = [{**done, "restartCount": 0, "containerID": ""}]
    assert I.pod_update_error(p) == "container main imageID not changed"


def test_a_container_not_running_when_the_update_began_is_done_once_one_runs():
    """Nothing recorded (the container was waiting, e.g. on an image that never pulled): done once a container
    runs from a pulled image, not while it still waits."""
    p, steps, done = _kubelet_sequence()
    state = I.read_state(p)
    state["lastContainerStatuses"]["main"] = {}
    p["metadata"]["annotations"][STATE] = json.dumps(state)
    p["status"]["containerStatuses"] = [steps["waiting for the new container"]]
    assert I.pod_update_error(p) is not None
    p["status"]["containerStatuses"] = [done]
    assert I.pod_update_error(p) is None


def test_legacy_state_never_counts_an_empty_image_id_as_changed():
    p = running()
    p["metadata"]["annotations"][STATE] = json.dumps(
        {"revision": "x-2", "updateTimestamp": "2024-05-01T11:00:00Z",
         "lastContainerStatuses": {"main": {"imageID": "id-nginx:1.25"}}})
    p["spec"]["containers"][0]["image"] = "nginx:1.26"
    s = p["status"]["containerStatuses"][0]
    s.update(image="nginx:1.26", imageID="", containerID="", state={"waiting": {"reason": "ContainerCreating"}})
    assert I.pod_update_error(p) == "container main imageID not changed"
    s.update(imageID="id-nginx:1.26", containerID="cid-new")
    assert I.pod_update_error(p) is None  # upstream's rule for states without a containerID


# ---------------------------------------------------------------------------------------------------------
# The grace period runs from when the drain was stored, not from the plan (issue 19)

def _store_status(pod_, patch):
    """The API server applying a status patch: conditions merged by type, as sent (lastTransitionTime too)."""
    p = copy.deepcopy(pod_)
    by_type = {c["type"]: c for c in p["status"]["conditions"]}
    for c in patch["status"]["conditions"]:
        by_type[c["type"]] = {k: v for k, v in c.items() if v is not None}
    p["status"]["conditions"] = list(by_type.values())
    return p


def _first_image_patch(delay: float, grace: int = 2, tick: float = 0.1):
    """Plan at NOW; the drain lands `delay` s later (the executor sent other writes first), the pod patch right
    after it; reconciles every `tick` s from then on, each applying what it writes at once and handing on the
    drains it saw, as the runtime does. Returns the time of the round that sends the image patch, and the
    drain's storage time."""
    p = running()
    p["status"]["conditions"][-1]["lastTransitionTime"] = "2024-05-01T11:00:00Z"
    drain, patch = I.start_update(p, I.UpdateSpec(revision="x-2", container_images={"main": "nginx:1.26"},
                                                  grace_seconds=grace), NOW).actions
    stored = NOW + timedelta(seconds=delay)
    p = _after(_store_status(p, drain.body), patch.body)
    at, seen = stored + timedelta(seconds=tick), {}
    for _ in range(int((grace + delay + 5) / tick)):
        res = I.refresh(p, at, drains_seen=seen)
        if res.drain_seen:
            seen = dict([res.drain_seen])
        for action in res.actions:
            if action.what == "patch pods" and "spec" in action.body:
                return at, stored
            p = _store_status(p, action.body)
        at += timedelta(seconds=tick)
    raise AssertionError("the images were never patched")


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.1, 0.4, 0.95, 1.5, 2.5])
def test_the_images_change_a_whole_grace_after_the_drain_was_stored(delay):
    sent, stored = _first_image_patch(delay)
    assert (sent - stored).total_seconds() >= 2, f"image patch {(sent - stored).total_seconds():.2f} s after the drain"
    assert (sent - stored).total_seconds() <= 2 + 1 + 0.1 + 0.1 + 1e-6, "at most a second late (whole seconds)"


def test_a_drain_stored_late_is_timed_from_the_round_that_first_sees_it_without_a_write():
    p = running()
    p["status"]["conditions"][-1]["lastTransitionTime"] = "2024-05-01T11:00:00Z"
    drain, patch = I.start_update(p, I.UpdateSpec(revision="x-2", container_images={"main": "nginx:1.26"},
                                                  grace_seconds=2), NOW).actions
    assert drain.body["status"]["conditions"][0]["lastTransitionTime"] == "2024-05-01T12:00:00Z"  # plan's time
    p = _after(_store_status(p, drain.body), patch.body)  # stored at NOW + 1.5 s, as sent
    first = I.refresh(p, NOW + timedelta(seconds=1.6))
    assert first.actions == [] and first.requeue_after == 3.0
    key, at = first.drain_seen
    assert key == I.pending_drain_key(p) and at == "2024-05-01T12:00:02Z"  # its own start, rounded up
    seen = {key: at}
    # the plan's clock would patch the images here; the drain as first seen says 2 s from 12:00:02
    assert I.refresh(p, NOW + timedelta(seconds=2), drains_seen=seen).actions == []
    wait = I.refresh(p, NOW + timedelta(seconds=3.9), drains_seen=seen)
    assert wait.actions == [] and wait.requeue_after == 1.0 and wait.drain_seen == (key, at)
    [images] = I.refresh(p, NOW + timedelta(seconds=4), drains_seen=seen).actions
    assert images.body["spec"] == {"containers": [{"name": "main", "image": "nginx:1.26"}]}
    # a manager that restarted forgets: it times the grace from its own first look, longer, never shorter
    assert I.refresh(p, NOW + timedelta(seconds=4)).actions == []


def test_a_drain_undone_during_the_grace_is_done_again():
    p = running()
    spec = I.UpdateSpec(revision="x-2", container_images={"main": "nginx:1.26"}, grace_seconds=2)
    drain, patch = I.start_update(p, spec, NOW).actions
    p = _after(p, patch.body)  # InPlaceUpdateReady still True (someone put it back)
    [again] = I.refresh(p, NOW + timedelta(seconds=5)).actions
    conds = {c["type"]: c for c in again.body["status"]["conditions"]}
    assert conds["InPlaceUpdateReady"]["status"] == "False" and conds["Ready"]["status"] == "False"
    assert conds["InPlaceUpdateReady"]["lastTransitionTime"] == "2024-05-01T12:00:05Z"  # now, a whole second


# ---------------------------------------------------------------------------------------------------------
# In place or recreate (plan_pod_update), and a round's refresh that keeps its drains (refresh_pod, hold)

REVISIONS = [rev("x-1", T1), rev("x-2", changed(spec__containers__0__image="nginx:1.26"))]
RESOURCES = [rev("x-1", T1), rev("x-2", changed(spec__containers__0__resources={"limits": {"cpu": "1"}}))]


def plan(pod_, revisions=REVISIONS, **options):
    options = {"policy": "InPlaceIfPossible", "lifecycle_spec": None, "now": NOW,
               "pod_revision_labels": {"controller-revision-hash": "x-2"}, "in_place_only_error": "refused", **options}
    return I.plan_pod_update(pod_, revisions, revisions[1], **options)


def test_plan_pod_update_goes_in_place_when_the_policy_and_the_change_allow_it():
    res = plan(running(), grace_seconds=3)
    assert res.started and res.requeue_after == 3.0 and res.error is None
    assert res.actions[1].body["metadata"]["labels"]["controller-revision-hash"] == "x-2"


def test_plan_pod_update_recreates_or_refuses_otherwise():
    assert plan(running(), policy="ReCreate") is None
    assert plan(running(), RESOURCES) is None  # not an image change: recreate
    refused = plan(running(), RESOURCES, policy="InPlaceOnly")
    assert (refused.actions, refused.started, refused.error) == ([], False, "refused")
    gone = running()
    gone["metadata"]["labels"]["controller-revision-hash"] = "x-0"  # its revision is not among them
    assert plan(gone) is None


def test_plan_pod_update_asks_the_kind_whether_to_recreate_unless_in_place_only():
    asked = []

    def volumes_change(old, new):
        asked.append((old["metadata"]["name"], new["metadata"]["name"]))
        return True

    assert plan(running(), recreate_when=volumes_change) is None and asked == [("x-1", "x-2")]
    assert plan(running(), policy="InPlaceOnly", recreate_when=volumes_change).started


def undrained(name="p"):
    """A pod whose in-place update is done and whose InPlaceUpdateReady is still False (drained)."""
    p = running(name)
    p["status"]["conditions"][-1]["status"] = "False"
    return p


def test_refresh_pod_defers_the_undrain_and_hold_keeps_the_drain_of_a_pod_updated_this_round():
    res = I.refresh_pod(undrained("a"), None, "x-1", NOW)
    [undrain] = res.actions
    assert isinstance(undrain, I.Undrain) and undrain.pod == "a" and res.moved == [] and res.error is None
    assert undrain.action == I.refresh(undrained("a"), NOW).actions[0]
    other = I.refresh_pod(undrained("b"), None, "x-1", NOW).actions
    sent = I.hold([*res.actions, *other, A.Event("Normal", "X", "y")], holding={"a"})
    assert sent == [other[0].action, A.Event("Normal", "X", "y")]
    assert I.hold(res.actions, holding=set()) == [undrain.action]


def test_refresh_pod_reports_the_lifecycle_transition_the_update_allows():
    p = running()
    p["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] = "Updating"
    [moved] = I.refresh_pod(p, None, "x-1", NOW).moved
    assert moved.body["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] == "Normal"


# An update that lost its grace spec before applying a batch (the seed e2e flake)

TARGET = {"main": "nginx:1.26", "side": "busybox:1"}


def _in_grace(rv: str = "7"):
    p = running()
    p["metadata"]["resourceVersion"] = rv
    spec = I.UpdateSpec(revision="x-2", container_images={"main": "nginx:1.26"}, grace_seconds=3)
    return _after(p, I.start_update(p, spec, NOW).actions[-1].body)


def test_dropping_a_grace_spec_is_conditional_on_the_copy_seen():
    p = _in_grace()
    p["metadata"]["labels"]["controller-revision-hash"] = "x-3"
    [drop] = I.refresh(p, NOW + timedelta(seconds=10)).actions
    assert drop.body["metadata"]["resourceVersion"] == "7" and drop.body["metadata"]["uid"] == p["metadata"]["uid"]


def test_an_update_without_a_batch_whose_pod_lacks_the_images_is_not_done():
    p = _in_grace()
    del p["metadata"]["annotations"][GRACE]
    assert I.pod_update_error(p) is None  # without the target: as before
    assert "has not applied images of ['main']" in I.pod_update_error(p, TARGET)
    res = I.refresh_pod(p, None, "x-2", NOW + timedelta(seconds=10), target_images=TARGET, grace_seconds=3)
    drain, patch = res.actions[:2]
    assert drain.body["status"]["conditions"][0]["status"] == "False"
    assert json.loads(patch.body["metadata"]["annotations"][GRACE])["containerImages"] == {"main": "nginx:1.26"}
    assert patch.body["metadata"]["labels"]["controller-revision-hash"] == "x-2"
    assert res.requeue_after == 3.0 and res.moved == []


def test_states_of_older_code_and_metadata_only_updates_still_complete():
    # No batch recorded, but the pod has the revision's images: an older manager's state, or a metadata update.
    p = _in_grace()
    del p["metadata"]["annotations"][GRACE]
    p["spec"]["containers"][0]["image"] = "nginx:1.26"
    assert I.pod_update_error(p, TARGET) is None
    # What _apply_spec records for a metadata-only update: a batch of no containers.
    q = running()
    spec = I.UpdateSpec(revision="x-2", metadata_patch={"labels": {"v": "2"}})
    q = _after(q, I.start_update(q, spec, NOW).actions[-1].body)
    assert json.loads(q["metadata"]["annotations"][STATE])["containerBatchesRecord"][0]["containers"] == []
    assert I.pod_update_error(q, {"main": "nginx:1.25", "side": "busybox:1"}) is None
    # A pod whose labels moved to another revision is that revision's business, not this state's.
    r = _in_grace()
    del r["metadata"]["annotations"][GRACE]
    r["metadata"]["labels"]["controller-revision-hash"] = "x-3"
    assert I.pod_update_error(r, TARGET) is None


# ---------------------------------------------------------------------------------------------------------
# The race behind issue 19's "done with restartCount 0": the update began before the kubelet had started the
# container. The kubelet, mid-sync on the pod's first spec, then starts it from the OLD spec (restartCount 0, a
# containerID never seen before) and restarts it into the new one only at its next sync. That first container
# is not the update's: the kubelet has not restarted anything yet.

def _update_of_a_container_not_yet_started(copy_status: str):
    """A pod created at guestbook:v1 and updated in place to :v2 from a copy in which the kubelet had not
    started the container yet: `copy_status` "absent" (no containerStatuses yet) or "waiting"."""
    p = running()
    p["spec"]["containers"] = [{"name": "main", "image": f"{GB}:v1"}]
    if copy_status == "absent":
        p["status"].pop("containerStatuses")
    else:
        p["status"]["containerStatuses"] = [{"name": "main", "image": f"{GB}:v1", "imageID": "", "ready": False,
                                             "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]
    spec = I.UpdateSpec(revision="x-2", container_images={"main": f"{GB}:v2"})
    return _after(p, I.start_update(p, spec, NOW).actions[-1].body)


STARTED_FROM_THE_OLD_SPEC = {"name": "main", "image": f"{GB}:v1", "imageID": f"{GB}@sha256:1111", "ready": True,
                             "containerID": "containerd://first", "restartCount": 0,
                             "state": {"running": {"startedAt": "x"}}}
RESTARTED_INTO_THE_NEW_SPEC = {"name": "main", "image": f"{GB}:v2", "imageID": f"{GB}@sha256:2222", "ready": True,
                               "containerID": "containerd://second", "restartCount": 1,
                               "state": {"running": {"startedAt": "y"}}}
STARTED_FROM_THE_NEW_SPEC = {**RESTARTED_INTO_THE_NEW_SPEC, "containerID": "containerd://first", "restartCount": 0}


@pytest.mark.parametrize("copy_status", ["absent", "waiting"])
def test_a_container_first_started_from_the_old_spec_is_not_the_update_done(copy_status):
    p = _update_of_a_container_not_yet_started(copy_status)
    assert "main" in I.read_state(p)["lastContainerStatuses"], "every updated container is recorded"
    p["status"]["containerStatuses"] = [STARTED_FROM_THE_OLD_SPEC]
    assert I.pod_update_error(p) == "container main imageID not changed"
    assert I.refresh(p, NOW + timedelta(seconds=1)).actions == [], "InPlaceUpdateReady stays False"
    p["status"]["containerStatuses"] = [RESTARTED_INTO_THE_NEW_SPEC]
    assert I.pod_update_error(p) is None


@pytest.mark.parametrize("copy_status", ["absent", "waiting"])
def test_a_container_first_started_from_the_new_spec_is_the_update_done(copy_status):
    p = _update_of_a_container_not_yet_started(copy_status)
    p["status"]["containerStatuses"] = [STARTED_FROM_THE_NEW_SPEC]
    assert I.pod_update_error(p) is None


def test_the_state_records_each_updated_containers_restart_count():
    p = running()
    p["status"]["containerStatuses"][0]["restartCount"] = 3
    patch = I.start_update(p, I.UpdateSpec(revision="x-2", container_images={"main": "nginx:1.26"}), NOW)
    state = json.loads(patch.actions[-1].body["metadata"]["annotations"][STATE])
    assert state["lastContainerStatuses"] == {
        "main": {"imageID": "id-nginx:1.25", "containerID": "cid-p-main", "restartCount": 3}}


def stored(name, template, uid, rv):
    """A revision as the API server stored it: its uid and resourceVersion name its immutable data."""
    r = rev(name, template)
    r["metadata"].update(uid=uid, resourceVersion=rv)
    return r


def test_the_update_spec_is_computed_once_per_stored_revision_pair_and_each_caller_gets_its_own(monkeypatch):
    calls = []
    real = I._calculate_update_spec
    monkeypatch.setattr(I, "_calculate_update_spec", lambda *a: calls.append(a[:2]) or real(*a))
    monkeypatch.setattr(I, "_SPEC_MEMO", {})
    old = stored("m-1", T1, "uid-m1", "11")
    new = stored("m-2", changed(metadata__labels__v="2", spec__containers__1__image="busybox:2"), "uid-m2", "12")
    first = I.calculate_update_spec(old, new, 5)
    first.container_images["side"] = "mutated by a caller"
    first.metadata_patch["labels"]["v"] = "mutated"
    second = I.calculate_update_spec(old, new, 5)
    assert second == I.UpdateSpec(revision="m-2", container_images={"side": "busybox:2"},
                                  metadata_patch={"labels": {"v": "2"}}, grace_seconds=5)
    assert len(calls) == 1
    I.calculate_update_spec(old, new, 0)  # another grace: another entry
    I.calculate_update_spec(old, {**new, "metadata": {**new["metadata"], "resourceVersion": "13"}}, 5)
    unstored = rev("m-3", changed(spec__containers__1__image="busybox:3"))  # built this round: never memoised
    I.calculate_update_spec(old, unstored, 5)
    I.calculate_update_spec(old, unstored, 5)
    assert len(calls) == 5
    assert I.calculate_update_spec(old, stored("m-4", changed(spec__hostNetwork=True), "uid-m4", "14")) is None
    assert I.calculate_update_spec(old, stored("m-4", changed(spec__hostNetwork=True), "uid-m4", "14")) is None
    assert len(calls) == 6, "a pair that cannot be done in place is memoised too"


def test_the_grace_waits_while_a_late_kubelet_write_has_made_the_pod_ready_again():
    """On the real node, the kubelet's status write computed before it saw the gate can land after the drain and
    turn Ready True again (once in a full run); it turns it False once it sees the gate. The grace runs from the
    pod's last turn to not ready, as then it really leaves its Services."""
    p = running()
    drain, patch = I.start_update(p, I.UpdateSpec(revision="x-2", container_images={"main": "nginx:1.26"},
                                                  grace_seconds=2), NOW).actions
    p = _after(_store_status(p, drain.body), patch.body)
    first = I.refresh(p, NOW + timedelta(seconds=0.5))
    seen = dict([first.drain_seen])
    ready_again = _store_status(p, {"status": {"conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "2024-05-01T12:00:01Z"}]}})
    assert I.pending_drain_key(ready_again) is None
    waiting = I.refresh(ready_again, NOW + timedelta(seconds=5), drains_seen=seen)
    assert waiting.actions == [] and waiting.drain_seen is None and waiting.requeue_after == 1.0
    not_ready = _store_status(ready_again, {"status": {"conditions": [
        {"type": "Ready", "status": "False", "lastTransitionTime": "2024-05-01T12:00:05Z"}]}})
    assert I.pending_drain_key(not_ready) not in seen  # another stretch of not-ready: timed again
    again = I.refresh(not_ready, NOW + timedelta(seconds=5.2), drains_seen=seen)
    assert again.actions == [] and again.drain_seen[1] == "2024-05-01T12:00:06Z"
    seen[again.drain_seen[0]] = again.drain_seen[1]
    assert I.refresh(not_ready, NOW + timedelta(seconds=7.9), drains_seen=seen).actions == []
    [images] = I.refresh(not_ready, NOW + timedelta(seconds=8), drains_seen=seen).actions
    assert images.body["spec"] == {"containers": [{"name": "main", "image": "nginx:1.26"}]}


def test_a_pod_at_rest_is_refreshed_as_the_full_refresh_would_and_no_other_is_skipped(monkeypatch):
    """`at_rest` lets a round skip the rest of `refresh_pod` for most pods; for every pod it accepts, the full
    refresh asks for nothing, and every pod with something to refresh is refused."""
    from controllers.common.keys import LIFECYCLE_STATE_LABEL
    gate = "InPlaceUpdateReady"
    variants = []
    for gated in (False, True):
        for condition in (None, {"type": gate, "status": "True"}, {"type": gate, "status": "False"},
                          {"type": gate, "status": "True", "reason": "StartInPlaceUpdate"}):
            for state in ("", "Normal", "PreparingNormal", "Updating", "Updated"):
                for annotations in ({}, {STATE: json.dumps({"revision": "x-1"})}, {GRACE: "{}"}, {STATE: ""}):
                    labels = {LIFECYCLE_STATE_LABEL: state} if state else {}
                    variants.append(pod("p", labels=labels, annotations=annotations, gates=[gate] if gated else [],
                                        conditions=[condition] if condition else []))
    full = {}
    with monkeypatch.context() as m:
        m.setattr(I, "at_rest", lambda p: False)
        for i, p in enumerate(variants):
            full[i] = I.refresh_pod(p, None, "x-1", NOW)
    accepted = 0
    for i, p in enumerate(variants):
        nothing = not (full[i].actions or full[i].moved or full[i].requeue_after or full[i].error)
        if I.at_rest(p):
            accepted += 1
            assert nothing, (p, full[i])
            assert I.refresh_pod(p, None, "x-1", NOW) == I.PodRefresh()
    # no gate (any condition), or the gate True without a reason; lifecycle unset or Normal; no state, or an empty one
    assert accepted == 4 * 2 * 2 + 1 * 2 * 2
