"""common/strategicmerge on pod templates, with the results `kubectl patch --type strategic` gives."""
from __future__ import annotations

import pytest

from controllers.common.strategicmerge import StrategicMergeError, strategic_merge

TEMPLATE = {"metadata": {"labels": {"app": "a", "tier": "web"}},
            "spec": {"containers": [{"name": "main", "image": "v1", "env": [{"name": "A", "value": "1"}],
                                     "ports": [{"containerPort": 80}]},
                                    {"name": "side", "image": "s1"}],
                     "tolerations": [{"key": "t", "operator": "Exists"}],
                     "nodeSelector": {"zone": "a"}}}


def test_containers_merge_by_name_and_env_by_name() -> None:
    got = strategic_merge(TEMPLATE, {"spec": {"containers": [
        {"name": "main", "image": "v2", "env": [{"name": "B", "value": "2"}]}, {"name": "new", "image": "n"}]}})
    main, side, new = got["spec"]["containers"]
    assert main == {"name": "main", "image": "v2", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 80}]}
    assert side == {"name": "side", "image": "s1"} and new == {"name": "new", "image": "n"}
    assert TEMPLATE["spec"]["containers"][0]["image"] == "v1"  # the original is untouched


def test_labels_merge_and_null_removes() -> None:
    got = strategic_merge(TEMPLATE, {"metadata": {"labels": {"zone": "b", "tier": None}}})
    assert got["metadata"]["labels"] == {"app": "a", "zone": "b"}


def test_lists_without_merge_key_are_replaced() -> None:
    got = strategic_merge(TEMPLATE, {"spec": {"tolerations": [{"key": "u", "operator": "Exists"}]}})
    assert got["spec"]["tolerations"] == [{"key": "u", "operator": "Exists"}]


def test_directives() -> None:
    got = strategic_merge(TEMPLATE, {"spec": {"containers": [{"name": "side", "$patch": "delete"}],
                                              "nodeSelector": {"$patch": "replace", "zone": "c"}}})
    assert [c["name"] for c in got["spec"]["containers"]] == ["main"]
    assert got["spec"]["nodeSelector"] == {"zone": "c"}
    got = strategic_merge(TEMPLATE, {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "o"}]}})
    assert got["spec"]["containers"] == [{"name": "only", "image": "o"}]
    got = strategic_merge(TEMPLATE, {"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "main"}],
                                              "containers": [{"name": "main", "image": "v3"}]}})
    assert [c["name"] for c in got["spec"]["containers"]] == ["side", "main"]


def test_bad_patches() -> None:
    with pytest.raises(StrategicMergeError):
        strategic_merge(TEMPLATE, [1])
    with pytest.raises(StrategicMergeError):
        strategic_merge(TEMPLATE, {"spec": {"containers": [{"image": "no-name"}]}})
