"""The chaos suite's accounting (chaos/sequence.py) on plain pod dicts: what a watch, or a list again after a
410, tells it about pods deleted, created and live at once; and the results table (chaos/__main__.py)."""
from __future__ import annotations

from chaos.__main__ import render
from chaos.sequence import Outcome, Pods


def pod(name: str, uid: str, deleting: bool = False) -> dict:
    meta = {"name": name, "namespace": "ns", "uid": uid}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-04T10:00:00Z"
    return {"metadata": meta, "spec": {"containers": [{"image": "app:v1"}]}}


def test_a_deletion_counts_once_whether_seen_terminating_or_gone():
    pods = Pods()
    pods.on_pod(("ns", "a"), pod("a", "1"))
    pods.on_pod(("ns", "b"), pod("b", "2"))
    pods.reset()
    pods.on_pod(("ns", "a"), pod("a", "1", deleting=True))
    pods.on_pod(("ns", "a"), None)
    pods.on_pod(("ns", "b"), None)
    assert pods.deleted == {"1", "2"} and not pods.live and pods.most == 2


def test_a_pod_replaced_while_the_watch_was_down_is_a_deletion_not_a_duplicate():
    # After a 410 the informer lists again: pod "web-0" has a new uid, its old one's deletion was never seen.
    pods = Pods()
    pods.on_pod(("ns", "web-0"), pod("web-0", "old"))
    pods.reset()
    pods.on_pod(("ns", "web-0"), pod("web-0", "new"))
    assert set(pods.live) == {"new"} and pods.deleted == {"old"} and pods.created == {"new"}
    assert pods.most == 1


def test_more_live_pods_than_allowed_is_what_duplicated_counts():
    pods = Pods()
    for i in range(3):
        pods.on_pod(("ns", f"p{i}"), pod(f"p{i}", str(i)))
    assert pods.most == 3


def test_the_results_table_sums_per_scenario_kind_and_operation():
    outcomes = [Outcome("kill", "CloneSet", "scale-up", 1, 2, converge_seconds=10.0),
                Outcome("kill", "CloneSet", "scale-up", 2, 0, recreated=1, converge_seconds=20.0,
                        manager_restarts=0),
                Outcome("compaction", "CloneSet", "rollout in place", 1, 3, converge_seconds=None,
                        manager_restarts=1, watch_expired=True)]
    text = render(outcomes, 120, "python -m chaos")
    assert "| kill | CloneSet | scale-up | 2 | 0 | 0 | 1 | 0 | – | 15.0 / 20.0 |" in text
    assert "| compaction | CloneSet | rollout in place | 1 | 0 | 0 | 0 | 1 | 1 of 1 | – (1 never) |" in text
    assert "| compaction | CloneSet | rollout in place | 1 | 3 | 0 | 0 | 0 | 1 | yes | never |" in text
    assert not outcomes[1].clean and not outcomes[2].clean and outcomes[0].clean
