from datetime import datetime, timezone

from controllers.common.pods import is_pod_active, is_pod_available, ready_condition_after, seconds_until_available
from controllers.common.selectors import is_valid_selector, selector_matches, selector_string
from controllers.common.times import format_time, parse_time

from .podfactory import pod

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def test_selector_string_is_sorted_like_labels_selector():
    sel = {"matchLabels": {"b": "2", "a": "1"},
           "matchExpressions": [{"key": "c", "operator": "In", "values": ["y", "x"]},
                                {"key": "aa", "operator": "Exists"}, {"key": "d", "operator": "DoesNotExist"},
                                {"key": "e", "operator": "NotIn", "values": ["z"]}]}
    assert selector_string(sel) == "a=1,aa,b=2,c in (x,y),!d,e notin (z)"
    assert selector_string({"matchLabels": {"app": "guestbook"}}) == "app=guestbook"


def test_selector_matching():
    sel = {"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "t", "operator": "NotIn", "values": ["b"]}]}
    assert selector_matches(sel, {"app": "x"}) and selector_matches(sel, {"app": "x", "t": "a"})
    assert not selector_matches(sel, {"app": "x", "t": "b"}) and not selector_matches(sel, {})
    assert selector_matches({}, {"any": "thing"}) and not selector_matches(None, {})
    assert is_valid_selector(sel) and not is_valid_selector({}) and not is_valid_selector(None)
    assert not is_valid_selector({"matchExpressions": [{"key": "k", "operator": "In"}]})


def test_times_round_trip():
    assert format_time(NOW) == "2024-05-01T12:00:00Z"
    assert parse_time("2024-05-01T12:00:00Z") == NOW
    assert parse_time("2024-05-01T14:00:00.5+02:00") == NOW.replace(microsecond=500000)
    assert parse_time("garbage") is None and parse_time(None) is None


def test_availability_with_min_ready_seconds():
    p = pod("p", ready_since="2024-05-01T11:59:50Z")
    assert is_pod_available(p, 0, NOW) and is_pod_available(p, 9, NOW)
    assert not is_pod_available(p, 10, NOW)  # strictly after the deadline, like podutil.IsPodAvailable
    assert seconds_until_available(p, 10, NOW) == 1.0 and seconds_until_available(p, 15, NOW) == 6.0
    assert not is_pod_available(pod("q", ready=False), 0, NOW)


def test_active_pods():
    assert is_pod_active(pod("p"))
    assert not is_pod_active(pod("p", phase="Failed"))
    gone = pod("p")
    gone["metadata"]["deletionTimestamp"] = "2024-05-01T12:00:00Z"
    assert not is_pod_active(gone)


def test_ready_condition_turns_false_with_a_gate():
    p = pod("p", gates=["InPlaceUpdateReady"], conditions=[{"type": "InPlaceUpdateReady", "status": "True"}])
    cond = ready_condition_after(p, {"InPlaceUpdateReady": "False"}, NOW)
    assert cond["status"] == "False" and cond["reason"] == "ReadinessGatesNotReady"
    assert "InPlaceUpdateReady" in cond["message"]
    assert ready_condition_after(p, {}, NOW) is None
