"""Advanced StatefulSet behind its feature gates, with the sandbox's manager restarted once for this module with
the gates on (`--feature-gates`, as the chart's featureGates value passes them), and restarted again without
them afterwards. StatefulSetStartOrdinal (off by default, as in OpenKruise): spec.ordinals.start numbers the
pods; with the gate off it is ignored (test_statefulset.py and the unit tests show that)."""
from __future__ import annotations

import pytest

from tests.kube import wait_for
from tests.manager import with_feature_gates

from .helpers import Sets, asts

GATES = "StatefulSetStartOrdinal=true"


@pytest.fixture(scope="module", autouse=True)
def gated_manager(sandbox, kruise):
    yield from with_feature_gates(sandbox, kruise, GATES)


def test_ordinals_start(sets: Sets):
    sets.create(asts("later", 2, ordinals={"start": 5}))
    sets.wait_ready("later", 2)
    assert sets.names("later") == ["later-5", "later-6"]


def test_ordinals_start_increased_decreased_and_removed(sets: Sets):
    sets.create(asts("start", 3))
    sets.wait_ready("start", 3)
    for start, expected in ((2, [2, 3, 4]), (1, [1, 2, 3]), (None, [0, 1, 2])):
        sets.patch("start", {"spec": {"ordinals": {"start": start} if start is not None else None}})
        wait_for(lambda: sets.names("start") == [f"start-{i}" for i in expected], 60, f"ordinals {expected}",
                 describe=sets.describe("start"))
        sets.wait_ready("start", 3)
