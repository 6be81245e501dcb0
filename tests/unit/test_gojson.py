"""Go's encoding/json output, which a ControllerRevision's `data` must match byte for byte to survive patches."""
import json

import pytest

from kube import gojson


def test_objects_sorted_and_compact_like_json_marshal_of_a_map():
    data = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "app:v1"}]},
                                  "metadata": {"labels": {"b": "2", "a": "1"}}, "$patch": "replace"}}}
    assert gojson.dumps(data) == ('{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"a":"1","b":"2"}},'
                                  '"spec":{"containers":[{"image":"app:v1","name":"main"}]}}}}')


def test_strings_escaped_as_go_does():
    assert gojson.dumps('sh -c "a && b > /x < y"') == '"sh -c \\"a \\u0026\\u0026 b \\u003e /x \\u003c y\\""'
    assert gojson.dumps("tab\tnl\ncr\rbell\x07ff\x0c") == '"tab\\tnl\\ncr\\rbell\\u0007ff\\u000c"'
    assert gojson.dumps("中文 é \u2028") == '"中文 é \\u2028"', "UTF-8 as is, line separators escaped"
    assert json.loads(gojson.dumps("x\\y")) == "x\\y"


def test_numbers_as_float64_formatting():
    assert [gojson.dumps(n) for n in (5, 5.0, -3, 0, 0.5, 1e21, 1.5e-7, 123456789)] == \
        ["5", "5", "-3", "0", "0.5", "1e+21", "1.5e-7", "123456789"]
    assert gojson.dumps([True, False, None]) == "[true,false,null]"
    with pytest.raises(ValueError):
        gojson.dumps(float("nan"))
