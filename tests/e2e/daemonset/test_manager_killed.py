"""Faults: kruise-manager killed (SIGKILL) mid scale-up and mid rollout of an Advanced DaemonSet across 20
simulated nodes. A sandbox of its own (no real node, so the simulated nodes are untainted), in the session that
runs the sandbox_lifecycle tests: the shared sandbox has four nodes."""
from __future__ import annotations

import pytest

from sandbox.cluster import Sandbox, SandboxOptions
from tests.kube import Cluster, wait_for
from tests.sandboxes import own_sandbox

from .helpers import TESTAPP, Daemons, daemonset, image_of

pytestmark = pytest.mark.sandbox_lifecycle
NODES = 20


@pytest.fixture(scope="module")
def twenty_nodes(tmp_path_factory):
    with own_sandbox(tmp_path_factory.mktemp("daemonset-faults"),
                     SandboxOptions(real_node=False, simulated_nodes=NODES, with_manager=True)) as box:
        yield box


def test_a_killed_manager_resumes_with_exactly_one_pod_per_node(twenty_nodes: Sandbox):
    cluster = Cluster(twenty_nodes.state().kubeconfig)
    cluster.create_namespace("faults")
    daemons = Daemons(cluster, "faults")
    nodes = daemons.node_names()
    assert len(nodes) == NODES

    def kill() -> None:
        twenty_nodes.kill_manager()
        twenty_nodes.restart_manager()

    daemons.create(daemonset("crash", placement={}, rolling={"maxUnavailable": "20%"}))
    wait_for(lambda: 0 < len(daemons.pods("crash", True)) < NODES, 30, "a scale-up under way", interval=0.02)
    kill()
    daemons.wait_on_nodes("crash", nodes, timeout=120)

    daemons.set_image("crash", f"{TESTAPP}:v2")
    wait_for(lambda: 0 < sum(image_of(p) == f"{TESTAPP}:v2" for p in daemons.pods("crash", True)) < NODES, 30,
             "a rollout under way", interval=0.02)
    kill()
    daemons.wait_on_nodes("crash", nodes, image=f"{TESTAPP}:v2", timeout=180)
    # Nothing lost, nothing doubled: one pod per node, on the new revision, and the status says so.
    status = daemons.status("crash")
    assert (status["desiredNumberScheduled"], status["updatedNumberScheduled"], status["numberAvailable"]) == \
        (NODES, NODES, NODES)
    assert len(cluster.apps.list_namespaced_controller_revision("faults").items) == 2
