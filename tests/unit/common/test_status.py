from datetime import datetime, timezone

from controllers.common.status import status_changed, with_conditions

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
