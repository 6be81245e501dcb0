"""The kruise-daemon survives its runtime going away in the middle of a recreate (issue 18; not an upstream
case): containerd is stopped after the first container was recreated and while the request waits out its
minStartedSeconds; the daemon's rounds fail (counted in /metrics) and back off; once containerd is started
again the request completes, and the pod kept its UID and IP."""
from __future__ import annotations

import re
import urllib.request

from tests.kube import container_status, is_ready, wait_for

from .helpers import Recreations, container_id


def _sync_errors(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    found = re.search(r"^kruise_daemon_crr_sync_errors_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_recreate_finishes_after_containerd_was_stopped_midway(crr: Recreations, sandbox):
    port = sandbox.state().ports["kruise-daemon-health"]
    before = crr.cloneset(1)[0]
    name = before["metadata"]["name"]
    crr.create("survive", name, ["app", "sidecar"], strategy={"orderedRecreate": True, "minStartedSeconds": 20})
    # app killed and restarted by the kubelet; the request now waits 20 s before it counts app as Succeeded.
    wait_for(lambda: container_status(crr.pod(name), "app").get("restartCount") == 1, 60, "app restarted")
    errors = _sync_errors(port)
    sandbox.stop_component("containerd")
    try:
        wait_for(lambda: _sync_errors(port) > errors, 30, "a daemon round failing on the stopped containerd",
                 interval=0.5)
    finally:
        sandbox.start_component("containerd")
    done = crr.completed("survive", 120)
    assert [s["phase"] for s in crr.states(done)] == ["Succeeded", "Succeeded"], crr.states(done)
    pod = wait_for(lambda: p if is_ready(p := crr.pod(name)) else None, 60, "the pod Ready again")
    assert pod["metadata"]["uid"] == before["metadata"]["uid"]
    assert pod["status"]["podIP"] == before["status"]["podIP"]
    for c in ("app", "sidecar"):
        assert container_id(pod, c) != container_id(before, c)
        assert container_status(pod, c)["restartCount"] >= 1
