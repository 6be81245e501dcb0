"""The fixture every test of this folder takes: `daemons`, Advanced DaemonSets in the test's namespace."""
from __future__ import annotations

import pytest

from tests.kube import Cluster

from .helpers import Daemons


@pytest.fixture
def daemons(cluster: Cluster, namespace: str):
    """Node labels and taints a test put on are taken off afterwards, whatever the outcome."""
    d = Daemons(cluster, namespace)
    try:
        yield d
    finally:
        d.restore_nodes()
