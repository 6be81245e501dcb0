"""Pull credentials from image pull secrets, with the kubelet's matching (`pkg/credentialprovider` keyring, as
upstream's daemon builds it, kruise-daemon.md §2.8). Pure: secrets in, (username, password) pairs out.

- `kubernetes.io/dockerconfigjson` (`.dockerconfigjson`, `{"auths": {registry: entry}}`) and
  `kubernetes.io/dockercfg` (`.dockercfg`, `{registry: entry}`); an entry's `auth` is base64 `user:pass`.
- A registry key matches an image's repository when its host matches (each `*.` label of the key matches one
  label) with the same port, and its path is a prefix of the repository's path; longest keys first.
- Docker Hub's many names (index.docker.io, registry-1.docker.io, https://index.docker.io/v1/) are docker.io.
"""
from __future__ import annotations

import base64
import fnmatch
import json
from typing import Any, NamedTuple

from controllers.common import images

JSON = dict[str, Any]
DOCKER_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")


class Credential(NamedTuple):
    username: str
    password: str


def _decode(value: str) -> str:
    try:
        return base64.b64decode(value).decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def _entries(secret: JSON) -> dict[str, JSON]:
    data = secret.get("data") or {}
    kind = secret.get("type")
    try:
        if kind == "kubernetes.io/dockerconfigjson" and ".dockerconfigjson" in data:
            parsed = json.loads(_decode(data[".dockerconfigjson"]) or "{}")
            return parsed.get("auths") or {} if isinstance(parsed, dict) else {}
        if kind == "kubernetes.io/dockercfg" and ".dockercfg" in data:
            parsed = json.loads(_decode(data[".dockercfg"]) or "{}")
            return parsed if isinstance(parsed, dict) else {}
    except ValueError:
        return {}
    return {}


def _credential(entry: Any) -> Credential | None:
    if not isinstance(entry, dict):
        return None
    username, password = entry.get("username") or "", entry.get("password") or ""
    if entry.get("auth"):
        user, sep, secret = _decode(entry["auth"]).partition(":")
        if sep:
            username, password = user, secret
    if not username and not password:
        return None
    return Credential(username, password)


def _split_key(key: str) -> tuple[str, str]:
    """A registry key as (host[:port], path), without scheme and Docker Hub's /v1/ and /v2/."""
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            key = key[len(scheme):]
    host, _, path = key.partition("/")
    path = path.strip("/")
    if path in ("v1", "v2"):
        path = ""
    if host in DOCKER_HUB_ALIASES:
        host = images.DEFAULT_DOMAIN
    return host, path


def _host_matches(pattern: str, host: str) -> bool:
    pattern_host, _, pattern_port = pattern.partition(":")
    real_host, _, real_port = host.partition(":")
    if pattern_port != real_port:
        return False
    want, have = pattern_host.split("."), real_host.split(".")
    return len(want) == len(have) and all(fnmatch.fnmatchcase(h, w) for w, h in zip(want, have))


def _path_matches(prefix: str, path: str) -> bool:
    return not prefix or path == prefix or path.startswith(prefix + "/")


def credentials_for(image: str, secrets: list[JSON]) -> list[Credential]:
    """The credentials to try for `image`, best match first; empty: pull anonymously."""
    try:
        ref = images.parse(image)
    except images.InvalidReference:
        return []
    matches: list[tuple[int, Credential]] = []
    for secret in secrets:
        for key, entry in _entries(secret).items():
            host, path = _split_key(key)
            credential = _credential(entry)
            if credential and _host_matches(host, ref.domain) and _path_matches(path, ref.path):
                matches.append((len(host) + len(path), credential))
    ordered: list[Credential] = []
    for _, credential in sorted(matches, key=lambda m: -m[0]):
        if credential not in ordered:
            ordered.append(credential)
    return ordered
