"""Parsing `--feature-gates Name=true,Other=false`, shared by the manager's and the daemon's command lines."""
from __future__ import annotations

import argparse
from collections.abc import Iterable


def parse_feature_gates(text: str, known: Iterable[str]) -> dict[str, bool]:
    """Every name must be one of `known` (the gates of policies/feature-gates.yaml); argparse names the
    argument in the refusal."""
    known = set(known)
    gates: dict[str, bool] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or value.lower() not in ("true", "false"):
            raise argparse.ArgumentTypeError(f"expected Name=true|false, got {item!r}")
        if name not in known:
            raise argparse.ArgumentTypeError(f"unknown feature gate {name!r}; known: {', '.join(sorted(known))}")
        gates[name] = value.lower() == "true"
    return gates
