"""The setup scripts check their tools before any work starts and name the Debian package of a missing one.

Each test runs a script with a PATH that holds every command of the real PATH except one, so nothing is
built or installed: the check must stop the script first."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def path_without(tool: str, tmp_path: Path) -> str:
    """A PATH of one folder linking every command on the current PATH except `tool`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            link = bin_dir / entry.name
            if entry.name != tool and not link.exists() and os.access(entry.path, os.X_OK):
                link.symlink_to(entry.path)
    assert shutil.which(tool, path=str(bin_dir)) is None
    return str(bin_dir)


def run(script: str, *args: str, path: str | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/bash", str(SCRIPTS / script), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": path or os.environ["PATH"], **env})


def missing_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if "missing tool" in line]


@pytest.mark.parametrize("tool, package", [("go", "golang-go"), ("make", "make"), ("rsync", "rsync")])
def test_kubernetes_build_stops_before_fetching_when_a_build_tool_is_missing(tool, package, tmp_path):
    cache = tmp_path / "cache"   # empty: no cached binaries, so the script would build
    proc = run("build-kubernetes.sh", path=path_without(tool, tmp_path), ACK_KRUISE_CACHE=str(cache))
    assert proc.returncode != 0
    assert missing_lines(proc) == [f"build-kubernetes.sh: missing tool: {tool} (Debian package {package})"], \
        proc.stderr
    assert proc.stderr.splitlines()[-1] == f"build-kubernetes.sh: install with: apt-get install {package}"
    assert "fetching" not in proc.stdout and not cache.exists(), "nothing fetched or created"


def test_kubernetes_build_tool_check_passes_on_a_set_up_machine():
    proc = run("build-kubernetes.sh", "--check-tools")
    assert proc.returncode == 0, proc.stderr


def test_setup_names_a_missing_tool_it_needs_before_installing(tmp_path):
    proc = run("setup.sh", "--check-tools", path=path_without("dpkg-query", tmp_path))
    assert proc.returncode != 0
    assert missing_lines(proc) == ["make setup: missing tool: dpkg-query (Debian package dpkg)"], proc.stderr
    assert proc.stderr.splitlines()[-1] == "make setup: install with: apt-get install dpkg"


def test_setup_tool_check_passes_on_a_set_up_machine():
    proc = run("setup.sh", "--check-tools")
    assert proc.returncode == 0, proc.stderr
