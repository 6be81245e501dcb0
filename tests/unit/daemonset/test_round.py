"""One pass (round.decide) and whole rollouts simulated pass by pass: the upstream e2e cases of A17 that need
no cluster, and the invariants (one pod per node outside a surge, maxUnavailable, maxSurge)."""
from datetime import timedelta

from hypothesis import given, settings, strategies as st

from controllers.daemonset import decisions as why
from controllers.daemonset.round import MANAGE, SETTLED, UPDATE, decide
from controllers.common.objects import is_terminating, labels_of, name_of
from controllers.common.pods import is_pod_available
from controllers.daemonset.pods import target_node_name

from .world import NOW, daemonset, nodes, pod


class Sim:
    """A minimal cluster: pods created by a pass are Ready at the next one (for `ready_after` seconds of
    simulated time per pass), deletions are immediate unless `graceful`, lifecycle holds write the label."""

    def __init__(self, ds, node_list, pods, step=timedelta(seconds=5)):
        self.ds, self.nodes, self.pods, self.now, self.step = ds, node_list, list(pods), NOW, step
        self.backoff, self.passes = {}, []

    def run_pass(self, in_place_ok=None, kubelet=True):
        d = decide(self.ds, self.nodes, self.pods, "v2", self.now, backoff=self.backoff, in_place_ok=in_place_ok)
        self.backoff = d.backoff
        gone = {x.name for x in d.sync.delete}
        self.pods = [p for p in self.pods if name_of(p) not in gone]
        for h in d.sync.hold:
            for p in self.pods:
                if name_of(p) == h.name:
                    p["metadata"]["labels"]["lifecycle.apps.kruise.io/state"] = h.state
        for u in d.update_in_place:
            for p in self.pods:
                if name_of(p) == u.name:
                    p["metadata"]["labels"]["controller-revision-hash"] = "v2"
                    p["status"]["conditions"][0].update(status="False")
        for c in d.sync.create:
            p = pod(c.node, "v2", ready=False)
            p["metadata"]["creationTimestamp"] = self.now.strftime("%Y-%m-%dT%H:%M:%SZ")
            self.pods.append(p)
        self.passes.append(d)
        if kubelet:
            self.kubelet()
        return d

    def kubelet(self):
        """Time passes; every live pod is Ready from now on (the transition recorded now)."""
        self.now += self.step
        for p in self.pods:
            cond = p["status"]["conditions"][0]
            if cond["status"] == "False" and labels_of(p).get("lifecycle.apps.kruise.io/state") != "PreparingDelete":
                cond.update(status="True", lastTransitionTime=self.now.strftime("%Y-%m-%dT%H:%M:%SZ"))

    def live_by_node(self):
        result = {}
        for p in self.pods:
            if not is_terminating(p):
                result.setdefault(target_node_name(p), []).append(p)
        return result

    def revisions(self):
        return sorted(labels_of(p)["controller-revision-hash"] for p in self.pods)


def test_upstream_e2e_1_create_on_every_node_then_settle():
    sim = Sim(daemonset(), nodes("n1", "n2", "n3"), [])
    assert sim.run_pass().phase == MANAGE
    assert sorted(sim.live_by_node()) == ["n1", "n2", "n3"]
    d = sim.run_pass()
    assert d.phase == UPDATE and d.sync.empty
    # "delete one pod": the next pass replaces it on its node
    sim.pods = [p for p in sim.pods if target_node_name(p) != "n2"]
    assert [c.node for c in sim.run_pass().sync.create] == ["n2"]


def test_scaling_and_updating_never_happen_in_one_pass():
    ds = daemonset(rolling_update={"maxUnavailable": 3})
    d = decide(ds, nodes("n1", "n2", "n3"), [pod("n1", "v1"), pod("n2", "v1")], "v2", NOW)
    assert d.phase == MANAGE and [c.node for c in d.sync.create] == ["n3"] and d.update is None


def test_paused_and_on_delete_do_not_update_but_still_create_new_revision_pods():
    for ds in (daemonset(rolling_update={"paused": True}), daemonset(update_type="OnDelete")):
        d = decide(ds, nodes("n1", "n2"), [pod("n1", "v1"), pod("n2", "v1")], "v2", NOW)
        assert d.phase == SETTLED and d.sync.empty
        d = decide(ds, nodes("n1", "n2"), [pod("n1", "v1")], "v2", NOW)
        assert [c.node for c in d.sync.create] == ["n2"]


def test_malformed_budget_is_an_error_not_a_crash():
    d = decide(daemonset(rolling_update={"maxUnavailable": "abc"}), nodes("n1"), [pod("n1", "v1")], "v2", NOW)
    assert d.phase == UPDATE and "abc" in d.error and d.sync.empty


def test_upstream_e2e_4_in_place_keeps_pod_names():
    """A17 test 4: InPlaceIfPossible, maxUnavailable 5: every pod moves to the new revision in place."""
    ds = daemonset(rolling_update={"rollingUpdateType": "InPlaceIfPossible", "maxUnavailable": 5})
    sim = Sim(ds, nodes("n1", "n2", "n3"), [pod(n, "v1", gates=["InPlaceUpdateReady"]) for n in ("n1", "n2", "n3")])
    before = sorted(name_of(p) for p in sim.pods)
    d = sim.run_pass(in_place_ok=lambda p: True)
    assert len(d.update_in_place) == 3 and d.sync.delete == []
    assert sorted(name_of(p) for p in sim.pods) == before and sim.revisions() == ["v2"] * 3


def test_upstream_e2e_5_env_change_recreates():
    """A17 test 5 case B: a change that is not in-place-able deletes the pods, manage recreates them."""
    ds = daemonset(rolling_update={"rollingUpdateType": "InPlaceIfPossible", "maxUnavailable": 20})
    sim = Sim(ds, nodes("n1", "n2"), [pod(n, "v1", gates=["InPlaceUpdateReady"]) for n in ("n1", "n2")])
    before = {name_of(p) for p in sim.pods}
    assert len(sim.run_pass(in_place_ok=lambda p: False).sync.delete) == 2
    sim.run_pass()
    assert sim.revisions() == ["v2", "v2"] and not before & {name_of(p) for p in sim.pods}


def test_upstream_e2e_6_pre_delete_hook_one_by_one():
    """A17 test 6: maxUnavailable 1 and a preDelete labelsHandler that every pod carries: exactly one pod enters
    PreparingDelete and none is deleted until its hook label is removed; then it goes, and one pod gets the new
    revision."""
    hook = {"preDelete": {"labelsHandler": {"my-pre-delete": "true"}}}
    ds = daemonset(rolling_update={"rollingUpdateType": "InPlaceIfPossible", "maxUnavailable": 1}, lifecycle=hook)
    hooked = {"my-pre-delete": "true"}
    sim = Sim(ds, nodes("n1", "n2", "n3"), [pod(n, "v1", labels=hooked, gates=["InPlaceUpdateReady"])
                                            for n in ("n1", "n2", "n3")])
    names = {name_of(p) for p in sim.pods}
    for _ in range(4):
        sim.run_pass(in_place_ok=lambda p: False)  # CPU request + env change: recreate
        preparing = [p for p in sim.pods if labels_of(p).get("lifecycle.apps.kruise.io/state") == "PreparingDelete"]
        assert len(preparing) == 1 and {name_of(p) for p in sim.pods} == names
    # the user removes the hook label: the pod is deleted, then recreated at the new revision
    del preparing[0]["metadata"]["labels"]["my-pre-delete"]
    d = sim.run_pass()
    assert [(x.name, x.reason) for x in d.sync.delete] == [(name_of(preparing[0]), why.PREPARING_DELETE)]
    sim.run_pass()
    assert sim.revisions().count("v2") == 1


def test_upstream_e2e_7_surge_two_pods_then_one():
    """A17 test 7: maxSurge 100%, maxUnavailable 0, minReadySeconds 10: every node has 2 pods, the old one not
    terminating; then exactly 1 new pod per node, ready for more than 10 s."""
    ds = daemonset(rolling_update={"maxSurge": "100%", "maxUnavailable": 0}, min_ready=10)
    ns = nodes("n1", "n2", "n3")
    sim = Sim(ds, ns, [pod(n, "v1") for n in ("n1", "n2", "n3")], step=timedelta(seconds=4))
    sim.run_pass()
    assert all(len(ps) == 2 for ps in sim.live_by_node().values())
    for _ in range(10):
        sim.run_pass()
    by_node = sim.live_by_node()
    assert all(len(ps) == 1 and labels_of(ps[0])["controller-revision-hash"] == "v2" for ps in by_node.values())
    assert all(is_pod_available(ps[0], 10, sim.now) for ps in by_node.values())


# ---------------------------------------------------------------------------------------------------------
# Properties over whole rollouts

@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(1, 4), st.sampled_from(["Standard", "InPlaceIfPossible"]),
       st.integers(0, 3), st.integers(1, 250))
def test_no_surge_rollout_invariants(n, max_unavailable, kind, partition, burst):
    """Outside a surge a node never has two live pods; from all-available old pods the rollout never has more
    than maxUnavailable nodes without an available pod; it ends with exactly `partition` old nodes."""
    names = [f"n{i}" for i in range(n)]
    ds = daemonset(rolling_update={"maxUnavailable": max_unavailable, "partition": partition,
                                   "rollingUpdateType": kind},
                   status={"desiredNumberScheduled": n}, burst=burst)
    sim = Sim(ds, nodes(*names), [pod(x, "v1", gates=["InPlaceUpdateReady"]) for x in names])
    for _ in range(4 * n + 6):
        sim.run_pass(in_place_ok=lambda p: True, kubelet=False)
        live = sim.live_by_node()
        assert all(len(ps) <= 1 for ps in live.values())
        not_available = sum(1 for x in names if not any(is_pod_available(p, 0, sim.now) for p in live.get(x, [])))
        assert not_available <= max_unavailable
        sim.kubelet()
    assert sim.revisions().count("v1") == min(partition, n)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(1, 4))
def test_surge_rollout_invariants(n, max_surge):
    """With surge every node keeps an available pod throughout, never holds more than two, and at most maxSurge
    nodes run two at once."""
    names = [f"n{i}" for i in range(n)]
    ds = daemonset(rolling_update={"maxSurge": max_surge, "maxUnavailable": 0})
    sim = Sim(ds, nodes(*names), [pod(x, "v1") for x in names])
    for _ in range(3 * n + 6):
        sim.run_pass(kubelet=False)
        live = sim.live_by_node()
        assert all(len(ps) <= 2 for ps in live.values())
        assert sum(1 for ps in live.values() if len(ps) == 2) <= max_surge
        assert all(any(is_pod_available(p, 0, sim.now) for p in live.get(x, [])) for x in names)
        sim.kubelet()
    assert sim.revisions() == ["v2"] * n


def test_upstream_e2e_2_complex_daemon_follows_node_labels():
    """A17 test 2: nodeSelector blue: no pod at first; a pod only on the node labelled blue; it goes when the node
    turns green; a pod comes back once the nodeSelector says green."""
    ns = nodes("n1", "n2")
    sim = Sim(daemonset(template_spec={"containers": [], "nodeSelector": {"daemonset-color": "blue"}}), ns, [])
    assert sim.run_pass().sync.empty and sim.pods == []
    ns[0]["metadata"]["labels"]["daemonset-color"] = "blue"
    sim.run_pass()
    assert list(sim.live_by_node()) == ["n1"]
    ns[0]["metadata"]["labels"]["daemonset-color"] = "green"
    assert [(x.node, x.reason) for x in sim.run_pass().sync.delete] == [("n1", why.MISSCHEDULED)]
    assert sim.pods == []
    sim.ds = daemonset(template_spec={"containers": [], "nodeSelector": {"daemonset-color": "green"}})
    sim.run_pass()
    assert list(sim.live_by_node()) == ["n1"]


def test_in_place_choice_from_revisions():
    """decide() builds the in-place choice from the ControllerRevisions when given them."""
    def revision(hash_, image):
        return {"metadata": {"name": f"d-{hash_}", "labels": {"controller-revision-hash": hash_}},
                "data": {"spec": {"template": {"metadata": {"labels": {"app": "d"}},
                                               "spec": {"containers": [{"name": "c", "image": image}]}}}}}
    ds = daemonset(rolling_update={"rollingUpdateType": "InPlaceIfPossible", "maxUnavailable": 2})
    pods = [pod("n1", "v1", gates=["InPlaceUpdateReady"]), pod("n2", "v1")]
    d = decide(ds, nodes("n1", "n2"), pods, "v2", NOW, current_revision=revision("v2", "img:v2"),
               old_revisions=[revision("v1", "img:v1")])
    assert [u.node for u in d.update_in_place] == ["n1"] and [x.node for x in d.sync.delete] == ["n2"]
