"""The manager's ContainerRecreateRequest reconcile (controllers/containerrecreaterequest/reconcile.py) and the
webhook's decisions (admission.py), on plain dicts (kruise-daemon.md §3.2, §3.3)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from controllers.common.actions import WORKLOAD, Context, Delete, Patch
from controllers.containerrecreaterequest import admission
from controllers.containerrecreaterequest.reconcile import reconcile, synced_container_statuses

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=timezone.utc)
CTX = Context(NOW)


def crr(phase=None, created="2026-12-03T11:59:50Z", labels=None, annotations=None, finalizers=None, status=None,
        **spec) -> dict:
    obj = {"metadata": {"name": "r", "namespace": "ns", "uid": "crr-uid", "resourceVersion": "7",
                        "creationTimestamp": created,
                        "labels": {"crr.apps.kruise.io/pod-uid": "pod-uid", "crr.apps.kruise.io/active": "true",
                                   **(labels or {})},
                        "annotations": dict(annotations or {})},
           "spec": {"podName": "p", "containers": [{"name": "app"}], "strategy": {"failurePolicy": "Fail"}, **spec},
           "status": dict(status or {})}
    if phase:
        obj["status"]["phase"] = phase
    if finalizers:
        obj["metadata"]["finalizers"] = finalizers
    return obj


def pod(uid="pod-uid", gate=True, ready_condition="True", started="2026-12-03T11:59:55Z", ready=True) -> dict:
    p = {"metadata": {"name": "p", "namespace": "ns", "uid": uid},
         "spec": {"nodeName": "real-node-0", "terminationGracePeriodSeconds": 30,
                  "containers": [{"name": "app", "lifecycle": {"preStop": {"exec": {"command": ["sleep", "8"]}}}},
                                 {"name": "web", "ports": [{"containerPort": 80}],
                                  "lifecycle": {"preStop": {"httpGet": {"port": 80}}}}],
                  "readinessGates": [{"conditionType": "KruisePodReady"}] if gate else []},
         "status": {"phase": "Running",
                    "conditions": [{"type": "KruisePodReady", "status": ready_condition}, {"type": "Ready", "status": "True"}],
                    "containerStatuses": [{"name": "app", "containerID": "containerd://a2", "restartCount": 1,
                                           "ready": ready, "state": {"running": {"startedAt": started}}},
                                          {"name": "web", "containerID": "containerd://w1", "restartCount": 0,
                                           "ready": True, "state": {"running": {"startedAt": "2026-12-03T11:00:00Z"}}}]}}
    return p


def test_pod_gone_deleted_or_replaced_completes():
    for pods in ([], [pod(uid="another")]):
        plan = reconcile(crr(phase="Recreating"), {"pods": pods}, CTX)
        status = {"phase": "Completed", "completionTime": "2026-12-03T12:00:00Z", "message": "pod has gone"}
        assert plan.actions == [Patch(WORKLOAD, "", {"status": status}, "merge", "status")]


def test_daemon_silent_for_a_minute_completes():
    plan = reconcile(crr(created="2026-12-03T11:58:59Z"), {"pods": [pod()]}, CTX)
    assert plan.actions[0].body["status"]["message"] == "daemon has not responded for a long time"
    young = reconcile(crr(), {"pods": [pod()]}, CTX)
    assert young.actions == [] and young.requeue_after == 50


def test_active_deadline_completes():
    plan = reconcile(crr(phase="Recreating", activeDeadlineSeconds=5), {"pods": [pod()]}, CTX)
    assert plan.actions[0].body["status"]["message"] == "recreating has exceeded the activeDeadlineSeconds"


def test_sync_container_statuses_only_for_containers_started_since_creation():
    assert synced_container_statuses(crr(), pod()) == [
        {"name": "app", "ready": True, "restartCount": 1, "containerID": "containerd://a2"}]
    assert synced_container_statuses(crr(), pod(started="2026-12-03T11:00:00Z")) == []
    plan = reconcile(crr(phase="Recreating"), {"pods": [pod()]}, CTX)
    annotation = plan.actions[0].body["metadata"]["annotations"]["crr.apps.kruise.io/sync-container-statuses"]
    assert json.loads(annotation)[0]["containerID"] == "containerd://a2"
    unchanged = crr(phase="Recreating", annotations={"crr.apps.kruise.io/sync-container-statuses": annotation})
    assert reconcile(unchanged, {"pods": [pod()]}, CTX).actions == []


def test_unready_grace_finalizer_first_then_not_ready_then_time():
    plan = reconcile(crr(phase="Recreating", strategy={"unreadyGracePeriodSeconds": 3}),
                     {"pods": [pod(started="2026-12-03T11:00:00Z")]}, CTX)
    finalizer, condition, annotation = plan.actions
    assert finalizer.body["metadata"]["finalizers"] == ["crr.apps.kruise.io/unready-acquired"]
    assert finalizer.body["metadata"]["resourceVersion"] == "7"
    kruise_ready = condition.body["status"]["conditions"][0]
    assert (condition.resource, condition.subresource, kruise_ready["status"]) == ("pods", "status", "False")
    assert kruise_ready["message"] == '[{"userAgent":"ContainerRecreateRequest","key":"ns/r"}]'
    assert annotation.body == {"metadata": {"annotations": {"crr.apps.kruise.io/unready-acquired": "2026-12-03T12:00:00Z"}}}


def test_unready_grace_without_the_gate_only_records_the_time():
    plan = reconcile(crr(phase="Recreating", strategy={"unreadyGracePeriodSeconds": 3}),
                     {"pods": [pod(gate=False, started="2026-12-03T11:00:00Z")]}, CTX)
    assert [a.body for a in plan.actions] == [
        {"metadata": {"annotations": {"crr.apps.kruise.io/unready-acquired": "2026-12-03T12:00:00Z"}}}]


def test_completed_releases_readiness_then_drops_active_then_ttl():
    message = '[{"userAgent":"ContainerRecreateRequest","key":"ns/r"}]'
    held = pod(ready_condition="False")
    held["status"]["conditions"][0]["message"] = message
    done = crr(phase="Completed", finalizers=["crr.apps.kruise.io/unready-acquired"],
               status={"completionTime": "2026-12-03T11:59:58Z"}, ttlSecondsAfterFinished=5)
    release, finalizers, active = reconcile(done, {"pods": [held]}, CTX).actions
    assert release.body["status"]["conditions"][0]["status"] == "True"
    assert finalizers.body["metadata"]["finalizers"] is None
    assert active.body == {"metadata": {"labels": {"crr.apps.kruise.io/active": None}}}
    inactive = crr(phase="Completed", status={"completionTime": "2026-12-03T11:59:58Z"}, ttlSecondsAfterFinished=5)
    del inactive["metadata"]["labels"]["crr.apps.kruise.io/active"]
    wait = reconcile(inactive, {"pods": [pod()]}, CTX)
    assert wait.actions == [] and wait.requeue_after == 3
    inactive["spec"]["ttlSecondsAfterFinished"] = 1
    assert reconcile(inactive, {"pods": [pod()]}, CTX).actions == [Delete(WORKLOAD, "r", "crr-uid")]


# ---- webhook -------------------------------------------------------------------------------------------
def test_webhook_fills_labels_grace_pre_stop_and_status_context():
    request = {"metadata": {"name": "r", "namespace": "ns"},
               "spec": {"podName": "p", "containers": [{"name": "app"}, {"name": "web"}], "strategy": {}}}
    node = {"metadata": {"name": "real-node-0", "labels": {"type": "virtual-kubelet"}}}
    filled, errors = admission.fill_create(request, pod(), node)
    assert errors == []
    assert filled["metadata"]["labels"] == {"crr.apps.kruise.io/active": "true",
                                            "crr.apps.kruise.io/node-name": "real-node-0",
                                            "crr.apps.kruise.io/pod-uid": "pod-uid", "type": "virtual-kubelet"}
    assert filled["spec"]["strategy"]["terminationGracePeriodSeconds"] == 30
    app, web = filled["spec"]["containers"]
    assert app == {"name": "app", "preStop": {"exec": {"command": ["sleep", "8"]}},
                   "statusContext": {"containerID": "containerd://a2", "restartCount": 1}}
    assert web["ports"] == [{"containerPort": 80}] and "httpGet" in web["preStop"]


def test_webhook_refusals_name_the_field():
    def errors(containers, p=None, node=True, **spec):
        request = {"metadata": {"name": "r"}, "spec": {"podName": "p", "containers": containers, **spec}}
        return [e.path for e in admission.check_create(request, {})] or [
            e.path for e in admission.fill_create(request, p, {"metadata": {}} if node else None)[1]]
    assert errors([{"name": "app"}], None) == ["spec.podName"]
    assert errors([], pod()) == ["spec.containers"]
    assert errors([{"name": "app"}], pod(), activeDeadlineSeconds=2) == ["spec.activeDeadlineSeconds"]
    assert errors([{"name": "x"}], pod()) == ["spec.containers[0].name"]
    assert errors([{"name": "app"}, {"name": "app"}], pod()) == ["spec.containers[1].name"]
    assert errors([{"name": "app", "ports": []}], pod()) == ["spec.containers[0].ports"]
    no_id = pod()
    no_id["status"]["containerStatuses"][0]["containerID"] = ""
    assert errors([{"name": "app"}], no_id) == ["spec.containers[0].name"]
    finished = pod()
    finished["status"]["phase"] = "Succeeded"
    assert errors([{"name": "app"}], finished) == ["spec.podName"]
    assert errors([{"name": "app"}], pod(), node=False) == ["spec.podName"]
    off = {"metadata": {"name": "r"}, "spec": {"podName": "p", "containers": [{"name": "app"}]}}
    assert admission.check_create(off, {"KruiseDaemon": False})[0].path == "metadata"


def test_webhook_update_keeps_spec_labels_and_acquired_time():
    old = crr(annotations={"crr.apps.kruise.io/unready-acquired": "2026-12-03T11:59:59Z"},
              labels={"crr.apps.kruise.io/node-name": "n"})
    assert admission.check_update(json.loads(json.dumps(old)), old) == []
    changed = json.loads(json.dumps(old))
    changed["spec"]["activeDeadlineSeconds"] = 9
    changed["metadata"]["labels"]["crr.apps.kruise.io/node-name"] = "m"
    changed["metadata"]["annotations"]["crr.apps.kruise.io/unready-acquired"] = "later"
    assert [e.path for e in admission.check_update(changed, old)] == [
        "spec", "metadata.labels[crr.apps.kruise.io/node-name]",
        "metadata.annotations[crr.apps.kruise.io/unready-acquired]"]
    active_dropped = json.loads(json.dumps(old))
    del active_dropped["metadata"]["labels"]["crr.apps.kruise.io/active"]
    assert admission.check_update(active_dropped, old) == []
