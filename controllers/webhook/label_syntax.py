"""metav1 ValidateLabelSelector over plain dicts: qualified-name keys, label values, and `values` only for
In/NotIn (the rule check `labelSelectorSyntax` of controllers/webhook/rules.py)."""
from __future__ import annotations

import re
from typing import Any

from apischema.values import FieldError, render

_NAME = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)"
_QUALIFIED_NAME = re.compile(rf"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_NAME}$")
_LABEL_VALUE = re.compile(rf"^({_NAME})?$")


def _label_key_errors(key: Any, path: str) -> list[FieldError]:
    prefix, _, name = str(key).rpartition("/")
    if not isinstance(key, str) or not _QUALIFIED_NAME.match(key) or len(name) > 63 or len(prefix) > 253:
        return [FieldError(path, f"Invalid value: {render(key)}: a qualified name must consist of alphanumeric "
                                 "characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/'")]
    return []


def _label_value_errors(value: Any, path: str) -> list[FieldError]:
    if not isinstance(value, str) or not _LABEL_VALUE.match(value) or len(value) > 63:
        return [FieldError(path, f"Invalid value: {render(value)}: a valid label must be an empty string or "
                                 "consist of alphanumeric characters, '-', '_' or '.' (at most 63)")]
    return []


def label_selector_errors(selector: dict, path: str) -> list[FieldError]:
    """The field errors of a label selector at `path`."""
    errors: list[FieldError] = []
    for key, value in sorted((selector.get("matchLabels") or {}).items()):
        where = f"{path}.matchLabels"
        errors += _label_key_errors(key, where) + _label_value_errors(value, where)
    for index, expression in enumerate(selector.get("matchExpressions") or []):
        if not isinstance(expression, dict):
            continue
        where = f"{path}.matchExpressions[{index}]"
        values = expression.get("values") or []
        if expression.get("operator") in ("In", "NotIn") and not values:
            errors.append(FieldError(f"{where}.values",
                                     "Required value: must be specified when `operator` is 'In' or 'NotIn'"))
        if expression.get("operator") in ("Exists", "DoesNotExist") and values:
            errors.append(FieldError(f"{where}.values",
                                     "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        errors += _label_key_errors(expression.get("key"), f"{where}.key")
        for position, value in enumerate(values):
            errors += _label_value_errors(value, f"{where}.values[{position}]")
    return errors
