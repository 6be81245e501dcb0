"""`make release VERSION=x.y.z`: stamp the chart with a version, package it reproducibly, sign it, add it to
the chart repository and, with a registry, publish the manager image and the chart there.

    python -m release.chart --version 0.2.0 [--repo-url https://example.org/charts]
        [--registry registry.example.org/ack-kruise] [--sign-key <gpg key>] [--sign-key-url https://.../key.asc]

1. Refuses, before writing anything, a version that is not SemVer, not greater than the newest ack-kruise
   in `dist/index.yaml` (the chart repository) or already in the registry, without a `## [x.y.z]` section in
   CHANGELOG.md, or a signing key gpg does not have.
2. Writes into Chart.yaml: `version` and `appVersion` (chart and manager share one version), `icon` (a data
   URL of the chart's icon.svg, so the catalog needs no web server), and the Artifact Hub annotations
   `artifacthub.io/changes` (from the CHANGELOG section), `images` (the manager image of values.yaml at
   that version), `license` (pyproject.toml), `category`, `operator`, `prerelease`. The generator keeps
   maintaining `kubeVersion`, `home`, `sources`, `maintainers` and `artifacthub.io/crds*`; the file is
   written as `make generate` would write it, so `make verify` stays green.
3. Packages a copy of the chart (build/release/<version>/), with the repository's LICENSE. With a registry,
   the manager image (release/image.py, built without Docker) is pushed there first as
   `<registry>/ack-kruise/kruise-manager:<version>`, and the copy's values.yaml names it by digest
   (`manager.image.registry`, `.digest`), as does its `artifacthub.io/images`: the released chart installs
   with default values. `helm package` stamps every tar entry with the current time, so the archive is
   repacked: Helm's entry order, mtime SOURCE_DATE_EPOCH (default: the commit's time), owner 0, mode 0644,
   gzip without a timestamp. Two releases of one commit give byte-identical .tgz files.
4. With a signing key: `<tgz>.prov`, Helm's provenance format (the chart's metadata, `...`, the sha256 of
   the .tgz, clear-signed with gpg), checked with `helm verify` before the release goes on. Helm's own
   `package --sign` signs the archive it wrote, with the packaging time in it, so it cannot sign a
   reproducible one. With --sign-key-url, Chart.yaml also carries `artifacthub.io/signKey`.
5. `helm repo index dist --merge dist/index.yaml`: the index keeps every earlier release. With a registry,
   `helm push` of the .tgz (and its .prov) to `oci://<registry>/charts`.
"""
from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from dataclasses import dataclass, field
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
    """The image the chart's values name, as the chart's `ack-kruise.image` helper renders it."""
    image = yaml.safe_load((chart_dir / "values.yaml").read_text(encoding="utf-8"))["manager"]["image"]
    name = f"{image['registry'].rstrip('/')}/{image['repository']}" if image.get("registry") else image["repository"]
    return f"{name}@{image['digest']}" if image.get("digest") else f"{name}:{image['tag'] or version}"


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
    annotations["artifacthub.io/images"] = images_annotation(image)
    if license_:
        annotations["artifacthub.io/license"] = license_
    annotations["artifacthub.io/category"] = CATEGORY
    annotations["artifacthub.io/operator"] = "true"
    annotations["artifacthub.io/prerelease"] = "true" if "-" in version else "false"
    buffer = io.StringIO()
    yaml_rt.dump(document, buffer)
    return buffer.getvalue()


def images_annotation(image: str):
    from ruamel.yaml.scalarstring import LiteralScalarString

    return LiteralScalarString(yaml.safe_dump([{"name": "kruise-manager", "image": image}], sort_keys=False))


def _round_trip(text: str, change) -> str:
    yaml_rt = chart_meta._yaml()
    document = yaml_rt.load(text)
    change(document)
    buffer = io.StringIO()
    yaml_rt.dump(document, buffer)
    return buffer.getvalue()


def stamp_image(chart_dir: Path, registry: str, digest: str) -> str:
    """The packaged copy names the pushed image by digest: values.yaml `manager.image.registry` and `.digest`,
    Chart.yaml `artifacthub.io/images`. Returns the image reference."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    def values(document) -> None:
        document["manager"]["image"]["registry"] = DoubleQuotedScalarString(registry)
        document["manager"]["image"]["digest"] = DoubleQuotedScalarString(digest)

    values_file = chart_dir / "values.yaml"
    values_file.write_text(_round_trip(values_file.read_text(encoding="utf-8"), values), encoding="utf-8")
    image = manager_image(chart_dir, "")
    chart_file = chart_dir / "Chart.yaml"
    chart_file.write_text(_round_trip(chart_file.read_text(encoding="utf-8"), lambda d: d["annotations"].__setitem__(
        "artifacthub.io/images", images_annotation(image))), encoding="utf-8")
    return image


def stamp_sign_key(chart_dir: Path, fingerprint: str, url: str) -> None:
    from ruamel.yaml.scalarstring import LiteralScalarString

    chart_file = chart_dir / "Chart.yaml"
    text = LiteralScalarString(f"fingerprint: {fingerprint}\nurl: {url}\n")
    chart_file.write_text(_round_trip(chart_file.read_text(encoding="utf-8"), lambda d: d["annotations"].__setitem__(
        "artifacthub.io/signKey", text)), encoding="utf-8")


# ---- reproducible archive --------------------------------------------------------------------------------

def source_date_epoch(root: Path) -> int:
    """SOURCE_DATE_EPOCH if set (reproducible-builds.org), else the time of the commit checked out, else 0."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        value = os.environ["SOURCE_DATE_EPOCH"]
        if not value.isdigit():
            raise ReleaseError(f"SOURCE_DATE_EPOCH={value!r} is not a number of seconds")
        return int(value)
    result = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%ct"], capture_output=True, text=True)
    return int(result.stdout.strip()) if result.returncode == 0 and result.stdout.strip().isdigit() else 0


def repack(source: Path, target: Path, mtime: int) -> None:
    """`source` (as `helm package` wrote it) rewritten without what varies between runs: the entries in the
    same order with the same contents, mtime `mtime`, owner 0, mode 0644; gzip without name or timestamp."""
    buffer = io.BytesIO()
    with tarfile.open(source, "r:gz") as tar_in, \
            tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar_out:
        for member in tar_in.getmembers():
            if not member.isfile():
                raise ReleaseError(f"{source}: unexpected entry {member.name} (type {member.type!r})")
            data = tar_in.extractfile(member).read()
            info = tarfile.TarInfo(member.name)
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar_out.addfile(info, io.BytesIO(data))
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
        gz.write(buffer.getvalue())
    tmp.replace(target)


# ---- provenance ------------------------------------------------------------------------------------------

def provenance_message(package: Path) -> str:
    """What Helm signs (pkg/provenance messageBlock): the chart's metadata as YAML, `...`, and the sha256 of
    the archive under its file name; `helm verify` checks the signature and that sum."""
    with tarfile.open(package, "r:gz") as tar:
        metadata = yaml.safe_load(tar.extractfile(f"{CHART_NAME}/Chart.yaml").read())
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    return (yaml.safe_dump(metadata, sort_keys=True, default_flow_style=False, width=1 << 16, allow_unicode=True)
            + "\n...\n" + yaml.safe_dump({"files": {package.name: f"sha256:{digest}"}}, default_flow_style=False))


@dataclass
class Signer:
    """A gpg key (anything `gpg --local-user` takes) of $GNUPGHOME, and an optional passphrase file."""
    key: str
    passphrase_file: Path | None = None

    def gpg(self, *args: str, input: str | None = None) -> str:
        gpg = shutil.which("gpg")
        if not gpg:
            raise ReleaseError("gpg is not installed (Debian package gnupg): it signs the chart")
        result = subprocess.run([gpg, "--batch", *args], input=input, capture_output=True, text=True)
        if result.returncode != 0:
            raise ReleaseError(f"gpg {' '.join(args[:3])} failed:\n{result.stderr.strip()}")
        return result.stdout

    def fingerprint(self) -> str:
        """The signing key's fingerprint; ReleaseError if gpg has no secret key by that name."""
        try:
            out = self.gpg("--with-colons", "--list-secret-keys", self.key)
        except ReleaseError:
            out = ""
        fingerprints = [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]
        if not fingerprints:
            raise ReleaseError(f"gpg has no secret key {self.key!r}")
        return fingerprints[0]

    def sign(self, package: Path) -> Path:
        passphrase = ["--pinentry-mode", "loopback", "--passphrase-file", str(self.passphrase_file)] \
            if self.passphrase_file else []
        prov = package.with_name(package.name + ".prov")
        self.gpg("--yes", "--local-user", self.key, "--digest-algo", "SHA512", *passphrase, "--clearsign",
                 "--output", str(prov), input=provenance_message(package))
        return prov

    def verify(self, package: Path) -> str:
        """`helm verify` with a keyring of the signing key's public part; returns helm's output."""
        with tempfile.TemporaryDirectory(prefix="ack-kruise-verify-") as tmp:
            keyring = Path(tmp) / "pubring.gpg"
            keyring.write_bytes(subprocess.run([shutil.which("gpg") or "gpg", "--batch", "--export", self.key],
                                               capture_output=True, check=True).stdout)
            return run([helm(), "verify", str(package), "--keyring", str(keyring)])


# ---- the release ---------------------------------------------------------------------------------------

@dataclass
class Paths:
    chart_dir: Path
    changelog: Path
    dist: Path
    pyproject: Path
    schema_dir: Path
    policies_dir: Path
    license: Path = REPO_ROOT / "LICENSE"
    build_dir: Path | None = None
    """Where the packaged copy is staged (build/release/<version>/); default: next to dist."""
    root: Path = REPO_ROOT
    """The git work tree whose commit time is the archive's mtime."""

    @classmethod
    def of_repo(cls, root: Path = REPO_ROOT) -> "Paths":
        return cls(root / "charts" / CHART_NAME, root / "CHANGELOG.md", root / "dist", root / "pyproject.toml",
                   root / "schema", root / "policies", root / "LICENSE", root / "build", root)


@dataclass
class Options:
    repo_url: str | None = None
    registry: str | None = None
    """host[:port][/path]: the image goes to <registry>/ack-kruise/kruise-manager, the chart to
    oci://<registry>/charts/ack-kruise."""
    plain_http: bool | None = None
    """None: plain HTTP for a registry on this machine (localhost, 127.0.0.1), HTTPS otherwise."""
    signer: Signer | None = None
    sign_key_url: str | None = None
    image_archive: Path | None = None
    """An OCI image archive to push instead of building the manager image (tests)."""


@dataclass
class Released:
    package: Path
    provenance: Path | None = None
    image: str | None = None
    chart: str | None = None
    notes: list[str] = field(default_factory=list)


def helm() -> str:
    return tools.find("helm")


def release(version: str, paths: Paths, repo_url: str | None = None, log=print,
            options: Options | None = None) -> Path:
    """Stamp, package, sign and index `version` (and push it, with a registry); returns the packaged .tgz."""
    return publish(version, paths, options or Options(repo_url=repo_url), log).package


def publish(version: str, paths: Paths, options: Options, log=print) -> Released:
    from release import registry as oci

    index_file = paths.dist / "index.yaml"
    # Every check first: a refused release writes nothing.
    check_version(version, index_file)
    changes = changelog_entry(paths.changelog.read_text(encoding="utf-8"), version, paths.changelog.name)
    if not paths.license.exists():
        raise ReleaseError(f"{paths.license} is missing: the chart ships the project's licence text")
    fingerprint = options.signer.fingerprint() if options.signer else None
    chart_repository = image_repository = None
    if options.registry:
        oci.split_reference(f"{options.registry}/charts/{CHART_NAME}")   # a malformed registry is refused here
        chart_repository = f"{options.registry}/charts/{CHART_NAME}"
        values = yaml.safe_load((paths.chart_dir / "values.yaml").read_text(encoding="utf-8"))
        image_repository = f"{options.registry}/{values['manager']['image']['repository']}"
        if oci.manifest_digest(chart_repository, version, options.plain_http):
            raise ReleaseError(f"{chart_repository}:{version} is already in the registry: release a new version")

    chart_file = paths.chart_dir / "Chart.yaml"
    icon = paths.chart_dir / "icon.svg"
    stamped = stamp_chart_yaml(chart_file.read_text(encoding="utf-8"), version, changes,
                               manager_image(paths.chart_dir, version), project_license(paths.pyproject),
                               icon_data_url(icon) if icon.exists() else None)
    # Normalised as `make generate` writes it (kubeVersion, home, sources, maintainers, artifacthub.io/crds*).
    stamped = chart_meta.chart_yaml(load_inputs(paths.schema_dir, paths.policies_dir), stamped)
    chart_file.write_text(stamped, encoding="utf-8")
    log(f"Chart.yaml: version {version}, {len(changes)} change(s) in artifacthub.io/changes")

    stage_root = (paths.build_dir or paths.dist.parent / "build") / "release" / version
    shutil.rmtree(stage_root, ignore_errors=True)
    stage = stage_root / CHART_NAME
    shutil.copytree(paths.chart_dir, stage)
    shutil.copyfile(paths.license, stage / "LICENSE")
    released = Released(package=paths.dist / f"{CHART_NAME}-{version}.tgz")
    if options.registry:
        archive = options.image_archive
        if archive is None:
            from release import image as image_build

            built = image_build.build(version=version)
            archive = built.archive
            log(built.summary())
        digest = oci.push_archive(archive, image_repository, version, options.plain_http,
                                  log=lambda msg: log(f"  {msg}"))
        released.image = stamp_image(stage, options.registry, digest)
        log(f"pushed {image_repository}:{version} ({digest}); the packaged chart installs {released.image}")
    if fingerprint and options.sign_key_url:
        stamp_sign_key(stage, fingerprint, options.sign_key_url)

    paths.dist.mkdir(parents=True, exist_ok=True)
    run([helm(), "lint", "--strict", str(stage)])
    with tempfile.TemporaryDirectory(prefix="ack-kruise-package-") as tmp:
        run([helm(), "package", str(stage), "--destination", tmp])
        packaged = Path(tmp) / released.package.name
        if not packaged.exists():
            raise ReleaseError(f"helm package did not write {packaged.name}")
        repack(packaged, released.package, source_date_epoch(paths.root))
    log(f"packaged {released.package} (sha256 {hashlib.sha256(released.package.read_bytes()).hexdigest()})")
    if options.signer:
        released.provenance = options.signer.sign(released.package)
        options.signer.verify(released.package)
        log(f"signed {released.provenance.name} with {fingerprint}; helm verify: ok")

    command = [helm(), "repo", "index", str(paths.dist)]
    if index_file.exists():
        command += ["--merge", str(index_file)]
    if options.repo_url:
        command += ["--url", options.repo_url]
    run(command)
    log(f"{index_file} lists {', '.join(sorted(released_versions(index_file), key=parse_version))}")
    if options.registry:
        host = chart_repository.split("/")[0]
        plain = oci.is_local(host) if options.plain_http is None else options.plain_http
        run([helm(), "push", str(released.package), f"oci://{options.registry}/charts",
             *(["--plain-http"] if plain else [])])
        released.chart = f"oci://{chart_repository}"
        log(f"pushed the chart: helm install ack-kruise {released.chart} --version {version}")
    return released


def run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ReleaseError(f"{' '.join(command[1:3])} failed:\n{result.stdout}{result.stderr}".rstrip())
    return result.stdout + result.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m release.chart", description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="the chart version and appVersion, e.g. 0.2.0")
    parser.add_argument("--repo-url", default=None,
                        help="base URL the chart repository is served from (the .tgz URLs in index.yaml)")
    parser.add_argument("--dist", type=Path, default=None, help="the chart repository directory (default: dist/)")
    parser.add_argument("--registry", default=None,
                        help="host[:port][/path]: push the manager image and the chart (OCI) there")
    parser.add_argument("--plain-http", action="store_true", default=None,
                        help="talk HTTP to the registry (default: only for localhost and 127.0.0.1)")
    parser.add_argument("--sign-key", default=None,
                        help="gpg key (of $GNUPGHOME) to sign the chart with: writes <tgz>.prov")
    parser.add_argument("--sign-passphrase-file", type=Path, default=None, help="the signing key's passphrase")
    parser.add_argument("--sign-key-url", default=None,
                        help="where users fetch the public key: Chart.yaml artifacthub.io/signKey")
    args = parser.parse_args(argv)
    paths = Paths.of_repo()
    if args.dist:
        paths.dist = args.dist
    options = Options(repo_url=args.repo_url, registry=args.registry.rstrip("/") if args.registry else None,
                      plain_http=args.plain_http,
                      signer=Signer(args.sign_key, args.sign_passphrase_file) if args.sign_key else None,
                      sign_key_url=args.sign_key_url)
    try:
        from release.registry import RegistryError
        try:
            publish(args.version, paths, options)
        except RegistryError as err:
            raise ReleaseError(str(err)) from None
    except ReleaseError as err:
        print(f"release refused: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
