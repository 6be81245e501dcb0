"""The kruise-manager image, built without Docker (`make image`, `ack-kruise image`).

Three layers, each cached under ~/.cache/ack-kruise/manager-image/ and keyed on its inputs, so that a code
change rebuilds (and pushes) only the last one:

1. **base**: Debian bookworm from the machine's Debian mirror, `debootstrap --variant=minbase --include=python3`
   (Python 3.11, the same ABI as the project's virtualenv), without docs (copyright files are kept), man pages,
   locales, apt lists and caches, logs, or the build host's /etc/hostname and /etc/resolv.conf.
   Key: suite, package list, the recipe (the source of the functions below that make it) and whether
   bytecode is compiled;
2. **deps**: the project's runtime dependencies as wheels from PyPI (through pip's configured indexes), at the
   versions installed in the virtualenv (the versions the tests run with), installed with
   `pip install --target /usr/local/lib/python3.11/dist-packages --only-binary=:all:` for cp311/manylinux.
   The official `kubernetes` client is left out (NOT_IN_IMAGE): it is the tests' client, the manager never
   imports it (kube is its own), and with its own dependencies it would triple this layer; the
   build's smoke test fails if the manager needs it. Key: the base layer, the pinned versions, the platform;
3. **app**: the project wheel (built from the work tree as the Dockerfile's `COPY` lines do, with `pip wheel
   --no-deps`) and its console script `/usr/local/bin/ack-kruise`. Key: the deps layer and the hash of the
   wheel's contents (names and bytes, not its zip timestamps).

Bytecode (optional, on by default) is compiled inside the root filesystem by its own python3 with
`--invalidation-mode unchecked-hash` and PYTHONHASHSEED=0: the files carry no timestamps, do not depend on
the tar's fixed mtimes, and Python never recompiles at start-up (the chart's root filesystem is read-only).
Before the app layer is packed, a smoke test runs in a chroot as user 65534 (the chart's): it imports every
controller and the webhook server, loads the runtime schema and runs `ack-kruise manager --help`.

Reproducible: layers are packed by `images.add_tree` (sorted entries, mtime 0, numeric owners, gzip without
timestamp or name), configs are canonical JSON with a fixed creation date. Same inputs, same digests. Not
bit-for-bit across time: debootstrap takes the mirror's current bookworm packages (point releases and
security updates change them); the package versions are recorded in the build manifest, and `--refresh`
rebuilds the base (the cache otherwise keeps the first one).

The archive names the image `localhost:5000/<repository>:<appVersion>`: the chart's default
`manager.image.repository` in the sandbox's registry, tagged with the chart's appVersion. `load` imports it
into a running sandbox's containerd and pushes it to that registry.
"""
from __future__ import annotations

import argparse
import contextlib
import email.parser
import fcntl
import hashlib
import importlib.metadata
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sandbox import images, tools
from sandbox.cluster import Sandbox
from sandbox.images import Layer, LayerWriter
from sandbox.realnode import NodePaths, RealNodeError, ctr, unmount_below

CHART = tools.REPO_ROOT / "charts" / "ack-kruise"
DEBIAN_SUITE = "bookworm"
DEBIAN_VARIANT = "minbase"
DEBIAN_PACKAGES = ("python3",)
"""On top of minbase. No ca-certificates: in a cluster the manager trusts the ServiceAccount's CA only."""
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PYTHON = "python3.11"
SITE = f"usr/local/lib/{PYTHON}/dist-packages"  # on Debian python3's sys.path
PLATFORMS = tuple(f"manylinux_2_{minor}_x86_64" for minor in range(36, 4, -1)) + (
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64")
"""Wheels bookworm's glibc 2.36 on x86_64 can load."""
NOT_IN_IMAGE = {
    "kubernetes": "the official client: the tests use it; the manager has its own (kube)",
}
SOURCES = ("pyproject.toml", "README.md", "ack_kruise", "apischema", "controllers", "daemon", "generator", "kube", "release",
           "sandbox")
"""What the wheel is built from: the Dockerfile's COPY lines."""
MOUNT_POINTS = ("dev", "proc", "sys", "run", "tmp")
"""Kept as empty folders: the runtime mounts them."""
USER = "65534:65534"
SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01, the earliest time a zip (the wheel) can hold
ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
       "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"]


class ImageBuildError(Exception):
    """The build failed; the message says at which step and why."""


def _log(msg: str) -> None:
    print(f"image: {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    return tools.cache_dir() / "manager-image"


def _sha(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _recipe(*functions) -> str:
    """A stage's recipe for its cache key: the source of the functions that make it."""
    return _sha(*(inspect.getsource(f) for f in functions))


def _run(argv: list[str], what: str, env: dict | None = None, timeout: float = 900, cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                              env={**os.environ, **(env or {})})
    except FileNotFoundError:
        raise tools.MissingTool(f"{argv[0]} is not installed (needed to {what}); run `apt-get install -y "
                                f"{'debootstrap' if 'debootstrap' in argv[0] else argv[0]}`") from None
    except subprocess.TimeoutExpired:
        raise ImageBuildError(f"{what}: `{' '.join(argv[:3])} ...` did not finish within {timeout:.0f}s") from None
    if proc.returncode != 0:
        out = (proc.stderr.strip() or proc.stdout.strip())[-3000:]
        raise ImageBuildError(f"{what} failed ({proc.returncode}):\n{out}")
    return proc.stdout


# ---- what the image is called ------------------------------------------------------------------------
def chart_image() -> tuple[str, str]:
    """The chart's default `manager.image.repository` and its appVersion (the default tag)."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return values["manager"]["image"]["repository"], str(chart["appVersion"])


def image_names(version: str | None = None) -> list[str]:
    """One name: the chart's default repository in the sandbox's registry. (No `docker.io/...` alias: the CRI
    reports an image by its first name, so pods pulled from localhost:5000 would show the other.)"""
    repository, app_version = chart_image()
    return [f"{images.LOCAL_REGISTRY}/{repository}:{version or app_version}"]


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 or one-line sources)."""
    for path in [Path("/etc/apt/sources.list.d/debian.sources"), *sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))]:
        if not path.exists():
            continue
        for stanza in path.read_text().split("\n\n"):
            fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.+)$", stanza, re.M))
            if DEBIAN_SUITE in fields.get("Suites", "").split() and "main" in fields.get("Components", "").split():
                return fields["URIs"].split()[0]
    sources = Path("/etc/apt/sources.list")
    if sources.exists():
        for line in sources.read_text().splitlines():
            m = re.match(rf"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+{DEBIAN_SUITE}\s+.*\bmain\b", line)
            if m:
                return m.group(1)
    return DEFAULT_MIRROR


# ---- the dependency versions --------------------------------------------------------------------------
def _canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_dependencies(requires: list[str]) -> list[str]:
    """`name==version` for the runtime closure of `requires` (the wheel's Requires-Dist), at the versions
    installed in this virtualenv, minus NOT_IN_IMAGE and what only they need."""
    from packaging.requirements import Requirement  # pip's vendored copy is not public; packaging is in the venv

    pins: dict[str, str] = {}

    def walk(spec: str) -> None:
        req = Requirement(spec)
        if req.marker and not req.marker.evaluate({"extra": "", "python_version": "3.11",
                                                   "platform_system": "Linux", "sys_platform": "linux",
                                                   "platform_machine": "x86_64", "implementation_name": "cpython",
                                                   "platform_python_implementation": "CPython"}):
            return
        key = _canonical_name(req.name)
        if key in pins or key in NOT_IN_IMAGE:
            return
        try:
            dist = importlib.metadata.distribution(req.name)
        except importlib.metadata.PackageNotFoundError:
            raise ImageBuildError(f"{req.name} (required by the project) is not installed in {sys.prefix}; "
                                  "run `make setup`") from None
        if req.specifier and not req.specifier.contains(dist.version, prereleases=True):
            raise ImageBuildError(f"{req.name} {dist.version} in {sys.prefix} does not satisfy {spec}; run `make setup`")
        pins[key] = dist.version
        for sub in dist.requires or []:
            walk(sub)

    for spec in requires:
        walk(spec)
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


# ---- the project wheel --------------------------------------------------------------------------------
@dataclass
class Wheel:
    path: Path
    content_hash: str
    requires: list[str]
    top_level: list[str]
    scripts: dict[str, str]


def build_wheel(out_dir: Path) -> Wheel:
    """The project wheel from the work tree (tracked and untracked-but-not-ignored files of SOURCES, so a
    stale build/ folder or __pycache__ never leaks in), with `pip wheel --no-deps`."""
    listed = _run(["git", "-C", str(tools.REPO_ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                   "--", *SOURCES], "list the project's files").split("\0")
    with tempfile.TemporaryDirectory(prefix="ack-kruise-wheel-") as tmp:
        src = Path(tmp) / "src"
        for rel in sorted(f for f in listed if f):
            source = tools.REPO_ROOT / rel
            if source.is_file():  # listed but deleted in the work tree: skip
                (src / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, src / rel)
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
              str(src), "-w", str(out_dir)], "build the project wheel (pip wheel --no-deps)",
             env={"SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH})
    built = sorted(out_dir.glob("*.whl"))
    if len(built) != 1:
        raise ImageBuildError(f"pip wheel made {len(built)} wheels in {out_dir}, expected one")
    h = hashlib.sha256()
    with zipfile.ZipFile(built[0]) as z:
        names = sorted(z.namelist())
        for name in names:
            h.update(name.encode() + b"\0" + hashlib.sha256(z.read(name)).digest())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(z.read(f"{dist_info}/METADATA").decode())
        entry_points = z.read(f"{dist_info}/entry_points.txt").decode() if f"{dist_info}/entry_points.txt" in names else ""
    scripts, section = {}, ""
    for line in entry_points.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and section == "console_scripts":
            name, target = (x.strip() for x in line.split("=", 1))
            scripts[name] = target
    top = sorted({n.split("/")[0] for n in names})
    return Wheel(built[0], h.hexdigest(), metadata.get_all("Requires-Dist") or [], top, scripts)


# ---- the root filesystem ------------------------------------------------------------------------------
@contextlib.contextmanager
def _workspace():
    work = Path(tempfile.mkdtemp(prefix="work-", dir=cache_dir()))
    try:
        yield work
    finally:
        unmount_below(work)  # debootstrap mounts proc and sys inside; a failure may leave them
        shutil.rmtree(work, ignore_errors=True)


def _chroot(root: Path, *argv: str, what: str, user: str | None = None) -> str:
    env = {"PYTHONHASHSEED": "0", "LC_ALL": "C.UTF-8", "PATH": "/usr/local/bin:/usr/bin:/bin",
           "PYTHONDONTWRITEBYTECODE": "1", "HOME": "/"}
    cmd = [shutil.which("chroot") or "/usr/sbin/chroot", *([f"--userspec={user}"] if user else []), str(root), *argv]
    return _run(["env", "-i", *[f"{k}={v}" for k, v in env.items()], *cmd], what)


def _debootstrap(root: Path, mirror: str) -> None:
    debs = cache_dir() / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    _run([shutil.which("debootstrap") or "debootstrap", f"--variant={DEBIAN_VARIANT}",
          f"--include={','.join(DEBIAN_PACKAGES)}", "--components=main", f"--cache-dir={debs}",
          DEBIAN_SUITE, str(root), mirror], f"debootstrap {DEBIAN_SUITE} from {mirror}",
         env={"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C", "PYTHONHASHSEED": "0",
              "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}, timeout=1800)


def _trim(root: Path) -> None:
    """No docs (but each package's copyright), man or info pages, locales, apt lists or caches, logs, backup
    files, or what debootstrap copied from the build host."""
    def rm(path: Path) -> None:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()

    doc = root / "usr/share/doc"
    for pkg in sorted(doc.iterdir()) if doc.is_dir() else []:
        for item in sorted(pkg.iterdir()) if pkg.is_dir() and not pkg.is_symlink() else []:
            if item.name != "copyright":
                rm(item)
    for sub in ("usr/share/man", "usr/share/info", "usr/share/lintian", "usr/share/linda", "usr/share/bug",
                "usr/share/doc-base", "usr/share/locale"):
        for child in sorted((root / sub).glob("*")) if (root / sub).is_dir() else []:
            if child.name != "locale.alias":
                rm(child)
    for sub in ("var/lib/apt/lists", "var/cache/apt", "var/log", "var/cache/ldconfig", "var/cache/man"):
        base = root / sub
        for child in sorted(base.rglob("*"), reverse=True) if base.is_dir() else []:
            if not child.is_dir() or child.is_symlink():
                child.unlink()
    for pattern in ("var/lib/apt/lists/partial", "var/cache/apt/archives/partial"):
        (root / pattern).mkdir(parents=True, exist_ok=True)
    for pattern in ("etc/*-", "var/lib/dpkg/*-old", "var/cache/debconf/*-old"):
        for path in root.glob(pattern):
            rm(path)
    for mount_point in MOUNT_POINTS:
        target = root / mount_point
        for child in sorted(target.iterdir()) if target.is_dir() else []:
            rm(child)
    # The runtime bind-mounts these; debootstrap copied the build host's.
    for name in ("etc/hostname", "etc/resolv.conf", "etc/hosts"):
        rm(root / name)
        (root / name).write_text("")
    # Days since 1970 at build time ("last password change"): empty, as for an account never changed.
    shadow = root / "etc/shadow"
    if shadow.exists():
        lines = [line.split(":") for line in shadow.read_text().splitlines()]
        shadow.write_text("".join(":".join(f[:2] + [""] + f[3:]) + "\n" for f in lines))


def _compile(root: Path, *folders: str) -> None:
    """Bytecode for every .py under `folders` (paths inside the root filesystem), by the image's python3, on
    every core (its process pool needs /dev/shm: a tmpfs for the while)."""
    shm = root / "dev" / "shm"
    shm.mkdir(parents=True, exist_ok=True)
    _run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(shm)], "mount a tmpfs for compileall")
    try:
        _chroot(root, "python3", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                "-x", r"/(lib2to3/tests|test|tests)/", *[f"/{f}" for f in folders], what="compile bytecode")
    finally:
        subprocess.run(["umount", str(shm)], capture_output=True)
        shm.rmdir()


def _remove_bytecode(root: Path, *folders: str) -> None:
    for folder in folders:
        for cache in sorted((root / folder).rglob("__pycache__"), reverse=True):
            shutil.rmtree(cache)


def _packages(root: Path) -> list[str]:
    out = _chroot(root, "dpkg-query", "-W", "-f", "${Package}=${Version}\n", what="list the Debian packages")
    return sorted(out.split())


# ---- layers ---------------------------------------------------------------------------------------------
@dataclass
class Stage:
    name: str
    key: str
    layer: Layer | None = None
    unpacked: int = 0
    cached: bool = False
    seconds: float = 0.0
    details: dict = field(default_factory=dict)

    def meta_path(self) -> Path:
        return cache_dir() / "layers" / f"{self.name}-{self.key[:20]}.json"

    def blob_path(self) -> Path:
        return cache_dir() / "layers" / f"{self.name}-{self.key[:20]}.tar.gz"

    def load(self) -> bool:
        meta, blob = self.meta_path(), self.blob_path()
        if not (meta.exists() and blob.exists()):
            return False
        data = json.loads(meta.read_text())
        if data.get("key") != self.key:
            return False
        self.layer, self.unpacked, self.details, self.cached = Layer.from_dict(data["layer"]), data["unpacked"], \
            data.get("details", {}), True
        return True

    def pack(self, root: Path, paths: list[str] | None, empty_dirs: tuple[str, ...] = ()) -> None:
        with LayerWriter(self.blob_path()) as writer:
            images.add_tree(writer.tar, root, paths, empty_dirs=empty_dirs)
        self.layer, self.unpacked = writer.layer, writer.uncompressed_size
        self.meta_path().write_text(json.dumps({"key": self.key, "layer": self.layer.to_dict(),
                                                "unpacked": self.unpacked, "details": self.details}, indent=2))


def _extract(root: Path, *layers: Layer) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for layer in layers:
        _run(["tar", "-xzpf", str(layer.path), "--numeric-owner", "-C", str(root)], f"unpack layer {layer.digest[:19]}")


@dataclass
class BuildResult:
    archive: Path
    names: list[str]
    manifest_digest: str
    stages: list[Stage]
    seconds: float
    cached: bool
    compressed_size: int
    unpacked_size: int
    manifest_path: Path

    def summary(self) -> str:
        lines = [f"{self.archive} ({self.archive.stat().st_size / 1e6:.1f} MB archive; image "
                 f"{self.compressed_size / 1e6:.1f} MB compressed, {self.unpacked_size / 1e6:.1f} MB unpacked) "
                 f"in {self.seconds:.1f}s" + (" (cached)" if self.cached else "")]
        for s in self.stages:
            lines.append(f"  layer {s.name:<5} {s.layer.size / 1e6:6.1f} MB gz {s.unpacked / 1e6:6.1f} MB "
                         f"{s.layer.digest[:19]}  " + ("cached" if s.cached else f"built in {s.seconds:.1f}s"))
        lines.append(f"  manifest {self.manifest_digest}")
        lines += [f"  {name}" for name in self.names]
        return "\n".join(lines)


def build(*, bytecode: bool = True, refresh: bool = False, force: bool = False,
          rebuild: tuple[str, ...] = (), version: str | None = None) -> BuildResult:
    """Builds (or finds in the cache) the kruise-manager image archive.

    refresh: debootstrap again even if a base layer for the same package list is cached (newer Debian
    packages); force: rebuild every layer; rebuild: the layers ("deps", "app") to rebuild even if cached;
    version: the image's version (label and tag) instead of the chart's appVersion (`make release`)."""
    t0 = time.monotonic()
    root_cache = cache_dir()
    root_cache.mkdir(parents=True, exist_ok=True)
    with open(root_cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(t0, bytecode=bytecode, refresh=refresh, force=force, rebuild=rebuild, version=version)


def _build(t0: float, *, bytecode: bool, refresh: bool, force: bool, rebuild: tuple[str, ...],
           version: str | None = None) -> BuildResult:
    wheel = build_wheel(cache_dir() / "wheel")
    pins = pinned_dependencies(wheel.requires)
    mode = "bytecode" if bytecode else "source-only"

    base = Stage("base", _sha("base", DEBIAN_SUITE, DEBIAN_VARIANT, DEBIAN_PACKAGES, mode,
                              _recipe(_debootstrap, _trim, _compile, _remove_bytecode, images.add_tree)))
    with _workspace() as work:
        root = work / "rootfs"
        have_root = False
        # ---- base ----
        if force or refresh or not base.load():
            t = time.monotonic()
            mirror = debian_mirror()
            _log(f"debootstrap --variant={DEBIAN_VARIANT} {DEBIAN_SUITE} from {mirror} (cached .debs in "
                 f"{cache_dir() / 'debs'})")
            _debootstrap(root, mirror)
            _trim(root)
            _remove_bytecode(root, f"usr/lib/{PYTHON}", "usr/lib/python3")
            if bytecode:
                _compile(root, f"usr/lib/{PYTHON}", "usr/lib/python3")
            base.details = {"mirror": mirror, "debian_packages": _packages(root),
                            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            base.pack(root, None, empty_dirs=MOUNT_POINTS)
            base.seconds = time.monotonic() - t
            have_root = True
        # ---- deps ----
        deps = Stage("deps", _sha("deps", base.layer.digest, pins, PLATFORMS, mode,
                                  _recipe(_install_dependencies, _compile)))
        if force or "deps" in rebuild or not deps.load():
            t = time.monotonic()
            if not have_root:
                _extract(root, base.layer)
                have_root = True
            deps.details = {"wheels": _install_dependencies(root, pins)}
            if bytecode:
                _compile(root, SITE)
            deps.pack(root, [SITE])
            deps.seconds = time.monotonic() - t
        # ---- app ----
        app = Stage("app", _sha("app", deps.layer.digest, wheel.content_hash, mode,
                                _recipe(_install_project, _compile, _smoke_test)))
        if force or "app" in rebuild or not app.load():
            t = time.monotonic()
            if not have_root:
                _extract(root, base.layer, deps.layer)
            elif deps.cached:
                _extract(root, deps.layer)
            paths = _install_project(root, wheel)
            if bytecode:
                _compile(root, *[p for p in paths if p.startswith(SITE)])
            _smoke_test(root)
            app.details = {"wheel": wheel.path.name, "wheel_content_sha256": wheel.content_hash}
            app.pack(root, paths)
            app.seconds = time.monotonic() - t
    return _archive([base, deps, app], t0, bytecode, version)


def _install_dependencies(root: Path, pins: list[str]) -> list[dict]:
    """Wheels of `pins` for cp311 on manylinux x86_64 (whatever python runs pip), cached in wheels/, installed
    into the image's dist-packages without their console scripts (they would carry this machine's python)."""
    wheels = cache_dir() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    target = ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
              *[a for p in PLATFORMS for a in ("--platform", p)]]
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as req:
        req.write("\n".join(pins) + "\n")
        req.flush()
        have = {_canonical_name(w.name.split("-")[0]) + "==" + w.name.split("-")[1] for w in wheels.glob("*.whl")}
        if not set(_canonical_name(p.split("==")[0]) + "==" + p.split("==")[1] for p in pins) <= have:
            _log(f"downloading {len(pins)} wheels into {wheels}")
            _run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
                  *target, "-r", req.name, "-d", str(wheels)], "download the dependencies' wheels (pip download)")
        site = root / SITE
        with tempfile.TemporaryDirectory(prefix="deps-", dir=cache_dir()) as staging:
            _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--no-compile",
                  "--disable-pip-version-check", "-q", "--find-links", str(wheels), *target,
                  "--target", staging, "-r", req.name], "install the dependencies (pip install --target)")
            _without_scripts(Path(staging))
            site.mkdir(parents=True, exist_ok=True)
            for item in sorted(Path(staging).iterdir()):
                shutil.move(str(item), site / item.name)
    _normalise_permissions(site)
    used = []
    for pin in pins:
        name, version = pin.split("==")
        match = [w for w in wheels.glob("*.whl") if _canonical_name(w.name.split("-")[0]) == name
                 and w.name.split("-")[1] == version]
        for w in sorted(match)[:1]:
            used.append({"wheel": w.name, "sha256": hashlib.sha256(w.read_bytes()).hexdigest()})
    return used


def _without_scripts(staging: Path) -> None:
    """Drops the console scripts pip wrote next to a `--target` install, and their lines in each RECORD: their
    shebang names the python that ran pip, so the RECORD's hashes of them would make the layer depend on the
    build machine's interpreter path (two builds from two checkouts gave two digests)."""
    shutil.rmtree(staging / "bin", ignore_errors=True)
    for record in sorted(staging.glob("*.dist-info/RECORD")):
        lines = record.read_text().splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith("../")]
        if kept != lines:
            record.write_text("".join(kept))


def _normalise_permissions(folder: Path) -> None:
    """What pip unpacked follows this process's umask: make it u=rwX,go=rX, as a package manager would."""
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode & 0o7777
        wanted = 0o755 if path.is_dir() or mode & 0o111 else 0o644
        if mode != wanted:
            path.chmod(wanted)


def _install_project(root: Path, wheel: Wheel) -> list[str]:
    """The wheel into the image's dist-packages (by name from a find-links folder: no direct_url.json with
    this machine's path) and its console scripts as /usr/local/bin launchers. Returns the paths it added."""
    site = root / SITE
    name, version = wheel.path.name.split("-")[:2]
    with tempfile.TemporaryDirectory(prefix="app-", dir=cache_dir()) as staging:
        _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--no-compile",
              "--disable-pip-version-check", "-q", "--find-links", str(wheel.path.parent),
              "--target", staging, f"{name}=={version}"], "install the project wheel (pip install --target)")
        _without_scripts(Path(staging))
        added = []
        for item in sorted(Path(staging).iterdir()):
            dest = site / item.name
            if dest.exists():
                shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
            shutil.move(str(item), dest)
            added.append(f"{SITE}/{item.name}")
    _normalise_permissions(site)
    for script, target in sorted(wheel.scripts.items()):
        module, _, func = target.partition(":")
        launcher = root / "usr/local/bin" / script
        launcher.parent.mkdir(parents=True, exist_ok=True)
        launcher.write_text(f"#!/usr/bin/python3\nimport sys\nfrom {module} import {func}\n"
                            f"sys.exit({func}())\n")
        launcher.chmod(0o755)
        added.append(f"usr/local/bin/{script}")
    return added


def _smoke_test(root: Path) -> None:
    """In the image's root filesystem, as the chart's user: every controller module and the webhook server
    import, the runtime schema loads, the CLI answers; and nothing left out of the image was needed."""
    code = ("import importlib, sys\n"
            "from controllers import manager, schema\n"
            "from controllers.runtime import run_kopf\n"
            "import controllers.webhook.server, controllers.webhook.pods, controllers.webhook.conversion\n"
            "schema.default_schema()\n"
            "for name in manager.Manager(manager.ManagerSettings())._controller_modules():\n"
            "    importlib.import_module(name)\n"
            f"left_out = sorted(set(sys.modules) & set({sorted(NOT_IN_IMAGE)!r}))\n"
            "assert not left_out, f'the manager imported {left_out}, which the image leaves out'\n")
    _chroot(root, "python3", "-c", code, what="smoke test (import the manager)", user=USER)
    out = _chroot(root, "ack-kruise", "manager", "--help", what="smoke test (ack-kruise manager --help)", user=USER)
    if "--webhook-port" not in out:
        raise ImageBuildError(f"`ack-kruise manager --help` in the image printed no --webhook-port:\n{out}")


def _archive(stages: list[Stage], t0: float, bytecode: bool, version: str | None = None) -> BuildResult:
    repository, app_version = chart_image()
    version = version or app_version
    names = image_names(version)
    config = {
        "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
        "config": {
            "User": USER, "Env": ENV, "Entrypoint": ["ack-kruise"], "Cmd": ["manager"], "WorkingDir": "/",
            "ExposedPorts": {"9876/tcp": {}, "8000/tcp": {}, "8080/tcp": {}},
            "Labels": {"org.opencontainers.image.title": "kruise-manager",
                       "org.opencontainers.image.version": version,
                       "org.opencontainers.image.description": "ack-kruise manager (OpenKruise workloads in Python)",
                       "org.opencontainers.image.licenses": "Apache-2.0",
                       "org.opencontainers.image.base.name": f"debian:{DEBIAN_SUITE} (debootstrap {DEBIAN_VARIANT})"},
        },
        "rootfs": {"type": "layers", "diff_ids": [s.layer.diff_id for s in stages]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": f"ack-kruise image ({s.name})",
                     "comment": {"base": f"debootstrap --variant={DEBIAN_VARIANT} --include={','.join(DEBIAN_PACKAGES)} "
                                         f"{DEBIAN_SUITE}",
                                 "deps": "runtime dependencies (pip install --target)",
                                 "app": "the ack-kruise wheel"}[s.name]} for s in stages],
    }
    blobs: dict[str, bytes | Path] = {}
    small: dict[str, bytes] = {}
    manifest_digest, manifest_size = images.image_manifest(small, config, [
        {"mediaType": s.layer.media_type, "digest": s.layer.digest, "size": s.layer.size} for s in stages])
    blobs.update(small)
    for s in stages:
        blobs[s.layer.digest] = s.layer.path
    out = cache_dir() / f"kruise-manager-{version}.oci.tar"
    key = _sha(manifest_digest, names)
    stamp = cache_dir() / f"kruise-manager-{version}.inputs"
    cached = all(s.cached for s in stages) and out.exists() and stamp.exists() and stamp.read_text() == key
    if not cached:
        images.write_oci_archive(out, [images.index_entry(manifest_digest, manifest_size, n) for n in names], blobs)
        stamp.write_text(key)
    manifest_path = cache_dir() / f"kruise-manager-{version}.json"
    result = BuildResult(out, names, manifest_digest, stages, time.monotonic() - t0, cached,
                         sum(s.layer.size for s in stages), sum(s.unpacked for s in stages), manifest_path)
    manifest_path.write_text(json.dumps({
        "names": names, "manifest": manifest_digest, "bytecode": bytecode,
        "compressed_bytes": result.compressed_size, "unpacked_bytes": result.unpacked_size,
        "layers": {s.name: {"digest": s.layer.digest, "diff_id": s.layer.diff_id, "size": s.layer.size,
                            "unpacked": s.unpacked, **s.details} for s in stages},
    }, indent=2))
    return result


# ---- into a sandbox ---------------------------------------------------------------------------------------
def load(state_dir: Path | None, archive: Path) -> list[str]:
    """Imports the archive into a running sandbox's containerd and pushes the localhost:5000 name to its
    registry (which lives as long as the sandbox: do this after every `sandbox up`). Returns the pushed names."""
    box = Sandbox(state_dir)
    state = box.state()
    if state is None or not box.is_running():
        raise ImageBuildError(f"no sandbox runs in {box.state_dir}; start it with `ack-kruise sandbox up`")
    if not state.options.get("real_node", True):
        raise ImageBuildError(f"the sandbox in {box.state_dir} has no real node (--no-real-node): nothing can "
                              "run the image")
    paths = NodePaths(box.state_dir / "node")
    ctr(paths, "images", "import", str(archive))
    pushed = [n for n in image_names() if n.startswith(images.LOCAL_REGISTRY + "/")]
    for name in pushed:
        ctr(paths, "images", "push", "--plain-http", name)
    return pushed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="the sandbox to load the image into (default: as `ack-kruise sandbox`)")
    parser.add_argument("--no-bytecode", action="store_true", help="leave out .pyc files (smaller, slower start)")
    parser.add_argument("--refresh", action="store_true",
                        help="debootstrap again (newer Debian packages) instead of reusing the cached base layer")
    parser.add_argument("--force", action="store_true", help="rebuild every layer")
    parser.add_argument("--no-load", action="store_true",
                        help="only build; by default a running sandbox (--state-dir) gets the image too")


def run(args: argparse.Namespace) -> int:
    try:
        return _build_and_load(args, args.state_dir)
    except (ImageBuildError, tools.MissingTool, RealNodeError) as e:
        print(f"image: {e}", file=sys.stderr)
        return 1


def _build_and_load(args: argparse.Namespace, state_dir: Path | None) -> int:
    result = build(bytecode=not args.no_bytecode, refresh=args.refresh, force=args.force)
    print(result.summary())
    if not args.no_load:
        box = Sandbox(state_dir)
        if box.is_running() and (box.state().options or {}).get("real_node", True):
            t = time.monotonic()
            for name in load(state_dir, result.archive):
                print(f"pushed {name} to the sandbox's registry ({time.monotonic() - t:.1f}s)")
        else:
            print(f"no sandbox with a real node runs in {box.state_dir}: not loaded "
                  "(`ack-kruise sandbox up`, then run this again)")
    return 0
