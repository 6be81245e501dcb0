"""The `ack-kruise` command. Each subcommand lives with its feature; this file only wires them.

A subcommand module exposes `add_arguments(parser)` and `run(args) -> int`. Modules are imported lazily
so that `ack-kruise sandbox ...` does not pay for importing kopf.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# subcommand → (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "sandbox": ("sandbox.cli", "run a local Kubernetes cluster: control plane, a real node, simulated nodes"),
    "generate": ("generator.cli", "generate CRDs, chart templates, docs and the runtime schema from schema/ and policies/"),
    "image": ("release.image", "build the kruise-manager image without Docker and load it into a running sandbox"),
    "preflight": ("ack_kruise.preflight", "check a cluster before installing the chart: version, conversion webhooks, objects in the way"),
    "manager": ("controllers.manager", "run the controllers and the webhook server (kruise-manager)"),
    "daemon": ("daemon.main", "run kruise-daemon for one node: CRI container recreation (ContainerRecreateRequest)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ack-kruise",
        description="OpenKruise workloads (CloneSet, Advanced StatefulSet, ...) in Python.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod = importlib.import_module(module)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
