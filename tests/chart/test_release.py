"""`make release VERSION=x.y.z` (release/chart.py), run on a copy of the chart with its own dist/: the
repository index lists each version with its Artifact Hub annotations, the packaged chart installs (renders),
versions that are not newer, or have no CHANGELOG entry, are refused before anything is written; two
releases of one commit give the same bytes; a signed release passes `helm verify` (a throwaway GPG key in a
temporary GNUPGHOME) and a changed archive fails it; with a registry (a docker-registry of the test's own),
the image and the chart are pushed and the chart pulled back names the image by digest.

The end-to-end case (the real manager image, the sandbox's registry, `helm install oci://...` with default
values) is tests/e2e/incluster/test_release_install.py."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from release import chart, registry
from sandbox import images
from sandbox.ports import free_port

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
        {"name": "kruise-manager", "image": "localhost:5000/ack-kruise/kruise-manager:0.1.0"}]
    assert [c["kind"] for c in yaml.safe_load(annotations["artifacthub.io/crds"])] == \
        ["CloneSet", "ContainerRecreateRequest", "DaemonSet", "ImageListPullJob", "ImagePullJob", "NodeImage",
         "SidecarSet", "StatefulSet", "UnitedDeployment"]
    assert annotations["artifacthub.io/license"] == "Apache-2.0"
    assert annotations["artifacthub.io/category"] == "integration-delivery"
    assert annotations["artifacthub.io/prerelease"] == "false"


def test_the_packaged_chart_renders(paths: chart.Paths) -> None:
    package = chart.release("0.1.0", paths, log=lambda *_: None)
    docs = render("--kube-version", "1.20.2", chart=package)
    assert find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "localhost:5000/ack-kruise/kruise-manager:0.1.0"
    assert len([d for d in docs if d["kind"] == "CustomResourceDefinition"]) == 9
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


# ---- reproducible archives -----------------------------------------------------------------------------
def copy_of_the_repository_chart(root: Path) -> chart.Paths:
    shutil.copytree(CHART, root / "chart" / "ack-kruise")
    (root / "CHANGELOG.md").write_text(CHANGELOG)
    return chart.Paths(chart_dir=root / "chart" / "ack-kruise", changelog=root / "CHANGELOG.md",
                       dist=root / "dist", pyproject=REPO / "pyproject.toml", schema_dir=REPO / "schema",
                       policies_dir=REPO / "policies")


def test_two_releases_of_one_commit_give_byte_identical_archives(tmp_path: Path) -> None:
    one = chart.release("0.1.0", copy_of_the_repository_chart(tmp_path / "one"), log=lambda *_: None)
    # Helm stamps the packaging time into every tar entry: a later second run must not change a byte.
    two = chart.release("0.1.0", copy_of_the_repository_chart(tmp_path / "two"), log=lambda *_: None)
    assert one.read_bytes() == two.read_bytes()
    commit_time = int(subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%ct"], capture_output=True,
                                     text=True, check=True).stdout)
    assert one.read_bytes()[4:8] == b"\0\0\0\0"   # no gzip timestamp
    with tarfile.open(one) as tar:
        members = tar.getmembers()
        assert {m.mtime for m in members} == {commit_time}
        assert {(m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {(0, 0, "", "", 0o644)}
        names = [m.name for m in members]
        assert names[0] == "ack-kruise/Chart.yaml"   # Helm's order, kept
        assert tar.extractfile("ack-kruise/LICENSE").read() == (REPO / "LICENSE").read_bytes()
    assert "Apache License" in (REPO / "LICENSE").read_text() and "Version 2.0" in (REPO / "LICENSE").read_text()
    # What Helm reads back is the chart that was packaged.
    assert helm("show", "chart", str(one), check=True).stdout.count("version: 0.1.0") == 1


def test_source_date_epoch_sets_the_entries_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    package = chart.release("0.1.0", copy_of_the_repository_chart(tmp_path), log=lambda *_: None)
    with tarfile.open(package) as tar:
        assert {m.mtime for m in tar.getmembers()} == {1700000000}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(chart.ReleaseError, match="SOURCE_DATE_EPOCH='yesterday' is not a number"):
        chart.source_date_epoch(REPO)


# ---- provenance ----------------------------------------------------------------------------------------
@pytest.fixture
def gpg_key(tmp_path_factory, monkeypatch: pytest.MonkeyPatch) -> str:
    """A throwaway RSA key, without passphrase, in a GNUPGHOME of the test's own."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    params = ("Key-Type: RSA\nKey-Length: 2048\nKey-Usage: sign\nName-Real: ack-kruise test release\n"
              "Name-Email: release@ack-kruise.test\nExpire-Date: 0\n%no-protection\n%commit\n")
    subprocess.run(["gpg", "--batch", "--gen-key"], input=params, text=True, capture_output=True, check=True)
    yield "release@ack-kruise.test"
    subprocess.run(["gpgconf", "--kill", "all"], env={**os.environ, "GNUPGHOME": str(home)}, capture_output=True)


def public_keyring(key: str, out: Path) -> Path:
    out.write_bytes(subprocess.run(["gpg", "--batch", "--export", key], capture_output=True, check=True).stdout)
    return out


def test_a_signed_release_passes_helm_verify_and_a_changed_archive_fails_it(paths: chart.Paths, gpg_key: str,
                                                                             tmp_path: Path) -> None:
    options = chart.Options(signer=chart.Signer(gpg_key), sign_key_url="https://charts.example.org/key.asc")
    released = chart.publish("0.1.0", paths, options, log=lambda *_: None)
    assert released.provenance == paths.dist / "ack-kruise-0.1.0.tgz.prov"
    prov = released.provenance.read_text()
    assert prov.startswith("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n")
    digest = hashlib.sha256(released.package.read_bytes()).hexdigest()
    assert f"ack-kruise-0.1.0.tgz: sha256:{digest}" in prov
    keyring = public_keyring(gpg_key, tmp_path / "pubring.gpg")
    verified = helm("verify", str(released.package), "--keyring", str(keyring))
    assert verified.returncode == 0, verified.stderr
    assert "Signed by: ack-kruise test release <release@ack-kruise.test>" in verified.stdout + verified.stderr
    fingerprint = chart.Signer(gpg_key).fingerprint()
    meta = yaml.safe_load(helm("show", "chart", str(released.package), check=True).stdout)
    assert meta["annotations"]["artifacthub.io/signKey"] == \
        f"fingerprint: {fingerprint}\nurl: https://charts.example.org/key.asc\n"
    # One byte changed after signing: helm refuses it.
    tampered = tmp_path / "tampered" / released.package.name
    tampered.parent.mkdir()
    data = bytearray(released.package.read_bytes())
    data[-10] ^= 0xFF
    tampered.write_bytes(bytes(data))
    shutil.copy(released.provenance, tampered.with_name(tampered.name + ".prov"))
    refused = helm("verify", str(tampered), "--keyring", str(keyring))
    assert refused.returncode != 0 and "sha256 sum does not match" in refused.stderr, refused.stderr
    # Another key's keyring: helm refuses the signature.
    other = helm("verify", str(released.package), "--keyring", str(tmp_path / "empty.gpg"))
    assert other.returncode != 0


def test_an_unknown_signing_key_is_refused_before_anything_is_written(paths: chart.Paths, gpg_key: str) -> None:
    before = (paths.chart_dir / "Chart.yaml").read_text()
    with pytest.raises(chart.ReleaseError, match="gpg has no secret key 'nobody@example.org'"):
        chart.publish("0.1.0", paths, chart.Options(signer=chart.Signer("nobody@example.org")), log=lambda *_: None)
    assert (paths.chart_dir / "Chart.yaml").read_text() == before and not paths.dist.exists()


# ---- publishing to a registry ----------------------------------------------------------------------------
@pytest.fixture
def local_registry(tmp_path_factory):
    """A docker-registry (Debian's, as the sandbox's) on a free port, stopped by its PID."""
    binary = shutil.which("docker-registry")
    if not binary:
        pytest.fail("docker-registry is not installed: run make setup")
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    (root / "config.yml").write_text(f"version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: "
                                     f"{{rootdirectory: {root / 'data'}}}\nhttp:\n  addr: 127.0.0.1:{port}\n")
    process = subprocess.Popen([binary, "serve", str(root / "config.yml")], stdout=subprocess.DEVNULL,
                               stderr=open(root / "log", "w"))
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"docker-registry did not start: {(root / 'log').read_text()}")
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def small_image_archive(out: Path) -> tuple[Path, str]:
    """A one-layer OCI image archive (the manager image is tested end to end in tests/e2e/incluster/)."""
    blobs: dict = {}
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        images.tar_add(tar, "hello", data=b"hello from a test image\n")
    gz = gzip.compress(layer.getvalue(), mtime=0)
    layer_digest = "sha256:" + hashlib.sha256(gz).hexdigest()
    blobs[layer_digest] = gz
    config = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [
        "sha256:" + hashlib.sha256(layer.getvalue()).hexdigest()]}}
    digest, size = images.image_manifest(blobs, config, [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                                          "digest": layer_digest, "size": len(gz)}])
    images.write_oci_archive(out, [images.index_entry(digest, size, "example.org/test/image:1")], blobs)
    return out, digest


def test_a_release_to_a_registry_pushes_the_image_and_the_chart_naming_it_by_digest(
        paths: chart.Paths, local_registry: str, tmp_path: Path) -> None:
    archive, digest = small_image_archive(tmp_path / "image.oci.tar")
    options = chart.Options(registry=f"{local_registry}/team", image_archive=archive)
    released = chart.publish("0.1.0", paths, options, log=lambda *_: None)
    image = f"{local_registry}/team/ack-kruise/kruise-manager@{digest}"
    assert released.image == image and released.chart == f"oci://{local_registry}/team/charts/ack-kruise"
    assert registry.manifest_digest(f"{local_registry}/team/ack-kruise/kruise-manager", "0.1.0") == digest
    # The chart as users get it: pulled from the registry, the same bytes as dist/, installing the pushed
    # image by digest with default values.
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    helm("pull", released.chart, "--version", "0.1.0", "--plain-http", "-d", str(pulled), check=True)
    assert (pulled / "ack-kruise-0.1.0.tgz").read_bytes() == released.package.read_bytes()
    docs = render("--kube-version", "1.30.0", chart=released.package)
    assert find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"] == image
    meta = yaml.safe_load(helm("show", "chart", str(released.package), check=True).stdout)
    assert yaml.safe_load(meta["annotations"]["artifacthub.io/images"]) == [{"name": "kruise-manager", "image": image}]
    # The source tree still names the sandbox's image: only the packaged copy was stamped.
    assert yaml.safe_load((paths.chart_dir / "values.yaml").read_text())["manager"]["image"]["digest"] == ""
    # The same version again: refused (the registry has it), nothing written.
    (paths.changelog).write_text(CHANGELOG)
    index_before = (paths.dist / "index.yaml").read_text()
    shutil.rmtree(paths.dist)
    with pytest.raises(chart.ReleaseError, match="ack-kruise:0.1.0 is already in the registry"):
        chart.publish("0.1.0", paths, options, log=lambda *_: None)
    assert not paths.dist.exists() and index_before


@pytest.mark.parametrize("name", ["kruise/kruise-manager", "Registry.example.org/A", "https://r.example/x"])
def test_a_malformed_registry_is_refused_naming_it(name: str) -> None:
    with pytest.raises(registry.RegistryError, match="is not a registry repository"):
        registry.split_reference(name)
