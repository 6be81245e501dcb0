"""The KruisePodReady condition and its not-ready message keys (`pkg/util/podreadiness`).

Several parties can hold a pod not-ready through one condition: each adds a `{userAgent, key}` message to the
condition's message (a JSON list); the condition is False while any message remains. Only pods with the
`KruisePodReady` readiness gate are touched (the pod webhook injects it into pods of apps.kruise.io workloads).
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .actions import Patch, patch_pod_status
from .keys import KRUISE_POD_READY
from .objects import name_of, uid_of
from .pods import condition_patch, get_condition, has_readiness_gate, ready_condition_after

JSON = dict[str, Any]

USER_AGENT_LIFECYCLE = "Lifecycle"
PRE_DELETE_HOOK_KEY = "preDeleteHook"
PRE_UPDATE_HOOK_KEY = "preUpdateHook"


def _messages(condition: JSON | None) -> list[JSON]:
    if not condition or not condition.get("message"):
        return []
    try:
        value = json.loads(condition["message"])
    except ValueError:
        return []
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []


def _dump(messages: list[JSON]) -> str:
    ordered = sorted(messages, key=lambda m: (m.get("userAgent", ""), m.get("key", "")))
    return json.dumps([{"userAgent": m.get("userAgent", ""), "key": m.get("key", "")} for m in ordered],
                      separators=(",", ":"))


def has_not_ready_key(pod: JSON, key: str, user_agent: str = USER_AGENT_LIFECYCLE) -> bool:
    """alreadyHasKey: the key is present and the condition is not True."""
    condition = get_condition(pod, KRUISE_POD_READY)
    if not condition or condition.get("status") == "True":
        return False
    return any(m.get("userAgent") == user_agent and m.get("key") == key for m in _messages(condition))


def add_not_ready_key(pod: JSON, key: str, now: datetime,
                      user_agent: str = USER_AGENT_LIFECYCLE) -> Patch | None:
    """AddNotReadyKey: KruisePodReady becomes False (and Ready with it, to drain traffic at once)."""
    if has_not_ready_key(pod, key, user_agent) or not has_readiness_gate(pod, KRUISE_POD_READY):
        return None
    condition = get_condition(pod, KRUISE_POD_READY)
    messages = _messages(condition)
    if not any(m.get("userAgent") == user_agent and m.get("key") == key for m in messages):
        messages.append({"userAgent": user_agent, "key": key})
    conditions = [condition_patch(KRUISE_POD_READY, "False", now, message=_dump(messages))]
    ready = ready_condition_after(pod, {KRUISE_POD_READY: "False"}, now)
    if ready:
        conditions.append(ready)
    return patch_pod_status(name_of(pod), {"status": {"conditions": conditions}}, uid=uid_of(pod))


def remove_not_ready_key(pod: JSON, key: str, now: datetime,
                         user_agent: str = USER_AGENT_LIFECYCLE) -> Patch | None:
    """RemoveNotReadyKey: KruisePodReady turns True again once no message remains."""
    if not has_readiness_gate(pod, KRUISE_POD_READY):
        return None
    condition = get_condition(pod, KRUISE_POD_READY)
    if condition is None:
        return None
    messages = _messages(condition)
    remaining = [m for m in messages if not (m.get("userAgent") == user_agent and m.get("key") == key)]
    if len(remaining) == len(messages):
        return None
    status = "True" if not remaining else (condition.get("status") or "False")
    patch = condition_patch(KRUISE_POD_READY, status, now, reason=condition.get("reason") or "",
                            message=_dump(remaining))
    return patch_pod_status(name_of(pod), {"status": {"conditions": [patch]}}, uid=uid_of(pod))


def ready_if_missing(pod: JSON, now: datetime) -> Patch | None:
    """What the podreadiness controller does for a new pod: KruisePodReady=True when the gate has no condition.

    Not called by the workload reconciles (§2.5 gives this job to its own controller); exported for that one.
    """
    if not has_readiness_gate(pod, KRUISE_POD_READY) or get_condition(pod, KRUISE_POD_READY) is not None:
        return None
    return patch_pod_status(name_of(pod), {"status": {"conditions": [condition_patch(KRUISE_POD_READY, "True", now)]}},
                            uid=uid_of(pod))
