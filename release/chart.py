"""`make release VERSION=x.y.z`: stamp the chart with a version, package it and add it to the chart repository.

    python -m release.chart --version 0.2.0 [--repo-url https://example.org/charts]

1. Refuses, before writing anything, a version that is not SemVer, not greater than the newest ack-kruise
   in `dist/index.yaml` (the chart repository), or without a `## [x.y.z]` section in CHANGELOG.md.
2. Writes into Chart.yaml: `version` and `appVersion` (chart and manager share one version), `icon` (a data
   URL of the chart's icon.svg, so the catalog needs no web server), and the Artifact Hub annotations
   `artifacthub.io/changes` (from the CHANGELOG section), `images` (the manager image of values.yaml at
   that version), `license` (pyproject.toml), `category`, `operator`, `prerelease`. The generator keeps
   maintaining `kubeVersion` and `artifacthub.io/crds*`; the file is written as `make generate` would
   write it, so `make verify` stays green.
3. `helm package` into dist/, then `helm repo index dist --merge dist/index.yaml`: the index keeps every
   earlier release.
"""
from __future__ import annotations

import argparse
import base64
import io
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator import chart_meta
from generator.inputs import load_inputs
from generator.pipeline import REPO_ROOT
from sandbox import tools

CHART_NAME = "ack-kruise"
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$")
CHANGE_KINDS = ("added", "changed", "deprecated", "removed", "fixed", "security")
CATEGORY = "integration-delivery"


class ReleaseError(Exception):
    pass


# ---- versions ------------------------------------------------------------------------------------------

def parse_version(text: str) -> tuple:
    """A sort key following SemVer precedence: a pre-release sorts before its release."""
    match = SEMVER.match(text)
    if not match:
        raise ReleaseError(f"{text!r} is not a SemVer version (x.y.z or x.y.z-pre.1)")
    major, minor, patch, pre = match.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (int(major), int(minor), int(patch), 0, ids)


def released_versions(index_file: Path) -> list[str]:
    if not index_file.exists():
        return []
    index = yaml.safe_load(index_file.read_text(encoding="utf-8")) or {}
    return [entry["version"] for entry in (index.get("entries") or {}).get(CHART_NAME, [])]


def check_version(version: str, index_file: Path) -> None:
    key = parse_version(version)
    released = released_versions(index_file)
    if released:
        newest = max(released, key=parse_version)
        if key <= parse_version(newest):
            raise ReleaseError(f"version {version} is not greater than {newest}, the newest {CHART_NAME} "
                               f"in {index_file}")


# ---- CHANGELOG.md --------------------------------------------------------------------------------------

@dataclass
class Change:
    kind: str
    description: str


_SECTION = re.compile(r"^## \[?(?P<version>[^\]\s]+)\]?(?:\s+-\s+(?P<date>\S+))?\s*$")
_KIND = re.compile(r"^### (?P<kind>\w+)\s*$")


def changelog_entry(text: str, version: str, file: str = "CHANGELOG.md") -> list[Change]:
    """The changes listed under `## [version]`; ReleaseError if there is no such section or it is empty."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines)
                  if (m := _SECTION.match(line)) and m.group("version") == version), None)
    if start is None:
        raise ReleaseError(f"{file} has no section for {version}: add `## [{version}] - <date>` with its changes")
    changes: list[Change] = []
    kind = None
    for number, line in enumerate(lines[start + 1:], start + 2):
        if line.startswith("## "):
            break
        if m := _KIND.match(line):
            kind = m.group("kind").lower()
            if kind not in CHANGE_KINDS:
                raise ReleaseError(f"{file}:{number}: unknown change type {m.group('kind')!r}; "
                                   f"use one of {', '.join(k.capitalize() for k in CHANGE_KINDS)}")
        elif line.startswith(("- ", "* ")):
            if kind is None:
                raise ReleaseError(f"{file}:{number}: a change outside an `### Added` (Changed, Fixed, ...) list")
            changes.append(Change(kind, line[2:].strip()))
        elif line.startswith("  ") and line.strip() and changes:
            changes[-1].description += " " + line.strip()   # a wrapped bullet
    if not changes:
        raise ReleaseError(f"{file}: the section for {version} lists no changes")
    return changes


def changes_annotation(changes: list[Change]) -> str:
    return yaml.safe_dump([{"kind": c.kind, "description": c.description} for c in changes],
                          sort_keys=False, width=1000, allow_unicode=True)


# ---- Chart.yaml ----------------------------------------------------------------------------------------

def icon_data_url(svg: Path) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.read_bytes()).decode()


def manager_image(chart_dir: Path, version: str) -> str:
    values = yaml.safe_load((chart_dir / "values.yaml").read_text(encoding="utf-8"))
    return f"{values['manager']['image']['repository']}:{values['manager']['image']['tag'] or version}"


def project_license(pyproject: Path) -> str:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    license_ = project.get("license")
    return license_.get("text", "") if isinstance(license_, dict) else str(license_ or "")


def stamp_chart_yaml(text: str, version: str, changes: list[Change], image: str, license_: str,
                     icon: str | None) -> str:
    """Chart.yaml with the release's keys set; other keys and comments stay as they are."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

    yaml_rt = chart_meta._yaml()
    document = yaml_rt.load(text)
    document["version"] = version
    document["appVersion"] = DoubleQuotedScalarString(version)
    if icon:
        if "icon" in document:
            document["icon"] = icon
        else:
            document.insert(list(document).index("appVersion") + 1, "icon", icon)
    annotations = document.setdefault("annotations", type(document)())
    annotations["artifacthub.io/changes"] = LiteralScalarString(changes_annotation(changes))
    annotations["artifacthub.io/images"] = LiteralScalarString(
        yaml.safe_dump([{"name": "kruise-manager", "image": image}], sort_keys=False))
    if license_:
        annotations["artifacthub.io/license"] = license_
    annotations["artifacthub.io/category"] = CATEGORY
    annotations["artifacthub.io/operator"] = "true"
    annotations["artifacthub.io/prerelease"] = "true" if "-" in version else "false"
    buffer = io.StringIO()
    yaml_rt.dump(document, buffer)
    return buffer.getvalue()


# ---- the release ---------------------------------------------------------------------------------------

@dataclass
class Paths:
    chart_dir: Path
    changelog: Path
    dist: Path
    pyproject: Path
    schema_dir: Path
    policies_dir: Path

    @classmethod
    def of_repo(cls, root: Path = REPO_ROOT) -> "Paths":
        return cls(root / "charts" / CHART_NAME, root / "CHANGELOG.md", root / "dist", root / "pyproject.toml",
                   root / "schema", root / "policies")


def helm() -> str:
    return tools.find("helm")


def release(version: str, paths: Paths, repo_url: str | None = None, log=print) -> Path:
    """Stamp, package and index `version`; returns the packaged .tgz."""
    index_file = paths.dist / "index.yaml"
    # Every check first: a refused release writes nothing.
    check_version(version, index_file)
    changes = changelog_entry(paths.changelog.read_text(encoding="utf-8"), version, paths.changelog.name)
    chart_file = paths.chart_dir / "Chart.yaml"
    icon = paths.chart_dir / "icon.svg"
    stamped = stamp_chart_yaml(chart_file.read_text(encoding="utf-8"), version, changes,
                               manager_image(paths.chart_dir, version), project_license(paths.pyproject),
                               icon_data_url(icon) if icon.exists() else None)
    # Normalised as `make generate` writes it (kubeVersion, artifacthub.io/crds*).
    stamped = chart_meta.chart_yaml(load_inputs(paths.schema_dir, paths.policies_dir), stamped)
    chart_file.write_text(stamped, encoding="utf-8")
    log(f"Chart.yaml: version {version}, {len(changes)} change(s) in artifacthub.io/changes")

    paths.dist.mkdir(parents=True, exist_ok=True)
    run([helm(), "lint", "--strict", str(paths.chart_dir)])
    run([helm(), "package", str(paths.chart_dir), "--destination", str(paths.dist)])
    package = paths.dist / f"{CHART_NAME}-{version}.tgz"
    if not package.exists():
        raise ReleaseError(f"helm package did not write {package}")
    command = [helm(), "repo", "index", str(paths.dist)]
    if index_file.exists():
        command += ["--merge", str(index_file)]
    if repo_url:
        command += ["--url", repo_url]
    run(command)
    log(f"packaged {package.relative_to(paths.dist.parent) if paths.dist.parent in package.parents else package}; "
        f"{index_file} lists {', '.join(sorted(released_versions(index_file), key=parse_version))}")
    return package


def run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ReleaseError(f"{' '.join(command[1:3])} failed:\n{result.stdout}{result.stderr}".rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m release.chart", description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="the chart version and appVersion, e.g. 0.2.0")
    parser.add_argument("--repo-url", default=None,
                        help="base URL the chart repository is served from (the .tgz URLs in index.yaml)")
    parser.add_argument("--dist", type=Path, default=None, help="the chart repository directory (default: dist/)")
    args = parser.parse_args(argv)
    paths = Paths.of_repo()
    if args.dist:
        paths.dist = args.dist
    try:
        release(args.version, paths, args.repo_url)
    except ReleaseError as err:
        print(f"release refused: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
