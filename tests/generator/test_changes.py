"""A one-field change in schema/ or policies/ changes every output that depends on it, and nothing else."""
from __future__ import annotations

from pathlib import Path

import pytest

from generator import pipeline

CHART = "charts/ack-kruise"
VARIANTS = ("legacy-1.13", "legacy-1.14", "legacy-1.15", "v1")
PLAIN_DIRS = ("legacy/1.13", "legacy/1.14", "legacy/1.15", "v1")
RUNTIME = "controllers/_generated/schema.json"


def crd_files(plural: str) -> set[str]:
    name = f"apps.kruise.io_{plural}.yaml"
    return ({f"crds/{d}/{name}" for d in PLAIN_DIRS}
            | {f"{CHART}/templates/generated/crds/{v}/{name}" for v in VARIANTS})


def edit(root: Path, relative: str, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} must occur once in {relative}"
    path.write_text(text.replace(old, new))


def changed(root: Path, out_dir: Path, *edits: tuple[str, str, str]) -> set[str]:
    before = pipeline.run(root / "schema", root / "policies", out_dir).files
    for relative, old, new in edits:
        edit(root, relative, old, new)
    after = pipeline.run(root / "schema", root / "policies", out_dir).files
    assert set(before) == set(after)
    return {path for path in before if before[path] != after[path]}


CASES = {
    # A constraint of a shared type: CloneSet and UnitedDeployment (cloneSetTemplate embeds CloneSetSpec).
    "constraint in a referenced definition": (
        [("schema/apps.kruise.io/cloneset.yaml",
          "        minimum: 0\n        fallback: 0  #",
          "        minimum: 0\n        maximum: 3600\n        fallback: 0  #")],
        crd_files("clonesets") | crd_files("uniteddeployments")
        | {"docs/api/cloneset.md", "docs/api/uniteddeployment.md", RUNTIME}),
    # Documentation only: the runtime schema carries no descriptions.
    "status field description": (
        [("schema/apps.kruise.io/cloneset.yaml",
          "description: The most recent generation observed by the controller.}\n    replicas: {type: int32, required: true, description: The number of pods created by the controller.}",
          "description: The most recent generation observed by the controller.}\n    replicas: {type: int32, required: true, description: Pods created by the controller.}")],
        crd_files("clonesets") | {"docs/api/cloneset.md"}),
    # Webhook defaults are not in the CRD (only crdDefault ones are).
    "webhook default": (
        [("schema/apps.kruise.io/cloneset.yaml", "default: 20%", "default: 25%")],
        {"docs/api/cloneset.md", RUNTIME}),
    # A printer column: CRDs and docs.
    "printer column": (
        [("schema/apps.kruise.io/statefulset.yaml", "{name: CURRENT, type: integer", "{name: TOTAL, type: integer")],
        crd_files("statefulsets") | {"docs/api/statefulset.md"}),
    # An admission rule: runtime schema and docs.
    "admission rule": (
        [("policies/admission/daemonset.yaml", "message: must be 0 for InPlaceIfPossible type",
          "message: must be zero for InPlaceIfPossible type")],
        {"docs/api/daemonset.md", RUNTIME}),
    # The compatibility matrix: the 1.15 webhooks lose objectSelector; helpers and docs follow.
    "field support in the matrix": (
        [("policies/compatibility.yaml", "webhook.objectSelector: '1.15'", "webhook.objectSelector: '1.16'")],
        {f"{CHART}/templates/generated/webhooks/legacy-1.15.yaml", f"{CHART}/templates/generated/_compat.tpl",
         "docs/api/README.md"}),
    # A webhook configuration's name: the chart's webhooks, and the runtime schema (preflight looks for it).
    "webhook configuration name": (
        [("policies/webhooks.yaml", "mutating: kruise-mutating-webhook-configuration", "mutating: kruise-mutator")],
        {f"{CHART}/templates/generated/webhooks/{v}.yaml" for v in VARIANTS}
        | {f"{CHART}/templates/generated/_webhook.tpl", "docs/api/README.md", RUNTIME}),
    # A kube-apiserver gate's first default-on version: 1.15 now needs it too, which preflight reads as well.
    "kube-apiserver gate in the matrix": (
        [("policies/compatibility.yaml", "enabledByDefaultSince: '1.15'", "enabledByDefaultSince: '1.16'")],
        {f"{CHART}/templates/generated/_compat.tpl", f"{CHART}/templates/generated/webhooks/legacy-1.15.yaml",
         f"{CHART}/templates/generated/crds/legacy-1.15/apps.kruise.io_statefulsets.yaml",
         f"{CHART}/templates/generated/crds/legacy-1.15/apps.kruise.io_daemonsets.yaml",
         f"{CHART}/templates/generated/crds/legacy-1.15/apps.kruise.io_sidecarsets.yaml",
         *(f"{CHART}/templates/generated/crds/legacy-1.15/apps.kruise.io_{k}.yaml"
           for k in ("imagepulljobs", "imagelistpulljobs", "nodeimages")), "docs/api/README.md",
         RUNTIME}),
    # A chart value default: values.yaml and its schema.
    "chart value default": (
        [("schema/chart-values/webhook.yaml", "default: 30\n", "default: 20\n")],
        {f"{CHART}/values.yaml", f"{CHART}/values.schema.json"}),
    # The example: docs and the Artifact Hub annotation.
    "example": (
        [("schema/apps.kruise.io/sidecarset.yaml", "image: centos:6.7", "image: centos:7")],
        {"docs/api/sidecarset.md", f"{CHART}/Chart.yaml"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_change_reaches_every_dependent_output(case: str, repo_inputs: Path, tmp_path: Path) -> None:
    edits, expected = CASES[case]
    assert changed(repo_inputs, tmp_path / "out", *edits) == expected
