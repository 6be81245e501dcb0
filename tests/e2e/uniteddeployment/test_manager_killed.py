"""Faults: kruise-manager killed (SIGKILL) mid rescale of a UnitedDeployment whose CloneSet subsets spread over
three zones (the same manager runs the UnitedDeployment and CloneSet controllers). A sandbox of its own with six
simulated nodes, in the session that runs the sandbox_lifecycle tests, as tests/e2e/daemonset/test_manager_killed.py.
No upstream case: upstream's e2e never restarts the manager."""
from __future__ import annotations

import pytest

from sandbox.cluster import Sandbox, SandboxOptions
from tests.kube import Cluster, wait_for
from tests.sandboxes import own_sandbox

from .helpers import Uds, united_deployment, zone_term

pytestmark = pytest.mark.sandbox_lifecycle
ZONES = ["zone-a", "zone-b", "zone-c"]


@pytest.fixture(scope="module")
def six_nodes(tmp_path_factory):
    with own_sandbox(tmp_path_factory.mktemp("uniteddeployment-faults"),
                     SandboxOptions(real_node=False, simulated_nodes=6, with_manager=True)) as box:
        yield box


def test_a_killed_manager_resumes_with_the_exact_allocation(six_nodes: Sandbox):
    cluster = Cluster(six_nodes.state().kubeconfig)
    cluster.create_namespace("faults")
    uds = Uds(cluster, "faults")

    def kill() -> None:
        six_nodes.kill_manager()
        six_nodes.restart_manager()

    def exact(replicas: int, allocation: list[int]) -> None:
        expected = dict(zip(ZONES, allocation))
        uds.wait_subset_replicas("crash", expected, timeout=180)
        uds.wait_settled("crash", replicas, timeout=180)
        uds.wait_pods("crash", ZONES, allocation, timeout=180, ready=True)
        workloads = uds.workloads("cloneSetTemplate")
        assert len(workloads) == 3  # nothing doubled
        assert {w["metadata"]["labels"]["apps.kruise.io/subset-name"]: w["spec"]["replicas"] for w in workloads} \
            == expected

    # min/max: zone-a holds at most 10, zone-b at most 20, zone-c the rest
    subsets = [{"name": "zone-a", "nodeSelectorTerm": zone_term("zone-a"), "minReplicas": 1, "maxReplicas": 10},
               {"name": "zone-b", "nodeSelectorTerm": zone_term("zone-b"), "minReplicas": 1, "maxReplicas": 20},
               {"name": "zone-c", "nodeSelectorTerm": zone_term("zone-c"), "minReplicas": 1}]
    uds.create(united_deployment("crash", "cloneSetTemplate", subsets, replicas=3))
    exact(3, [1, 1, 1])

    uds.scale("crash", 45)
    wait_for(lambda: 3 < len(uds.pods("crash")) < 45, 60, "a scale-up under way", interval=0.02)
    kill()
    exact(45, [10, 20, 15])

    uds.scale("crash", 12)
    wait_for(lambda: 12 < len(uds.pods("crash")) < 45, 60, "a scale-down under way", interval=0.02)
    kill()
    exact(12, [10, 1, 1])
