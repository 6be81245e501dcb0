"""CloneSet lifecycle hooks, and a controller killed mid-scale-up and mid-rollout, against the real API server."""
from __future__ import annotations

import json

import pytest

from tests.kube import Cluster, PodWatch

from .helpers import SIM_IMAGE, CloneSets, cloneset, images, is_ready, wait_for

pytestmark = pytest.mark.usefixtures("kruise")
STATE = "lifecycle.apps.kruise.io/state"



def state_of(cluster: Cluster, ns: str, name: str) -> str | None:
    try:
        return cluster.pod(ns, name)["metadata"]["labels"].get(STATE)
    except Exception:
        return None


# A hook names labels or finalizers; the hook owner (here, the test) puts them on a pod and takes them off.
HOOKS = {
    "labelsHandler": ({"labelsHandler": {"example.io/hold": "true"}},
                      lambda c, ns, pod: c.kubectl("label", "pod", pod, "example.io/hold=true", namespace=ns),
                      lambda c, ns, pod: c.kubectl("label", "pod", pod, "example.io/hold-", namespace=ns)),
    "finalizersHandler": ({"finalizersHandler": ["example.io/hold"]},
                          lambda c, ns, pod: c.kubectl("patch", "pod", pod, "--type=json", "-p", json.dumps(
                              [{"op": "add", "path": "/metadata/finalizers", "value": ["example.io/hold"]}]),
                              namespace=ns),
                          lambda c, ns, pod: c.kubectl("patch", "pod", pod, "--type=json", "-p", json.dumps(
                              [{"op": "remove", "path": "/metadata/finalizers"}]), namespace=ns)),
}


@pytest.fixture
def hook_finalizers_removed(cluster: Cluster, namespace: str):
    """A pod left with the test's finalizer would keep its namespace terminating forever."""
    yield
    for pod in cluster.pods(namespace):
        if "example.io/hold" in (pod["metadata"].get("finalizers") or []):
            cluster.kubectl("patch", "pod", pod["metadata"]["name"], "--type=json", "-p",
                            '[{"op": "remove", "path": "/metadata/finalizers"}]', namespace=namespace, check=False)


def condition(pod: dict, kind: str) -> dict:
    return next((c for c in pod.get("status", {}).get("conditions") or [] if c["type"] == kind), {})


@pytest.mark.usefixtures("hook_finalizers_removed")
@pytest.mark.parametrize("form", HOOKS)
def test_pre_delete_hook_holds_a_specified_delete_in_preparing_delete(cluster: Cluster, cs: CloneSets, form):
    handler, hook, release = HOOKS[form]
    cs.create(cloneset("hooked", 2, lifecycle={"preDelete": {**handler, "markPodNotReady": True}}))
    cs.wait_ready("hooked", 2)
    victim = cs.pods("hooked")[0]["metadata"]["name"]
    wait_for(lambda: state_of(cluster, cs.ns, victim) == "Normal", 30, "the pod in state Normal")
    hook(cluster, cs.ns, victim)  # an operator's hook
    cluster.kubectl("label", "pod", victim, "apps.kruise.io/specified-delete=true", namespace=cs.ns)
    wait_for(lambda: state_of(cluster, cs.ns, victim) == "PreparingDelete", 30, "PreparingDelete")
    pod = cluster.pod(cs.ns, victim)
    assert not pod["metadata"].get("deletionTimestamp"), "held by the hook"
    assert condition(pod, "KruisePodReady")["status"] == "False", "markPodNotReady"
    assert json.loads(condition(pod, "KruisePodReady")["message"]) == [
        {"userAgent": "Lifecycle", "key": "preDeleteHook"}]
    release(cluster, cs.ns, victim)  # the operator releases it
    wait_for(lambda: victim not in {p["metadata"]["name"] for p in cs.pods("hooked", True)}, 30, "the pod deleted")
    cs.wait_ready("hooked", 2)


@pytest.mark.usefixtures("hook_finalizers_removed")
@pytest.mark.parametrize("form", HOOKS)
def test_pre_normal_hook_keeps_new_pods_preparing_until_hooked(cluster: Cluster, cs: CloneSets, form):
    handler, hook, _ = HOOKS[form]
    cs.create(cloneset("normal", 1, lifecycle={"preNormal": handler}))
    pod = wait_for(lambda: (pods := cs.pods("normal")) and pods[0], 30, "a pod")["metadata"]["name"]
    wait_for(lambda: state_of(cluster, cs.ns, pod) == "PreparingNormal", 30, "PreparingNormal")
    hook(cluster, cs.ns, pod)
    wait_for(lambda: state_of(cluster, cs.ns, pod) == "Normal", 30, "Normal once the hook is in place")


def test_in_place_update_hook_waits_in_preparing_update_not_ready(cluster: Cluster, cs: CloneSets):
    """OpenKruise's states: Normal → PreparingUpdate (held by the hook; markPodNotReady: KruisePodReady False)
    → Updating (the hook released) → Updated, where the pod stays until the hook is back → Normal."""
    cs.create(cloneset("upd", 1, update={"type": "InPlaceIfPossible"},
                       lifecycle={"inPlaceUpdate": {"labelsHandler": {"example.io/drain": "true"},
                                                    "markPodNotReady": True}}))
    cs.wait_ready("upd", 1)
    pod = cs.pods("upd")[0]["metadata"]["name"]
    wait_for(lambda: state_of(cluster, cs.ns, pod) == "Normal", 30, "the pod in state Normal")
    cluster.kubectl("label", "pod", pod, "example.io/drain=true", namespace=cs.ns)
    with PodWatch(cluster, cs.ns, "app=upd") as watch:
        cs.set_image("upd", f"{SIM_IMAGE}:v2")
        wait_for(lambda: state_of(cluster, cs.ns, pod) == "PreparingUpdate", 30, "PreparingUpdate")
        assert cluster.pod(cs.ns, pod)["spec"]["containers"][0]["image"].endswith(":v1"), "held before the update"
        cluster.kubectl("label", "pod", pod, "example.io/drain-", namespace=cs.ns)
        cs.wait_ready("upd", 1)
        assert state_of(cluster, cs.ns, pod) == "Updated", "not hooked again: Updated"
    # the state before the change (the watch's listing), then every state stored (the not-ready key and the
    # state label land in one write)
    states = [p["metadata"]["labels"].get(STATE) for p in watch.initial]
    states += [e[1]["metadata"]["labels"].get(STATE) for e in watch.events]
    assert [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]] == [
        "Normal", "PreparingUpdate", "Updating", "Updated"]
    for _, seen in watch.events:
        if seen["metadata"]["labels"].get(STATE) == "PreparingUpdate":
            assert condition(seen, "KruisePodReady")["status"] == "False" and not is_ready(seen)
            assert json.loads(condition(seen, "KruisePodReady")["message"]) == [
                {"userAgent": "Lifecycle", "key": "preUpdateHook"}]
    updated = cluster.pod(cs.ns, pod)
    assert condition(updated, "KruisePodReady")["status"] == "True" and is_ready(updated), "the key goes at Updated"
    cluster.kubectl("label", "pod", pod, "example.io/drain=true", namespace=cs.ns)  # the operator hooks it again
    wait_for(lambda: state_of(cluster, cs.ns, pod) == "Normal", 30, "Normal once hooked again")


def test_a_killed_controller_resumes_without_losing_or_duplicating_pods(sandbox, cluster: Cluster, cs: CloneSets):
    """Killed in the middle of a 30-pod scale-up, and again in the middle of a rollout: after a restart the
    CloneSet has exactly 30 pods, all at the latest revision, and the watch saw no pod created twice."""
    with PodWatch(cluster, cs.ns, "app=crash") as scale_up:
        cs.create(cloneset("crash", 30, update={"type": "ReCreate", "maxUnavailable": "20%"}))
        wait_for(lambda: scale_up.created(), 30, "the first pod of the scale-up", interval=0.005)
        sandbox.kill_manager()
        # Read after the kill: a create the dead manager had in flight can only add to this count.
        at_kill = len(cs.pods("crash", True))
        assert 0 < at_kill < 30, f"the scale-up was under way when the manager died ({at_kill} pods)"
        sandbox.restart_manager()
        cs.wait_ready("crash", 30, timeout=120)
    assert len(scale_up.created()) == 30 and scale_up.most_pods(include_terminating=True) == 30, \
        "30 pods created, none twice, none deleted"

    first = cs.status("crash")["updateRevision"]
    with PodWatch(cluster, cs.ns, "app=crash") as rollout:
        cs.set_image("crash", f"{SIM_IMAGE}:v2")
        wait_for(lambda: rollout.created(), 30, "the first replacement of the rollout", interval=0.005)
        sandbox.kill_manager()
        at_kill = images(cs.pods("crash", True)).count(f"{SIM_IMAGE}:v2")
        assert 0 < at_kill < 30, f"the rollout was under way when the manager died ({at_kill} pods updated)"
        sandbox.restart_manager()
        obj = cs.wait_ready("crash", 30, timeout=180)
        wait_for(lambda: len(cs.pods("crash", True)) == 30, 60, "exactly 30 pods")
    assert images(cs.pods("crash")) == [f"{SIM_IMAGE}:v2"] * 30
    assert len(rollout.created()) == 30 and len(rollout.deleted()) == 30, "each old pod replaced exactly once"
    assert rollout.most_pods() == 30, "never a pod more than replicas (maxSurge 0)"
    assert obj["status"]["updateRevision"] != first and obj["status"]["currentRevision"] == obj["status"]["updateRevision"]
    revisions = cluster.apps.list_namespaced_controller_revision(cs.ns).items
    assert len(revisions) == 2, "one revision per template, none duplicated"
