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


def _disjoint(first: dict, second: dict) -> bool:
    """OpenKruise isDisjoint (pkg/util/selector.go): `second` can match nothing `first` matches, judged from
    `first`'s equalities, In and Exists only."""
    wanted: dict[str, list[str]] = {key: [value] for key, value in (first.get("matchLabels") or {}).items()}
    for req in first.get("matchExpressions") or []:
        if req.get("operator") == "In":
            wanted.setdefault(req.get("key"), []).extend(req.get("values") or [])
        elif req.get("operator") == "Exists":
            wanted[req.get("key")] = ["ALL"]
    for key, value in (second.get("matchLabels") or {}).items():
        if key in wanted and "ALL" not in wanted[key] and value not in wanted[key]:
            return True
    for req in second.get("matchExpressions") or []:
        key, op, values = req.get("key"), req.get("operator"), req.get("values") or []
        known = wanted.get(key)
        if op == "In" and known is not None and "ALL" not in known and not set(known) & set(values):
            return True
        if op == "NotIn" and known is not None and set(known) <= set(values):
            return True
        if op == "Exists" and known is None:
            return True
        if op == "DoesNotExist" and known is not None:
            return True
    return False


def selectors_overlap(first: dict[str, Any] | None, second: dict[str, Any] | None) -> bool:
    """OpenKruise IsSelectorOverlapping: whether two label selectors may match a common object (a heuristic
    upstream uses to find SidecarSets that could inject into the same pod)."""
    first, second = first or {}, second or {}
    return not (_disjoint(first, second) or _disjoint(second, first))


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
