"""controllers/common/nodes.py: the scheduling predicates of Kubernetes v1.20 on plain dicts."""
from hypothesis import given, strategies as st

from controllers.common.nodes import (add_or_update_toleration, find_untolerated_taint, matches_node_selector_terms,
                                      node_matches_affinity, toleration_tolerates_taint, tolerates_taints)


def node(name="n1", labels=None, taints=None):
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def test_toleration_matching_like_tolerates_taint():
    taint = {"key": "k", "value": "v", "effect": "NoSchedule"}
    assert toleration_tolerates_taint({"key": "k", "operator": "Equal", "value": "v"}, taint)
    assert toleration_tolerates_taint({"key": "k", "value": "v", "effect": "NoSchedule"}, taint)  # "" is Equal
    assert not toleration_tolerates_taint({"key": "k", "value": "w"}, taint)
    assert toleration_tolerates_taint({"key": "k", "operator": "Exists"}, taint)
    assert toleration_tolerates_taint({"operator": "Exists"}, taint)  # empty key + Exists: every taint
    assert not toleration_tolerates_taint({"key": "k", "operator": "Exists", "effect": "NoExecute"}, taint)
    assert not toleration_tolerates_taint({"key": "k", "operator": "Bogus"}, taint)
    # tolerationSeconds does not change whether a NoExecute taint is tolerated (only how long the pod stays)
    assert toleration_tolerates_taint({"key": "k", "operator": "Exists", "tolerationSeconds": 0},
                                      {"key": "k", "effect": "NoExecute"})


def test_untolerated_taints_only_count_the_given_effects():
    taints = [{"key": "a", "effect": "PreferNoSchedule"}, {"key": "b", "effect": "NoSchedule"},
              {"key": "c", "effect": "NoExecute"}]
    assert find_untolerated_taint(taints, [])["key"] == "a"  # no filter: the first one
    assert not tolerates_taints(taints, [])
    assert not tolerates_taints(taints, [{"key": "b", "operator": "Exists"}])
    assert tolerates_taints(taints, [{"key": "b", "operator": "Exists"}, {"key": "c", "operator": "Exists"}])
    assert tolerates_taints(taints, [{"key": "b", "operator": "Exists"}], effects=("NoSchedule",))


def test_node_selector_terms_operators():
    labels = {"zone": "a", "cpu": "8", "gpu": "true"}
    fields = {"metadata.name": "n1"}

    def match(*exprs, fields_=None):
        term = {}
        if exprs:
            term["matchExpressions"] = list(exprs)
        if fields_:
            term["matchFields"] = fields_
        return matches_node_selector_terms([term], labels, fields)

    assert match({"key": "zone", "operator": "In", "values": ["a", "b"]})
    assert not match({"key": "zone", "operator": "NotIn", "values": ["a"]})
    assert match({"key": "missing", "operator": "NotIn", "values": ["a"]})  # NotIn matches a missing key
    assert match({"key": "gpu", "operator": "Exists"}) and not match({"key": "gpu", "operator": "DoesNotExist"})
    assert match({"key": "cpu", "operator": "Gt", "values": ["4"]}) and not match(
        {"key": "cpu", "operator": "Lt", "values": ["4"]})
    assert not match({"key": "zone", "operator": "Gt", "values": ["1"]})  # "a" is not an integer
    assert not match({"key": "missing", "operator": "Lt", "values": ["100"]})
    # requirements that do not parse make the term select nothing
    assert not match({"key": "zone", "operator": "In", "values": []})
    assert not match({"key": "gpu", "operator": "Exists", "values": ["x"]})
    assert not match({"key": "cpu", "operator": "Gt", "values": ["4", "5"]})
    assert not match({"key": "cpu", "operator": "Gt", "values": ["four"]})
    assert not match({"key": "zone", "operator": "Bogus", "values": ["a"]})
    # matchFields: metadata.name, In / NotIn with exactly one value
    assert match(fields_=[{"key": "metadata.name", "operator": "In", "values": ["n1"]}])
    assert not match(fields_=[{"key": "metadata.name", "operator": "In", "values": ["n2"]}])
    assert match(fields_=[{"key": "metadata.name", "operator": "NotIn", "values": ["n2"]}])
    assert not match(fields_=[{"key": "metadata.name", "operator": "In", "values": ["n1", "n2"]}])
    assert not match(fields_=[{"key": "metadata.name", "operator": "Exists"}])
    # both parts of a term are ANDed; terms are ORed; an empty term or empty list selects nothing
    assert not match({"key": "zone", "operator": "In", "values": ["a"]},
                     fields_=[{"key": "metadata.name", "operator": "In", "values": ["n2"]}])
    assert matches_node_selector_terms([{}, {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}],
                                       labels, fields)
    assert not matches_node_selector_terms([{}], labels, fields)
    assert not matches_node_selector_terms([], labels, fields)


def test_node_matches_affinity_is_node_selector_and_required_terms():
    n = node(labels={"color": "blue", "zone": "a"})
    assert node_matches_affinity({}, n)
    assert node_matches_affinity({"nodeSelector": {"color": "blue"}}, n)
    assert not node_matches_affinity({"nodeSelector": {"color": "green"}}, n)
    required = {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]}
    spec = {"nodeSelector": {"color": "blue"}, "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": required,
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {}}]}}}
    assert not node_matches_affinity(spec, n)
    # only preferred terms: no constraint
    assert node_matches_affinity({"affinity": {"nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {}}]}}}, n)


def test_add_or_update_toleration_replaces_on_key_operator_value_effect():
    default = {"key": "k", "operator": "Exists", "effect": "NoExecute"}
    user = [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
            {"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute"}]
    assert add_or_update_toleration(user, default) == [default, user[1]]
    assert add_or_update_toleration([], default) == [default]


@given(st.dictionaries(st.sampled_from("abc"), st.sampled_from("xyz")),
       st.dictionaries(st.sampled_from("abc"), st.sampled_from("xyz")))
def test_match_expressions_in_agrees_with_node_selector(labels, wanted):
    """A nodeSelector is the same as one term of In requirements with one value each (property)."""
    term = {"matchExpressions": [{"key": k, "operator": "In", "values": [v]} for k, v in wanted.items()]}
    via_terms = matches_node_selector_terms([term], labels, {}) if wanted else True
    assert via_terms == node_matches_affinity({"nodeSelector": wanted}, node(labels=labels))
