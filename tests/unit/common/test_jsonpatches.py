"""RFC 7386 merge patches (`common/mergepatch.py`) and the RFC 6902 diff (`common/jsondiff.py`)."""
import copy

from controllers.common.jsondiff import diff
from controllers.common.mergepatch import merge_patch


def test_a_merge_patch_applies_and_removes_without_touching_its_inputs():
    target = {"a": {"b": 1, "c": 2}, "d": [1, 2], "e": "x"}
    patch = {"a": {"b": None, "f": 3}, "d": [3], "e": {"g": None}}
    before = copy.deepcopy((target, patch))
    assert merge_patch(target, patch) == {"a": {"c": 2, "f": 3}, "d": [3], "e": {}}
    assert (target, patch) == before
    assert merge_patch(target, "scalar") == "scalar"


def test_combined_patches_keep_their_deletions_and_the_later_wins():
    first = {"metadata": {"uid": "u", "annotations": {"old": None, "k": "1"}}}
    second = {"metadata": {"annotations": {"k": "2"}, "labels": {"x": None}}}
    assert merge_patch(first, second, keep_nulls=True) == {
        "metadata": {"uid": "u", "annotations": {"old": None, "k": "2"}, "labels": {"x": None}}}


def test_the_diff_is_a_patch_from_old_to_new():
    old = {"a": 1, "b": {"c": [1, 2], "d/e": "x"}, "gone": True}
    new = {"a": 1, "b": {"c": [1, 3], "d/e": "y", "n": None}, "l": [1]}
    assert diff(old, new) == [
        {"op": "replace", "path": "/b/c/1", "value": 3}, {"op": "replace", "path": "/b/d~1e", "value": "y"},
        {"op": "add", "path": "/b/n", "value": None}, {"op": "remove", "path": "/gone"},
        {"op": "add", "path": "/l", "value": [1]}]
    assert diff(old, old) == [] and diff([1], [1, 2]) == [{"op": "replace", "path": "", "value": [1, 2]}]
