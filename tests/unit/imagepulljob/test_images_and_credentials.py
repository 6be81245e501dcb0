"""Image references (ParseDockerRef) and pull credentials (the kubelet keyring's matching)."""
from __future__ import annotations

import base64
import json

import pytest

from controllers.common import images
from daemon.credentials import Credential, credentials_for


@pytest.mark.parametrize("text, familiar, tag, full", [
    ("nginx", "nginx", "latest", "docker.io/library/nginx:latest"),
    ("nginx:1.25", "nginx", "1.25", "docker.io/library/nginx:1.25"),
    ("user/app", "user/app", "latest", "docker.io/user/app:latest"),
    ("index.docker.io/library/busybox:1", "busybox", "1", "docker.io/library/busybox:1"),
    ("localhost:5000/ack-kruise/testapp:v1", "localhost:5000/ack-kruise/testapp", "v1",
     "localhost:5000/ack-kruise/testapp:v1"),
    ("reg.local/app@sha256:" + "a" * 64, "reg.local/app", "sha256:" + "a" * 64, "reg.local/app@sha256:" + "a" * 64),
])
def test_references_are_normalised(text, familiar, tag, full):
    ref = images.parse(text)
    assert (ref.familiar_name, ref.tag, ref.full) == (familiar, tag, full)


@pytest.mark.parametrize("text", ["", "NGINX", "a:b:c", "nginx@sha256:short", " nginx"])
def test_bad_references_are_refused(text):
    with pytest.raises(images.InvalidReference):
        images.parse(text)


def test_a_digest_is_joined_with_an_at_sign():
    """kruise#2534: upstream joins name and digest with ':' and the pull fails."""
    assert images.join("reg.local/app", "sha256:" + "b" * 64) == "reg.local/app@sha256:" + "b" * 64
    assert images.join("nginx", "1.25") == "nginx:1.25"


def _secret(kind: str, entries: dict) -> dict:
    if kind == "kubernetes.io/dockerconfigjson":
        key, data = ".dockerconfigjson", {"auths": entries}
    else:
        key, data = ".dockercfg", entries
    return {"type": kind, "data": {key: base64.b64encode(json.dumps(data).encode()).decode()}}


def _auth(user: str, password: str) -> dict:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_credentials_match_host_port_and_path_longest_first():
    secret = _secret("kubernetes.io/dockerconfigjson", {
        "localhost:5000": _auth("any", "1"), "localhost:5000/team": _auth("team", "2"),
        "https://index.docker.io/v1/": {"username": "hub", "password": "3"}, "*.example.com": _auth("glob", "4")})
    assert credentials_for("localhost:5000/team/app:v1", [secret]) == [Credential("team", "2"), Credential("any", "1")]
    assert credentials_for("localhost:5000/other:v1", [secret]) == [Credential("any", "1")]
    assert credentials_for("nginx", [secret]) == [Credential("hub", "3")]
    assert credentials_for("reg.example.com/app", [secret]) == [Credential("glob", "4")]
    assert credentials_for("a.reg.example.com/app", [secret]) == []  # one label per '*'
    assert credentials_for("localhost:5001/app", [secret]) == []  # another port


def test_a_dockercfg_wrapped_in_auths_matches_nothing():
    """Upstream e2e "always job on all real nodes": a .dockercfg that wrongly wraps its entries in `auths`."""
    secret = _secret("kubernetes.io/dockercfg", {"auths": {"docker.io": _auth("u", "p")}})
    assert credentials_for("nginx", [secret]) == []
    good = _secret("kubernetes.io/dockercfg", {"docker.io": _auth("u", "p")})
    assert credentials_for("nginx", [good]) == [Credential("u", "p")]
