"""controllers/common/view.py: the workload view is handed the object as read and the gates; common code does
not import the runtime schema (the kind's view reads the object through it)."""
from __future__ import annotations

import subprocess
import sys

from controllers.cloneset.spec import CloneSetView
from controllers.statefulset.spec import StatefulSetView


def test_common_code_does_not_import_the_schema():
    code = ("import pkgutil, importlib, sys, controllers.common as c\n"
            "for m in pkgutil.iter_modules(c.__path__): importlib.import_module('controllers.common.' + m.name)\n"
            "print('controllers.schema' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_revision_history_limit_is_read_per_kind_from_the_stored_object():
    bare = {"metadata": {"name": "x"}, "spec": {}}
    assert CloneSetView(bare).revision_history_limit == 10  # each kind's own default, from the schema
    assert StatefulSetView(bare).revision_history_limit == 10
    assert StatefulSetView({**bare, "spec": {"revisionHistoryLimit": 3}}).revision_history_limit == 3


def test_gates_are_every_gate_with_its_value():
    view = StatefulSetView({"metadata": {"name": "x"}, "spec": {"ordinals": {"start": 4}}})
    assert view.gate("StatefulSetStartOrdinal") is False and view.start_ordinal == 0
    assert view.gate("StatefulSetAutoDeletePVC") is True  # defaults from policies/feature-gates.yaml
    on = StatefulSetView(view.stored, {"StatefulSetStartOrdinal": True})
    assert on.start_ordinal == 4 and on.gate("StatefulSetAutoDeletePVC") is True
