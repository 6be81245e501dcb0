"""The fixture the CloneSet tests take: `cs`, CloneSets in the test's namespace."""
from __future__ import annotations

import pytest

from tests.kube import Cluster

from .helpers import CloneSets


@pytest.fixture
def cs(cluster: Cluster, namespace: str) -> CloneSets:
    return CloneSets(cluster, namespace)
