from datetime import datetime, timezone

from controllers.common.status import min_ready_requeue, status_changed, with_conditions

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def test_failure_conditions_keep_their_time_and_others_conditions():
    old = {"conditions": [{"type": "Other", "status": "True"},
                          {"type": "FailedX", "status": "True", "message": "m", "lastTransitionTime": "T"}]}
    out = with_conditions({"replicas": 1}, old, {"FailedX": "m"}, ("FailedX", "FailedY"), NOW)
    assert out["conditions"] == old["conditions"]
    out = with_conditions({"replicas": 1}, old, {"FailedY": "n"}, ("FailedX", "FailedY"), NOW)
    assert out["conditions"] == [{"type": "Other", "status": "True"},
                                 {"type": "FailedY", "status": "True", "message": "n",
                                  "lastTransitionTime": "2024-05-01T12:00:00Z"}]


def test_status_changed_ignores_empty_values():
    assert not status_changed({"a": 1, "b": []}, {"a": 1, "c": None, "d": ""})
    assert status_changed(None, {"a": 0})
    assert not status_changed(None, {"conditions": []})


def test_min_ready_requeue_wakes_when_the_next_ready_pod_becomes_available():
    ready_at = {"a": "2024-05-01T11:59:58Z", "b": "2024-05-01T11:59:50Z", "c": "2024-05-01T11:00:00Z"}
    pods = [{"metadata": {"name": n}, "status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": t}]}} for n, t in ready_at.items()]
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    available = {"c"}

    def requeue(seconds, ready=lambda p: True):
        return min_ready_requeue(pods, seconds, now, ready=ready,
                                 available=lambda p: p["metadata"]["name"] in available)
    assert requeue(15) == 6.0  # b: 15 s after 11:59:50, just past the deadline
    assert requeue(15, ready=lambda p: p["metadata"]["name"] == "a") == 14.0
    assert requeue(0) is None
    available.update("ab")
    assert requeue(15) is None
