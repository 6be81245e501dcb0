#!/usr/bin/env bash
# Fetch the Kubernetes OpenAPI JSON schemas that tests/k8s_openapi.py validates manifests against.
#
# No single kubernetes-validate release carries every version we need: the 1.16.0 sdist has 1.10-1.16
# (the only source of 1.13/1.14), the 1.28.3 wheel 1.20-1.28 and the 1.37.0 wheel 1.25-1.37. They cannot be
# installed side by side, so this downloads each archive with `pip download --no-deps` and extracts only the
# schema directories (v<version>-local and v<version>-local-strict) into the cache. Idempotent: archives and
# extracted versions already in the cache are not fetched again.
#
# Usage: scripts/fetch-k8s-schemas.sh [minor versions...]   (default: 1.13 1.14 1.15 1.16 1.20 1.37)
# Env:   ACK_KRUISE_K8S_SCHEMAS  cache directory (default ~/.cache/ack-kruise/k8s-schemas)
#        PYTHON                  interpreter with pip (default: the repository's .venv, else python3)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${ACK_KRUISE_K8S_SCHEMAS:-$HOME/.cache/ack-kruise/k8s-schemas}"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$repo/.venv/bin/python" ]]; then python="$repo/.venv/bin/python"; else python=python3; fi
fi
versions=("$@")
if [[ ${#versions[@]} -eq 0 ]]; then versions=(1.13 1.14 1.15 1.16 1.20 1.30 1.37); fi

# Which pinned package carries which minor versions.
package_for() {
  local minor="${1#1.}"
  if (( minor >= 10 && minor <= 16 )); then echo "kubernetes-validate==1.16.0"
  elif (( minor >= 20 && minor <= 24 )); then echo "kubernetes-validate==1.28.3"
  elif (( minor >= 25 && minor <= 37 )); then echo "kubernetes-validate==1.37.0"
  else echo "no pinned kubernetes-validate release carries Kubernetes $1" >&2; return 1
  fi
}

mkdir -p "$cache/archives"
for version in "${versions[@]}"; do
  if [[ -f "$cache/v$version.0-local-strict/_definitions.json" ]]; then
    continue
  fi
  package="$(package_for "$version")"
  pinned="${package#*==}"
  archive="$(ls "$cache/archives"/kubernetes[-_]validate-"$pinned"[.-]* 2>/dev/null | head -n 1 || true)"
  if [[ -z "$archive" ]]; then
    echo "downloading $package" >&2
    "$python" -m pip download --quiet --no-deps --dest "$cache/archives" "$package"
    archive="$(ls "$cache/archives"/kubernetes[-_]validate-"$pinned"[.-]* | head -n 1)"
  fi
  echo "extracting Kubernetes $version schemas from $(basename "$archive")" >&2
  "$python" - "$archive" "$cache" "$version" <<'PY'
import re, shutil, sys, tarfile, tempfile, zipfile
from pathlib import Path

archive, cache, version = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
wanted = re.compile(r"kubernetes-json-schema/(v" + re.escape(version) + r"\.0-local(-strict)?)/([^/]+\.json)$")
staging = Path(tempfile.mkdtemp(dir=cache))
if archive.suffix == ".whl":
    with zipfile.ZipFile(archive) as handle:
        members = [(name, handle.read) for name in handle.namelist()]
        for name, read in members:
            match = wanted.search(name)
            if match:
                target = staging / match.group(1) / match.group(3)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(read(name))
else:
    with tarfile.open(archive) as handle:
        for member in handle.getmembers():
            match = wanted.search(member.name)
            if match and member.isfile():
                target = staging / match.group(1) / match.group(3)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(handle.extractfile(member).read())
found = sorted(p.name for p in staging.iterdir())
if not found:
    sys.exit(f"{archive.name} has no schemas for Kubernetes {version}")
for name in found:  # move into place only when complete, so an interrupted run is retried
    destination = cache / name
    if destination.exists():
        shutil.rmtree(destination)
    (staging / name).rename(destination)
shutil.rmtree(staging)
PY
done
echo "Kubernetes schemas in $cache: $(cd "$cache" && ls -d v*-local-strict 2>/dev/null | tr '\n' ' ')"
