"""UnitedDeployment reconcile on plain dicts (openkruise-1.9/daemonset-uniteddeployment.md B5, B9-B11): the
subset workloads each adapter writes, what triggers an update, deletions, revisions, the status."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from controllers.common.actions import Context, Create, Delete, Event, Patch
from controllers.common.names import SequenceNames
from controllers.common.revision import resolve_revisions, template_revision_data
from controllers.uniteddeployment.adapters import ADAPTERS, REVISION_LABEL, SUBSET_NAME_LABEL, SUBSET_PATCH_ANNOTATION
from controllers.uniteddeployment.reconcile import reconcile

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=timezone.utc)
POD = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}
ZONE = "topology.kubernetes.io/zone"


def term(zone: str) -> dict:
    return {"matchExpressions": [{"key": ZONE, "operator": "In", "values": [zone]}]}


def make_ud(template: str = "cloneSetTemplate", replicas: int = 6, subsets: list | None = None, **spec) -> dict:
    body = {"replicas": replicas, "selector": {"matchLabels": {"app": "a"}},
            "template": {template: {"metadata": {"labels": {"app": "a", "team": "t"}},
                                    "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": copy.deepcopy(POD)}}},
            "topology": {"subsets": subsets if subsets is not None else [
                {"name": "zone-a", "nodeSelectorTerm": term("zone-a"), "replicas": 1},
                {"name": "zone-b", "nodeSelectorTerm": term("zone-b"), "replicas": "50%",
                 "tolerations": [{"key": "k", "operator": "Exists"}]},
                {"name": "zone-c", "nodeSelectorTerm": term("zone-c"),
                 "patch": {"metadata": {"labels": {"zone": "c"}},
                           "spec": {"containers": [{"name": "c", "image": "i:zone-c"}]}}}]},
            "updateStrategy": {"type": "Manual", "manualUpdate": {}}, "revisionHistoryLimit": 10}
    body.update(spec)
    return {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "UnitedDeployment",
            "metadata": {"name": "ud", "namespace": "n", "uid": "ud-uid", "generation": 1}, "spec": body}


def context() -> Context:
    return Context(NOW, names=SequenceNames())


def revision_of(ud: dict) -> dict:
    revs = resolve_revisions(parent=ud, api_version="apps.kruise.io/v1alpha1", kind="UnitedDeployment",
                             data=template_revision_data(ud["spec"]["template"]), template_labels={},
                             revisions=[], collision_count=0, current_revision_name=None)
    return revs.update


def created(plan, resource: str) -> list[dict]:
    return [a.body for a in plan.actions if isinstance(a, Create) and a.resource == resource]


@pytest.mark.parametrize("template", sorted(ADAPTERS))
def test_first_round_creates_one_workload_per_subset(template: str) -> None:
    ud = make_ud(template)
    plan = reconcile(ud, {}, context())
    adapter = ADAPTERS[template]
    revision = created(plan, "controllerrevisions.apps")[0]["metadata"]["name"]
    bodies = {b["metadata"]["labels"][SUBSET_NAME_LABEL]: b for b in created(plan, adapter.resource)}
    assert sorted(bodies) == ["zone-a", "zone-b", "zone-c"]
    # 1, 50% of 6 = 3, the rest 2
    assert {n: b["spec"]["replicas"] for n, b in bodies.items()} == {"zone-a": 1, "zone-b": 3, "zone-c": 2}
    b = bodies["zone-b"]
    assert b["apiVersion"] == adapter.api_version and b["kind"] == adapter.kind
    assert b["metadata"]["name"].startswith("ud-zone-b-") and len(b["metadata"]["name"]) == len("ud-zone-b-") + 5
    assert b["metadata"]["labels"] == {"app": "a", "team": "t", REVISION_LABEL: revision, SUBSET_NAME_LABEL: "zone-b"}
    assert b["metadata"]["annotations"] == {SUBSET_PATCH_ANNOTATION: ""}
    assert b["metadata"]["ownerReferences"][0]["uid"] == "ud-uid"
    assert b["spec"]["selector"] == {"matchLabels": {"app": "a", SUBSET_NAME_LABEL: "zone-b"}}
    pod = b["spec"]["template"]
    assert pod["metadata"]["labels"] == {"app": "a", SUBSET_NAME_LABEL: "zone-b", REVISION_LABEL: revision}
    assert pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [term("zone-b")]}
    assert pod["spec"]["tolerations"] == [{"key": "k", "operator": "Exists"}]
    c = bodies["zone-c"]["spec"]["template"]
    assert c["metadata"]["labels"]["zone"] == "c" and c["spec"]["containers"][0]["image"] == "i:zone-c"
    assert bodies["zone-c"]["metadata"]["annotations"][SUBSET_PATCH_ANNOTATION] == (
        '{"metadata":{"labels":{"zone":"c"}},"spec":{"containers":[{"image":"i:zone-c","name":"c"}]}}')
    if template == "cloneSetTemplate":
        assert b["spec"]["updateStrategy"] == {"partition": 0}
    elif template == "deploymentTemplate":
        assert "updateStrategy" not in b["spec"]
    else:
        assert b["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    events = [a for a in plan.actions if isinstance(a, Event)]
    assert events[-1].message.startswith("Create 3 Subset")


def test_node_selector_term_is_anded_into_every_existing_term() -> None:
    ud = make_ud()
    ud["spec"]["template"]["cloneSetTemplate"]["spec"]["template"]["spec"]["affinity"] = {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "x", "operator": "Exists"}]}, {"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}}
    body = next(b for b in created(reconcile(ud, {}, context()), "clonesets.apps.kruise.io")
                if b["metadata"]["labels"][SUBSET_NAME_LABEL] == "zone-a")
    terms = body["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "x", "operator": "Exists"}] + term("zone-a")["matchExpressions"]},
                     {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}],
                      "matchExpressions": term("zone-a")["matchExpressions"]}]


def world(ud: dict) -> dict:
    """The objects after the first round ran: the revision and the workloads, with a settled status."""
    plan = reconcile(ud, {}, context())
    observed: dict = {"controllerrevisions.apps": created(plan, "controllerrevisions.apps")}
    adapter = next(a for a in ADAPTERS.values() if a.template in ud["spec"]["template"])
    for i, body in enumerate(created(plan, adapter.resource)):
        body["metadata"].update(uid=f"w{i}", creationTimestamp="2026-12-03T11:00:00Z")
        body["status"] = {"replicas": body["spec"]["replicas"], "readyReplicas": body["spec"]["replicas"],
                          "updatedReplicas": body["spec"]["replicas"]}
        observed.setdefault(adapter.resource, []).append(body)
    return observed


def test_converged_round_writes_only_the_status_then_nothing() -> None:
    ud = make_ud()
    observed = world(ud)
    plan = reconcile(ud, observed, context())
    (patch,) = plan.actions
    assert patch.subresource == "status"
    status = patch.body["status"]
    assert status["subsetReplicas"] == {"zone-a": 1, "zone-b": 3, "zone-c": 2}
    assert status["replicas"] == status["readyReplicas"] == 6
    assert status["labelSelector"] == "app=a"
    assert status["updateStatus"]["currentPartitions"] == {"zone-a": 0, "zone-b": 0, "zone-c": 0}
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"UnitedDeploymentUpdated": "True",
                                                                      "SubsetUpdated": "True"}
    ud["status"] = status
    assert reconcile(ud, observed, context()).actions == []


def test_scale_updates_replicas_with_a_whole_spec_patch() -> None:
    ud = make_ud()
    observed = world(ud)
    ud["spec"]["replicas"] = 8
    plan = reconcile(ud, observed, context())
    patches = {a.name: a for a in plan.actions if isinstance(a, Patch) and a.resource == "clonesets.apps.kruise.io"}
    replicas = {}
    for workload in observed["clonesets.apps.kruise.io"]:
        name = workload["metadata"]["name"]
        if name in patches:
            ops = patches[name].body
            assert patches[name].patch_type == "json" and ops[-1]["path"] == "/spec"
            replicas[workload["metadata"]["labels"][SUBSET_NAME_LABEL]] = ops[-1]["value"]["replicas"]
    assert replicas == {"zone-b": 4, "zone-c": 3}   # 50% of 8 = 4; the rest 3; zone-a keeps 1


def test_partitions_are_capped_at_the_allocation() -> None:
    ud = make_ud(updateStrategy={"type": "Manual", "manualUpdate": {"partitions": {"zone-a": 5, "zone-b": 2}}})
    bodies = {b["metadata"]["labels"][SUBSET_NAME_LABEL]: b for b in created(reconcile(ud, {}, context()),
                                                                             "clonesets.apps.kruise.io")}
    assert {n: b["spec"]["updateStrategy"]["partition"] for n, b in bodies.items()} == {
        "zone-a": 1, "zone-b": 2, "zone-c": 0}


def test_dropped_subset_and_other_kinds_are_deleted() -> None:
    ud = make_ud()
    observed = world(ud)
    stray = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "old", "uid": "d1",
                                                                          "labels": {SUBSET_NAME_LABEL: "zone-a"}}}
    observed["deployments.apps"] = [stray]
    ud["status"] = reconcile(ud, world(ud), context()).actions[-1].body["status"]
    ud["spec"]["topology"]["subsets"] = ud["spec"]["topology"]["subsets"][1:]
    ud["spec"]["topology"]["subsets"][0]["replicas"] = 3
    plan = reconcile(ud, observed, context())
    deletes = [(a.resource, a.name) for a in plan.actions if isinstance(a, Delete)]
    zone_a = next(w["metadata"]["name"] for w in observed["clonesets.apps.kruise.io"]
                  if w["metadata"]["labels"][SUBSET_NAME_LABEL] == "zone-a")
    assert deletes == [("deployments.apps", "old"), ("clonesets.apps.kruise.io", zone_a)]
    status = next(a for a in plan.actions if isinstance(a, Patch) and a.subresource == "status").body["status"]
    assert status["subsetReplicas"] == {"zone-a": None, "zone-b": 3, "zone-c": 3}  # merge patch: zone-a removed
    assert {c["type"] for c in status["conditions"]} >= {"SubsetProvisioned"}
    # the dropped subset's status entry stays, as upstream's
    assert [s["name"] for s in status["subsetStatuses"]] == ["zone-a", "zone-b", "zone-c"]


def test_template_change_makes_a_new_revision_and_relabels_every_subset() -> None:
    ud = make_ud()
    observed = world(ud)
    old_revision = observed["controllerrevisions.apps"][0]["metadata"]["name"]
    ud["status"] = {"currentRevision": old_revision}
    ud["spec"]["template"]["cloneSetTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] = "i:2"
    plan = reconcile(ud, observed, context())
    (revision,) = created(plan, "controllerrevisions.apps")
    new = revision["metadata"]["name"]
    assert new != old_revision
    patches = [a for a in plan.actions if isinstance(a, Patch) and a.resource == "clonesets.apps.kruise.io"]
    assert len(patches) == 3
    assert all(p.body[0]["value"][REVISION_LABEL] == new for p in patches)
    status = next(a for a in plan.actions if isinstance(a, Patch) and a.subresource == "status").body["status"]
    updated = next(c for c in status["conditions"] if c["type"] == "UnitedDeploymentUpdated")
    assert (updated["status"], updated["reason"]) == ("False", "UnitedDeploymentRevisionUpdating")
    assert status["currentRevision"] == old_revision and status["updateStatus"]["updatedRevision"] == new


def test_allocation_error_emits_the_warning_and_writes_nothing_else() -> None:
    ud = make_ud(subsets=[{"name": "a", "replicas": 4}, {"name": "b", "replicas": 4}])
    plan = reconcile(ud, {"controllerrevisions.apps": []}, context())
    assert [a for a in plan.actions if isinstance(a, Event)] == [Event(
        "Warning", "Failed SpecifySubsetReplicas", "Specified subset replicas is ineffective: specified subsets' "
        "replica (8) is greater than UnitedDeployment replica (6)")]
    assert not [a for a in plan.actions if isinstance(a, Patch)]


def pending_pod(name: str, subset: str, revision: str, age: float) -> dict:
    return {"metadata": {"name": name, "uid": name, "labels": {"app": "a", SUBSET_NAME_LABEL: subset,
                                                              REVISION_LABEL: revision},
                         "creationTimestamp": (NOW - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ")},
            "spec": {}, "status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}}


def test_adaptive_moves_replicas_out_of_a_subset_with_timed_out_pending_pods() -> None:
    subsets = [{"name": "zone-a", "nodeSelectorTerm": term("zone-a"), "maxReplicas": 2},
               {"name": "zone-b", "nodeSelectorTerm": term("zone-b")}]
    strategy = {"type": "Adaptive", "adaptive": {"rescheduleCriticalSeconds": 10, "unschedulableDuration": 60}}
    ud = make_ud(replicas=2, subsets=subsets)
    ud["spec"]["topology"]["scheduleStrategy"] = strategy
    observed = world(ud)
    zone_a = next(w for w in observed["clonesets.apps.kruise.io"] if w["metadata"]["labels"][SUBSET_NAME_LABEL] == "zone-a")
    assert zone_a["spec"]["replicas"] == 2
    zone_a["status"] = {"replicas": 2, "readyReplicas": 0, "updatedReplicas": 2}
    revision = observed["controllerrevisions.apps"][0]["metadata"]["name"]
    observed["pods"] = [pending_pod("p1", "zone-a", revision, 5), pending_pod("p2", "zone-a", revision, 5)]
    plan = reconcile(ud, observed, context())
    assert not [a for a in plan.actions if isinstance(a, Patch) and a.resource == "clonesets.apps.kruise.io"]
    assert plan.requeue_after == 5  # when the pending pods time out
    observed["pods"] = [pending_pod("p1", "zone-a", revision, 11), pending_pod("p2", "zone-a", revision, 11)]
    plan = reconcile(ud, observed, context())
    status = next(a for a in plan.actions if isinstance(a, Patch) and a.subresource == "status").body["status"]
    assert status["subsetReplicas"] == {"zone-a": 0, "zone-b": 2}
    entry = status["subsetStatuses"][0]
    assert entry["conditions"][0] | {"lastTransitionTime": None} == {
        "type": "Schedulable", "status": "False", "reason": "reschedule", "message": "timeout pending pods found",
        "lastTransitionTime": None}
    # while marked, zone-a stays frozen at its ready pods; after unschedulableDuration it recovers
    ud["status"] = status
    observed["pods"] = []
    zone_a["status"] = {"replicas": 0, "readyReplicas": 0, "updatedReplicas": 0}
    later = Context(NOW + timedelta(seconds=30), names=SequenceNames())
    plan = reconcile(ud, observed, later)
    grown = [a for a in plan.actions if isinstance(a, Patch) and a.resource == "clonesets.apps.kruise.io"]
    assert [op["value"]["replicas"] for a in grown for op in a.body if op["path"] == "/spec"] == [0, 2]
    assert plan.requeue_after == 10  # zone-b grew: look again after rescheduleCriticalSeconds (recovery in 30 s)
    zone_b = next(w for w in observed["clonesets.apps.kruise.io"] if w["metadata"]["labels"][SUBSET_NAME_LABEL] == "zone-b")
    zone_a["spec"]["replicas"], zone_b["spec"]["replicas"] = 0, 2
    zone_b["status"] = {"replicas": 2, "readyReplicas": 2, "updatedReplicas": 2}
    assert reconcile(ud, observed, later).requeue_after == pytest.approx(30)
    recovered = reconcile(ud, observed, Context(NOW + timedelta(seconds=61), names=SequenceNames()))
    status = next(a for a in recovered.actions if isinstance(a, Patch) and a.subresource == "status").body["status"]
    assert status["subsetStatuses"][0]["conditions"][0]["reason"] == "recover"
    assert status["subsetReplicas"] == {"zone-a": 0, "zone-b": 2}  # zone-b's 2 running pods are kept


def test_a_running_rollout_reapplies_the_template_only_when_it_would_change_something() -> None:
    """B9.4 trigger 5 (updatedReplicas < replicas): upstream Updates the workload again; a workload that already
    holds the whole template (plus the API server's defaults) is left alone, one missing a field is patched."""
    ud = make_ud()
    observed = world(ud)
    ud["status"] = reconcile(ud, observed, context()).actions[-1].body["status"]
    workload = observed["clonesets.apps.kruise.io"][0]
    workload["status"]["updatedReplicas"] = 0
    workload["spec"]["revisionHistoryLimit"] = 10  # a default the API server added
    assert not [a for a in reconcile(ud, observed, context()).actions if isinstance(a, Patch)]
    workload["spec"]["template"]["spec"]["containers"][0].pop("image")  # edited by hand
    patches = [a for a in reconcile(ud, observed, context()).actions if isinstance(a, Patch)]
    assert [p.name for p in patches] == [workload["metadata"]["name"]]
