"""Sandboxes of a test's own (the sandbox_lifecycle session and the chart's private API server), started and
always stopped in one place. The shared session sandbox is `tests/conftest.py`'s."""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from sandbox.cluster import Sandbox, SandboxOptions

REAL_NODE_WAIT = 120  # seconds to wait for another sandbox to give the machine's real node back


@contextmanager
def own_sandbox(state_dir: Path, options: SandboxOptions) -> Iterator[Sandbox]:
    """A sandbox up with `options`, down afterwards whatever happens. With a real node, another sandbox may
    hold the machine's (its bridges are machine-wide): wait for it, never stop it."""
    from sandbox.realnode import RealNodeError

    box = Sandbox(state_dir)
    deadline = time.monotonic() + REAL_NODE_WAIT
    while True:
        try:
            box.up(options)
            break
        except RealNodeError as e:
            if "in use" not in str(e) or time.monotonic() > deadline:
                pytest.fail(f"no real node after {REAL_NODE_WAIT}s: {e}")
            time.sleep(5)
    try:
        yield box
    finally:
        box.down(quiet=True)
