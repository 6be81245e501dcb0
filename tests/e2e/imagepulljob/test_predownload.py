"""Image pre-download for in-place updates (issue 18 item 5; `common/predownload`): CloneSet, Advanced
StatefulSet and Advanced DaemonSet create an ImagePullJob per new image of the update revision and label the
revision, so the new image is on the old pods' nodes before their batch comes. One module, so the manager is
restarted once, with the two pre-download gates and nothing else: they turn ImagePullJobGate on themselves
(policies/feature-gates.yaml `implies`), which the ImagePullJobs being pulled at all shows.

The CloneSet follows upstream `test/e2e/apps/cloneset.go` "pre-download for new image" on the real node, and
shows the issue's "Done when": an in-place rollout held by its partition until the pull job completed starts its
first batch with the image already on the node (the kubelet says "already present on machine", no pull)."""
from __future__ import annotations

import json

import pytest

from tests.e2e.cloneset.helpers import CloneSets, cloneset
from tests.e2e.daemonset.helpers import Daemons, daemonset
from tests.e2e.statefulset.helpers import SIM, Sets, asts
from tests.kube import Cluster, wait_for
from tests.manager import with_feature_gates

from .helpers import REAL_NODE, ImageJobs, fresh_image, node_has_image

GATES = "PreDownloadImageForInPlaceUpdate=true,PreDownloadImageForDaemonSetUpdate=true"
TESTAPP = "localhost:5000/ack-kruise/testapp"
PARALLELISM = "apps.kruise.io/image-predownload-parallelism"
CREATED, IGNORED = "apps.kruise.io/pre-predownload-created", "apps.kruise.io/image-predownload-ignored"


@pytest.fixture(scope="module", autouse=True)
def gated_manager(sandbox, kruise):
    """Overrides the folder's ImagePullJobGate restart: this module's gates instead (still one restart)."""
    yield from with_feature_gates(sandbox, kruise, GATES)


@pytest.fixture
def image_jobs(cluster: Cluster, namespace: str) -> ImageJobs:
    """ImagePullJobs of the test's namespace, for the tests that need no kruise-daemon (simulated nodes only)."""
    return ImageJobs(cluster, namespace)


def revision_labels(cluster: Cluster, namespace: str, name: str) -> dict[str, str]:
    out = cluster.kubectl("get", "controllerrevision", name, "-o", "json", namespace=namespace).stdout
    return json.loads(out)["metadata"].get("labels") or {}


def the_job(jobs: ImageJobs, name: str, timeout: float = 30) -> dict:
    """The workload's one ImagePullJob, `name`; no other (upstream: exactly 1 within 3 s, here with a deadline
    that allows for a loaded machine)."""
    found = wait_for(lambda: [j for j in jobs.jobs() if j["metadata"]["name"] == name] or None, timeout,
                     f"ImagePullJob {name}", describe=lambda: [j["metadata"]["name"] for j in jobs.jobs()])
    assert [j["metadata"]["name"] for j in jobs.jobs()] == [name]
    return found[0]


def assert_job_shape(job: dict, owner: dict, image: str, parallelism: int, revision: str) -> None:
    hash_ = revision.rsplit("-", 1)[1]
    spec = job["spec"]
    assert spec["image"] == image and spec["parallelism"] == parallelism, spec
    assert spec["pullPolicy"] == {"backoffLimit": 1, "timeoutSeconds": 300}, spec
    assert spec["completionPolicy"] == {"type": "Always", "ttlSecondsAfterFinished": 600}, spec
    assert spec["podSelector"]["matchLabels"] == owner["spec"]["selector"]["matchLabels"]
    assert spec["podSelector"]["matchExpressions"] == [
        {"key": "controller-revision-hash", "operator": "NotIn", "values": [revision, hash_]}], spec
    [ref] = job["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
        owner["kind"], owner["metadata"]["name"], owner["metadata"]["uid"], True), ref
    assert job["metadata"]["labels"]["controller.kubernetes.io/hash"] == hash_


def if_not_present(obj: dict) -> dict:
    obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    return obj


def test_cloneset_pre_download_for_new_image(jobs: ImageJobs, node_paths, cluster: Cluster, namespace: str):
    """Upstream "pre-download for new image": 5 replicas, InPlaceIfPossible, partition 1; the annotation
    parallelism=2 and a new image: exactly one ImagePullJob, of that image and parallelism 2. Here also: its whole
    spec and owner, the revision labelled, the image pulled into the real node's containerd, the event, and the
    job deleted once the rollout is done."""
    cs = CloneSets(cluster, namespace)
    obj = cs.create(if_not_present(cloneset("pre", 5, f"{TESTAPP}:v1", real_node=True,
                                            update={"type": "InPlaceIfPossible", "partition": 1})))
    cs.wait_ready("pre", 5, timeout=120)
    image = fresh_image("predl")
    assert not node_has_image(node_paths, image)
    cs.patch("pre", {"metadata": {"annotations": {PARALLELISM: "2"}}})
    cs.set_image("pre", image)
    update = wait_for(lambda: (s := cs.status("pre")).get("updateRevision") != s.get("currentRevision")
                      and s["updateRevision"], 30, "the update revision")
    job = the_job(jobs, f"{update}-main")
    assert_job_shape(job, cs.get("pre"), image, 2, update)
    wait_for(lambda: revision_labels(cluster, namespace, update).get(CREATED) == "true", 30, "the created label")
    assert any(e["reason"] == "CreatedImagePullJob" and e["message"] ==
               f"created ImagePullJob {update}-main for image: {image}" for e in cs.events("pre"))
    done = jobs.completed(f"{update}-main", 120)
    assert done["status"]["succeeded"] == 1 and done["status"]["desired"] == 1, done["status"]
    assert node_has_image(node_paths, image)

    cs.patch("pre", {"spec": {"updateStrategy": {"partition": 0}}})
    cs.wait_ready("pre", 5, timeout=120)
    wait_for(lambda: not jobs.jobs(), 30, "the ImagePullJob deleted once current == update revision")
    assert obj["metadata"]["name"] == "pre"


def test_cloneset_first_batch_starts_with_the_image_on_the_node(jobs: ImageJobs, node_paths, cluster: Cluster,
                                                                namespace: str):
    """Issue 18's "Done when": a partition holds every pod back until the pull job completed; the first batch's
    pod then restarts in place on the new image without a pull (imagePullPolicy IfNotPresent: the kubelet's
    `Pulled` event says "already present on machine", and no `Pulling` event names the image)."""
    cs = CloneSets(cluster, namespace)
    cs.create(if_not_present(cloneset("first", 5, f"{TESTAPP}:v1", real_node=True,
                                      update={"type": "InPlaceIfPossible", "partition": 5})))
    cs.wait_ready("first", 5, timeout=120)
    image = fresh_image("first")
    assert not node_has_image(node_paths, image)
    cs.set_image("first", image)
    update = wait_for(lambda: (s := cs.status("first")).get("updateRevision") != s.get("currentRevision")
                      and s["updateRevision"], 30, "the update revision")
    jobs.completed(the_job(jobs, f"{update}-main")["metadata"]["name"], 120)
    assert node_has_image(node_paths, image)
    assert cs.status("first").get("updatedReplicas", 0) == 0  # nothing updated yet: the image came first

    cs.patch("first", {"spec": {"updateStrategy": {"partition": 4}}})
    wait_for(lambda: cs.status("first").get("updatedReadyReplicas") == 1, 120, "the first batch updated and ready")
    [pod] = [p for p in cs.pods("first") if p["spec"]["containers"][0]["image"] == image]
    name = pod["metadata"]["name"]

    def kubelet_said() -> list[str] | None:
        events = cluster.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
        said = [f"{e.reason}: {e.message}" for e in events if image in (e.message or "")]
        return said if any(s.startswith("Pulled:") for s in said) else None
    said = wait_for(kubelet_said, 30, f"the kubelet's Pulled event for {image}")
    assert f'Pulled: Container image "{image}" already present on machine' in said, said
    assert not [s for s in said if s.startswith("Pulling:")], said


def test_cloneset_few_replicas_are_ignored(image_jobs: ImageJobs, cluster: Cluster, namespace: str):
    """A skip case end to end: 3 replicas (≤ 3) gain nothing from pre-download; the revision is labelled ignored
    and no job is made. Simulated nodes: nothing is pulled."""
    cs = CloneSets(cluster, namespace)
    cs.create(cloneset("few", 3, update={"type": "InPlaceIfPossible", "partition": 1}))
    cs.wait_ready("few", 3)
    cs.set_image("few", "registry.example/app:v2")
    update = wait_for(lambda: (s := cs.status("few")).get("updateRevision") != s.get("currentRevision")
                      and s["updateRevision"], 30, "the update revision")
    wait_for(lambda: revision_labels(cluster, namespace, update).get(IGNORED) == "true", 30, "the ignored label")
    assert CREATED not in revision_labels(cluster, namespace, update)
    assert image_jobs.jobs() == []


def test_advanced_statefulset_pre_download(image_jobs: ImageJobs, cluster: Cluster, namespace: str):
    """The same for an Advanced StatefulSet (`statefulset_predownload_image.go`), on the simulated nodes: its job,
    the revision label, and the job deleted once every pod is updated."""
    sets = Sets(cluster, namespace)
    obj = asts("web", 5, rolling={"podUpdatePolicy": "InPlaceIfPossible", "partition": 3, "maxUnavailable": 2})
    obj["metadata"]["annotations"] = {PARALLELISM: "3"}
    sets.create(obj)
    sets.wait_ready("web", 5)
    sets.set_image("web", f"{SIM}:v2")
    update = wait_for(lambda: (s := sets.status("web")).get("updateRevision") != s.get("currentRevision")
                      and s["updateRevision"], 30, "the update revision")
    assert_job_shape(the_job(image_jobs, f"{update}-main"), sets.get("web"), f"{SIM}:v2", 3, update)
    wait_for(lambda: revision_labels(cluster, namespace, update).get(CREATED) == "true", 30, "the created label")
    sets.rolling("web", partition=0)
    wait_for(lambda: sets.status("web").get("currentRevision") == update, 90, "the rollout done")
    wait_for(lambda: not image_jobs.jobs(), 30, "the ImagePullJob deleted")


def test_advanced_daemonset_pre_download(jobs: ImageJobs, node_paths, cluster: Cluster, namespace: str):
    """The same for an Advanced DaemonSet (`daemonset_predownload_image.go`, gate
    PreDownloadImageForDaemonSetUpdate): one pod on each of the four nodes, all held back by the partition; the
    job pulls the new image on the old pods' nodes (the real node's containerd gets it; the simulated nodes have no
    daemon to answer), the revision is labelled, and the job goes once every node runs the new revision."""
    daemons = Daemons(cluster, namespace)
    nodes = len(daemons.node_names())
    obj = daemonset("agent", f"{TESTAPP}:v1", rolling={"rollingUpdateType": "InPlaceIfPossible", "partition": nodes})
    obj["metadata"]["annotations"] = {PARALLELISM: str(nodes)}
    daemons.create(obj)
    wait_for(lambda: (s := daemons.status("agent")).get("numberReady") == nodes
             and s.get("updatedNumberScheduled") == nodes and not jobs.jobs(), 120,
             "every node's pod ready (the first revision's job, which selects no pod, gone as upstream's)")
    image = fresh_image("agent")
    assert not node_has_image(node_paths, image)
    daemons.set_image("agent", image)
    revision = wait_for(lambda: next((r["metadata"]["name"] for r in json.loads(cluster.kubectl(
        "get", "controllerrevision", "-o", "json", namespace=namespace).stdout)["items"]
        if (r["metadata"].get("labels") or {}).get(CREATED) and any(
            c["image"] == image for c in r["data"]["spec"]["template"]["spec"]["containers"])), None), 30,
        "the new revision labelled created")
    job = the_job(jobs, f"{revision}-main")
    assert_job_shape(job, daemons.get("agent"), image, nodes, revision)
    wait_for(lambda: node_has_image(node_paths, image), 60, "the real node pulled the new image")
    assert daemons.status("agent").get("updatedNumberScheduled") == 0  # the partition holds every pod back

    daemons.rolling("agent", partition=0)
    wait_for(lambda: daemons.status("agent").get("updatedNumberScheduled") == nodes, 120, "every node updated")
    wait_for(lambda: not jobs.jobs(), 30, "the ImagePullJob deleted")
    assert REAL_NODE in daemons.node_names()
