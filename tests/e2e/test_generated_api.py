"""The generator's outputs on the real kube-apiserver 1.20.2: every CRD set (v1, and the legacy v1beta1 sets,
which 1.20 still serves) is accepted, and `kubectl get` prints each kind's columns as OpenKruise does."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.kube import Cluster

REPO = Path(__file__).resolve().parents[2]
CRD_SETS = ["v1", "legacy/1.13", "legacy/1.14", "legacy/1.15"]


# Inherent, and the reason the 1.13/1.14 sets exist only for 1.13/1.14: a v1beta1 CRD with webhook conversion
# needs `preserveUnknownFields: false` on 1.15+ servers, a field that 1.13 and 1.14 do not have (their strict
# OpenAPI refuses it). On 1.20 the 1.15 set, which carries it, is the legacy set that applies.
REFUSED_ON_1_20 = {
    ("legacy/1.13", "apps.kruise.io_statefulsets.yaml"): 'spec.conversion.strategy: Invalid value: "Webhook": '
                                                          "must be None if spec.preserveUnknownFields is true",
    ("legacy/1.14", "apps.kruise.io_statefulsets.yaml"): 'spec.conversion.strategy: Invalid value: "Webhook": '
                                                          "must be None if spec.preserveUnknownFields is true",
}


@pytest.mark.parametrize("crd_set", CRD_SETS)
def test_every_crd_set_passes_server_side_dry_run(cluster: Cluster, crd_set: str):
    files = sorted((REPO / "crds" / crd_set).glob("*.yaml"))
    assert len(files) == 5
    for f in files:
        # replace for a CRD the session already installed, create for one it did not: either way the API
        # server validates the whole generated object without storing it.
        name = yaml.safe_load(f.read_text())["metadata"]["name"]
        exists = cluster.kubectl("get", "crd", name, check=False).returncode == 0
        out = cluster.kubectl("replace" if exists else "create", "--dry-run=server", "-f", str(f), check=False)
        refusal = REFUSED_ON_1_20.get((crd_set, f.name))
        if refusal:
            assert out.returncode != 0 and refusal in out.stderr, out.stderr
        else:
            assert out.returncode == 0, f"{f.relative_to(REPO)}: {out.stderr}"


def columns(output: str) -> list[str]:
    return re.split(r"\s{2,}", output.strip().splitlines()[0].strip())


EXPECTED = {
    "CloneSet": ("clone", ["NAME", "DESIRED", "UPDATED", "UPDATED_READY", "READY", "TOTAL", "AGE"]),
    "StatefulSet": ("asts", ["NAME", "DESIRED", "CURRENT", "UPDATED", "READY", "AGE"]),
    "DaemonSet": ("ads", ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]),
    "SidecarSet": ("sidecarset", ["NAME", "MATCHED", "UPDATED", "READY", "AGE"]),
    "UnitedDeployment": ("ud", ["NAME", "DESIRED", "CURRENT", "UPDATED", "READY", "AGE"]),
}


@pytest.mark.usefixtures("kruise")
@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_kubectl_get_prints_the_expected_columns(cluster: Cluster, namespace: str, kind: str):
    example = yaml.safe_load((REPO / "schema" / "apps.kruise.io" / f"{kind.lower()}.yaml").read_text())["example"]
    example["metadata"]["name"] = f"columns-{kind.lower()}"
    ns = None if kind == "SidecarSet" else namespace
    cluster.kubectl("create", "-f", "-", input=json.dumps(example), namespace=ns)
    short, want = EXPECTED[kind]
    try:
        out = cluster.kubectl("get", short, example["metadata"]["name"], namespace=ns).stdout
        assert columns(out) == want
        wide = columns(cluster.kubectl("get", short, example["metadata"]["name"], "-o", "wide", namespace=ns).stdout)
        assert wide[:len(want)] == want or set(want) <= set(wide)
    finally:
        cluster.kubectl("delete", short, example["metadata"]["name"], "--wait=false", namespace=ns)
