"""The kruise-manager image `make image` builds (release/image.py): what is in it, and that it is
reproducible. Runs with the in-cluster tests (`make e2e-incluster`, the sandbox_lifecycle session of
`make test`); the build is cached, so these take seconds once the image exists."""
from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
import yaml

from release import image
from sandbox import images

pytestmark = [pytest.mark.sandbox_lifecycle, pytest.mark.timeout(900)]  # a cold build debootstraps (~1-2 min)
CHART = Path(__file__).resolve().parents[3] / "charts" / "ack-kruise"


def test_add_tree_packs_a_folder_reproducibly(tmp_path: Path) -> None:
    """Sorted entries, mtime 0, numeric owners, modes kept, hard links as links, no device nodes or FIFOs,
    mount points empty: whatever the files' times or the order the file system lists them in."""
    def make(root: Path, mtime: int) -> None:
        (root / "usr/bin").mkdir(parents=True)
        (root / "usr/bin/tool").write_text("#!/bin/sh\n")
        (root / "usr/bin/tool").chmod(0o755)
        os.link(root / "usr/bin/tool", root / "usr/bin/tool-alias")
        (root / "bin").symlink_to("usr/bin")
        (root / "etc").mkdir()
        (root / "etc/secret").write_text("x")
        (root / "etc/secret").chmod(0o640)
        os.mkfifo(root / "etc/fifo")
        (root / "tmp").mkdir()
        (root / "tmp/junk").write_text("left by the build")
        for path in root.rglob("*"):
            if not path.is_symlink():
                os.utime(path, (mtime, mtime))

    def pack(root: Path) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            images.add_tree(tar, root, empty_dirs=("tmp",))
        return buf.getvalue()

    make(tmp_path / "a", 1_000_000)
    make(tmp_path / "b", 2_000_000)
    first, second = pack(tmp_path / "a"), pack(tmp_path / "b")
    assert first == second
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names) == ["bin", "etc", "etc/secret", "tmp", "usr", "usr/bin", "usr/bin/tool",
                                      "usr/bin/tool-alias"]
    by_name = {m.name: m for m in members}
    assert all(m.mtime == 0 and m.uname == "" and m.gname == "" for m in members)
    assert by_name["bin"].issym() and by_name["bin"].linkname == "usr/bin"
    assert by_name["usr/bin/tool-alias"].islnk() and by_name["usr/bin/tool-alias"].linkname == "usr/bin/tool"
    assert by_name["usr/bin/tool"].mode == 0o755 and by_name["etc/secret"].mode == 0o640

    # Only some paths (a layer on top of another): those, everything below them, and their parent folders.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        images.add_tree(tar, tmp_path / "a", ["usr/bin/tool"])
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tar:
        assert tar.getnames() == ["usr", "usr/bin", "usr/bin/tool"]


@pytest.fixture(scope="module")
def built():
    return image.build()


def _layer_members(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def test_the_image_is_named_after_the_chart_and_runs_as_the_chart_expects(built) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    repository, version = values["manager"]["image"]["repository"], chart["appVersion"]
    assert built.names == [f"localhost:5000/{repository}:{version}"]
    with tarfile.open(built.archive) as archive:
        index = json.load(archive.extractfile("index.json"))
        assert [m["annotations"]["io.containerd.image.name"] for m in index["manifests"]] == built.names
        assert {m["digest"] for m in index["manifests"]} == {built.manifest_digest}
        manifest = json.load(archive.extractfile(f"blobs/sha256/{built.manifest_digest.split(':')[1]}"))
        config = json.load(archive.extractfile(f"blobs/sha256/{manifest['config']['digest'].split(':')[1]}"))
    assert [layer["mediaType"] for layer in manifest["layers"]] == ["application/vnd.oci.image.layer.v1.tar+gzip"] * 3
    assert config["config"]["User"] == "65534:65534"  # the chart's runAsUser/runAsGroup
    assert config["config"]["Entrypoint"] == ["ack-kruise"] and config["config"]["Cmd"] == ["manager"]
    assert "PYTHONDONTWRITEBYTECODE=1" in config["config"]["Env"]  # the chart's root file system is read-only
    assert config["config"]["Labels"]["org.opencontainers.image.version"] == version
    assert config["created"] == "1970-01-01T00:00:00Z"


def test_the_layers_hold_what_they_should_and_nothing_else(built) -> None:
    base, deps, app = (_layer_members(s.layer.path) for s in built.stages)
    every = [*base.values(), *deps.values(), *app.values()]
    assert all(m.mtime == 0 and not m.uname and not m.gname for m in every)
    # base: minbase + python3, trimmed.
    assert "usr/bin/python3.11" in base and "usr/bin/dpkg" in base
    assert not [n for n in base if n.startswith(("usr/share/man/", "usr/share/info/", "var/lib/apt/lists/")) and
                base[n].isfile()]
    assert not [n for n in base if n.startswith("var/cache/apt/") and base[n].isfile()]
    assert not [n for n in base if n.startswith("usr/share/locale/") and n != "usr/share/locale/locale.alias"]
    docs = [n for n in base if n.startswith("usr/share/doc/") and base[n].isfile()]
    assert docs and all(n.endswith("/copyright") for n in docs)  # licences stay
    assert not [n for n in base if n.startswith(("dev/", "proc/", "sys/", "tmp/", "run/"))]
    for host_file in ("etc/hostname", "etc/resolv.conf", "etc/hosts"):
        assert base[host_file].size == 0, host_file
    assert not [n for n in base if n.startswith("var/log/") and base[n].isfile()]
    # deps: the runtime closure, without the official kubernetes client; no console scripts of this machine.
    site = image.SITE
    assert f"{site}/kopf/__init__.py" in deps and f"{site}/aiohttp/__init__.py" in deps
    assert f"{site}/kubernetes/__init__.py" not in deps
    assert not [n for n in deps if not (n.startswith(site + "/") or site.startswith(n))]
    # No RECORD lists a console script: pip's scripts (not shipped) carry the building python's path.
    for stage in built.stages[1:]:
        with tarfile.open(stage.layer.path, "r:gz") as tar:
            for name in (n for n in tar.getnames() if n.endswith(".dist-info/RECORD")):
                outside = [line for line in tar.extractfile(name).read().decode().splitlines() if line.startswith("../")]
                assert not outside, (name, outside)
    # app: the project and its launcher.
    assert f"{site}/controllers/_generated/schema.json" in app
    assert app["usr/local/bin/ack-kruise"].mode == 0o755
    # Bytecode that never checks timestamps (unchecked-hash: flags 0b01).
    pyc = next(n for n in app if n.startswith(f"{site}/controllers/__pycache__/manager."))
    with tarfile.open(built.stages[2].layer.path, "r:gz") as tar:
        header = tar.extractfile(pyc).read(8)
    assert int.from_bytes(header[4:8], "little") == 0b01


def test_a_second_build_is_the_cached_same_image(built) -> None:
    again = image.build()
    assert again.cached and all(s.cached for s in again.stages)
    assert again.manifest_digest == built.manifest_digest
    for stage in again.stages:
        with open(stage.layer.path, "rb") as f:
            head = f.read(10)
        assert head[:2] == b"\x1f\x8b" and head[4:8] == b"\0\0\0\0"  # gzip, mtime 0
        assert gzip.GzipFile(stage.layer.path).read(1)  # readable


def test_deps_and_app_layers_rebuilt_without_the_cache_have_the_same_digests(built) -> None:
    """Reproducible: the two layers made from this checkout, built again from scratch (the cached base, which
    takes a minute to debootstrap, is reused), are byte-identical."""
    again = image.build(rebuild=("deps", "app"))
    assert [s.cached for s in again.stages] == [True, False, False]
    assert [s.layer.digest for s in again.stages] == [s.layer.digest for s in built.stages]
    assert again.manifest_digest == built.manifest_digest
