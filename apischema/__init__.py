"""The schema engine shared by the generator and the manager: checking values against a runtime-schema node
(`values`) and evaluating paths and conditions (`conditions`). It imports neither side, so the generator
never loads the runtime it generates for (.importlinter keeps it so).

    from apischema import check_value, evaluate, get
"""
from .conditions import MISSING, evaluate, get, scaled, values_at
from .values import INT32, INT64, FieldError, check_value, shape_errors

# What policies/admission `templateDefaults` may ask for, by the key that lists the paths: the generator
# accepts these keys, and controllers/common/template_defaults.py has one defaulter for each (a unit test
# keeps the two in step).
TEMPLATE_DEFAULT_KEYS = ("podTemplates", "volumeClaimTemplates", "sidecarContainers", "podVolumes")

__all__ = ["INT32", "INT64", "MISSING", "TEMPLATE_DEFAULT_KEYS", "FieldError", "check_value", "evaluate", "get",
           "scaled", "shape_errors", "values_at"]
