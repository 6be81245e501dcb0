import json
from datetime import datetime, timezone

from controllers.common import actions as A
from controllers.common import lifecycle as L
from controllers.common.podreadiness import add_not_ready_key, has_not_ready_key, ready_if_missing, remove_not_ready_key

from .podfactory import pod

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
HOOK = {"labelsHandler": {"hold": "yes", "team": "a"}, "finalizersHandler": ["example.com/drain"]}


def test_hooked_is_any_all_hooked_is_all():
    none, one_label = pod("p"), pod("p", labels={"hold": "yes"})
    finalizer_only = pod("p", finalizers=["example.com/drain"])
    everything = pod("p", labels={"hold": "yes", "team": "a"}, finalizers=["example.com/drain"])
    assert not L.is_pod_hooked(HOOK, none) and L.is_pod_hooked(HOOK, one_label) and L.is_pod_hooked(HOOK, finalizer_only)
    assert not L.is_pod_all_hooked(HOOK, one_label) and L.is_pod_all_hooked(HOOK, everything)
    assert not L.is_pod_hooked(None, everything) and not L.is_pod_all_hooked(None, everything)
    assert L.is_pod_all_hooked({}, none) and not L.is_pod_hooked({}, none)  # an empty hook is vacuously all-hooked


def test_transition_writes_state_and_timestamp_with_a_uid_guard():
    p = pod("p", labels={L.LIFECYCLE_STATE_LABEL: L.NORMAL})
    [patch] = L.update_pod_lifecycle(p, L.PREPARING_DELETE, False, NOW)
    assert patch == A.patch_pod("p", {"metadata": {"uid": "uid-p",
                                                  "labels": {"lifecycle.apps.kruise.io/state": "PreparingDelete"},
                                                  "annotations": {"lifecycle.apps.kruise.io/timestamp": "2024-05-01T12:00:00Z"}}},
                               "strategic")
    same = pod("p", labels={L.LIFECYCLE_STATE_LABEL: L.PREPARING_DELETE})
    assert L.update_pod_lifecycle(same, L.PREPARING_DELETE, False, NOW) == []


def test_mark_pod_not_ready_adds_and_removes_kruise_pod_ready_keys():
    gated = pod("p", gates=["KruisePodReady"], labels={L.LIFECYCLE_STATE_LABEL: L.NORMAL},
                conditions=[{"type": "KruisePodReady", "status": "True"}])
    status, label = L.update_pod_lifecycle(gated, L.PREPARING_UPDATE, True, NOW)
    assert status.what == "patch pods/status" and label.what == "patch pods"
    kpr, ready = status.body["status"]["conditions"]
    assert kpr["type"] == "KruisePodReady" and kpr["status"] == "False"
    assert json.loads(kpr["message"]) == [{"userAgent": "Lifecycle", "key": "preUpdateHook"}]
    assert ready["type"] == "Ready" and ready["status"] == "False"

    held = pod("p", gates=["KruisePodReady"], conditions=[{"type": "KruisePodReady", "status": "False",
                                                           "message": kpr["message"]}])
    assert has_not_ready_key(held, "preUpdateHook")
    assert add_not_ready_key(held, "preUpdateHook", NOW) is None  # idempotent
    both = add_not_ready_key(held, "preDeleteHook", NOW).body["status"]["conditions"][0]
    assert [m["key"] for m in json.loads(both["message"])] == ["preDeleteHook", "preUpdateHook"]  # sorted
    released = remove_not_ready_key(held, "preUpdateHook", NOW).body["status"]["conditions"][0]
    assert released["status"] == "True" and released["message"] == "[]"
    # At Updated (and, unlike upstream, also Normal) the preUpdateHook key goes away.
    assert L.not_ready_policy(held, L.UPDATED, NOW) and L.not_ready_policy(held, L.NORMAL, NOW)
    # Pods without the KruisePodReady gate are never touched.
    assert add_not_ready_key(pod("q"), "preDeleteHook", NOW) is None


def test_with_handler_reapplies_labels_and_finalizers():
    p = pod("p", labels={L.LIFECYCLE_STATE_LABEL: L.UPDATED})
    [patch] = L.update_pod_lifecycle_with_handler(p, L.PREPARING_UPDATE, HOOK, NOW)
    meta = patch.body["metadata"]
    assert meta["labels"] == {"lifecycle.apps.kruise.io/state": "PreparingUpdate", "hold": "yes", "team": "a"}
    assert meta["finalizers"] == ["example.com/drain"]
    assert L.update_pod_lifecycle_with_handler(p, L.PREPARING_UPDATE, None, NOW) == []


def test_ready_if_missing_is_for_the_podreadiness_controller():
    gated = pod("p", gates=["KruisePodReady"])
    assert ready_if_missing(gated, NOW).body["status"]["conditions"][0]["status"] == "True"
    assert ready_if_missing(pod("p"), NOW) is None


def test_state_after_refresh_is_refresh_pod_states_state_machine():
    def at(state, **labels):
        return pod("p", labels={L.LIFECYCLE_STATE_LABEL: state, "controller-revision-hash": "x-2", **labels})
    pre_normal = {"preNormal": {"labelsHandler": {"ok": "1"}}}
    assert L.state_after_refresh(None, at(L.PREPARING_NORMAL), "x-2", True) == L.NORMAL
    assert L.state_after_refresh(pre_normal, at(L.PREPARING_NORMAL), "x-2", True) is None
    assert L.state_after_refresh(pre_normal, at(L.PREPARING_NORMAL, ok="1"), "x-2", True) == L.NORMAL
    assert L.state_after_refresh(None, at(L.UPDATING), "x-2", False) is None
    assert L.state_after_refresh(None, at(L.UPDATING), "x-2", True) == L.NORMAL
    hooked = {"inPlaceUpdate": {"labelsHandler": {"hold": "1"}}}
    assert L.state_after_refresh(hooked, at(L.UPDATING), "x-2", True) == L.UPDATED
    assert L.state_after_refresh(hooked, at(L.UPDATED), "x-2", True) is None
    assert L.state_after_refresh(hooked, at(L.UPDATED, hold="1"), "x-2", True) == L.NORMAL
    assert L.state_after_refresh(hooked, at(L.PREPARING_UPDATE), "x-3", True) is None
    assert L.state_after_refresh(hooked, at(L.PREPARING_UPDATE), "x-2", True) == L.UPDATED  # rolled back (#1156)
    assert L.state_after_refresh({"preDelete": {}}, at(L.UPDATED), "x-2", True) == L.NORMAL


def test_hold_for_pre_delete():
    hook = {"preDelete": {"labelsHandler": {"hold": "1"}}}
    assert L.hold_for_pre_delete(hook, pod("p"), NOW) is None
    assert L.hold_for_pre_delete(None, pod("p", labels={"hold": "1"}), NOW) is None
    [patch] = L.hold_for_pre_delete(hook, pod("p", labels={"hold": "1"}), NOW)
    assert patch.body["metadata"]["labels"] == {L.LIFECYCLE_STATE_LABEL: L.PREPARING_DELETE}
    waiting = pod("p", labels={"hold": "1", L.LIFECYCLE_STATE_LABEL: L.PREPARING_DELETE})
    assert L.hold_for_pre_delete(hook, waiting, NOW) == []
