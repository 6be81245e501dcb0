"""`ack-kruise generate`: write every generated artefact, or with --check report the ones that are out of date.

    ack-kruise generate            # make generate
    ack-kruise generate --check    # make verify: writes nothing, exits 1 naming every out-of-date file
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import SchemaError
from . import pipeline


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and list every generated file that differs from what would be written")
    parser.add_argument("--out-dir", type=Path, default=pipeline.REPO_ROOT,
                        help="where generated files go (default: the repository root)")
    parser.add_argument("--schema-dir", type=Path, default=None, help="schema sources (default: <repo>/schema)")
    parser.add_argument("--policies-dir", type=Path, default=None, help="policies (default: <repo>/policies)")


def run(args: argparse.Namespace) -> int:
    out_dir: Path = args.out_dir.resolve()
    schema_dir = (args.schema_dir or pipeline.REPO_ROOT / "schema").resolve()
    policies_dir = (args.policies_dir or pipeline.REPO_ROOT / "policies").resolve()
    try:
        result = pipeline.run(schema_dir, policies_dir, out_dir)
    except SchemaError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check:
        changed = pipeline.differences(result, out_dir)
        if changed:
            print("generated files are out of date (run `make generate`):", file=sys.stderr)
            for path in changed:
                print(f"  {path}{' (stale: no longer generated)' if path in result.stale else ''}", file=sys.stderr)
            return 1
        print(f"{len(result.files)} generated files are up to date ({result.seconds * 1000:.0f} ms)")
        return 0
    touched = pipeline.write(result, out_dir)
    print(f"generated {len(result.files)} files, {len(touched)} changed ({result.seconds * 1000:.0f} ms)")
    for path in touched:
        print(f"  {'removed' if path in result.stale else 'wrote'} {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generator", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
