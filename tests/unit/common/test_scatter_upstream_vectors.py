"""The expectations of upstream's pkg/util/updatesort/scatter_sort_test.go, as conformance vectors.

They are the v1alpha1-era vectors (v1.8). OpenKruise master (v1beta1 API) changed the grouping of two
"more scattered than ordinary pods" cases; those two follow v1.8 here and are marked below.
"""
import pytest

from controllers.common.ordering import scatter_sort

A, B, C = {"labelA": "AAA"}, {"labelB": "BBB"}, {"labelC": "CCC"}
AB = {**A, **B}


def _pods(labels):
    return [None if l is None else {"metadata": {"name": str(i), "labels": dict(l)}} for i, l in enumerate(labels)]


BY_RULE = [  # (labels, expected) for the single term labelA=AAA; only the first len(expected) pods exist
    ([{}], [0]),
    ([A], [0]),
    ([A, {}], [0, 1]),
    ([{}, {}, {}, {}, A, A], [4, 0, 1, 2, 3, 5]),
    ([{}, {}, {}, A, A, A], [3, 0, 1, 4, 2, 5]),
    ([{}, {}, {}, A, {}, {}, A], [3, 0, 1, 2, 4, 5, 6]),
    ([{}, {}, {}, {}, {}, {}, A, A, A], [6, 0, 1, 2, 7, 3, 4, 5, 8]),
    ([{}, {}, A, A, A, A], [2, 3, 0, 4, 1, 5]),  # master: [2, 0, 3, 1, 4, 5]
    ([{}, {}, {}, A, A, A, A, A], [3, 0, 1, 4, 2, 5]),
    ([{}, {}, A, {}, A, A, A, A, A], [2, 4, 0, 5, 6, 1, 7, 3, 8]),  # master: [2, 0, 4, 1, 5, 3, 6, 7, 8]
    ([{}, A, {}, A, {}, {}, A, A, A], [1, 0, 3, 2, 6, 4, 7, 5, 8]),
    ([{}, {}, {}, {}, {}, {}, {}, A, A, AB], [7, 0, 1, 2, 3, 8, 4, 5, 6, 9]),
]


@pytest.mark.parametrize("labels,expected", BY_RULE)
def test_scatter_by_one_rule(labels, expected):
    pods = _pods(labels[:len(expected)])
    assert scatter_sort(pods, list(range(len(expected))), [{"key": "labelA", "value": "AAA"}]) == expected


SORT = [  # (labels, strategy, expected); pods beyond the sorted indexes exist but are not being sorted
    ([AB], [A], [0]),
    ([{}, {}, {}, {}, {}, {}], [], [0, 1, 2, 3, 4, 5]),
    ([{}, {}, {}, {}, A, A], [A], [4, 0, 1, 2, 3, 5]),
    ([{}, {}, {}, {}, {"sdfb": "eee"}, {"dsf": "same"}, B, A, A, AB], [B], [6, 0, 1, 2, 3, 4, 5, 7, 8, 9]),
    ([B, B, {}, {}, A, A], [A, B], [0, 4, 2, 3, 5, 1]),
    ([{}, {}, {}, B, AB, A], [A, B], [4, 0, 1, 2, 5, 3]),
    ([{}, {}, {}, {}, {"sdfb": "eee"}, {"dsf": "same"}, B, A, A, B], [B, A], [7, 6, 0, 1, 2, 3, 4, 5, 9, 8]),
    ([{}, {}, {}, {}, {"sdfb": "eee"}, {"dsf": "same"}, B, A, A, B], [A, B], [6, 7, 0, 1, 2, 3, 4, 5, 8, 9]),
    ([{}, {}, {}, {}, {"sdfb": "eee"}, {"dsf": "same"}, AB, {}, {}, AB], [A, B], [6, 0, 1, 2, 3, 4, 5, 7, 8, 9]),
    ([{}, {}, {}, {"sdfb": "eee"}, {"dsf": "same"}, AB, {}, {}, AB], [A, B], [5, 0, 1, 2, 3, 4, 6, 7, 8]),
    ([{}, {}, {}, A, {"sdfb": "eee"}, {"dsf": "same"}, AB, {}, {}, {}], [A, B], [3, 0, 1, 2, 4, 5, 7, 6]),
    ([{}, {}, {}, A, {}, {}, {"sdfb": "eee"}, {"dsf": "same"}, AB, {}, {}, AB], [A, B],
     [0, 1, 2, 4, 3, 5, 6, 7, 9, 10, 8]),
    ([{}, {}, {}, A, {"sdfb": "eee", **A}, {"dsf": "same"}, AB, {}, {}, AB], [A, B], [6, 3, 0, 1, 4, 2, 5, 7, 8, 9]),
    ([{}, A, A, {"sdfb": "eee"}, {"dsf": "same"}, AB, {}, {}, AB], [A, B], [5, 1, 0, 3, 2, 4, 6, 7, 8]),
    ([A, {}, {}, A, {"sdfb": "eee", **A}, {"dsf": "same"}, AB, {}, {}, AB], [A, B], [1, 0, 2, 3, 5, 4, 7, 6]),
    ([{}, {}, A, A, {}, A, {"sdfb": "eee"}, {"dsf": "same"}, AB, {}, {}, AB], [A, B],
     [0, 2, 1, 4, 3, 6, 7, 5, 9, 10, 8]),
    ([{}, A, A, B, B, C, C, C, C, C], [A, B, C], [3, 1, 5, 0, 6, 7, 8, 9, 2, 4]),
    ([{}, A, {**A, **C}, {**B, **C}, B, {}, {}, C, C, C], [A, B, C], [3, 2, 0, 7, 8, 5, 6, 9, 1, 4]),
    ([{}, {}, {}, {}, A, A, A], [A], [0, 1, 4, 2, 3, 5]),
    ([A, A, {}, {}, {}, {}, {}, {}, {}, A], [A], [2, 0, 3, 4, 5, 6, 1]),
    ([{}, A, {**A, **C}, {**B, **C}, B, None, {}, {}, C, C, C], [A, B, C], [3, 2, 0, 8, 9, 6, 7, 10, 1, 4]),
]


def _terms(strategy):
    return [{"key": k, "value": v} for term in strategy for k, v in term.items()]


@pytest.mark.parametrize("labels,strategy,expected", SORT)
def test_scatter_sort(labels, strategy, expected):
    pods = _pods(labels)
    indexes, i = [], 0
    while len(indexes) < len(expected):  # like upstream: the first len(expected) existing pods are sorted
        if pods[i] is not None:
            indexes.append(i)
        i += 1
    assert scatter_sort(pods, indexes, _terms(strategy)) == expected
