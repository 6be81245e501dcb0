"""The fixtures of the image pre-download tests: the sandbox's manager restarted once for the module with
ImagePullJobGate on (off by default, as in OpenKruise), its kruise-daemon on the real node, and NodeImages for
every node."""
from __future__ import annotations

import pytest

from sandbox import realnode
from tests.kube import Cluster, wait_for
from tests.manager import with_feature_gates

from .helpers import ImageJobs

GATES = "ImagePullJobGate=true"


@pytest.fixture(scope="module", autouse=True)
def gated_manager(sandbox, kruise):
    yield from with_feature_gates(sandbox, kruise, GATES)


@pytest.fixture
def jobs(cluster: Cluster, namespace: str, sandbox) -> ImageJobs:
    if not any(p.name == "kruise-daemon" for p in sandbox.state().processes):
        pytest.fail("the sandbox runs no kruise-daemon: it needs its real node (start it without --no-real-node)")
    out = ImageJobs(cluster, namespace)
    nodes = {n.metadata.name for n in cluster.core.list_node().items}
    # The NodeImage controller makes one per node, 30 s after the node became Ready (upstream's creation delay).
    wait_for(lambda: nodes <= {n["metadata"]["name"] for n in out.node_images()}, 60, "a NodeImage for every node")
    return out


@pytest.fixture
def node_paths(sandbox) -> realnode.NodePaths:
    return realnode.NodePaths(sandbox.state_dir / "node")
