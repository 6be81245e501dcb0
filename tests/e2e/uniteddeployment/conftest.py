"""The fixture every test of this folder takes: `uds`, UnitedDeployments in the test's namespace."""
from __future__ import annotations

import pytest

from tests.kube import Cluster

from .helpers import Uds


@pytest.fixture
def uds(cluster: Cluster, namespace: str):
    """Node labels and cordons a test put on are taken off afterwards, whatever the outcome."""
    u = Uds(cluster, namespace)
    try:
        yield u
    finally:
        u.restore_nodes()
