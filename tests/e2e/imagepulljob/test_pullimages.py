"""ImagePullJob on the sandbox: a real pull into the real node's containerd, by the kruise-daemon, through the
NodeImage the manager writes (upstream `test/e2e/apps/v1beta1/pullimages.go`, "ImagePullJob pulling images
functionality [ImagePullJob]"), and the daemon's pulls surviving containerd going away (issue 18). One module, so
the manager is restarted with ImagePullJobGate once for all of them."""
from __future__ import annotations

import kubernetes
import pytest

from tests.kube import wait_for

from .helpers import REAL_NODE, ImageJobs, fresh_image, metric, node_has_image

POLICY = {"timeoutSeconds": 50, "backoffLimit": 2}  # upstream's shared job settings


def test_always_job_on_one_real_node(jobs: ImageJobs, node_paths, cluster):
    """Upstream "create an always job to pull an image on one real node": selector.names of one node, desired 1,
    succeeded 1; here also: containerd has the image (`ctr -n k8s.io images ls`), the NodeImage's status says
    Succeeded with the runtime's image id, kubectl prints the v1beta1 columns (no MESSAGE), and once the job is
    deleted its tag leaves the NodeImage."""
    image = fresh_image()
    assert not node_has_image(node_paths, image)
    jobs.create("one-node", image, selector={"names": [REAL_NODE]}, parallelism=4, pullPolicy=POLICY,
                completionPolicy={"type": "Always"})
    job = jobs.completed("one-node", 120)
    status = job["status"]
    assert (status["desired"], status["active"], status["succeeded"], status["failed"]) == (1, 0, 1, 0), status
    assert status["message"] == "job has completed" and status["startTime"]
    assert "failedNodes" not in status
    assert node_has_image(node_paths, image)
    state = jobs.tag_state(REAL_NODE, image)
    assert state["phase"] == "Succeeded" and state["progress"] == 100, state
    assert state["imageID"].startswith("localhost:5000/ack-kruise/testapp@sha256:"), state
    node_status = jobs.node_image(REAL_NODE)["status"]
    assert node_status["desired"] >= 1 and node_status["succeeded"] >= 1
    # The finalizer guards the job's pull-secret copies while it runs; a completed job has released them.
    assert not job["metadata"].get("finalizers"), job["metadata"]

    printed = cluster.kubectl("get", "imagepulljob", "one-node", namespace=jobs.ns).stdout.split("\n")[0].split()
    assert printed == ["NAME", "TOTAL", "ACTIVE", "SUCCEED", "FAILED", "AGE"]
    legacy = cluster.kubectl("get", "imagepulljobs.v1alpha1.apps.kruise.io", "one-node",
                             namespace=jobs.ns).stdout.split("\n")[0].split()
    assert legacy == ["NAME", "TOTAL", "ACTIVE", "SUCCEED", "FAILED", "AGE", "MESSAGE"]
    assert jobs.get("one-node", "v1alpha1")["status"]["succeeded"] == 1

    jobs.delete("one-node")
    wait_for(lambda: not jobs.exists("one-node"), 30, "the job gone (its finalizer released)")
    wait_for(lambda: not jobs.in_spec(REAL_NODE, image), 25, "the tag gone from the NodeImage")


def test_pull_image_with_secret_on_every_node(jobs: ImageJobs, node_paths, cluster):
    """Upstream "pull image with secret": a dockerconfigjson secret for the registry, Always, a deadline and a
    TTL; one copy of the secret in kruise-daemon-config naming the job, with equal data; completed; deleted after
    the TTL; the copy removed. No selector, so the simulated nodes are selected too: they have NodeImages but no
    kruise-daemon, so nothing ever answers there; upstream's NodeImage controller would fail those tags only after
    10 minutes, and the job's activeDeadlineSeconds completes it first, the silent nodes counted failed (what
    1.9.0 does for a node without a daemon)."""
    image = fresh_image()
    secret = jobs.pull_secret("registry-auth", "localhost:5000")
    nodes = sorted(n.metadata.name for n in cluster.core.list_node().items)
    silent = [n for n in nodes if n != REAL_NODE]
    jobs.create("with-secret", image, pullSecrets=["registry-auth"], parallelism=len(nodes),
                pullPolicy={"timeoutSeconds": 15, "backoffLimit": 1},
                completionPolicy={"type": "Always", "activeDeadlineSeconds": 20, "ttlSecondsAfterFinished": 5})
    wait_for(lambda: jobs.get("with-secret").get("status", {}).get("desired") == len(nodes), 10,
             "desired == the number of nodes")
    copies = wait_for(lambda: jobs.copies("with-secret") or None, 10, "the pull secret copied")
    assert len(copies) == 1 and copies[0].data == secret["data"]
    assert copies[0].metadata.annotations["imagepulljobs.kruise.io/source-key"] == f"{jobs.ns}/registry-auth"
    wait_for(lambda: (jobs.tag_state(REAL_NODE, image) or {}).get("phase") == "Succeeded", 60,
             "the real node pulled")
    assert node_has_image(node_paths, image)
    pull_secrets = jobs.node_image(REAL_NODE)["spec"]["images"]["localhost:5000/ack-kruise/testapp"]["pullSecrets"]
    assert {"namespace": "kruise-daemon-config", "name": copies[0].metadata.name} in pull_secrets

    job = jobs.completed("with-secret", 60)
    status = job["status"]
    assert status["message"] == "job exceeds activeDeadlineSeconds", status
    assert (status["desired"], status["succeeded"], status["failed"]) == (len(nodes), 1, len(silent)), status
    assert status["failedNodes"] == silent
    wait_for(lambda: not jobs.copies("with-secret"), 10, "the secret copy released")
    wait_for(lambda: not jobs.exists("with-secret"), 25, "the job deleted after its TTL")
    wait_for(lambda: not any(jobs.in_spec(n, image) for n in nodes), 25, "the tag gone from every NodeImage")


def test_never_job_keeps_running_and_a_second_job_bumps_the_version(jobs: ImageJobs):
    """Upstream "never completion pull job" and "two jobs pull the same image": a Never job succeeds on the real
    node and never completes; a second job for the same image and node joins the tag's owners with its version
    raised, a new pull round, and succeeds too."""
    image = fresh_image()
    jobs.create("never", image, selector={"names": [REAL_NODE]}, completionPolicy={"type": "Never"})
    wait_for(lambda: jobs.get("never").get("status", {}).get("succeeded") == 1, 60, "the Never job succeeded")
    first = jobs.tag_state(REAL_NODE, image)
    assert "completionTime" not in jobs.get("never")["status"]
    jobs.create("second", image, selector={"names": [REAL_NODE]}, completionPolicy={"type": "Always"})
    done = jobs.completed("second", 60)
    assert done["status"]["succeeded"] == 1
    tags = jobs.node_image(REAL_NODE)["spec"]["images"]["localhost:5000/ack-kruise/testapp"]["tags"]
    tag = next(t for t in tags if image.endswith(":" + t["tag"]))
    assert [o["name"] for o in tag["ownerReferences"]] == ["never", "second"]
    assert tag["version"] == first["version"] + 1
    assert jobs.tag_state(REAL_NODE, image)["version"] == tag["version"]
    assert "completionTime" not in jobs.get("never")["status"]


@pytest.mark.parametrize("spec, field", [
    ({"image": "NGINX"}, "spec.image"),
    ({"image": ""}, "spec.image"),
    ({"image": "nginx", "selector": {"names": ["a"], "matchLabels": {"x": "y"}}}, "spec.selector.matchLabels"),
    ({"image": "nginx", "selector": {"names": ["a", "a"]}}, "spec.selector.names[1]"),
    ({"image": "nginx", "selector": {"names": ["a"]}, "podSelector": {"matchLabels": {"x": "y"}}}, "spec.podSelector"),
    ({"image": "nginx", "podSelector": {"matchExpressions": [{"key": "x", "operator": "In"}]}},
     "spec.podSelector.matchExpressions[0].values"),
    ({"image": "nginx", "completionPolicy": {"type": "Always", "activeDeadlineSeconds": 10}},
     "spec.completionPolicy.activeDeadlineSeconds"),
    ({"image": "nginx", "completionPolicy": {"type": "Never", "ttlSecondsAfterFinished": 10}},
     "spec.completionPolicy.ttlSecondsAfterFinished"),
    ({"image": "nginx", "completionPolicy": {"type": "Sometimes"}}, "spec.completionPolicy.type"),
])
def test_bad_specs_are_refused_with_the_field_named(jobs: ImageJobs, spec: dict, field: str):
    """The validating webhook's cases (pkg/webhook/imagepulljob/validating), each refused with its field named,
    and nothing created."""
    image = spec.pop("image")
    with pytest.raises(kubernetes.client.ApiException) as refused:
        jobs.create("bad", image, **spec)
    assert refused.value.status in (400, 422), refused.value.body
    assert field in refused.value.body, refused.value.body
    assert not jobs.exists("bad")


def test_list_job_makes_one_job_per_image(jobs: ImageJobs, node_paths):
    """Upstream "[ImageListPullJob]" case 2: two images, IfNotPresent, names=[the real node]: one ImagePullJob
    per image, both succeed, the list job completes with succeeded 2; deleted, its children are collected."""
    images = [fresh_image("list-a"), fresh_image("list-b")]
    jobs.create_list("list", images, selector={"names": [REAL_NODE]}, imagePullPolicy="IfNotPresent",
                     completionPolicy={"type": "Always"})
    children = wait_for(lambda: found if len(found := jobs.jobs()) == 2 else None, 10, "two ImagePullJobs")
    assert sorted(c["spec"]["image"] for c in children) == sorted(images)
    assert all(c["metadata"]["ownerReferences"][0]["kind"] == "ImageListPullJob" for c in children)
    done = wait_for(lambda: (j := jobs.get_list("list")).get("status", {}).get("completionTime") and j, 120,
                    "the list job completed", interval=0.5)
    assert (done["status"]["desired"], done["status"]["succeeded"], done["status"]["completed"]) == (2, 2, 2)
    assert all(node_has_image(node_paths, i) for i in images)
    jobs.custom.delete_namespaced_custom_object("apps.kruise.io", "v1beta1", jobs.ns, "imagelistpulljobs", "list")
    wait_for(lambda: not jobs.jobs(), 60, "the children collected")


# Not an upstream case: containerd is stopped, an ImagePullJob is created for the real node, its pull attempts
# fail (counted in /metrics) and back off; containerd is started again and the job completes with the image there.
ERRORS = ("kruise_daemon_image_pulls_total", '{result="error"}')


def test_pull_finishes_after_containerd_was_stopped_midway(jobs: ImageJobs, node_paths, sandbox):
    port = sandbox.state().ports["kruise-daemon-health"]
    image = fresh_image("survive")
    errors = metric(port, *ERRORS)
    sandbox.stop_component("containerd")
    try:
        jobs.create("survive", image, selector={"names": [REAL_NODE]},
                    pullPolicy={"timeoutSeconds": 30, "backoffLimit": 6}, completionPolicy={"type": "Always"})
        wait_for(lambda: metric(port, *ERRORS) > errors, 30, "a pull attempt failing on the stopped containerd",
                 interval=0.5)
        assert (jobs.tag_state(REAL_NODE, image) or {}).get("phase") == "Pulling"
    finally:
        sandbox.start_component("containerd")
    job = jobs.completed("survive", 120)
    assert (job["status"]["succeeded"], job["status"]["failed"]) == (1, 0), job["status"]
    assert node_has_image(node_paths, image)
