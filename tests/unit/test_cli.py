"""Bad command lines get a clear message naming the argument, exit status 2, and start nothing."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # a new process per case: left out of `make verify`, run by `make test`


def ack_kruise(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ack_kruise", *args], capture_output=True, text=True,
                          timeout=60, env=os.environ.copy())


@pytest.mark.parametrize("argv, message", [
    (["sandbox", "upp"], "invalid choice: 'upp'"),
    (["sandbox", "up", "--nodez", "3"], "unrecognized arguments: --nodez"),
    (["sandbox", "up", "--nodes", "-2"], "--nodes: must be between 0 and 100, got -2"),
    (["sandbox", "up", "--nodes", "many"], "--nodes: expected a whole number, got 'many'"),
    (["sandbox", "up", "--apiserver-port", "70000"], "--apiserver-port: must be between 1 and 65535"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "the following arguments are required: COMMAND"),
])
def test_bad_command_lines_are_refused_with_a_clear_message(argv, message):
    result = ack_kruise(*argv)
    assert result.returncode == 2
    assert message in result.stderr
