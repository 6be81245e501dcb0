"""controllers/common/__init__.py indexes every module of the package (a newcomer's map must not lie)."""
import re
from pathlib import Path

import controllers.common

PACKAGE = Path(controllers.common.__file__).parent


def test_the_module_index_lists_every_module():
    listed = set(re.findall(r"^    (\w+)\s", controllers.common.__doc__, re.M))
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert listed == modules
