"""`make chart-ci`: every values file of charts/ack-kruise/ci/ (the folder chart-testing reads) rendered with
`helm template` for every supported Kubernetes version and validated strictly against that version's OpenAPI
schemas. `helm lint` (and `ct lint`) report the chart's `fail` guards as [INFO] and succeed; `helm template`
fails on them, so a values file that cannot install cannot pass here.

Each file must render at every version, except the files without the 1.13/1.14 gate confirmation, which must
fail there with the gate's message (as a real install would)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests import k8s_openapi

from .conftest import CHART, VERSIONS, render, require_schemas, template

CI_FILES = sorted((CHART / "ci").glob("*-values.yaml"))
GATE_MESSAGE = "needs the kube-apiserver feature gate CustomResourceWebhookConversion=true"


def test_the_ci_folder_has_values_files_and_is_not_packaged() -> None:
    assert {p.name for p in CI_FILES} >= {"default-values.yaml", "legacy-values.yaml", "operator-values.yaml",
                                          "openshift-values.yaml"}
    assert "ci/" in (CHART / ".helmignore").read_text().splitlines()


@pytest.mark.parametrize("values", CI_FILES, ids=[p.name for p in CI_FILES])
@pytest.mark.parametrize("version, schemas, gate", VERSIONS)
def test_each_ci_values_file_renders_valid_objects_at_each_version(values: Path, version: str, schemas: str,
                                                                     gate: bool) -> None:
    confirmed = (yaml.safe_load(values.read_text()) or {}).get("compatibility", {}).get(
        "customResourceWebhookConversion", False)
    if gate and not confirmed:
        result = template("--kube-version", version, "-f", str(values))
        assert result.returncode != 0 and GATE_MESSAGE in result.stderr, result.stderr
        return
    require_schemas(schemas)
    docs = render("--kube-version", version, "-f", str(values))
    checked = 0
    for doc in docs:
        if doc["apiVersion"].startswith(("cert-manager.io/", "monitoring.coreos.com/")):
            continue   # not Kubernetes APIs (test_certificates.py and test_values_knobs.py check these)
        assert k8s_openapi.validate(doc, schemas) == [], (values.name, doc["kind"], doc["metadata"]["name"])
        checked += 1
    assert checked >= 14, (values.name, checked)
