"""The fixture every test of this folder takes: `sets`, Advanced StatefulSets in the test's namespace."""
from __future__ import annotations

import pytest

from tests.kube import Cluster

from .helpers import Sets


@pytest.fixture
def sets(cluster: Cluster, namespace: str) -> Sets:
    return Sets(cluster, namespace)
