"""The kruise-daemon's pulls survive containerd going away (issue 18; not an upstream case): containerd is
stopped, an ImagePullJob is created for the real node, its pull attempts fail (counted in /metrics) and back off;
containerd is started again and the job completes with the image on the node."""
from __future__ import annotations

from tests.kube import wait_for

from .helpers import REAL_NODE, ImageJobs, fresh_image, metric, node_has_image

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
