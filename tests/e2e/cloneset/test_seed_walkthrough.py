"""The seed document's CloneSet section (examples/seed/walkthrough.md), run as written: its YAML verbatim and its
kubectl output (tests/unit/test_seed_examples.py checks that the output expected here is the excerpt's)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.kube import Cluster, container_status, is_ready, wait_for

pytestmark = pytest.mark.usefixtures("kruise")
REPO = Path(__file__).resolve().parents[3]
GUESTBOOK = "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook"


def columns(output: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in output.strip().splitlines()]


def test_seed_cloneset_walkthrough(cluster: Cluster, namespace: str):
    created = cluster.kubectl("create", "-f", str(REPO / "examples/seed/cloneset.yaml"), namespace=namespace)
    assert created.stdout.strip() == "cloneset.apps.kruise.io/demo-clone created"

    def clone():
        return json.loads(cluster.kubectl("get", "clone", "demo-clone", "-o", "json", namespace=namespace).stdout)

    wait_for(lambda: clone().get("status", {}).get("updatedReadyReplicas") == 5, 90, "5 updated ready replicas",
             describe=lambda: clone().get("status"))
    pods = columns(cluster.kubectl("get", "pod", namespace=namespace).stdout)
    assert pods[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(pods) == 6
    for row in pods[1:]:
        assert re.fullmatch(r"demo-clone-[bcdfghjklmnpqrstvwxz2456789]{5}", row[0]), row
        assert row[1:4] == ["1/1", "Running", "0"]
    table = columns(cluster.kubectl("get", "clone", namespace=namespace).stdout)
    assert table[0] == ["NAME", "DESIRED", "UPDATED", "UPDATED_READY", "READY", "TOTAL", "AGE"]
    assert table[1][:6] == ["demo-clone", "5", "5", "5", "5", "5"]

    # Pods run real containers on the real node, with the InPlaceUpdateReady readiness gate.
    before = {p["metadata"]["name"]: p for p in cluster.pods(namespace, "app=guestbook")}
    for pod in before.values():
        assert pod["spec"]["nodeName"] == "real-node-0"
        assert {"conditionType": "InPlaceUpdateReady"} in pod["spec"]["readinessGates"]
        assert pod["metadata"]["labels"]["apps.kruise.io/cloneset-instance-id"] == pod["metadata"]["name"][-5:]

    # The in-place upgrade the seed recommends (updateStrategy.type InPlaceIfPossible).
    cluster.kubectl("patch", "clone", "demo-clone", "--type=json", "-p", json.dumps(
        [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": f"{GUESTBOOK}:v2"}]),
        namespace=namespace)
    wait_for(lambda: (s := clone().get("status", {})).get("updatedReadyReplicas") == 5
             and s.get("updateRevision") == s.get("currentRevision"), 120, "the in-place rollout",
             describe=lambda: clone().get("status"))
    after = {p["metadata"]["name"]: p for p in cluster.pods(namespace, "app=guestbook")}
    assert after.keys() == before.keys(), "in-place: the pods keep their names"
    for name, pod in after.items():
        assert pod["metadata"]["uid"] == before[name]["metadata"]["uid"]
        assert pod["status"]["podIP"] == before[name]["status"]["podIP"]
        status = container_status(pod)
        assert status["restartCount"] == 1 and status["image"].endswith(":v2") and is_ready(pod), (
            pod["metadata"]["annotations"].get("apps.kruise.io/inplace-update-state"), status,
            container_status(before[name]))
        assert status["containerID"] != container_status(before[name])["containerID"]
    table = columns(cluster.kubectl("get", "clone", namespace=namespace).stdout)
    assert table[1][:6] == ["demo-clone", "5", "5", "5", "5", "5"]
    rows = columns(cluster.kubectl("get", "pod", namespace=namespace).stdout)[1:]
    assert all(row[1:4] == ["1/1", "Running", "1"] for row in rows)
