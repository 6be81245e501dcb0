"""The generator's outputs on the real kube-apiserver 1.20.2: every CRD set (v1, and the legacy v1beta1 sets,
which 1.20 still serves) and every profile's webhook configurations are accepted (except the one CRD 1.20
cannot take, below), and `kubectl get` prints each kind's columns as OpenKruise does."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from generator.inputs import load_inputs
from sandbox import tools
from tests.kube import Cluster

REPO = Path(__file__).resolve().parents[2]
KINDS = load_inputs(REPO / "schema", REPO / "policies").kinds
# one CRD per kind written in schema/: a kind added there must be in every set
KINDS_IN_SCHEMA = len(KINDS)
CONVERTED_PLURALS = sorted(kind.plural for kind in KINDS if kind.conversion_webhook)
CRD_SETS = ["v1", "legacy/1.13", "legacy/1.14", "legacy/1.15"]


# Inherent, and the reason the 1.13/1.14 sets exist only for 1.13/1.14: a v1beta1 CRD with webhook conversion
# needs `preserveUnknownFields: false` on 1.15+ servers, a field that 1.13 and 1.14 do not have (their strict
# OpenAPI refuses it). On 1.20 the 1.15 set, which carries it, is the legacy set that applies.
REFUSED_ON_1_20 = {
    (crd_set, f"apps.kruise.io_{plural}.yaml"): 'spec.conversion.strategy: Invalid value: "Webhook": '
                                                "must be None if spec.preserveUnknownFields is true"
    for crd_set in ("legacy/1.13", "legacy/1.14") for plural in CONVERTED_PLURALS
}


@pytest.mark.parametrize("crd_set", CRD_SETS)
def test_every_crd_set_passes_server_side_dry_run(cluster: Cluster, crd_set: str):
    files = sorted((REPO / "crds" / crd_set).glob("*.yaml"))
    assert len(files) == KINDS_IN_SCHEMA
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


def dry_run_on_the_server(cluster: Cluster, manifest: dict) -> subprocess.CompletedProcess:
    """Validated and admitted by the API server, not stored: replace for an object the session already has
    (the sandbox's webhook configurations), create for one it has not."""
    kind, name = manifest["kind"], manifest["metadata"]["name"]
    exists = cluster.kubectl("get", kind.lower(), name, check=False).returncode == 0
    return cluster.kubectl("replace" if exists else "create", "--dry-run=server", "-o", "json", "-f", "-",
                           input=json.dumps(manifest), check=False)


@pytest.mark.parametrize("kube_version,profile", [("1.13.12", "legacy-1.13"), ("1.14.10", "legacy-1.14"),
                                                  ("1.15.12", "legacy-1.15")])
def test_legacy_webhook_configurations_pass_server_side_dry_run(cluster: Cluster, kube_version: str, profile: str):
    rendered = subprocess.run(
        [tools.find("helm"), "template", "ack-kruise", str(REPO / "charts" / "ack-kruise"), "--namespace",
         "kruise-system", "--kube-version", kube_version, "--set", "compatibility.customResourceWebhookConversion=true",
         "--show-only", f"templates/generated/webhooks/{profile}.yaml"],
        capture_output=True, text=True, timeout=60)
    assert rendered.returncode == 0, rendered.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    assert sorted(d["kind"] for d in docs) == ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
    for doc in docs:
        assert doc["apiVersion"] == "admissionregistration.k8s.io/v1beta1"
        out = dry_run_on_the_server(cluster, doc)
        assert out.returncode == 0, f"{profile} {doc['kind']}: {out.stderr}"
        served = json.loads(out.stdout)
        assert [w["name"] for w in served["webhooks"]] == [w["name"] for w in doc["webhooks"]]


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
