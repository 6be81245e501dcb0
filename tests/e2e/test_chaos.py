"""`make chaos`'s quick mode, in `make test`, on a sandbox of its own (no real node): kruise-manager killed
(SIGKILL) once in a scale-up, an in-place rollout and a scale-down of a CloneSet and of an Advanced StatefulSet
running at once (each kill hits both);
etcd restarted in the middle of a CloneSet's rollout; watches expired (etcd compacted and restarted)
in the middle of an Advanced StatefulSet's. Nothing lost, nothing doubled, nothing recreated, and every
operation converges; the compaction did make watches from before it expire. No upstream case (OpenKruise has no
fault e2e)."""
from __future__ import annotations

import asyncio

import pytest

from chaos.__main__ import QUICK, run_all
from chaos.sequence import SIMULATED_NODES
from sandbox.cluster import SandboxOptions
from tests.sandboxes import QUICK_TAKEOVER, own_sandbox

pytestmark = pytest.mark.sandbox_lifecycle


def test_faults_lose_double_and_recreate_no_pod(tmp_path_factory):
    with own_sandbox(tmp_path_factory.mktemp("chaos"),
                     SandboxOptions(real_node=False, simulated_nodes=SIMULATED_NODES, with_manager=True,
                                    manager_args=QUICK_TAKEOVER)) as box:
        outcomes = asyncio.run(run_all(box, QUICK))
    assert [(o.scenario, o.kind) for o in outcomes] == \
        [("kill", "CloneSet")] * 3 + [("kill", "Advanced StatefulSet")] * 3 + \
        [("etcd", "CloneSet"), ("compaction", "Advanced StatefulSet")], outcomes
    bad = [o for o in outcomes if not o.clean]
    assert not bad, bad
    assert [o.watch_expired for o in outcomes if o.scenario == "compaction"] == [True], outcomes
