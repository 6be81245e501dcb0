"""The fixture the kruise-daemon tests take: `crr`, CloneSets and ContainerRecreateRequests in the test's
namespace, with the sandbox's kruise-manager and kruise-daemon running (the real node is required)."""
from __future__ import annotations

import pytest

from tests.kube import Cluster

from .helpers import Recreations


@pytest.fixture
def crr(cluster: Cluster, namespace: str, kruise, sandbox) -> Recreations:
    state = sandbox.state()
    if not any(p.name == "kruise-daemon" for p in state.processes):
        pytest.fail("the sandbox runs no kruise-daemon: it needs its real node (start it without --no-real-node)")
    return Recreations(cluster, namespace)
