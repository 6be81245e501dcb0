"""Level-based, idempotent, pure (`tests/unit/common/properties.py`): the same observed state gives the same
plan, a converged CloneSet asks for nothing, and the inputs are never modified."""
import re

from hypothesis import HealthCheck, given, settings, strategies as st

from controllers.cloneset.reconcile import reconcile
from controllers.common import actions as A
from controllers.common.names import SequenceNames

from ..common import properties
from ..world import owned_objects
from .world import T0, World, cloneset


def _normalize(plan):
    """Plans compared modulo random names."""
    text = repr(plan)
    return re.sub(r"demo-[bcdfghjklmnpqrstvwxz2456789]{5}(?![0-9a-z])", "demo-<id>",
                  re.sub(r"'[bcdfghjklmnpqrstvwxz2456789]{5}'", "'<id>'", text))


def _reconcile(w: World, names: SequenceNames) -> properties.Reconcile:
    return lambda cs, pods, pvcs, revisions: reconcile(cs, owned_objects(pods, pvcs, revisions),
                                                       A.Context(w.now, names=names))


def test_converged_state_asks_for_nothing():
    properties.assert_converged_asks_for_nothing(World(cloneset(replicas=3, update={"type": "InPlaceIfPossible"})))


def test_inputs_are_not_modified():
    w = World(cloneset(replicas=3, update={"type": "InPlaceIfPossible", "inPlaceUpdateStrategy": {"gracePeriodSeconds": 2}}))
    w.settle()
    w.set_image("nginx:1.26")
    properties.assert_inputs_not_modified(w, _reconcile(w, SequenceNames()))


def test_deleting_cloneset_only_reports_status():
    w = World(cloneset(replicas=2))
    w.settle()
    w.cloneset["metadata"]["deletionTimestamp"] = "2024-05-01T13:00:00Z"
    w.edit_spec(lambda s: s.__setitem__("replicas", 5))
    plan = w.reconcile()
    assert not plan.of_type(A.Create, A.PODS) and [a.what for a in plan.actions] == ["patch workload/status"]


def test_bad_or_sparse_objects_do_not_crash():
    assert reconcile({"metadata": {"name": "x"}}, owned_objects(), A.Context(T0, names=SequenceNames())) \
        == A.Plan([], None)
    sparse = {"metadata": {"name": "x"}, "spec": {"selector": {"matchLabels": {"a": "b"}}}}
    plan = reconcile(sparse, owned_objects(), A.Context(T0, names=SequenceNames()))
    assert len(plan.of_type(A.Create, A.PODS)) == 1  # replicas defaults to 1
    weird = cloneset(replicas=2, update={"partition": "lots", "maxUnavailable": "x%", "maxSurge": True})
    assert len(reconcile(weird, owned_objects(), A.Context(T0, names=SequenceNames())).of_type(A.Create, A.PODS)) == 2


# A random walk of the fake cluster: at every point, reconciling twice gives the same plan.
events = st.lists(st.sampled_from(["step", "image", "scale-up", "scale-down", "partition", "delete-pod",
                                   "pause", "break", "hook"]), min_size=1, max_size=25)
strategies = st.sampled_from(["ReCreate", "InPlaceIfPossible", "InPlaceOnly"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(walk=events, kind=strategies, surge=st.sampled_from([0, 1, "50%"]), unavailable=st.sampled_from([0, 1, "20%", "50%"]),
       grace=st.sampled_from([0, 2]))
def test_same_observed_state_same_plan(walk, kind, surge, unavailable, grace):
    if surge == 0 and unavailable == 0:
        unavailable = 1
    if kind == "InPlaceOnly":
        surge = 0
    update = {"type": kind, "maxSurge": surge, "maxUnavailable": unavailable}
    if kind != "ReCreate":
        update["inPlaceUpdateStrategy"] = {"gracePeriodSeconds": grace}
    w = World(cloneset(replicas=3, update=update, lifecycle={"preDelete": {"labelsHandler": {"hold": "1"}}}))
    tags = iter(range(30, 100))
    for event in walk:
        if event == "step":
            w.step()
        elif event == "image":
            w.set_image(f"nginx:1.{next(tags)}")
        elif event == "break":
            w.set_image("nginx:broken")
        elif event == "scale-up":
            w.edit_spec(lambda s: s.__setitem__("replicas", s["replicas"] + 2))
        elif event == "scale-down":
            w.edit_spec(lambda s: s.__setitem__("replicas", max(s["replicas"] - 2, 0)))
        elif event == "partition":
            w.edit_spec(lambda s: s["updateStrategy"].__setitem__("partition", "50%"))
        elif event == "pause":
            w.edit_spec(lambda s: s["updateStrategy"].__setitem__("paused", not s["updateStrategy"].get("paused")))
        elif event == "delete-pod" and w.pods:
            w.pods.pop(sorted(w.pods)[0])
        elif event == "hook" and w.pods:
            w.pods[sorted(w.pods)[-1]]["metadata"]["labels"]["hold"] = "1"
        # Different random names each time: the plans are compared modulo names.
        properties.assert_same_state_same_plan(w, _reconcile(w, SequenceNames(["zzzzz", "zzzzx"])),
                                               _reconcile(w, SequenceNames()), normalize=_normalize)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(walk=st.lists(st.sampled_from(["step", "image", "env", "scale-up", "scale-down", "delete-pod", "partition"]),
                     min_size=1, max_size=20),
       kind=st.sampled_from(["ReCreate", "InPlaceIfPossible"]), surge=st.sampled_from([0, 1]),
       unavailable=st.sampled_from([1, "20%", "50%"]), pvc=st.booleans())
def test_any_history_converges_to_replicas_ready_pods_on_the_latest_template(walk, kind, surge, unavailable, pvc):
    extra = {"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]} if pvc else {}
    w = World(cloneset(replicas=3, update={"type": kind, "maxSurge": surge, "maxUnavailable": unavailable}, **extra))
    tags = iter(range(30, 100))
    for event in walk:
        if event == "step":
            w.step()
        elif event == "image":
            w.set_image(f"nginx:1.{next(tags)}")
        elif event == "env":
            w.edit_spec(lambda s: s["template"]["spec"]["containers"][0].__setitem__("env", [{"name": "N", "value": str(next(tags))}]))
        elif event == "scale-up":
            w.edit_spec(lambda s: s.__setitem__("replicas", s["replicas"] + 2))
        elif event == "scale-down":
            w.edit_spec(lambda s: s.__setitem__("replicas", max(s["replicas"] - 2, 0)))
        elif event == "partition":
            w.edit_spec(lambda s: s["updateStrategy"].__setitem__("partition", 1))
        elif event == "delete-pod" and w.pods:
            w.pods.pop(sorted(w.pods)[0])
    w.edit_spec(lambda s: s["updateStrategy"].__setitem__("partition", 0))
    w.settle(max_rounds=400)
    replicas = w.cloneset["spec"]["replicas"]
    template = w.cloneset["spec"]["template"]["spec"]["containers"][0]
    assert len(w.pods) == replicas and len(w.ready_pods()) == replicas
    for p in w.pods.values():
        assert p["spec"]["containers"][0]["image"] == template["image"]
        assert p["spec"]["containers"][0].get("env") == template.get("env")
    s = w.status
    assert s["replicas"] == s["readyReplicas"] == s["updatedReadyReplicas"] == replicas
    assert s["currentRevision"] == s["updateRevision"]
    if pvc:
        assert len(w.pvcs) >= replicas
        assert all(f"data-{n}" in w.pvcs for n in w.pods)
    assert len(w.revisions) <= 11
