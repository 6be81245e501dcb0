"""The ACK walkthrough (examples/seed/walkthrough.md): its Advanced StatefulSet must behave as
shown: `kubectl get asts` gives `demo-asts 3 3 3 3`, and an image change is rolled out in place."""
import copy
from datetime import timedelta

from controllers.common import actions as A
from controllers.common.keys import INPLACE_UPDATE_READY

from .world import World

# The walkthrough's YAML (apps.kruise.io/v1alpha1) as the API server stores it: converted to v1beta1, with the
# webhook's defaults.
SEED = {
    "apiVersion": "apps.kruise.io/v1beta1",
    "kind": "StatefulSet",
    "metadata": {"name": "demo-asts", "namespace": "default", "uid": "asts-uid", "generation": 1},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "guestbook-sts"}},
        "podManagementPolicy": "Parallel",
        "template": {
            "metadata": {"labels": {"app": "guestbook-sts"}},
            "spec": {
                "containers": [{"name": "guestbook",
                                "image": "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook:v1",
                                "env": [{"name": "test", "value": "foo"}],
                                "volumeMounts": [{"name": "log-volume", "mountPath": "/var/log"}]}],
                "readinessGates": [{"conditionType": "InPlaceUpdateReady"}],
                "volumes": [{"name": "log-volume", "emptyDir": {}}],
            },
        },
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {
            "podUpdatePolicy": "InPlaceIfPossible", "maxUnavailable": "20%", "partition": 0, "minReadySeconds": 0,
            "inPlaceUpdateStrategy": {"gracePeriodSeconds": 3}}},
        "revisionHistoryLimit": 10,
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
    },
}
V2 = "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook:v2"


def get_asts(w: World) -> dict:
    """`kubectl get asts`: NAME DESIRED CURRENT UPDATED READY (AGE is the API server's)."""
    s = w.status
    return {"NAME": w.sts["metadata"]["name"], "DESIRED": w.sts["spec"]["replicas"], "CURRENT": s["replicas"],
            "UPDATED": s["updatedReplicas"], "READY": s["readyReplicas"]}


def test_three_ready_pods():
    w = World(copy.deepcopy(SEED))
    first = w.reconcile()
    assert [a.name for a in first.of_type(A.Create, A.PODS)] == ["demo-asts-0", "demo-asts-1", "demo-asts-2"]
    w.apply(first)
    w.settle()
    assert sorted(w.pods) == ["demo-asts-0", "demo-asts-1", "demo-asts-2"]
    assert w.ready_pods() == ["demo-asts-0", "demo-asts-1", "demo-asts-2"]
    assert get_asts(w) == {"NAME": "demo-asts", "DESIRED": 3, "CURRENT": 3, "UPDATED": 3, "READY": 3}
    assert w.status["labelSelector"] == "app=guestbook-sts"
    for pod in w.pods.values():
        assert pod["status"]["phase"] == "Running"
        assert {"type": INPLACE_UPDATE_READY, "status": "True"}.items() <= next(
            c for c in pod["status"]["conditions"] if c["type"] == INPLACE_UPDATE_READY).items()
        assert pod["spec"]["volumes"] == [{"name": "log-volume", "emptyDir": {}}]


def test_in_place_v1_to_v2_keeps_the_pods_one_at_a_time():
    w = World(copy.deepcopy(SEED))
    w.settle()
    uids = w.uids()
    w.set_image(V2)
    worst = 3
    updated_order = []
    for _ in range(200):
        plan = w.step()
        assert not plan.of_type(A.Delete, A.PODS)
        updated_order += [e.message.split()[3] for e in plan.of_type(A.Event) if e.reason == "SuccessfulUpdatePodInPlace"]
        worst = min(worst, len(w.ready_pods()))
        if not plan.actions and plan.requeue_after is None:
            break
    assert w.uids() == uids
    assert set(w.images().values()) == {V2}
    assert updated_order == ["demo-asts-2", "demo-asts-1", "demo-asts-0"]
    assert worst == 2  # 20% of 3 rounds down to 0, and maxUnavailable is at least 1
    assert get_asts(w) == {"NAME": "demo-asts", "DESIRED": 3, "CURRENT": 3, "UPDATED": 3, "READY": 3}
    assert w.status["currentRevision"] == w.status["updateRevision"]
    for pod in w.pods.values():
        assert pod["status"]["containerStatuses"][0]["restartCount"] == 1
        assert "apps.kruise.io/inplace-update-grace" not in pod["metadata"]["annotations"]


def test_grace_period_keeps_the_pod_drained_for_three_seconds_before_the_image_changes():
    w = World(copy.deepcopy(SEED))
    w.settle()
    w.set_image(V2)
    plan = w.reconcile()
    assert plan.requeue_after == 3.0
    w.apply(plan)
    pod = w.pods["demo-asts-2"]
    assert "apps.kruise.io/inplace-update-grace" in pod["metadata"]["annotations"]
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == INPLACE_UPDATE_READY)
    assert cond["status"] == "False" and cond["reason"] == "StartInPlaceUpdate"
    # The grace runs from the round that saw the drain stored (issue 19), one second after the plan here: the
    # World stores writes at once but reconciles a second later, and a plan cannot know how late its drain lands.
    start = w.now + timedelta(seconds=1)
    for seconds in (0, 1, 2):
        w.now = start + timedelta(seconds=seconds)
        w.apply(w.reconcile())
        assert w.images()["demo-asts-2"].endswith(":v1")
    w.now = start + timedelta(seconds=3)
    w.apply(w.reconcile())
    assert w.images() == {"demo-asts-0": SEED["spec"]["template"]["spec"]["containers"][0]["image"],
                          "demo-asts-1": SEED["spec"]["template"]["spec"]["containers"][0]["image"],
                          "demo-asts-2": V2}
