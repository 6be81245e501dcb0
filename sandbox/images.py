"""The sandbox's container images, built without Docker: one root filesystem (Debian's static busybox
plus `testapp`, a tiny static HTTP server that is a good PID 1), packed as an OCI image layout archive.

Every image shares the one layer and differs only in its config (environment), so the archive stays small
(about 3 MB) and every image still has its own digest, hence its own imageID in a pod's status. The build
is reproducible: fixed timestamps and owners, sorted entries, so the same inputs give the same digests.

The archive is imported into the real node's containerd and pushed to the local registry at `sandbox up`.

The packing helpers (`tar_add`, `add_tree`, `LayerWriter`, `image_manifest`, `write_oci_archive`) are shared
with the kruise-manager image (`release/image.py`), whose layers are whole directory trees.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable

from . import tools

SOURCE = Path(__file__).parent / "testapp" / "testapp.c"
BUSYBOX = Path("/bin/busybox")
LOCAL_REGISTRY = "localhost:5000"
SEED_GUESTBOOK = "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook"


@dataclass(frozen=True)
class ImageSpec:
    names: tuple[str, ...]
    """Every reference the image answers to; the first is its main name."""
    env: dict[str, str] = field(default_factory=dict)
    description: str = ""


def _local(name: str) -> str:
    return f"{LOCAL_REGISTRY}/{name}"


IMAGES: tuple[ImageSpec, ...] = (
    ImageSpec((f"{SEED_GUESTBOOK}:v1", _local("kruise-test/guestbook:v1"),
               # Same image under another tag: a new tag with an unchanged digest (OpenKruise issue #1493).
               f"{SEED_GUESTBOOK}:v1-retag", _local("kruise-test/guestbook:v1-retag")),
              {"MESSAGE": "guestbook v1"}, "the seed document's image, version 1"),
    ImageSpec((f"{SEED_GUESTBOOK}:v2", _local("kruise-test/guestbook:v2")),
              {"MESSAGE": "guestbook v2"}, "the seed document's image, version 2"),
    ImageSpec((_local("ack-kruise/testapp:v1"),), {"MESSAGE": "testapp v1"}, "test app"),
    ImageSpec((_local("ack-kruise/testapp:v2"),), {"MESSAGE": "testapp v2"}, "test app, next version"),
    ImageSpec((_local("ack-kruise/testapp:v3"),), {"MESSAGE": "testapp v3"}, "test app, third version"),
    ImageSpec((_local("ack-kruise/never-ready:v1"),), {"MESSAGE": "never ready", "READY": "never"},
              "answers 503 on /healthz: with a readinessProbe it never becomes ready"),
    ImageSpec((_local("ack-kruise/pause:1"),), {"SLEEP_ONLY": "1"}, "the pod sandbox (pause) image"),
)
PAUSE_IMAGE = _local("ack-kruise/pause:1")
ENTRYPOINT = ["/testapp"]
EPOCH = 0


def images_dir() -> Path:
    return tools.cache_dir() / "images"


def archive_path() -> Path:
    return images_dir() / "sandbox-images.oci.tar"


def _inputs_digest() -> str:
    h = hashlib.sha256()
    h.update(SOURCE.read_bytes())
    h.update(BUSYBOX.read_bytes() if BUSYBOX.exists() else b"")
    h.update(json.dumps([(i.names, i.env) for i in IMAGES]).encode())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:16]


def _compile_testapp(out: Path) -> None:
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc:
        raise tools.MissingTool("gcc is not installed; run `make setup`")
    proc = subprocess.run([cc, "-static", "-O2", "-s", "-o", str(out), str(SOURCE)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"compiling {SOURCE} failed:\n{proc.stderr}")


def tar_add(tar: tarfile.TarFile, name: str, *, data: bytes | None = None, mode: int = 0o644,
            kind: bytes = tarfile.REGTYPE, target: str = "", uid: int = 0, gid: int = 0,
            fileobj: BinaryIO | None = None, size: int = 0) -> None:
    """One reproducible tar entry: fixed mtime, numeric owner only (no user or group names)."""
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = EPOCH, uid, gid, "", ""
    info.type, info.mode = kind, mode
    if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        info.linkname = target
    if data is not None:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    elif fileobj is not None:
        info.size = size
        tar.addfile(info, fileobj)
    else:
        tar.addfile(info)


def add_tree(tar: tarfile.TarFile, root: Path, paths: Iterable[str] | None = None,
             empty_dirs: Iterable[str] = ()) -> int:
    """Adds the directory tree under `root` (or only `paths`, relative to it, with their parent folders and
    everything below them) reproducibly: entries sorted by path, fixed mtime, numeric owners and modes as they
    are on disk, hard links as links to the first path in that order. `empty_dirs` are added without their
    contents (mount points such as proc or tmp). Device nodes, FIFOs and sockets are left out: a runtime makes
    its own. Returns the bytes of file data added."""
    root = Path(root)
    empty = {d.strip("/") for d in empty_dirs}
    wanted: set[str] = set()
    if paths is None:
        wanted.add("")
    else:
        for p in paths:
            p = p.strip("/")
            wanted.add(p)
    selected: list[str] = []
    parents: set[str] = set()
    for start in sorted(wanted):
        for part in Path(start).parents if start else ():
            if str(part) != ".":
                parents.add(str(part))
        full = root / start
        if not full.is_dir() or full.is_symlink():
            if os.path.lexists(full):
                selected.append(start)
            continue
        if start:
            selected.append(start)
        for dirpath, dirnames, filenames in os.walk(full):
            rel = os.path.relpath(dirpath, root)
            rel = "" if rel == "." else rel
            if rel in empty:
                dirnames[:] = []
                continue
            for name in dirnames + filenames:
                selected.append(f"{rel}/{name}" if rel else name)
    entries = sorted(set(selected) | parents - {""})
    links: dict[tuple[int, int], str] = {}
    data_bytes = 0
    for rel in entries:
        full = root / rel
        st = full.lstat()
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            tar_add(tar, rel, kind=tarfile.DIRTYPE, mode=mode, uid=st.st_uid, gid=st.st_gid)
        elif stat.S_ISLNK(st.st_mode):
            tar_add(tar, rel, kind=tarfile.SYMTYPE, target=os.readlink(full), mode=mode, uid=st.st_uid,
                    gid=st.st_gid)
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in links:
                tar_add(tar, rel, kind=tarfile.LNKTYPE, target=links[key], mode=mode, uid=st.st_uid, gid=st.st_gid)
                continue
            links[key] = rel
            with open(full, "rb") as f:
                tar_add(tar, rel, fileobj=f, size=st.st_size, mode=mode, uid=st.st_uid, gid=st.st_gid)
            data_bytes += st.st_size
    return data_bytes


class _Hashing(io.RawIOBase):
    """A write-only stream that hashes and counts what passes through to `sink` (or nowhere)."""

    def __init__(self, sink: BinaryIO | None = None):
        self.sink, self.sha, self.size = sink, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def write(self, b) -> int:  # type: ignore[override]
        self.sha.update(b)
        self.size += len(b)
        if self.sink is not None:
            self.sink.write(b)
        return len(b)


@dataclass(frozen=True)
class Layer:
    """A finished layer blob: `digest`/`size` of the blob as stored (compressed or not), `diff_id` of the
    uncompressed tar (what the image config lists), `path` of the blob file."""
    path: Path
    digest: str
    size: int
    diff_id: str
    media_type: str

    def to_dict(self) -> dict:
        return {"path": str(self.path), "digest": self.digest, "size": self.size, "diff_id": self.diff_id,
                "media_type": self.media_type}

    @classmethod
    def from_dict(cls, d: dict) -> "Layer":
        return cls(Path(d["path"]), d["digest"], d["size"], d["diff_id"], d["media_type"])


class LayerWriter:
    """Writes a layer tar straight into a gzip blob file (mtime 0, no file name: reproducible), computing the
    blob digest and the uncompressed diff_id in the same pass. Use as a context manager around `tar`."""

    def __init__(self, out: Path, compresslevel: int = 6):
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.out.with_name(self.out.name + ".tmp")
        self._file = open(self._tmp, "wb")
        self._blob = _Hashing(self._file)
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._blob, compresslevel=compresslevel, mtime=0)
        self._diff = _Hashing(self._gzip)
        self.tar = tarfile.open(fileobj=self._diff, mode="w", format=tarfile.PAX_FORMAT)
        self.layer: Layer | None = None

    def __enter__(self) -> "LayerWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._file.close()
            self._tmp.unlink(missing_ok=True)
            return
        self.tar.close()
        self._gzip.close()
        self._file.close()
        self._tmp.replace(self.out)
        self.layer = Layer(self.out, "sha256:" + self._blob.sha.hexdigest(), self._blob.size,
                           "sha256:" + self._diff.sha.hexdigest(), "application/vnd.oci.image.layer.v1.tar+gzip")

    @property
    def uncompressed_size(self) -> int:
        return self._diff.size


def _root_filesystem_layer(testapp: bytes) -> bytes:
    """The one layer: /bin/busybox with its applets as symlinks, /testapp, and the usual empty folders."""
    if not BUSYBOX.exists():
        raise tools.MissingTool("/bin/busybox (Debian busybox-static) is not installed; run `make setup`")
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("bin", "dev", "etc", "proc", "sys", "tmp", "var", "var/log", "www"):
            tar_add(tar, d, kind=tarfile.DIRTYPE, mode=0o1777 if d == "tmp" else 0o755)
        tar_add(tar, "bin/busybox", data=BUSYBOX.read_bytes(), mode=0o755)
        for applet in sorted(set(applets) - {"busybox"}):
            tar_add(tar, f"bin/{applet}", kind=tarfile.SYMTYPE, target="busybox")
        tar_add(tar, "etc/passwd", data=b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        tar_add(tar, "etc/group", data=b"root:x:0:\nnogroup:x:65534:\n")
        tar_add(tar, "testapp", data=testapp, mode=0o755)
    return buf.getvalue()


def _blob(blobs: dict[str, bytes], data: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return digest, len(data)


def _canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def image_manifest(blobs: dict[str, bytes], config: dict, layers: list[dict]) -> tuple[str, int]:
    """Stores an image's config and manifest in `blobs`; `layers` are OCI descriptors (mediaType, digest,
    size). Returns the manifest's digest and size."""
    config_digest, config_size = _blob(blobs, _canonical(config))
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_size},
        "layers": layers,
    }
    return _blob(blobs, _canonical(manifest))


def index_entry(manifest_digest: str, manifest_size: int, name: str) -> dict:
    """An index.json entry naming an image: containerd imports it under `name` (fully qualified)."""
    return {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest, "size": manifest_size,
        "annotations": {"io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]},
    }


def write_oci_archive(out: Path, manifests: list[dict], blobs: dict[str, bytes | Path]) -> Path:
    """An OCI image layout as one tar (what `ctr images import` reads): oci-layout, index.json and the blobs in
    digest order; a blob is bytes or the path of a file holding it. Written atomically."""
    tmp = out.with_suffix(".tmp")
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar_add(tar, "oci-layout", data=_canonical({"imageLayoutVersion": "1.0.0"}))
        tar_add(tar, "index.json", data=_canonical({"schemaVersion": 2, "manifests": manifests}))
        tar_add(tar, "blobs", kind=tarfile.DIRTYPE, mode=0o755)
        tar_add(tar, "blobs/sha256", kind=tarfile.DIRTYPE, mode=0o755)
        for digest in sorted(blobs):
            name = f"blobs/sha256/{digest.split(':', 1)[1]}"
            blob = blobs[digest]
            if isinstance(blob, Path):
                with open(blob, "rb") as f:
                    tar_add(tar, name, fileobj=f, size=blob.stat().st_size)
            else:
                tar_add(tar, name, data=blob)
    tmp.replace(out)
    return out


def build(force: bool = False) -> Path:
    """Builds the archive unless an identical one is cached; returns its path."""
    out = archive_path()
    stamp = out.with_suffix(".inputs")
    key = _inputs_digest()
    if not force and out.exists() and stamp.exists() and stamp.read_text() == key:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    binary = out.parent / "testapp"
    _compile_testapp(binary)
    layer = _root_filesystem_layer(binary.read_bytes())
    blobs: dict[str, bytes] = {}
    layer_digest, layer_size = _blob(blobs, layer)
    manifests = []
    for spec in IMAGES:
        config = {
            "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
            "config": {"Entrypoint": ENTRYPOINT, "Env": [f"{k}={v}" for k, v in sorted(spec.env.items())]
                       + ["PATH=/bin"], "ExposedPorts": {"8080/tcp": {}}, "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "ack-kruise sandbox images",
                         "comment": spec.description}],
        }
        manifest_digest, manifest_size = image_manifest(blobs, config, [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}])
        manifests.extend(index_entry(manifest_digest, manifest_size, name) for name in spec.names)
    write_oci_archive(out, manifests, blobs)
    stamp.write_text(key)
    return out


def all_names() -> list[str]:
    return [n for spec in IMAGES for n in spec.names]


def pushed_names() -> list[str]:
    """The names that live in the local registry, for real pulls."""
    return [n for n in all_names() if n.startswith(LOCAL_REGISTRY + "/")]


def mirrored_registries() -> list[str]:
    """The other registries our image names use. The real node's containerd pulls them from the local
    registry (a mirror), where every such name is pushed under the same path: a pod with
    `imagePullPolicy: Always` (OpenKruise's default for the containers of a workload template) pulls the
    seed's registry.cn-hangzhou.aliyuncs.com images from there, offline."""
    return sorted({n.split("/", 1)[0] for n in all_names() if not n.startswith(LOCAL_REGISTRY + "/")})
