"""The ACK walkthrough (examples/seed/walkthrough.md): its CloneSet must behave exactly as shown."""
import copy
import json
import re
from datetime import timedelta

from controllers.common import actions as A
from controllers.common.keys import INPLACE_UPDATE_READY

from .world import World

DEMO = {
    "apiVersion": "apps.kruise.io/v1alpha1",
    "kind": "CloneSet",
    "metadata": {"name": "demo-clone"},
    "spec": {
        "replicas": 5,
        "selector": {"matchLabels": {"app": "guestbook"}},
        "template": {
            "metadata": {"labels": {"app": "guestbook"}},
            "spec": {"containers": [{"name": "guestbook",
                                     "image": "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook:v1",
                                     "env": [{"name": "test", "value": "foo"}]}]},
        },
        "updateStrategy": {"type": "InPlaceIfPossible", "maxUnavailable": "20%",
                           "inPlaceUpdateStrategy": {"gracePeriodSeconds": 3}},
    },
}


def printer_columns(w: World) -> dict:
    """`kubectl get clone`: DESIRED UPDATED UPDATED_READY READY TOTAL."""
    s = w.status
    return {"DESIRED": w.cloneset["spec"]["replicas"], "UPDATED": s["updatedReplicas"],
            "UPDATED_READY": s["updatedReadyReplicas"], "READY": s["readyReplicas"], "TOTAL": s["replicas"]}


def test_create_five_ready_pods():
    w = World(DEMO)
    first = w.reconcile()
    assert len(first.of_type(A.Create, A.PODS)) == 5  # all at once; slow start is the runtime's
    w.apply(first)
    w.settle()
    assert all(re.fullmatch(r"demo-clone-[bcdfghjklmnpqrstvwxz2456789]{5}", n) for n in w.pods)
    assert len(w.ready_pods()) == 5
    assert printer_columns(w) == {"DESIRED": 5, "UPDATED": 5, "UPDATED_READY": 5, "READY": 5, "TOTAL": 5}
    assert w.status["labelSelector"] == "app=guestbook"
    for pod in w.pods.values():
        assert {"conditionType": INPLACE_UPDATE_READY} in pod["spec"]["readinessGates"]
        assert pod["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] == "Normal"


def test_in_place_update_keeps_the_pods_and_drains_one_at_a_time():
    w = World(DEMO)
    w.settle()
    uids = {n: p["metadata"]["uid"] for n, p in w.pods.items()}
    w.set_image("registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook:v2")
    worst = 5
    for _ in range(200):
        plan = w.step()
        worst = min(worst, len(w.ready_pods()))
        if not plan.actions and plan.requeue_after is None:
            break
    assert {n: p["metadata"]["uid"] for n, p in w.pods.items()} == uids  # same pods, same names
    assert set(w.images().values()) == {"registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook:v2"}
    assert worst >= 4  # maxUnavailable 20% of 5 = 1
    assert printer_columns(w) == {"DESIRED": 5, "UPDATED": 5, "UPDATED_READY": 5, "READY": 5, "TOTAL": 5}
    assert w.event_reasons().count("SuccessfulUpdatePodInPlace") == 5
    for pod in w.pods.values():
        assert pod["status"]["containerStatuses"][0]["restartCount"] == 1
        assert "apps.kruise.io/inplace-update-grace" not in pod["metadata"]["annotations"]


def test_grace_period_holds_the_image_for_three_seconds():
    w = World(DEMO)
    w.settle()
    w.set_image("registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook:v2")
    plan = w.reconcile()
    assert plan.requeue_after == 3.0
    w.apply(plan)
    [updating] = [p for p in w.pods.values() if "apps.kruise.io/inplace-update-grace" in p["metadata"]["annotations"]]
    name = updating["metadata"]["name"]
    assert updating["spec"]["containers"][0]["image"].endswith(":v1")  # not yet
    ready_cond = next(c for c in updating["status"]["conditions"] if c["type"] == INPLACE_UPDATE_READY)
    assert ready_cond["status"] == "False" and ready_cond["reason"] == "StartInPlaceUpdate"
    # The grace runs from the round that saw the drain stored (issue 19), one second after the plan here: the
    # World stores writes at once but reconciles a second later, and a plan cannot know how late its drain lands.
    start = w.now + timedelta(seconds=1)
    for seconds in (0, 1, 2):
        w.now = start + timedelta(seconds=seconds)
        w.apply(w.reconcile())
        assert w.pods[name]["spec"]["containers"][0]["image"].endswith(":v1")
    w.now = start + timedelta(seconds=3)
    w.apply(w.reconcile())
    assert w.pods[name]["spec"]["containers"][0]["image"].endswith(":v2")


V2 = "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook:v2"
GRACE = "apps.kruise.io/inplace-update-grace"


def _roll_out_checking_the_status(w: World, rounds: int = 200) -> None:
    """Run the rollout; the CloneSet must never report it done while a pod has not restarted into v2."""
    for _ in range(rounds):
        plan = w.step()
        s = w.status
        if s.get("updatedReadyReplicas") == 5 and s.get("currentRevision") == s.get("updateRevision"):
            for name, pod in w.pods.items():
                assert pod["status"]["containerStatuses"][0]["restartCount"] == 1, (
                    name, pod["metadata"]["annotations"], pod["spec"]["containers"][0]["image"])
        if not plan.actions and plan.requeue_after is None:
            break
    assert set(w.images().values()) == {V2}
    assert all(p["status"]["containerStatuses"][0]["restartCount"] == 1 for p in w.pods.values())


def test_a_stale_copy_never_drops_the_grace_spec_of_an_update_under_way():
    """The e2e flake (restartCount 0, state without containerBatchesRecord, reported updated and ready): a round
    reading a copy of the pod that lags behind the update's pod patch (its revision label still the old one,
    the grace spec already there) took the "pod moved to another revision" branch and dropped the grace spec.
    The images were then never applied, and the update's state, which records no batch, read as done."""
    w = World(DEMO)
    w.settle()
    old_revision = w.status["currentRevision"]
    w.set_image(V2)
    w.apply(w.reconcile())
    [name] = [n for n, p in w.pods.items() if GRACE in p["metadata"]["annotations"]]
    w.kubelet()
    w.now += timedelta(seconds=1)
    stale = copy.deepcopy(w.pods[name])
    stale["metadata"]["labels"]["controller-revision-hash"] = old_revision
    stale["metadata"]["resourceVersion"] = str(int(stale["metadata"]["resourceVersion"]) - 1)
    observed = w.observed()
    observed[A.PODS] = [stale if p["metadata"]["name"] == name else p for p in observed[A.PODS]]
    w.apply(w.run_reconcile(copy.deepcopy(w.cloneset), observed, w.context()))
    assert GRACE in w.pods[name]["metadata"]["annotations"]
    _roll_out_checking_the_status(w)


def test_an_update_that_lost_its_grace_spec_is_not_done_and_starts_again():
    """However the grace spec goes (a write by someone else, an older manager), an update that applied no batch
    while the pod lacks its revision's images is not complete: it starts again, and the pod restarts once."""
    w = World(DEMO)
    w.settle()
    w.set_image(V2)
    w.apply(w.reconcile())
    [name] = [n for n, p in w.pods.items() if GRACE in p["metadata"]["annotations"]]
    del w.pods[name]["metadata"]["annotations"][GRACE]
    state = json.loads(w.pods[name]["metadata"]["annotations"]["apps.kruise.io/inplace-update-state"])
    assert state["lastContainerStatuses"] is None and "containerBatchesRecord" not in state
    _roll_out_checking_the_status(w)
    assert w.event_reasons().count("SuccessfulUpdatePodInPlace") == 5
