"""Shared test fixtures: one sandbox (a real kube-apiserver) per test session, a fresh namespace per test.

Tests under tests/e2e/ are marked `e2e` automatically. Set ACK_KRUISE_TEST_SANDBOX_DIR to the state folder
of a sandbox you already run (`ack-kruise sandbox --state-dir DIR up`) to reuse it between test runs;
otherwise the session starts its own and stops it at the end. A machine has one real node at a time, so
a sandbox started by `make demo` must be stopped first (the error says so).

Tests marked `sandbox_lifecycle` start and stop sandboxes of their own, real node included; `make test`
runs them in a second pytest session, after the shared sandbox is down.
"""
from __future__ import annotations

import base64
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
    """The apps.kruise.io API installed (generated CRDs and webhook configurations) and kruise-manager running
    as a sandbox component, shared by the session (a reused sandbox's manager is reused)."""
    from tests.manager import SandboxManager

    sandbox.start_manager()
    return SandboxManager(sandbox)


@pytest.fixture
def tls_secret(cluster: Cluster, namespace: str, kruise) -> str:
    """A certificate as cert-manager would write it, for managers that must not touch the shared webhooks."""
    from controllers.webhook import certs
    ca, ca_key = certs.new_ca(certs.datetime.timedelta(days=1))
    crt, key = certs.new_serving_cert(ca, ca_key, ["localhost"], ["127.0.0.1"], certs.datetime.timedelta(days=1))
    cluster.core.create_namespaced_secret(namespace, {
        "metadata": {"name": "external-certs"}, "type": "kubernetes.io/tls",
        "data": {k: base64.b64encode(v).decode() for k, v in {"ca.crt": ca, "tls.crt": crt, "tls.key": key}.items()}})
    return "external-certs"
