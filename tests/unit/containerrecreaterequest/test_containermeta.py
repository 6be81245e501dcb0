"""runtime-containers-meta on plain dicts: the kubelet's container hash, the daemon's annotation from the
runtime's containers, and in-place completion reading it (kruise-daemon.md §4)."""
from __future__ import annotations

import json

from controllers.common.containerhash import (RUNTIME_CONTAINERS_META_ANNOTATION, fnv1a32, go_json, hash_container,
                                              spec_matches_meta)
from daemon.containermeta import desired_meta, needs_sync, watched
from daemon.cri import RUNNING, ContainerInfo

CONTAINER = {"name": "app", "image": "localhost:5000/ack-kruise/testapp:v1", "resources": {},
             "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
             "imagePullPolicy": "Always"}


def test_fnv1a32_and_go_escaping():
    assert fnv1a32(b"") == 0x811C9DC5 and fnv1a32(b"a") == 0xE40C292C  # the FNV-1a reference values
    assert go_json({"a": "<&>\u2028", "b": [1, "x\bz"]}) == b'{"a":"\\u003c\\u0026\\u003e\\u2028","b":[1,"x\\u0008z"]}'


def test_hash_is_of_the_spew_printed_bytes():
    encoded = go_json(CONTAINER)
    expected = fnv1a32(("([]uint8)[" + " ".join(map(str, encoded)) + "]").encode())
    assert hash_container(CONTAINER) == expected
    assert hash_container({**CONTAINER, "image": "localhost:5000/ack-kruise/testapp:v2"}) != expected


def pod(meta=None, owner="apps.kruise.io/v1alpha1", container_id="containerd://c1") -> dict:
    annotations = {RUNTIME_CONTAINERS_META_ANNOTATION: json.dumps({"containers": meta})} if meta is not None else {}
    return {"metadata": {"name": "p", "uid": "u", "annotations": annotations,
                         "ownerReferences": [{"apiVersion": owner, "kind": "CloneSet", "controller": True}]},
            "spec": {"containers": [CONTAINER]},
            "status": {"containerStatuses": [{"name": "app", "containerID": container_id, "restartCount": 0}]}}


def test_only_kruise_pods_are_watched_and_only_when_the_meta_lags():
    assert watched(pod()) and not watched(pod(owner="apps/v1"))
    assert needs_sync(pod())
    entry = {"name": "app", "containerID": "containerd://c1", "restartCount": 0, "hashes": {"plainHash": 1}}
    assert not needs_sync(pod([entry]))
    assert needs_sync(pod([entry], container_id="containerd://c2"))


def test_desired_meta_from_the_runtime_keeps_unchanged_entries():
    runtime = [ContainerInfo(id="c2", name="app", state=RUNNING, created_at=1.0, restart_count=1,
                             annotations={"io.kubernetes.container.hash": "ff"})]
    old = {"name": "app", "containerID": "containerd://c2", "restartCount": 1, "hashes": {"plainHash": 7}}
    assert desired_meta(pod(container_id="containerd://c2"), runtime, "containerd") == [
        {"name": "app", "containerID": "containerd://c2", "restartCount": 1, "hashes": {"plainHash": 255}}]
    assert desired_meta(pod([old], container_id="containerd://c2"), runtime, "containerd") == [old]
    assert desired_meta(pod(container_id="containerd://c3"), runtime, "containerd") == []


def test_in_place_completion_reads_the_meta():
    good = {"name": "app", "containerID": "containerd://c1", "hashes": {"plainHash": hash_container(CONTAINER)}}
    assert spec_matches_meta(pod([good]))
    assert not spec_matches_meta(pod())
    assert not spec_matches_meta(pod([good], container_id="containerd://c2"))
    assert not spec_matches_meta(pod([{**good, "hashes": {"plainHash": 1}}]))
