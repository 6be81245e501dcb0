"""Scheduling predicates on plain Node and pod dicts, as Kubernetes v1.20 evaluates them.

Shared by the workloads that reason about nodes (Advanced DaemonSet's eligibility; UnitedDeployment's and
SidecarSet's node affinity). Every function mirrors one upstream helper and says which:

- `toleration_tolerates_taint`   core/v1 Toleration.ToleratesTaint
- `find_untolerated_taint`       component-helpers v1helper.FindMatchingUntoleratedTaint
- `tolerates_taints`             "no untolerated taint among these effects"
- `matches_node_selector_terms`  v1helper.MatchNodeSelectorTerms (labels via matchExpressions, fields via matchFields)
- `node_matches_affinity`        pluginhelper.PodMatchesNodeSelectorAndAffinityTerms (nodeSelector AND required terms)
- `add_or_update_toleration`     v1helper.AddOrUpdateTolerationInPodSpec

Preferred terms, pod (anti-)affinity, resources and ports are the scheduler's business, not a controller's.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable

JSON = dict[str, Any]

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"

# metav1.ObjectNameField: the one node field a node selector may name.
OBJECT_NAME_FIELD = "metadata.name"

_INT64 = re.compile(r"^[+-]?[0-9]+$")


def node_name(node: JSON) -> str:
    return (node.get("metadata") or {}).get("name") or ""


def node_labels(node: JSON) -> dict[str, str]:
    return (node.get("metadata") or {}).get("labels") or {}


def node_taints(node: JSON) -> list[JSON]:
    return [t for t in (node.get("spec") or {}).get("taints") or [] if isinstance(t, dict)]


def node_fields(node: JSON) -> dict[str, str]:
    """The fields a matchFields requirement can read (nodeaffinity extractNodeFields): only metadata.name."""
    name = node_name(node)
    return {OBJECT_NAME_FIELD: name} if name else {}


# ---------------------------------------------------------------------------------------------------------
# Taints and tolerations

def toleration_tolerates_taint(toleration: JSON, taint: JSON) -> bool:
    """Toleration.ToleratesTaint: an empty effect or key matches any; operator "" or Equal compares the value,
    Exists matches any value. tolerationSeconds plays no part here: it only bounds how long the taint manager
    lets a running pod stay on a NoExecute taint, which no workload controller decides."""
    effect = toleration.get("effect") or ""
    if effect and effect != (taint.get("effect") or ""):
        return False
    key = toleration.get("key") or ""
    if key and key != (taint.get("key") or ""):
        return False
    operator = toleration.get("operator") or ""
    if operator in ("", "Equal"):
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return operator == "Exists"


def find_untolerated_taint(taints: Iterable[JSON], tolerations: Iterable[JSON] | None,
                           include: Callable[[JSON], bool] | None = None) -> JSON | None:
    """FindMatchingUntoleratedTaint: the first taint (among those `include` accepts) that no toleration tolerates."""
    tolerations = [t for t in tolerations or [] if isinstance(t, dict)]
    for taint in taints:
        if include is not None and not include(taint):
            continue
        if not any(toleration_tolerates_taint(t, taint) for t in tolerations):
            return taint
    return None


def tolerates_taints(taints: Iterable[JSON], tolerations: Iterable[JSON] | None,
                     effects: tuple[str, ...] = (NO_SCHEDULE, NO_EXECUTE)) -> bool:
    """True when every taint with one of `effects` is tolerated (PreferNoSchedule is a scheduler preference)."""
    return find_untolerated_taint(taints, tolerations, lambda t: t.get("effect") in effects) is None


def add_or_update_toleration(tolerations: list[JSON] | None, toleration: JSON) -> list[JSON]:
    """AddOrUpdateTolerationInPodSpec: a toleration with the same key, operator, value and effect (MatchToleration)
    is replaced by `toleration`; otherwise `toleration` is appended. Returns a new list."""
    def same(a: JSON, b: JSON) -> bool:
        return all((a.get(k) or "") == (b.get(k) or "") for k in ("key", "operator", "value", "effect"))

    result: list[JSON] = []
    replaced = False
    for existing in tolerations or []:
        if isinstance(existing, dict) and same(existing, toleration):
            result.append(dict(toleration))
            replaced = True
        else:
            result.append(existing)
    if not replaced:
        result.append(dict(toleration))
    return result


# ---------------------------------------------------------------------------------------------------------
# Node selector terms

def _label_requirement(req: Any) -> Callable[[dict[str, str]], bool] | None:
    """NodeSelectorRequirementsAsSelector, one requirement: a matcher, or None when it does not parse
    (labels.NewRequirement: In/NotIn need values, Exists/DoesNotExist none, Gt/Lt exactly one integer)."""
    if not isinstance(req, dict):
        return None
    key, op, values = req.get("key") or "", req.get("operator"), list(req.get("values") or [])
    if not key:
        return None
    if op in ("In", "NotIn"):
        if not values:
            return None
        if op == "In":
            return lambda labels: key in labels and labels[key] in values
        return lambda labels: key not in labels or labels[key] not in values
    if op in ("Exists", "DoesNotExist"):
        if values:
            return None
        return (lambda labels: key in labels) if op == "Exists" else (lambda labels: key not in labels)
    if op in ("Gt", "Lt"):
        if len(values) != 1 or not _INT64.match(str(values[0])):
            return None
        bound = int(values[0])

        def compare(labels: dict[str, str]) -> bool:
            # Requirement.Matches: the key must exist and its value parse as an int64, else no match.
            value = labels.get(key)
            if value is None or not _INT64.match(value):
                return False
            return int(value) > bound if op == "Gt" else int(value) < bound
        return compare
    return None


def _field_requirement(req: Any) -> Callable[[dict[str, str]], bool] | None:
    """NodeSelectorRequirementsAsFieldSelector, one requirement: only In and NotIn, with exactly one value
    (a field selector term; a missing field reads as "")."""
    if not isinstance(req, dict):
        return None
    key, op, values = req.get("key") or "", req.get("operator"), list(req.get("values") or [])
    if op not in ("In", "NotIn") or len(values) != 1:
        return None
    if op == "In":
        return lambda fields: fields.get(key, "") == values[0]
    return lambda fields: fields.get(key, "") != values[0]


def _all_match(reqs: list[Any], parse: Callable[[Any], Any], data: dict[str, str]) -> bool | None:
    """None when any requirement does not parse (the whole term then selects nothing)."""
    matchers = [parse(r) for r in reqs]
    if any(m is None for m in matchers):
        return None
    return all(m(data) for m in matchers)


def matches_node_selector_terms(terms: Iterable[Any] | None, labels: dict[str, str] | None,
                                fields: dict[str, str] | None) -> bool:
    """MatchNodeSelectorTerms: the terms are ORed; within a term, matchExpressions (on labels) and matchFields
    (on fields) are ANDed. An empty term, or one with a requirement that does not parse, selects nothing; so
    does an empty list of terms."""
    labels = labels or {}
    fields = fields or {}
    for term in terms or []:
        if not isinstance(term, dict):
            continue
        expressions = term.get("matchExpressions") or []
        match_fields = term.get("matchFields") or []
        if not expressions and not match_fields:
            continue
        if expressions and not _all_match(expressions, _label_requirement, labels):
            continue
        if match_fields and not _all_match(match_fields, _field_requirement, fields):
            continue
        return True
    return False


def required_node_selector_terms(pod_spec: JSON) -> list[Any] | None:
    """affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms, or None when
    the pod has no required node affinity at all (which is not the same as an empty list of terms)."""
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if not isinstance(required, dict):
        return None
    return list(required.get("nodeSelectorTerms") or [])


def matches_node_selector(node_selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    """spec.nodeSelector: every key=value present (labels.SelectorFromSet)."""
    labels = labels or {}
    return all(labels.get(k) == v for k, v in (node_selector or {}).items())


def node_matches_affinity(pod_spec: JSON, node: JSON) -> bool:
    """PodMatchesNodeSelectorAndAffinityTerms: spec.nodeSelector AND the required node affinity terms (when a
    required node affinity is set). Preferred terms do not count."""
    if not matches_node_selector(pod_spec.get("nodeSelector"), node_labels(node)):
        return False
    terms = required_node_selector_terms(pod_spec)
    if terms is None:
        return True
    return matches_node_selector_terms(terms, node_labels(node), node_fields(node))
