"""The chart values' `quantity` type: a Kubernetes resource quantity, a number (cpu: 0.5 in a values file) or a
string ("500m", 1.5Gi). The same rule in the generator's checks (apischema) and in values.schema.json."""
from __future__ import annotations

import json

import jsonschema
import pytest

from apischema import check_value
from generator import values

GOOD = [0, 2, 0.5, "0.5", "500m", "1", "1.5Gi", "256Mi", "1e3", "2E-2", "100k", ".5", "10n"]
BAD = ["lots", "", "1.5 Gi", "-1", "5mi", "Gi", "1GiB", "0x10", True, None, [], {}, -0.5]


@pytest.mark.parametrize("value", GOOD, ids=repr)
def test_quantities_are_accepted(value) -> None:
    assert check_value({"type": "quantity"}, value, "cpu") == []
    jsonschema.Draft7Validator(values.to_json_schema({"type": "quantity"})).validate(value)


@pytest.mark.parametrize("value", BAD, ids=repr)
def test_non_quantities_are_refused(value) -> None:
    if value is not None:   # the checker skips unset values; the JSON schema has no null
        errors = check_value({"type": "quantity"}, value, "cpu")
        assert errors and errors[0].path == "cpu", errors
    assert list(jsonschema.Draft7Validator(values.to_json_schema({"type": "quantity"})).iter_errors(value))


def test_every_resources_map_of_the_chart_takes_quantities() -> None:
    from .conftest import CHART

    schema = json.loads((CHART / "values.schema.json").read_text())
    for component in ("manager", "daemon"):
        resources = schema["properties"][component]["properties"]["resources"]["properties"]
        for section in ("requests", "limits"):
            assert resources[section]["additionalProperties"] == values.to_json_schema({"type": "quantity"}), \
                (component, section)
