"""CRI runtime.v1 behind a small interface of ours (kruise-daemon.md §5): the daemon's code sees `CriClient`
and plain dataclasses, never protobuf. The gRPC implementation uses the generated stubs of the PyPI package
`container-runtime-interface-api` (`cri_api.v1`), over the runtime's Unix socket.

Finding the runtime (§1.4, upstream `pkg/daemon/criruntime/factory.go`): with a socket named, only that one;
otherwise the known sockets under the host's /var/run, in order. A candidate counts when ImageFsInfo and
ListImages answer (the runtime.v1 probe) and Version names the runtime.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import grpc
from cri_api.v1 import api_pb2, api_pb2_grpc

log = logging.getLogger(__name__)

# Under the host's /var/run, in upstream's order.
CANDIDATE_SOCKETS = ("containerd.sock", "containerd/containerd.sock", "crio.sock", "crio/crio.sock",
                     "cri-dockerd.sock", "cri-dockerd/cri-dockerd.sock")
MAX_RECEIVE_BYTES = 16 * 1024 * 1024
CALL_TIMEOUT = 5.0  # the kubelet remote client's default per call
PROBE_TIMEOUT = 10.0

CREATED, RUNNING, EXITED, UNKNOWN = "CREATED", "RUNNING", "EXITED", "UNKNOWN"
_STATES = {api_pb2.CONTAINER_CREATED: CREATED, api_pb2.CONTAINER_RUNNING: RUNNING,
           api_pb2.CONTAINER_EXITED: EXITED, api_pb2.CONTAINER_UNKNOWN: UNKNOWN}

# The kubelet's labels and annotations on the containers it creates.
POD_UID_LABEL = "io.kubernetes.pod.uid"
POD_NAME_LABEL = "io.kubernetes.pod.name"
POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
CONTAINER_NAME_LABEL = "io.kubernetes.container.name"
RESTART_COUNT_ANNOTATION = "io.kubernetes.container.restartCount"
HASH_ANNOTATION = "io.kubernetes.container.hash"


class CriError(Exception):
    """A CRI call failed; `code` is the gRPC status name (NOT_FOUND, UNAVAILABLE, DEADLINE_EXCEEDED, ...)."""

    def __init__(self, call: str, code: str, details: str):
        super().__init__(f"CRI {call}: {code}: {details}")
        self.call, self.code = call, code


@dataclass(frozen=True)
class RuntimeVersion:
    runtime_name: str
    runtime_version: str
    runtime_api_version: str


@dataclass(frozen=True)
class ContainerInfo:
    """One container as the runtime sees it (ListContainers + ContainerStatus). Times are Unix seconds;
    `started_at`/`finished_at` are None until then."""

    id: str  # bare runtime id
    name: str
    state: str  # CREATED, RUNNING, EXITED or UNKNOWN
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    restart_count: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageInfo:
    """One image the runtime has (ListImages)."""

    id: str
    repo_tags: tuple[str, ...] = ()
    repo_digests: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


class CriClient(Protocol):
    """What the daemon asks of a container runtime."""

    runtime_name: str

    async def version(self) -> RuntimeVersion: ...
    async def list_pod_containers(self, pod_uid: str) -> list[ContainerInfo]: ...
    async def stop_container(self, container_id: str, timeout_seconds: int) -> None: ...
    async def exec_sync(self, container_id: str, cmd: list[str], timeout_seconds: int) -> ExecResult: ...
    async def image_fs_info(self) -> int: ...
    async def list_image_infos(self) -> list[ImageInfo]: ...
    async def pull_image(self, image: str, username: str | None, password: str | None, labels: dict[str, str],
                         annotations: dict[str, str], timeout_seconds: float) -> str: ...
    async def close(self) -> None: ...


def _seconds(nanos: int) -> float | None:
    return nanos / 1e9 if nanos else None


def _restart_count(annotations: dict[str, str]) -> int:
    try:
        return int(annotations.get(RESTART_COUNT_ANNOTATION, "0"))
    except ValueError:
        return 0


class GrpcCriClient:
    """CriClient over grpc.aio on a Unix socket."""

    def __init__(self, socket_path: str, runtime_name: str = ""):
        self.socket_path = socket_path
        self.runtime_name = runtime_name
        self.channel = grpc.aio.insecure_channel(f"unix://{socket_path}", options=[
            ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES)])
        self.runtime = api_pb2_grpc.RuntimeServiceStub(self.channel)
        self.images = api_pb2_grpc.ImageServiceStub(self.channel)

    async def _call(self, name: str, method, request, timeout: float):
        try:
            return await method(request, timeout=timeout)
        except grpc.aio.AioRpcError as e:
            raise CriError(name, e.code().name, e.details() or "") from e

    async def version(self) -> RuntimeVersion:
        r = await self._call("Version", self.runtime.Version, api_pb2.VersionRequest(version="0.1.0"), CALL_TIMEOUT)
        return RuntimeVersion(r.runtime_name, r.runtime_version, r.runtime_api_version)

    async def image_fs_info(self) -> int:
        """The number of image filesystems: the runtime.v1 probe."""
        r = await self._call("ImageFsInfo", self.images.ImageFsInfo, api_pb2.ImageFsInfoRequest(), PROBE_TIMEOUT)
        return len(r.image_filesystems)

    async def list_images(self) -> list[str]:
        r = await self._call("ListImages", self.images.ListImages, api_pb2.ListImagesRequest(), PROBE_TIMEOUT)
        return [tag for image in r.images for tag in image.repo_tags]

    async def list_image_infos(self) -> list[ImageInfo]:
        r = await self._call("ListImages", self.images.ListImages, api_pb2.ListImagesRequest(), PROBE_TIMEOUT)
        return [ImageInfo(i.id, tuple(i.repo_tags), tuple(i.repo_digests)) for i in r.images]

    async def pull_image(self, image: str, username: str | None, password: str | None, labels: dict[str, str],
                         annotations: dict[str, str], timeout_seconds: float) -> str:
        """PullImage (a blocking unary call: no progress) with basic auth when given; the image ref pulled."""
        auth = api_pb2.AuthConfig(username=username, password=password) if username is not None else None
        request = api_pb2.PullImageRequest(
            image=api_pb2.ImageSpec(image=image),
            auth=auth,
            sandbox_config=api_pb2.PodSandboxConfig(labels=labels, annotations=annotations))
        r = await self._call("PullImage", self.images.PullImage, request, timeout_seconds)
        return r.image_ref

    async def list_pod_containers(self, pod_uid: str) -> list[ContainerInfo]:
        """Every container of the pod (all attempts), newest first, with its status (`GetPodStatus`)."""
        request = api_pb2.ListContainersRequest(filter=api_pb2.ContainerFilter(label_selector={POD_UID_LABEL: pod_uid}))
        listing = await self._call("ListContainers", self.runtime.ListContainers, request, CALL_TIMEOUT)
        out = []
        for c in listing.containers:
            try:
                r = await self._call("ContainerStatus", self.runtime.ContainerStatus,
                                     api_pb2.ContainerStatusRequest(container_id=c.id), CALL_TIMEOUT)
            except CriError as e:
                if e.code == "NOT_FOUND":  # removed between the list and the status
                    continue
                raise
            s = r.status
            annotations = dict(s.annotations)
            out.append(ContainerInfo(
                id=s.id, name=s.metadata.name or dict(s.labels).get(CONTAINER_NAME_LABEL, ""),
                state=_STATES.get(s.state, UNKNOWN), created_at=s.created_at / 1e9,
                started_at=_seconds(s.started_at), finished_at=_seconds(s.finished_at),
                restart_count=_restart_count(annotations), labels=dict(s.labels), annotations=annotations))
        out.sort(key=lambda c: c.created_at, reverse=True)
        return out

    async def stop_container(self, container_id: str, timeout_seconds: int) -> None:
        request = api_pb2.StopContainerRequest(container_id=container_id, timeout=timeout_seconds)
        await self._call("StopContainer", self.runtime.StopContainer, request, CALL_TIMEOUT + timeout_seconds)

    async def exec_sync(self, container_id: str, cmd: list[str], timeout_seconds: int) -> ExecResult:
        request = api_pb2.ExecSyncRequest(container_id=container_id, cmd=cmd, timeout=timeout_seconds)
        r = await self._call("ExecSync", self.runtime.ExecSync, request, CALL_TIMEOUT + timeout_seconds)
        return ExecResult(r.exit_code, r.stdout, r.stderr)

    async def close(self) -> None:
        await self.channel.close()


def candidate_sockets(var_run: Path, socket_file: str | None) -> list[Path]:
    """With `socket_file` (relative to the host's /var/run), only that one; else the known ones that exist."""
    names = [socket_file] if socket_file else list(CANDIDATE_SOCKETS)
    return [var_run / n for n in names if (var_run / n).exists()]


async def connect(sockets: list[Path]) -> GrpcCriClient:
    """The first candidate that answers runtime.v1 (ImageFsInfo, ListImages, Version); CriError naming every
    candidate and why it failed when none does."""
    failures = []
    for path in sockets:
        client = GrpcCriClient(str(path))
        try:
            await client.image_fs_info()
            await client.list_images()
            version = await client.version()
        except CriError as e:
            failures.append(f"{path}: {e}")
            await client.close()
            continue
        client.runtime_name = version.runtime_name
        log.info("CRI runtime %s %s (API %s) on %s", version.runtime_name, version.runtime_version,
                 version.runtime_api_version, path)
        return client
    tried = "; ".join(failures) or "no socket found"
    raise CriError("connect", "UNAVAILABLE", f"no container runtime answers CRI runtime.v1 ({tried})")

