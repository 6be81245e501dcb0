"""Generate everything in memory, then write (or compare) in one go: a bad input writes nothing."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from . import chart, chart_helpers, chart_meta, crds, docs, rbac, runtime, values, webhooks
from .inputs import Inputs, load_inputs
from .yamlio import is_generated

REPO_ROOT = Path(__file__).resolve().parents[1]

# Directories whose files all come from the generator: a generated file that is no longer produced is stale.
OWNED_DIRS = ("crds", "docs/api", "controllers/_generated", "charts/{chart}/templates/generated")


@dataclass
class Result:
    files: dict[str, str]       # path relative to the output directory -> content
    stale: list[str]            # generated files in owned directories that are no longer produced
    seconds: float


def plain_service(inputs: Inputs) -> crds.ServiceRef:
    """The conversion-webhook Service written into the plain crds/ files (the chart uses its values)."""
    service = values.default_of(values.resolved_values(inputs))["webhook"]["service"]
    namespace = service["namespace"] or inputs.webhooks["plainManifestsNamespace"]
    return crds.ServiceRef(service["name"], namespace, service["port"])


def generate_all(inputs: Inputs, out_dir: Path) -> dict[str, str]:
    chart_file = out_dir / chart.CHART_DIR.format(chart=chart.chart_name(inputs)) / "Chart.yaml"
    current_chart = chart_file.read_text(encoding="utf-8") if chart_file.exists() else None
    readme_file = chart_file.with_name("README.md")
    current_readme = readme_file.read_text(encoding="utf-8") if readme_file.exists() else None
    files: dict[str, str] = {}
    for produced in (
        crds.generate(inputs, plain_service(inputs)),
        webhooks.generate(inputs),
        chart_helpers.generate(inputs),
        values.generate(inputs, current_readme),
        docs.generate(inputs),
        chart_meta.generate(inputs, current_chart),
        runtime.generate(inputs),
        rbac.generate(inputs),
    ):
        overlap = set(files) & set(produced)
        assert not overlap, f"two generators write {sorted(overlap)}"
        files.update(produced)
    return dict(sorted(files.items()))


def stale_files(inputs: Inputs, out_dir: Path, files: dict[str, str]) -> list[str]:
    stale = []
    for pattern in OWNED_DIRS:
        directory = out_dir / pattern.format(chart=chart.chart_name(inputs))
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(out_dir).as_posix()
            if path.is_file() and relative not in files and is_generated(path.read_text(encoding="utf-8", errors="replace")):
                stale.append(relative)
    return stale


def run(schema_dir: Path, policies_dir: Path, out_dir: Path) -> Result:
    started = time.perf_counter()
    inputs = load_inputs(schema_dir, policies_dir)
    files = generate_all(inputs, out_dir)
    stale = stale_files(inputs, out_dir, files)
    return Result(files=files, stale=stale, seconds=time.perf_counter() - started)


def differences(result: Result, out_dir: Path) -> list[str]:
    """Paths whose content on disk differs from what the generator would write now (or that are stale)."""
    changed = []
    for relative, text in result.files.items():
        path = out_dir / relative
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            changed.append(relative)
    return sorted(changed + result.stale)


def write(result: Result, out_dir: Path) -> list[str]:
    """Write changed files, delete stale ones; return the paths touched."""
    touched = differences(result, out_dir)
    for relative in touched:
        path = out_dir / relative
        if relative in result.stale:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(result.files[relative], encoding="utf-8")
    return touched
