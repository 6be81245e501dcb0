"""A small asyncio client for the Kubernetes REST API.

Why our own and not the `kubernetes` package: that client is synchronous (about 300 creates/s at best),
while controllers must create a whole slow-start batch of pods concurrently over reused connections.
aiohttp is already here through kopf. The surface is the REST verbs plus list+watch; objects stay plain
dicts, which is also what the pure reconcile functions take.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Mapping, Sequence

import aiohttp

from .config import ClusterConfig

JSON = dict[str, Any]
# Called once per answer the API server sends: (method, path, body, HTTP status); a watch stream is
# method WATCH, counted when it opens. The manager counts its requests for /metrics with one, `make bench`'s
# tracer sorts them by what they touch with another; a hook must be quick and must not raise.
RequestHook = Callable[[str, str, Any, int], None]
_PROCESS_HOOKS: list[RequestHook] = []


def add_request_hook(hook: RequestHook) -> None:
    """Call `hook` for every request of every KubeClient in this process (a tracer wrapping a program
    that makes its own clients); a client's own hooks go to `KubeClient(hooks=...)`."""
    if hook not in _PROCESS_HOOKS:
        _PROCESS_HOOKS.append(hook)

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


class ApiError(Exception):
    """A non-2xx answer from the API server, with its Status object when there is one."""

    def __init__(self, status: int, body: Any, method: str, path: str):
        self.status = status
        self.body = body if isinstance(body, dict) else {"message": str(body)}
        self.reason = self.body.get("reason", "")
        self.method, self.path = method, path
        super().__init__(f"{method} {path}: {status} {self.reason}: {self.body.get('message', '')}")

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def gone(self) -> bool:
        return self.status == 410


def resource_path(
    api_version: str,
    plural: str,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """`v1`, `pods`, `ns`, `name` → `/api/v1/namespaces/ns/pods/name`; groups go under `/apis/`."""
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    parts = [prefix]
    if namespace:
        parts += ["namespaces", namespace]
    parts.append(plural)
    if name:
        parts.append(name)
    if subresource:
        parts.append(subresource)
    return "/".join(parts)


# A list of only the items' metadata (names, resourceVersions), served by every API server from 1.15.
PARTIAL_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


def resource_of(path: str) -> str:
    """The resource a request path names, without namespace, name or subresource: `v1/pods` for
    `/api/v1/namespaces/ns/pods/p/status`, `apps.kruise.io/v1alpha1/clonesets`, `v1/namespaces` for a namespace."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    if parts[0] == "api" and len(parts) > 1:
        version, rest = parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) > 2:
        version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
    else:
        return path
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    return f"{version}/{rest[0]}" if rest else version


class TokenBucket:
    """Client-side QPS/burst limiting, as client-go's flowcontrol does, so that benchmarks compare
    controllers at equal limits. qps=None means unlimited."""

    def __init__(self, qps: float | None, burst: int | None):
        self.qps = qps
        self.capacity = float(burst or max(1, int(qps or 1)))
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if not self.qps:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.qps)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.qps)


@dataclass
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: JSON


class KubeClient:
    def __init__(
        self,
        config: ClusterConfig,
        *,
        qps: float | None = None,
        burst: int | None = None,
        max_connections: int = 100,
        user_agent: str = "ack-kruise",
        hooks: Sequence[RequestHook] = (),
        limit_per_resource: bool = False,
    ):
        self.config = config
        self.hooks = tuple(hooks)
        self.limiter = TokenBucket(qps, burst)
        # limit_per_resource: a QPS/burst budget per resource (pods and pods/status share one), as
        # controller-runtime's client keeps a REST client, with its own token bucket, per group-version-kind
        # (OpenKruise's manager): a controller's events, status writes and Lease renewals do not spend its pods'.
        self._per_resource: dict[str, TokenBucket] | None = {} if limit_per_resource else None
        self.requests: Counter[str] = Counter()  # verb → count, for `make bench`'s requests-per-pod
        self._max_connections = max_connections
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if config.token:
            self._headers["Authorization"] = f"Bearer {config.token}"
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self.config.ssl_context())
            self._session = aiohttp.ClientSession(
                base_url=self.config.server, headers=self._headers, connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            )
        return self._session

    def limiter_for(self, path: str) -> TokenBucket:
        if self._per_resource is None:
            return self.limiter
        resource = resource_of(path)
        bucket = self._per_resource.get(resource)
        if bucket is None:
            bucket = self._per_resource[resource] = TokenBucket(self.limiter.qps, int(self.limiter.capacity))
        return bucket

    def _answered(self, method: str, path: str, body: Any, status: int) -> None:
        for hook in (*_PROCESS_HOOKS, *self.hooks):
            hook(method, path, body, status)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> "KubeClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str | None = None,
        timeout: float = 60,
    ) -> JSON:
        # A str body is sent as it is (JSON the caller encoded itself, e.g. `gojson.dumps`).
        data = None if body is None else body if isinstance(body, str) else json.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else {}
        if accept:   # e.g. PARTIAL_METADATA_LIST: only the items' metadata
            headers["Accept"] = accept
        params = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (params or {}).items()}
        for attempt in range(5):
            await self.limiter_for(path).acquire()
            self.requests[method] += 1
            async with self.session.request(
                method, path, params=params, data=data, headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                text = await resp.text()
                self._answered(method, path, body, resp.status)
                if resp.status == 429 and attempt < 4:
                    # The API server asks us to back off (priority and fairness); honour it.
                    await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))
                    continue
                try:
                    payload = json.loads(text) if text else {}
                except json.JSONDecodeError:
                    payload = {"message": text}
                if resp.status >= 400:
                    raise ApiError(resp.status, payload, method, path)
                return payload
        raise AssertionError("unreachable")

    async def get(self, path: str, **params: Any) -> JSON:
        return await self.request("GET", path, params=params)

    async def get_or_none(self, path: str) -> JSON | None:
        try:
            return await self.get(path)
        except ApiError as e:
            if e.not_found:
                return None
            raise

    async def create(self, path: str, body: JSON, **params: Any) -> JSON:
        return await self.request("POST", path, body=body, params=params)

    async def replace(self, path: str, body: JSON, **params: Any) -> JSON:
        return await self.request("PUT", path, body=body, params=params)

    async def patch(self, path: str, body: Any, content_type: str = MERGE_PATCH, **params: Any) -> JSON:
        return await self.request("PATCH", path, body=body, content_type=content_type, params=params)

    async def delete(self, path: str, body: JSON | None = None, **params: Any) -> JSON:
        return await self.request("DELETE", path, body=body, params=params)

    async def watch(self, path: str, resource_version: str, **params: Any) -> AsyncIterator[WatchEvent]:
        """One watch stream from resource_version; ends when the server closes it.

        Raises ApiError(410) when the version is too old: the caller must list again.
        """
        params = {**params, "watch": "true", "resourceVersion": resource_version,
                  "allowWatchBookmarks": "true"}
        params.setdefault("timeoutSeconds", 300)
        await self.limiter_for(path).acquire()
        self.requests["WATCH"] += 1
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=float(params["timeoutSeconds"]) + 30)
        async with self.session.get(path, params=params, timeout=timeout) as resp:
            self._answered("WATCH", path, None, resp.status)
            if resp.status >= 400:
                raise ApiError(resp.status, await resp.json(content_type=None), "WATCH", path)
            async for line in resp.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                if event["type"] == "ERROR":
                    status = event["object"]
                    raise ApiError(status.get("code", 500), status, "WATCH", path)
                yield WatchEvent(event["type"], event["object"])
