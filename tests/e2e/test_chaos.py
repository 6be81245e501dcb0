"""`make chaos`'s quick mode, in `make test`: kruise-manager killed (SIGKILL) once in a scale-up, an in-place
rollout and a scale-down of a CloneSet and of an Advanced StatefulSet, on a sandbox of its own (no real node).
Nothing lost, nothing doubled, nothing recreated, and every operation converges. No upstream case (OpenKruise
has no fault e2e)."""
from __future__ import annotations

import asyncio

import pytest

from chaos.__main__ import run_all
from sandbox.cluster import SandboxOptions
from tests.sandboxes import QUICK_TAKEOVER, own_sandbox

pytestmark = pytest.mark.sandbox_lifecycle


def test_manager_kills_lose_double_and_recreate_no_pod(tmp_path_factory):
    with own_sandbox(tmp_path_factory.mktemp("chaos"),
                     SandboxOptions(real_node=False, simulated_nodes=3, with_manager=True,
                                    manager_args=QUICK_TAKEOVER)) as box:
        outcomes = asyncio.run(run_all(box, [1]))
    assert len(outcomes) == 6, outcomes
    bad = [o for o in outcomes if o.lost or o.duplicated or o.recreated or o.converge_seconds is None]
    assert not bad, bad
