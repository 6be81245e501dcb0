"""Container image references as the docker distribution library reads them (`reference.ParseDockerRef`, the
normalisation OpenKruise's image jobs use): `nginx` is `docker.io/library/nginx:latest`. Pure.

An ImagePullJob's image is kept on a NodeImage under its *familiar* name (`nginx`, `reg.local:5000/app`) with the
tag, or `sha256:<hex>` for a reference pinned by digest; the runtime is asked for the full name joined with `:` or,
for a digest, `@` (upstream joins a digest with `:` and fails: kruise#2534, fixed here as PRs #2533/#2556 do).
"""
from __future__ import annotations

import re
from typing import NamedTuple

DEFAULT_DOMAIN, LEGACY_DOMAIN, OFFICIAL_PREFIX = "docker.io", "index.docker.io", "library/"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
NAME_TOTAL_LENGTH_MAX = 255


class InvalidReference(ValueError):
    pass


class ImageRef(NamedTuple):
    domain: str  # docker.io, reg.local:5000
    path: str  # library/nginx
    tag: str  # the tag, or the digest ("sha256:...") of a pinned reference
    is_digest: bool

    @property
    def repository(self) -> str:
        """The fully qualified repository, e.g. docker.io/library/nginx (what credentials are matched on)."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """nginx for docker.io/library/nginx, user/app for docker.io/user/app, else the repository."""
        if self.domain != DEFAULT_DOMAIN:
            return self.repository
        return self.path[len(OFFICIAL_PREFIX):] if self.path.startswith(OFFICIAL_PREFIX) else self.path

    @property
    def full(self) -> str:
        return join(self.repository, self.tag)


def join(name: str, tag: str) -> str:
    """The reference the runtime pulls: name:tag, or name@sha256:... for a digest."""
    return f"{name}@{tag}" if _DIGEST.match(tag) else f"{name}:{tag}"


def parse(text: str) -> ImageRef:
    """ParseDockerRef: normalised, `:latest` when neither tag nor digest is given, the tag dropped when both are.
    InvalidReference says why a reference is refused."""
    if not text:
        raise InvalidReference("repository name must have at least one component")
    if text != text.strip():
        raise InvalidReference("invalid reference format")
    name, digest = text, ""
    if "@" in name:
        name, _, digest = name.partition("@")
        if not _DIGEST.match(digest):
            raise InvalidReference("invalid digest format")
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG.match(tag):
            raise InvalidReference("invalid reference format")
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain, path = first, rest
        if not _DOMAIN_RE.match(domain):
            raise InvalidReference("invalid reference format")
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if path != path.lower():
        raise InvalidReference("invalid reference format: repository name must be lowercase")
    if not _PATH.match(path):
        raise InvalidReference("invalid reference format")
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    if len(f"{domain}/{path}") > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    if digest:
        return ImageRef(domain, path, digest, True)
    return ImageRef(domain, path, tag or "latest", False)


def name_and_tag(text: str) -> tuple[str, str]:
    """(familiar name, tag or digest): the NodeImage key and tag of an image."""
    ref = parse(text)
    return ref.familiar_name, ref.tag


def repo_tag_matches(repo_tag: str, name: str, tag: str) -> bool:
    """ImageInfo.ContainsImage: a runtime's repo tag or digest (docker.io/library/nginx:1.25,
    reg.local:5000/app@sha256:...) names this NodeImage image and tag."""
    try:
        ref = parse(repo_tag)
    except InvalidReference:
        return False
    return ref.familiar_name == name and ref.tag == tag
