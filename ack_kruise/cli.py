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


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `command`, only that subcommand's module is imported (the others are listed with
    their help but not loaded): `ack-kruise manager` must not carry the daemon's gRPC or the sandbox's code."""
    parser = argparse.ArgumentParser(
        prog="ack-kruise",
        description="OpenKruise workloads (CloneSet, Advanced StatefulSet, ...) in Python.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if command is None or name == command:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command if command in SUBCOMMANDS else None).parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
