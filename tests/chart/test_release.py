"""`make release VERSION=x.y.z` (release/chart.py), run on a copy of the chart with its own dist/: the
repository index lists each version with its Artifact Hub annotations, the packaged chart installs (renders),
and versions that are not newer, or have no CHANGELOG entry, are refused before anything is written."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from release import chart

from .conftest import CHART, REPO, find, helm, render

CHANGELOG = """# Changelog

## [Unreleased]

## [0.2.0] - 2026-12-01

### Added
- Advanced DaemonSet controller.
### Fixed
- A CloneSet scale-in no longer deletes
  a pod twice.

## [0.1.0] - 2026-11-26

### Added
- First release.
"""


@pytest.fixture
def paths(tmp_path: Path) -> chart.Paths:
    shutil.copytree(CHART, tmp_path / "chart" / "ack-kruise")
    (tmp_path / "CHANGELOG.md").write_text(CHANGELOG)
    return chart.Paths(chart_dir=tmp_path / "chart" / "ack-kruise", changelog=tmp_path / "CHANGELOG.md",
                         dist=tmp_path / "dist", pyproject=REPO / "pyproject.toml",
                         schema_dir=REPO / "schema", policies_dir=REPO / "policies")


def index_entries(paths: chart.Paths) -> dict[str, dict]:
    index = yaml.safe_load((paths.dist / "index.yaml").read_text())
    return {entry["version"]: entry for entry in index["entries"]["ack-kruise"]}


def test_a_release_is_indexed_with_its_annotations(paths: chart.Paths) -> None:
    package = chart.release("0.1.0", paths, repo_url="https://charts.example.org/ack-kruise", log=lambda *_: None)
    assert package == paths.dist / "ack-kruise-0.1.0.tgz" and package.exists()
    entry = index_entries(paths)["0.1.0"]
    assert entry["appVersion"] == "0.1.0" and entry["kubeVersion"] == ">=1.13.0-0"
    assert entry["urls"] == ["https://charts.example.org/ack-kruise/ack-kruise-0.1.0.tgz"]
    assert entry["icon"].startswith("data:image/svg+xml;base64,")
    annotations = entry["annotations"]
    assert yaml.safe_load(annotations["artifacthub.io/changes"]) == [{"kind": "added", "description": "First release."}]
    assert yaml.safe_load(annotations["artifacthub.io/images"]) == [
        {"name": "kruise-manager", "image": "ack-kruise/kruise-manager:0.1.0"}]
    assert [c["kind"] for c in yaml.safe_load(annotations["artifacthub.io/crds"])] == \
        ["CloneSet", "ContainerRecreateRequest", "DaemonSet", "SidecarSet", "StatefulSet", "UnitedDeployment"]
    assert annotations["artifacthub.io/license"] == "Apache-2.0"
    assert annotations["artifacthub.io/category"] == "integration-delivery"
    assert annotations["artifacthub.io/prerelease"] == "false"


def test_the_packaged_chart_renders(paths: chart.Paths) -> None:
    package = chart.release("0.1.0", paths, log=lambda *_: None)
    docs = render("--kube-version", "1.20.2", chart=package)
    assert find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "ack-kruise/kruise-manager:0.1.0"
    assert len([d for d in docs if d["kind"] == "CustomResourceDefinition"]) == 6
    legacy = render("--kube-version", "1.14.10", "--set", "compatibility.customResourceWebhookConversion=true",
                    chart=package)
    assert {d["apiVersion"] for d in legacy if d["kind"] == "CustomResourceDefinition"} == {"apiextensions.k8s.io/v1beta1"}
    assert helm("show", "chart", str(package), check=True).stdout.count("version: 0.1.0") == 1


def test_the_index_keeps_earlier_releases(paths: chart.Paths) -> None:
    chart.release("0.1.0", paths, log=lambda *_: None)
    chart.release("0.2.0", paths, log=lambda *_: None)
    entries = index_entries(paths)
    assert sorted(entries) == ["0.1.0", "0.2.0"]
    changes = yaml.safe_load(entries["0.2.0"]["annotations"]["artifacthub.io/changes"])
    assert changes == [{"kind": "added", "description": "Advanced DaemonSet controller."},
                       {"kind": "fixed", "description": "A CloneSet scale-in no longer deletes a pod twice."}]
    meta = yaml.safe_load((paths.chart_dir / "Chart.yaml").read_text())
    assert meta["version"] == "0.2.0" and meta["appVersion"] == "0.2.0"


@pytest.mark.parametrize("version, message", [("0.1.0", "is not greater than 0.1.0"),
                                              ("0.0.9", "is not greater than 0.1.0"),
                                              ("0.1.0-rc.1", "is not greater than 0.1.0"),
                                              ("0.3.0", "has no section for 0.3.0"),
                                              ("1.0", "is not a SemVer version")])
def test_refused_versions_write_nothing(paths: chart.Paths, version: str, message: str) -> None:
    chart.release("0.1.0", paths, log=lambda *_: None)
    chart_before = (paths.chart_dir / "Chart.yaml").read_text()
    index_before = (paths.dist / "index.yaml").read_text()
    with pytest.raises(chart.ReleaseError, match=message):
        chart.release(version, paths, log=lambda *_: None)
    assert (paths.chart_dir / "Chart.yaml").read_text() == chart_before
    assert (paths.dist / "index.yaml").read_text() == index_before
    assert sorted(p.name for p in paths.dist.glob("*.tgz")) == ["ack-kruise-0.1.0.tgz"]


def test_pre_releases_sort_before_their_release() -> None:
    order = ["0.1.0", "0.2.0-alpha.1", "0.2.0-alpha.2", "0.2.0-beta", "0.2.0-rc.1", "0.2.0", "0.10.0", "1.0.0"]
    assert sorted(reversed(order), key=chart.parse_version) == order


def test_a_pre_release_is_marked(paths: chart.Paths) -> None:
    (paths.changelog).write_text(CHANGELOG.replace("## [0.2.0]", "## [0.2.0-rc.1]"))
    chart.release("0.2.0-rc.1", paths, log=lambda *_: None)
    assert index_entries(paths)["0.2.0-rc.1"]["annotations"]["artifacthub.io/prerelease"] == "true"


@pytest.mark.parametrize("text, message", [
    ("## [0.1.0]\n\n### Improved\n- x\n", "unknown change type 'Improved'"),
    ("## [0.1.0]\n\n- x\n", "a change outside an `### Added`"),
    ("## [0.1.0]\n\n### Added\n\n## [0.0.1]\n### Added\n- y\n", "lists no changes"),
])
def test_bad_changelog_entries_are_refused(text: str, message: str) -> None:
    with pytest.raises(chart.ReleaseError, match=message):
        chart.changelog_entry(text, "0.1.0")


def test_the_repository_changelog_has_the_chart_version() -> None:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    changes = chart.changelog_entry((REPO / "CHANGELOG.md").read_text(), meta["version"])
    assert meta["annotations"]["artifacthub.io/changes"] == chart.changes_annotation(changes)
    assert yaml.safe_load(meta["annotations"]["artifacthub.io/images"])[0]["image"].endswith(f":{meta['appVersion']}")
