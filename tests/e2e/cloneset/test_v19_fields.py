"""What OpenKruise v1.9.0 added to CloneSet, against the real API server: spec.progressDeadlineSeconds (condition
Progressing, kruise #2108) and updateStrategy.type OnDelete (kruise #2224), and their admission rules.

Pods run on the simulated nodes; an image tagged `broken` never pulls there, so its pods never become ready
(sandbox/kubelet_model.py), which is how a rollout that cannot progress is made."""
from __future__ import annotations

import copy

import pytest

from tests.e2e.test_kubernetes_validation import refusal, refused_naming
from tests.kube import Cluster, PodWatch

from .helpers import SIM_IMAGE, CloneSets, cloneset, images, revision_of, wait_for
from .test_openkruise_cases import ts

pytestmark = pytest.mark.usefixtures("kruise")

NEW_IMAGE = f"{SIM_IMAGE}:v2"


def progressing(cs: CloneSets, name: str) -> dict | None:
    return next((c for c in cs.status(name).get("conditions") or [] if c["type"] == "Progressing"), None)


def wait_progressing(cs: CloneSets, name: str, status: str, reason: str, timeout: float = 60) -> dict:
    def seen() -> dict | None:
        c = progressing(cs, name)
        return c if c and (c["status"], c["reason"]) == (status, reason) else None
    return wait_for(seen, timeout, f"CloneSet {name}: Progressing={status} {reason}",
                    describe=lambda: progressing(cs, name))


def seconds_between(earlier: str, later: str) -> float:
    return (ts(later) - ts(earlier)).total_seconds()


# ---------------------------------------------------------------------------------------------------------
# progressDeadlineSeconds

def test_a_healthy_rollout_is_progressing_then_available(cs: CloneSets):
    """Follows upstream "scales with minReadySeconds and scaleStrategy" (CloneSetUpdated while pods become
    available, then CloneSetAvailable) and "creates with hostNetwork pod" (available), then an image update."""
    cs.create(cloneset("healthy", 3, minReadySeconds=3, progressDeadlineSeconds=600))
    updated = wait_progressing(cs, "healthy", "True", "CloneSetUpdated")
    assert updated["message"] == "CloneSet is progressing"
    available = wait_progressing(cs, "healthy", "True", "CloneSetAvailable")
    assert available["message"] == "CloneSet is available"
    assert cs.status("healthy")["updatedAvailableReplicas"] == 3
    cs.set_image("healthy", NEW_IMAGE)
    wait_progressing(cs, "healthy", "True", "CloneSetUpdated")
    wait_progressing(cs, "healthy", "True", "CloneSetAvailable", timeout=90)
    assert images(cs.pods("healthy")) == [NEW_IMAGE] * 3


def test_a_rollout_that_cannot_progress_exceeds_its_deadline(cs: CloneSets):
    """Follows upstream "creates with unschedulable scheduler" (ProgressDeadlineExceeded after 8 s, then a fixed
    template makes it available), with pods that never get ready instead of never scheduled. The controller
    looks again at the deadline by itself (its requeue), so the condition turns False within seconds of it."""
    deadline = 8
    cs.create(cloneset("stuck", 2, f"{SIM_IMAGE}:broken", progressDeadlineSeconds=deadline))
    started = wait_progressing(cs, "stuck", "True", "CloneSetUpdated")
    exceeded = wait_progressing(cs, "stuck", "False", "ProgressDeadlineExceeded", timeout=deadline + 30)
    revision = cs.status("stuck")["updateRevision"]
    assert exceeded["message"] == f"CloneSet revision {revision} has timed out progressing"
    # Whole seconds on both sides: the condition's time is written truncated to the second.
    assert deadline <= seconds_between(started["lastUpdateTime"], exceeded["lastUpdateTime"]) <= deadline + 10
    assert cs.status("stuck")["readyReplicas"] == 0
    cs.set_image("stuck", NEW_IMAGE)  # a new revision: progressing again, then available
    wait_progressing(cs, "stuck", "True", "CloneSetAvailable", timeout=90)


def test_paused_and_no_deadline(cs: CloneSets):
    """Follows upstream "pods should be ready when paused=true" (CloneSetPaused) and "creates with maxInt32
    progressDeadlineSeconds" (2147483647: no condition), then "... pds is updated to nil"."""
    # minReadySeconds keeps the pods unavailable, as upstream's 60 s does: Available would come before Paused.
    cs.create(cloneset("paused", 2, minReadySeconds=300, progressDeadlineSeconds=600, update={"paused": True}))
    wait_progressing(cs, "paused", "True", "CloneSetPaused")
    cs.wait_ready("paused", 2)
    cs.patch("paused", {"spec": {"progressDeadlineSeconds": 2**31 - 1}})
    wait_for(lambda: progressing(cs, "paused") is None, 30, "no Progressing condition with 2147483647")
    cs.patch("paused", {"spec": {"progressDeadlineSeconds": 600, "minReadySeconds": 0,
                                 "updateStrategy": {"paused": False}}})
    wait_progressing(cs, "paused", "True", "CloneSetAvailable")
    cs.patch("paused", {"spec": {"progressDeadlineSeconds": None}})
    wait_for(lambda: progressing(cs, "paused") is None, 30, "no Progressing condition without a deadline")


# ---------------------------------------------------------------------------------------------------------
# OnDelete

def test_on_delete_updates_pods_only_when_they_are_deleted(cluster: Cluster, cs: CloneSets):
    """Follows upstream "CloneSet updateStrategy type=OnDelete" (test/e2e/apps/v1beta1/cloneset.go, kruise
    58a5d52, the fix after v1.9.0), with 2 s of minReadySeconds instead of 10."""
    cs.create(cloneset("ondelete", 5, update={"type": "OnDelete"}, minReadySeconds=2, progressDeadlineSeconds=600))
    wait_for(lambda: cs.status("ondelete").get("updatedAvailableReplicas") == 5, 60, "5 available pods")
    before = {p["metadata"]["name"] for p in cs.pods("ondelete")}

    with PodWatch(cluster, cs.ns, "app=ondelete") as untouched:
        cs.set_image("ondelete", NEW_IMAGE)
        wait_progressing(cs, "ondelete", "True", "CloneSetUpdated")
        cs.wait_for_a_round("ondelete")
    assert untouched.created() == [] and untouched.deleted() == [], "a template change alone updates no pod"
    s = cs.status("ondelete")
    assert (s["replicas"], s["updatedReplicas"], s["readyReplicas"]) == (5, 0, 5)
    assert s["currentRevision"] != s["updateRevision"]
    update_revision = s["updateRevision"]

    victims = sorted(before)[:2]
    cluster.kubectl("delete", "pod", *victims, "--wait=false", namespace=cs.ns)
    wait_for(lambda: cs.status("ondelete").get("updatedAvailableReplicas") == 2, 60, "2 recreated pods available")
    pods = cs.pods("ondelete")
    recreated = [p for p in pods if p["metadata"]["name"] not in before]
    assert len(pods) == 5 and len(recreated) == 2
    assert {revision_of(p) for p in recreated} == {update_revision}
    assert images(recreated) == [NEW_IMAGE] * 2
    assert images([p for p in pods if p["metadata"]["name"] in before]) == [f"{SIM_IMAGE}:v1"] * 3

    cs.patch("ondelete", {"spec": {"replicas": 3}})  # scale-in takes the old pods first
    wait_for(lambda: len(cs.pods("ondelete", True)) == 3 and cs.status("ondelete").get("readyReplicas") == 3, 60,
             "3 pods")
    assert cs.status("ondelete")["updatedAvailableReplicas"] == 2
    cs.patch("ondelete", {"spec": {"replicas": 5}})  # new pods are at the update revision
    wait_for(lambda: cs.status("ondelete").get("updatedAvailableReplicas") == 4, 60, "4 updated pods available")

    [old] = [p["metadata"]["name"] for p in cs.pods("ondelete") if revision_of(p) != update_revision]
    cluster.kubectl("delete", "pod", old, "--wait=false", namespace=cs.ns)
    wait_for(lambda: cs.status("ondelete").get("updatedAvailableReplicas") == 5, 60, "5 updated pods available")
    wait_progressing(cs, "ondelete", "True", "CloneSetAvailable")
    s = cs.status("ondelete")
    assert s["currentRevision"] == s["updateRevision"] == update_revision


# ---------------------------------------------------------------------------------------------------------
# Admission: raw API creates (`kubectl create --validate=false`), so only the server judges.
# Follows no upstream e2e case: upstream tests these in pkg/webhook/cloneset/validating/validation_test.go.

def bare(name: str, **spec) -> dict:
    obj = cloneset(name, 0, **spec)
    obj["spec"]["template"]["spec"]["nodeSelector"] = {"ack-kruise.io/test": "no-such-node"}
    return obj


@pytest.mark.parametrize("spec", [
    {"progressDeadlineSeconds": 5, "minReadySeconds": 5},
    {"progressDeadlineSeconds": 0},
])
def test_a_deadline_not_above_min_ready_seconds_is_refused(cluster: Cluster, namespace: str, spec: dict):
    refused_naming(cluster, bare("bad-deadline", **spec), namespace, "spec.progressDeadlineSeconds",
                   f"Invalid value: {spec['progressDeadlineSeconds']}: must be greater than minReadySeconds")


def test_a_negative_deadline_is_refused_naming_the_field(cluster: Cluster, namespace: str):
    obj = bare("negative", progressDeadlineSeconds=-1)
    error = refusal(cluster, "create", obj, namespace, obj)
    assert error is not None and "spec.progressDeadlineSeconds" in error, error


@pytest.mark.parametrize("name, spec", [
    ("deadline", {"progressDeadlineSeconds": 11, "minReadySeconds": 10}),
    ("no-deadline", {"progressDeadlineSeconds": 2**31 - 1, "minReadySeconds": 2**31 - 1}),
    ("on-delete", {"updateStrategy": {"type": "OnDelete"}}),
])
def test_good_values_are_accepted(cluster: Cluster, namespace: str, name: str, spec: dict):
    obj = bare(name)
    obj["spec"].update(copy.deepcopy(spec))
    assert refusal(cluster, "create", obj, namespace, obj) is None


def test_the_deadline_may_change_but_not_below_min_ready_seconds(cs: CloneSets):
    cs.create(bare("changing", progressDeadlineSeconds=600, minReadySeconds=5))
    cs.patch("changing", {"spec": {"progressDeadlineSeconds": 30}})
    assert cs.get("changing")["spec"]["progressDeadlineSeconds"] == 30
    error = refusal(cs.c, "patch", bare("changing"), cs.ns, "changing", {"spec": {"progressDeadlineSeconds": 5}})
    assert error is not None and "spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds" \
        in error, error
    assert cs.get("changing")["spec"]["progressDeadlineSeconds"] == 30
