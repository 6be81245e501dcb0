"""Label selectors on plain dicts (`k8s.io/apimachinery/pkg/apis/meta/v1` LabelSelectorAsSelector)."""
from __future__ import annotations

from typing import Any

_OPS = ("In", "NotIn", "Exists", "DoesNotExist")


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str] | None) -> bool:
    """Does a LabelSelector match these labels? An empty selector matches everything; None matches nothing."""
    if selector is None:
        return False
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for req in selector.get("matchExpressions") or []:
        key, op, values = req.get("key"), req.get("operator"), req.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in _OPS:
            return False
    return True


def selector_string(selector: dict[str, Any] | None) -> str:
    """labels.Selector.String(): requirements sorted by key, values sorted; this is status.labelSelector."""
    if not selector:
        return ""
    reqs: list[tuple[str, str]] = []
    for k, v in (selector.get("matchLabels") or {}).items():
        reqs.append((k, f"{k}={v}"))
    for req in selector.get("matchExpressions") or []:
        key, op = req.get("key", ""), req.get("operator")
        values = ",".join(sorted(req.get("values") or []))
        text = {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                "Exists": key, "DoesNotExist": f"!{key}"}.get(op)
        if text is not None:
            reqs.append((key, text))
    reqs.sort(key=lambda r: r[0])
    return ",".join(text for _, text in reqs)


def is_valid_selector(selector: Any) -> bool:
    """Enough structure to select pods; upstream stops reconciling (non-transient) otherwise."""
    if not isinstance(selector, dict):
        return False
    if not isinstance(selector.get("matchLabels") or {}, dict):
        return False
    for req in selector.get("matchExpressions") or []:
        if not isinstance(req, dict) or req.get("operator") not in _OPS or not req.get("key"):
            return False
        if req["operator"] in ("In", "NotIn") and not req.get("values"):
            return False
    return bool(selector.get("matchLabels") or selector.get("matchExpressions"))
