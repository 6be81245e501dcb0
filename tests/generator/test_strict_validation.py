"""Strict validation (unknown fields are errors) of the generated CRDs and webhook configurations against the
OpenAPI definitions of the Kubernetes versions they target. Needs scripts/fetch-k8s-schemas.sh."""
from __future__ import annotations


import gzip

import pytest
import yaml

from .conftest import REPO, helm_template

GATE = ("--set", "compatibility.customResourceWebhookConversion=true")
NEWEST = "1.37"


def plain_crds(directory: str) -> list[tuple[str, dict]]:
    return [(p.name, yaml.safe_load(p.read_text())) for p in sorted((REPO / "crds" / directory).glob("*.yaml"))]


@pytest.mark.parametrize("directory,version", [("v1", "1.20"), ("v1", NEWEST), ("v1", "1.16"),
                                               ("legacy/1.13", "1.13"), ("legacy/1.14", "1.14"),
                                               ("legacy/1.15", "1.15")])
def test_plain_crds_are_strictly_valid(directory: str, version: str, k8s_schemas) -> None:
    crds = plain_crds(directory)
    assert len(crds) == 9
    for name, crd in crds:
        assert k8s_schemas.validate(crd, version) == [], name
        assert k8s_schemas.schema_props_errors(crd, version) == [], name


@pytest.mark.parametrize("kube_version,schemas", [("1.20.2", "1.20"), ("1.37.0", NEWEST), ("1.13.12", "1.13"),
                                                  ("1.14.10", "1.14"), ("1.15.12", "1.15")])
@pytest.mark.parametrize("mode", ["self", "cert-manager"])
def test_rendered_chart_is_strictly_valid(kube_version: str, schemas: str, mode: str, k8s_schemas) -> None:
    result = helm_template("--kube-version", kube_version, *GATE, "--set", f"webhook.certificates.mode={mode}")
    assert result.returncode == 0, result.stderr
    # The generated templates only; the chart's own (Deployment, RBAC, ...) are validated in tests/chart.
    docs = [doc for doc in yaml.safe_load_all(result.stdout)
            if doc and (doc["kind"] == "CustomResourceDefinition" or doc["kind"].endswith("WebhookConfiguration"))]
    kinds = sorted(doc["kind"] for doc in docs)
    assert kinds == ["CustomResourceDefinition"] * 9 + ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
    for doc in docs:
        assert k8s_schemas.validate(doc, schemas) == [], (doc["kind"], doc["metadata"]["name"])
        if doc["kind"] == "CustomResourceDefinition":
            assert k8s_schemas.schema_props_errors(doc, schemas) == [], doc["metadata"]["name"]


def test_the_validator_rejects_fields_an_older_version_does_not_know(k8s_schemas) -> None:
    newer = dict(plain_crds("legacy/1.15"))["apps.kruise.io_statefulsets.yaml"]
    errors = k8s_schemas.validate(newer, "1.14") + k8s_schemas.schema_props_errors(newer, "1.14")
    assert any("preserveUnknownFields" in e for e in errors)
    assert any("x-kubernetes-int-or-string" in e for e in errors)
    assert any("port" in e for e in errors)
    assert k8s_schemas.validate(dict(plain_crds("legacy/1.14"))["apps.kruise.io_statefulsets.yaml"], "1.13")


def test_crds_and_chart_stay_small() -> None:
    # Client-side apply keeps the whole object in an annotation limited to 256 KiB.
    for path in (REPO / "crds").rglob("*.yaml"):
        assert path.stat().st_size < 128 * 1024, path
    # Helm keeps every template (all variants) gzipped in the release Secret, limited to 1 MiB.
    templates = b"".join(p.read_bytes() for p in sorted((REPO / "charts" / "ack-kruise" / "templates").rglob("*"))
                         if p.is_file())
    assert len(gzip.compress(templates)) < 256 * 1024
