"""The sandbox's container images, built without Docker: one root filesystem (Debian's static busybox
plus `testapp`, a tiny static HTTP server that is a good PID 1), packed as an OCI image layout archive.

Every image shares the one layer and differs only in its config (environment), so the archive stays small
(about 3 MB) and every image still has its own digest, hence its own imageID in a pod's status. The build
is reproducible: fixed timestamps and owners, sorted entries, so the same inputs give the same digests.

The archive is imported into the real node's containerd and pushed to the local registry at `sandbox up`.
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

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
               f"{SEED_GUESTBOOK}:v1-retag"),
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


def _tar_add(tar: tarfile.TarFile, name: str, *, data: bytes | None = None, mode: int = 0o644,
             kind: bytes = tarfile.REGTYPE, target: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = EPOCH, 0, 0, "", ""
    info.type, info.mode = kind, mode
    if kind == tarfile.SYMTYPE:
        info.linkname = target
    if data is not None:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def _root_filesystem_layer(testapp: bytes) -> bytes:
    """The one layer: /bin/busybox with its applets as symlinks, /testapp, and the usual empty folders."""
    if not BUSYBOX.exists():
        raise tools.MissingTool("/bin/busybox (Debian busybox-static) is not installed; run `make setup`")
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("bin", "dev", "etc", "proc", "sys", "tmp", "var", "var/log", "www"):
            _tar_add(tar, d, kind=tarfile.DIRTYPE, mode=0o1777 if d == "tmp" else 0o755)
        _tar_add(tar, "bin/busybox", data=BUSYBOX.read_bytes(), mode=0o755)
        for applet in sorted(set(applets) - {"busybox"}):
            _tar_add(tar, f"bin/{applet}", kind=tarfile.SYMTYPE, target="busybox")
        _tar_add(tar, "etc/passwd", data=b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        _tar_add(tar, "etc/group", data=b"root:x:0:\nnogroup:x:65534:\n")
        _tar_add(tar, "testapp", data=testapp, mode=0o755)
    return buf.getvalue()


def _blob(blobs: dict[str, bytes], data: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return digest, len(data)


def _canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


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
        config_digest, config_size = _blob(blobs, _canonical(config))
        manifest = {
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest, "size": layer_size}],
        }
        manifest_digest, manifest_size = _blob(blobs, _canonical(manifest))
        for name in spec.names:
            manifests.append({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest, "size": manifest_size,
                "annotations": {"io.containerd.image.name": name,
                                "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]},
            })
    tmp = out.with_suffix(".tmp")
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _tar_add(tar, "oci-layout", data=_canonical({"imageLayoutVersion": "1.0.0"}))
        _tar_add(tar, "index.json", data=_canonical({"schemaVersion": 2, "manifests": manifests}))
        _tar_add(tar, "blobs", kind=tarfile.DIRTYPE, mode=0o755)
        _tar_add(tar, "blobs/sha256", kind=tarfile.DIRTYPE, mode=0o755)
        for digest in sorted(blobs):
            _tar_add(tar, f"blobs/sha256/{digest.split(':', 1)[1]}", data=blobs[digest])
    tmp.replace(out)
    stamp.write_text(key)
    return out


def all_names() -> list[str]:
    return [n for spec in IMAGES for n in spec.names]


def pushed_names() -> list[str]:
    """The names that live in the local registry, for real pulls."""
    return [n for n in all_names() if n.startswith(LOCAL_REGISTRY + "/")]
