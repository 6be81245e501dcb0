"""examples/seed/: the seed walkthrough's YAML files are its blocks byte for byte, and the outputs the e2e
walkthroughs (tests/e2e/cloneset/test_seed_walkthrough.py, tests/e2e/statefulset/test_statefulset.py) expect
are the ones it shows. The excerpt is vendored (examples/seed/README.md), so this needs nothing beside the
repository."""
from __future__ import annotations

import re
from pathlib import Path

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed"


def seed_blocks() -> list[str]:
    """The excerpt's fenced blocks, de-indented."""
    blocks, current, inside = [], [], False
    for line in (SEED / "walkthrough.md").read_text().split("\n"):
        if line.strip() == "```":
            if inside:
                indent = min(len(x) - len(x.lstrip()) for x in current if x.strip())
                blocks.append("\n".join(x[indent:] for x in current) + "\n")
                current = []
            inside = not inside
        elif inside:
            current.append(line)
    return blocks


def columns(block: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in block.strip().splitlines()]


def test_the_examples_are_the_seed_yaml_verbatim() -> None:
    blocks = seed_blocks()
    assert (SEED / "cloneset.yaml").read_text() in blocks
    assert (SEED / "statefulset.yaml").read_text() in blocks


def test_the_walkthroughs_expect_the_seed_output() -> None:
    blocks = seed_blocks()
    tables = [columns(b) for b in blocks if b.startswith("NAME")]
    assert "cloneset.apps.kruise.io/demo-clone created\n" in blocks
    assert "statefulset.apps.kruise.io/demo-asts created\n" in blocks
    pods_clone, clone, pods_asts, asts = tables
    assert pods_clone[0] == pods_asts[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(pods_clone) == 6 and all(row[1:4] == ["1/1", "Running", "0"] for row in pods_clone[1:])
    assert clone[0] == ["NAME", "DESIRED", "UPDATED", "UPDATED_READY", "READY", "TOTAL", "AGE"]
    assert clone[1][:6] == ["demo-clone", "5", "5", "5", "5", "5"]
    assert [row[0] for row in pods_asts[1:]] == ["demo-asts-0", "demo-asts-1", "demo-asts-2"]
    assert asts[0] == ["NAME", "DESIRED", "CURRENT", "UPDATED", "READY", "AGE"]
    assert asts[1][:5] == ["demo-asts", "3", "3", "3", "3"]
