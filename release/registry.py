"""Pushing an OCI image archive (what `make image` writes) to a container registry, without Docker: the OCI
distribution API over HTTP(S), in the standard library.

    push_archive(archive, "registry.example.org/ack-kruise/kruise-manager", "0.2.0") -> "sha256:..."

Every blob the registry lacks is uploaded (HEAD, then POST and a monolithic PUT), then the manifest is put
under the tag; the digest the registry answers must be the archive's. Plain HTTP is used for a registry on
this machine (localhost, 127.0.0.1: the sandbox's) or when asked; otherwise HTTPS. Credentials, when the
registry asks for them, come from REGISTRY_USERNAME and REGISTRY_PASSWORD (basic, or exchanged for a bearer
token as the registry's WWW-Authenticate says).
"""
from __future__ import annotations

import base64
import json
import os
import re
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json")
REFERENCE = re.compile(r"^(?P<host>[a-zA-Z0-9.-]+(?::[0-9]+)?)(?P<path>(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)+)$")


class RegistryError(Exception):
    """A push failed; the message names the request and the registry's answer."""


def split_reference(name: str) -> tuple[str, str]:
    """'host[:port]/path/repo' -> ('host[:port]', 'path/repo'); refuses anything else, naming it."""
    match = REFERENCE.match(name)
    if not match or "." not in match["host"] and ":" not in match["host"] and match["host"] != "localhost":
        raise RegistryError(f"{name!r} is not a registry repository (host[:port]/path, lowercase path, e.g. "
                            "registry.example.org/ack-kruise/kruise-manager or localhost:5000/ack-kruise/charts)")
    return match["host"], match["path"].lstrip("/")


def is_local(host: str) -> bool:
    return host.split(":")[0] in ("localhost", "127.0.0.1", "::1")


@dataclass
class Client:
    host: str
    plain_http: bool = False
    token: str | None = None
    calls: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"{'http' if self.plain_http else 'https'}://{self.host}"

    def request(self, method: str, url: str, data: bytes | None = None, headers: dict | None = None,
                retry_auth: bool = True) -> tuple[int, dict, bytes]:
        url = url if url.startswith("http") else self.base + url
        req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        if self.token:
            req.add_header("Authorization", self.token)
        self.calls.append(f"{method} {urllib.parse.urlsplit(url).path}")
        try:
            with urllib.request.urlopen(req, timeout=300) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            body = err.read()
            if err.code == 401 and retry_auth and not self.token:
                self.token = self._authorize(err.headers.get("WWW-Authenticate", ""))
                return self.request(method, url, data, headers, retry_auth=False)
            return err.code, dict(err.headers), body
        except urllib.error.URLError as err:
            raise RegistryError(f"{method} {url}: {err.reason} (is the registry at {self.host} up? plain HTTP: "
                                f"{self.plain_http})") from None

    def _authorize(self, challenge: str) -> str:
        user, password = os.environ.get("REGISTRY_USERNAME"), os.environ.get("REGISTRY_PASSWORD")
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            if not user:
                raise RegistryError(f"{self.host} asks for credentials: set REGISTRY_USERNAME and REGISTRY_PASSWORD")
            return "Basic " + base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        if scheme.lower() != "bearer":
            raise RegistryError(f"{self.host} asks for an unsupported authentication: {challenge!r}")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        query = urllib.parse.urlencode({k: v for k, v in fields.items() if k in ("service", "scope")})
        req = urllib.request.Request(f"{fields.get('realm', '')}?{query}")
        if user:
            req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password or ''}".encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                answer = json.loads(resp.read())
        except (urllib.error.URLError, ValueError) as err:
            raise RegistryError(f"token from {fields.get('realm')!r} for {self.host}: {err}") from None
        return "Bearer " + (answer.get("token") or answer.get("access_token") or "")


def _check(what: str, status: int, body: bytes, *expected: int) -> None:
    if status not in expected:
        raise RegistryError(f"{what}: HTTP {status}: {body[:500].decode(errors='replace')}")


def _read_archive(archive: Path) -> tuple[bytes, str, dict]:
    """The archive's one manifest (bytes, digest) and its blobs as {digest: tar member name}."""
    with tarfile.open(archive) as tar:
        index = json.loads(tar.extractfile("index.json").read())
        digests = sorted({m["digest"] for m in index["manifests"]})
        if len(digests) != 1:
            raise RegistryError(f"{archive} holds {len(digests)} images; push one image per archive")
        digest = digests[0]
        manifest = tar.extractfile(f"blobs/sha256/{digest.split(':', 1)[1]}").read()
    parsed = json.loads(manifest)
    blobs = {d["digest"]: f"blobs/sha256/{d['digest'].split(':', 1)[1]}" for d in [parsed["config"], *parsed["layers"]]}
    return manifest, digest, blobs


def push_archive(archive: Path, repository: str, tag: str, plain_http: bool | None = None,
                 log=lambda _msg: None) -> str:
    """Pushes the image of `archive` as `repository:tag`; returns the manifest digest the registry stored."""
    host, path = split_reference(repository)
    client = Client(host, is_local(host) if plain_http is None else plain_http)
    manifest, digest, blobs = _read_archive(archive)
    media_type = json.loads(manifest).get("mediaType", MANIFEST_TYPES[0])
    with tarfile.open(archive) as tar:
        for blob, member in sorted(blobs.items()):
            status, _, body = client.request("HEAD", f"/v2/{path}/blobs/{blob}")
            if status == 200:
                log(f"{blob[:19]} already in {host}/{path}")
                continue
            status, headers, body = client.request("POST", f"/v2/{path}/blobs/uploads/", b"")
            _check(f"start an upload to {host}/{path}", status, body, 202)
            location = urllib.parse.urljoin(client.base + "/", headers.get("Location", ""))
            data = tar.extractfile(member).read()
            separator = "&" if "?" in location else "?"
            status, _, body = client.request("PUT", f"{location}{separator}digest={urllib.parse.quote(blob)}", data,
                                             {"Content-Type": "application/octet-stream"})
            _check(f"upload {blob} to {host}/{path}", status, body, 201)
            log(f"{blob[:19]} pushed ({len(data) / 1e6:.1f} MB)")
    status, headers, body = client.request("PUT", f"/v2/{path}/manifests/{tag}", manifest,
                                           {"Content-Type": media_type})
    _check(f"put the manifest {host}/{path}:{tag}", status, body, 201)
    stored = headers.get("Docker-Content-Digest", digest)
    if stored != digest:
        raise RegistryError(f"{host}/{path}:{tag}: the registry stored {stored}, the archive's manifest is {digest}")
    return digest


def manifest_digest(repository: str, reference: str, plain_http: bool | None = None) -> str | None:
    """The digest `repository:reference` has in its registry, or None if it has none."""
    host, path = split_reference(repository)
    client = Client(host, is_local(host) if plain_http is None else plain_http)
    status, headers, body = client.request("HEAD", f"/v2/{path}/manifests/{reference}",
                                           headers={"Accept": ", ".join(MANIFEST_TYPES)})
    if status == 404:
        return None
    _check(f"HEAD {host}/{path}:{reference}", status, body, 200)
    return headers.get("Docker-Content-Digest")
