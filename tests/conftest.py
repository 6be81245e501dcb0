"""Shared test fixtures: one sandbox (a real kube-apiserver) per test session, a fresh namespace per test.

Tests under tests/e2e/ are marked `e2e` automatically. Set ACK_KRUISE_TEST_SANDBOX_DIR to the state folder
of a sandbox you already run (`ack-kruise sandbox --state-dir DIR up`) to reuse it between test runs;
otherwise the session starts its own and stops it at the end. A machine has one real node at a time, so
a sandbox started by `make demo` must be stopped first (the error says so).

Tests marked `sandbox_lifecycle` start and stop sandboxes of their own, real node included; `make test`
runs them in a second pytest session, after the shared sandbox is down.
"""
from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from tests.kube import Cluster

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(HERE / "e2e"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    from sandbox.cluster import Sandbox, SandboxOptions

    reuse = os.environ.get("ACK_KRUISE_TEST_SANDBOX_DIR")
    if reuse:
        box = Sandbox(Path(reuse))
        if not box.is_running():
            pytest.fail(f"ACK_KRUISE_TEST_SANDBOX_DIR={reuse} names no running sandbox; "
                        f"start it with `ack-kruise sandbox --state-dir {reuse} up`")
        yield box
        return
    box = Sandbox(tmp_path_factory.mktemp("sandbox"))
    box.up(SandboxOptions())
    try:
        yield box
    finally:
        box.down(quiet=True)


@pytest.fixture(scope="session")
def cluster(sandbox) -> Cluster:
    return Cluster(sandbox.state().kubeconfig)


@pytest.fixture
def namespace(cluster: Cluster, request) -> str:
    """A namespace of its own for each test, deleted afterwards (without waiting)."""
    base = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    name = f"{base}-{uuid.uuid4().hex[:5]}"
    cluster.create_namespace(name)
    yield name
    cluster.delete_namespace(name, wait=False)


@pytest.fixture(scope="session")
def kruise(sandbox, cluster):
    """The apps.kruise.io API installed (generated CRDs and webhook configurations) and one manager running,
    shared by the session. Its serving certificate is short-lived, so it renews every few seconds all
    session long: every admission test also runs across certificate rotations."""
    from tests.manager import ManagerProcess, install_api

    cluster.kubectl("create", "namespace", "kruise-system", check=False)
    install_api(cluster)
    manager = ManagerProcess(cluster.kubeconfig, sandbox.state_dir / "logs" / "manager.log",
                             "--cert-validity", "40s", "--cert-renew-before", "30s", "--cert-check-interval", "1")
    manager.start()
    yield manager
    manager.stop()
