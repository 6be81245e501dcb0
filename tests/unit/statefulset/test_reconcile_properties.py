"""Level-based, idempotent, pure (`tests/unit/common/properties.py`): the same observed state gives the same
plan, a converged StatefulSet asks for nothing, the inputs are never modified, and any history converges to the
right ordinals on the latest revision."""
from hypothesis import HealthCheck, given, settings, strategies as st

from controllers.common import actions as A
from controllers.statefulset.ordinals import OrdinalRange, ReservedOrdinals

from ..common import properties
from .world import IN_PLACE_GATE, START_ORDINAL, VCT, World, statefulset


def test_inputs_are_not_modified():
    w = World(statefulset(replicas=3, volumeClaimTemplates=VCT, policy="Parallel",
                          rolling={"podUpdatePolicy": "InPlaceIfPossible", "inPlaceUpdateStrategy": {"gracePeriodSeconds": 2}}))
    w.sts["spec"]["template"]["spec"]["readinessGates"] = list(IN_PLACE_GATE)
    w.settle()
    w.set_image("nginx:1.26")
    w.set_replicas(2)
    properties.assert_inputs_not_modified(w)


def test_converged_state_asks_for_nothing():
    sts = statefulset(replicas=3, volumeClaimTemplates=VCT, rolling={"podUpdatePolicy": "InPlaceIfPossible"})
    sts["spec"]["template"]["spec"]["readinessGates"] = list(IN_PLACE_GATE)
    properties.assert_converged_asks_for_nothing(World(sts))


def _walk(w, event, tags):
    if event == "step":
        w.step()
    elif event == "image":
        w.set_image(f"nginx:1.{next(tags)}")
    elif event == "env":
        w.edit_spec(lambda s: s["template"]["spec"]["containers"][0].__setitem__("env", [{"name": "N", "value": str(next(tags))}]))
    elif event == "break":
        w.set_image("nginx:broken")
    elif event == "scale-up":
        w.set_replicas(w.sts["spec"]["replicas"] + 2)
    elif event == "scale-down":
        w.set_replicas(max(w.sts["spec"]["replicas"] - 2, 0))
    elif event == "partition":
        w.rolling(partition=1)
    elif event == "pause":
        w.rolling(paused=not w.sts["spec"]["updateStrategy"]["rollingUpdate"].get("paused"))
    elif event == "reserve":
        w.edit_spec(lambda s: s.__setitem__("reserveOrdinals", [] if s.get("reserveOrdinals") else [1, "3-4"]))
    elif event == "start":
        w.edit_spec(lambda s: s.__setitem__("ordinals", {"start": 2 - (s.get("ordinals") or {}).get("start", 0)}))
    elif event == "delete-pod" and w.pods:
        w.delete_pod(sorted(w.pods)[0])
    elif event == "specified-delete" and w.pods:
        w.pods[sorted(w.pods)[-1]]["metadata"]["labels"]["apps.kruise.io/specified-delete"] = "true"
    elif event == "hook" and w.pods:
        w.pods[sorted(w.pods)[-1]]["metadata"]["labels"]["hold"] = "1"
    elif event == "unhook":
        for p in w.pods.values():
            p["metadata"]["labels"].pop("hold", None)
    elif event == "fail" and w.pods:
        w.pods[sorted(w.pods)[-1]].setdefault("status", {})["phase"] = "Failed"


def _settings(policy, update, unavailable, scale_budget, pvc, retention):
    rolling = {"podUpdatePolicy": update, "maxUnavailable": unavailable if policy == "Parallel" else 1}
    if update != "ReCreate":
        rolling["inPlaceUpdateStrategy"] = {"gracePeriodSeconds": 1}
    extra = {}
    if pvc:
        extra["volumeClaimTemplates"] = VCT
        extra["persistentVolumeClaimRetentionPolicy"] = retention
    if scale_budget and policy == "Parallel":
        extra["scaleStrategy"] = {"maxUnavailable": scale_budget}
    sts = statefulset(replicas=3, policy=policy, rolling=rolling, **extra)
    sts["spec"]["template"]["spec"]["readinessGates"] = list(IN_PLACE_GATE)
    return sts


policies = st.sampled_from(["OrderedReady", "Parallel"])
updates = st.sampled_from(["ReCreate", "InPlaceIfPossible"])
retentions = st.sampled_from([{"whenDeleted": "Retain", "whenScaled": "Retain"},
                              {"whenDeleted": "Delete", "whenScaled": "Delete"},
                              {"whenDeleted": "Retain", "whenScaled": "Delete"}])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(walk=st.lists(st.sampled_from(["step", "step", "image", "env", "break", "scale-up", "scale-down", "partition",
                                      "pause", "reserve", "start", "delete-pod", "specified-delete", "hook", "unhook",
                                      "fail"]), min_size=1, max_size=25),
       policy=policies, update=updates, unavailable=st.sampled_from([1, "50%"]), scale_budget=st.sampled_from([None, 1, 2]),
       pvc=st.booleans(), retention=retentions)
def test_same_observed_state_same_plan(walk, policy, update, unavailable, scale_budget, pvc, retention):
    sts = _settings(policy, update, unavailable, scale_budget, pvc, retention)
    sts["spec"]["lifecycle"] = {"preDelete": {"labelsHandler": {"hold": "1"}}}
    w = World(sts, grace_seconds=2, gates=START_ORDINAL)  # the gate on, so that the "start" event counts
    tags = iter(range(30, 100))
    for event in walk:
        _walk(w, event, tags)
        first = properties.assert_same_state_same_plan(w)
        for a in first.actions:
            assert a.what != "delete persistentvolumeclaims"  # PVCs go only through the garbage collector
        if policy == "OrderedReady":
            assert len(first.of_type(A.Create, A.PODS)) <= 1 and len(first.of_type(A.Delete, A.PODS)) <= 1


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(walk=st.lists(st.sampled_from(["step", "step", "image", "env", "break", "scale-up", "scale-down", "partition",
                                      "pause", "reserve", "start", "delete-pod", "specified-delete", "fail", "hook",
                                      "unhook"]),
                     min_size=1, max_size=20),
       policy=policies, update=updates, unavailable=st.sampled_from([1, "50%"]), scale_budget=st.sampled_from([None, 1, 2]),
       pvc=st.booleans(), retention=retentions)
def test_any_history_converges_to_the_right_ordinals_on_the_latest_revision(walk, policy, update, unavailable,
                                                                            scale_budget, pvc, retention):
    sts = _settings(policy, update, unavailable, scale_budget, pvc, retention)
    sts["spec"]["lifecycle"] = {"preDelete": {"labelsHandler": {"hold": "1"}}}
    w = World(sts, grace_seconds=1, gates=START_ORDINAL)  # the gate on, so that the "start" event counts
    tags = iter(range(30, 100))
    for event in walk:
        _walk(w, event, tags)
    # The operator's part: release the hooks, fix the image, resume the rollout...
    _walk(w, "unhook", tags)
    if w.sts["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:broken":
        _walk(w, "image", tags)
    w.rolling(partition=0, paused=False)
    w.settle(max_rounds=400)
    # ...and, with OrderedReady, delete the pods stuck on the broken image (upstream's "forced rollback").
    broken = [n for n, p in w.pods.items() if p["spec"]["containers"][0]["image"] == "nginx:broken"]
    for name in broken:
        w.delete_pod(name)
    if broken:
        w.settle(max_rounds=400)

    spec = w.sts["spec"]
    expected = OrdinalRange.of((spec.get("ordinals") or {}).get("start", 0), spec["replicas"],
                               ReservedOrdinals.parse(spec.get("reserveOrdinals")))
    assert w.names() == [f"web-{o}" for o in expected.ordinals]
    assert w.ready_pods() == sorted(w.pods)
    container = spec["template"]["spec"]["containers"][0]
    for p in w.pods.values():
        assert p["spec"]["containers"][0]["image"] == container["image"]
        assert p["spec"]["containers"][0].get("env") == container.get("env")
        assert p["metadata"]["labels"]["controller-revision-hash"] == w.status["updateRevision"]
        assert p["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] == "Normal"
    s = w.status
    assert s["currentRevision"] == s["updateRevision"]
    assert s["replicas"] == s["readyReplicas"] == s["availableReplicas"] == s["updatedReplicas"] == spec["replicas"]
    if pvc:
        assert all(f"data-{n}" in w.pvcs for n in w.pods)
    assert len(w.revisions) <= 11
    assert w.reconcile() == A.Plan([], None)
