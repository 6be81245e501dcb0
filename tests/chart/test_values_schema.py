"""values.schema.json: every value documented, strict everywhere (unknown keys refused), and helm's error for a
bad value names the key."""
from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from generator import policies

from .conftest import CHART, REPO, failure

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
# Values holding Kubernetes objects the chart passes through as they are (the API server validates them).
PASS_THROUGH = {"manager.affinity.nodeAffinity", "manager.affinity.podAffinity", "manager.affinity.podAntiAffinity",
                "manager.podSecurityContext", "manager.securityContext", "manager.extraEnvs[*].valueFrom",
                "daemon.extraEnvs[*].valueFrom", "global"}


def walk(node: dict, path: str = ""):
    yield path, node
    for name, child in (node.get("properties") or {}).items():
        yield from walk(child, f"{path}.{name}" if path else name)
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[*]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{*}}")


def test_the_defaults_satisfy_the_schema() -> None:
    jsonschema.Draft7Validator(SCHEMA).validate(yaml.safe_load((CHART / "values.yaml").read_text()))


def test_every_object_refuses_unknown_keys() -> None:
    for path, node in walk(SCHEMA):
        if node.get("type") == "object" and path not in PASS_THROUGH:
            assert "additionalProperties" in node, path
            assert node["additionalProperties"] is False or "properties" not in node, path


def test_every_value_is_documented() -> None:
    for path, node in walk(SCHEMA):
        if path and "*" not in path.split(".")[-1] and not path.endswith("{*}"):
            assert node.get("description"), f"value {path} has no description"
    # values.yaml shows each description as a comment above the key.
    lines = (CHART / "values.yaml").read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#") and ":" in line:
            assert lines[index - 1].lstrip().startswith("#"), f"values.yaml line {index + 1} is not documented: {line}"


@pytest.mark.parametrize("setting, key, message", [
    (("--set", "manager.replicas=two"), "manager.replicas", "Invalid type. Expected: integer, given: string"),
    (("--set", "manager.replica=3"), "manager", "Additional property replica is not allowed"),
    (("--set", "replicas=3"), "(root)", "Additional property replicas is not allowed"),
    (("--set", "manager.logLevel=verbose"), "manager.logLevel", 'must be one of the following: "debug", "info"'),
    (("--set", "webhook.certificates.mode=selfsigned"), "webhook.certificates.mode", 'must be one of the following'),
    (("--set", "featureGates.NoSuchGate=true"), "featureGates", "Additional property NoSuchGate is not allowed"),
    (("--set-string", "featureGates.PodWebhook=yes"), "featureGates.PodWebhook", "Expected: boolean, given: string"),
    (("--set", "manager.tolerations[0].operator=Sometimes"), "manager.tolerations.0.operator", "must be one of"),
    (("--set", "manager.resources.limits.cpu=true"), "manager.resources.limits.cpu", "Invalid type"),
    (("--set", "manager.image.pullPolicy=Sometimes"), "manager.image.pullPolicy", "must be one of"),
    (("--set", "manager.webhookPort=70000"), "manager.webhookPort", "Must be less than or equal to 65535"),
    (("--set", "namespaceOverride=Not_A_Namespace"), "namespaceOverride", "Does not match pattern"),
    (("--set", "kubeVersion=latest"), "kubeVersion", "Does not match pattern"),
    (("--set", "webhook.certificates.validity=1y"), "webhook.certificates.validity", "Does not match pattern"),
    (("--set", "crds.keep=maybe"), "crds.keep", "Invalid type. Expected: boolean"),
    (("--set", "manager.image.pullSecrets[0].secret=x"), "manager.image.pullSecrets.0", "name is required"),
    # The review's silently rendered values (2026-12-03-chart.md §3), refused now.
    (("--set", "manager.replicas=-1"), "manager.replicas", "Must be greater than or equal to 0"),
    (("--set", "manager.resources.limits.cpu=lots"), "manager.resources.limits.cpu", "Does not match pattern"),
    (("--set", "webhook.service.name=Kruise_Webhook"), "webhook.service.name", "Does not match pattern"),
    (("--set", "kubeVersion=1.28+"), "kubeVersion", "Does not match pattern"),
])
def test_bad_values_are_refused_naming_the_key(setting: tuple[str, str], key: str, message: str) -> None:
    error = failure("--kube-version", "1.20.2", *setting)
    assert "values don't meet the specifications of the schema" in error
    assert f"- {key}: " in error and message in error, error


def test_feature_gates_are_the_manager_s_gates() -> None:
    gates = yaml.safe_load((REPO / "policies" / "feature-gates.yaml").read_text())["featureGates"]
    node = SCHEMA["properties"]["featureGates"]
    assert node["additionalProperties"] is False
    assert {name: spec["default"] for name, spec in node["properties"].items()} == \
        {name: gate["default"] for name, gate in gates.items()}
    assert all(spec["type"] == "boolean" for spec in node["properties"].values())


def test_feature_gates_cannot_be_described_by_hand(tmp_path) -> None:
    import shutil

    from generator.errors import SchemaError
    from generator.inputs import load_inputs

    for name in ("schema", "policies"):
        shutil.copytree(REPO / name, tmp_path / name)
    (tmp_path / "schema" / "chart-values" / "gates.yaml").write_text(
        "values:\n  featureGates: {type: map, values: {type: boolean}, default: {}}\n")
    with pytest.raises(SchemaError, match="featureGates: generated from policies/feature-gates.yaml"):
        load_inputs(tmp_path / "schema", tmp_path / "policies")
    assert policies.FEATURE_GATES_VALUE == "featureGates"


def test_quantities_as_strings_are_accepted() -> None:
    from .conftest import manager_container, render

    container = manager_container(render("--kube-version", "1.20.2", "--set-string", "manager.resources.limits.cpu=0.5",
                                         "--set-string", "manager.resources.requests.memory=1.5Gi"))
    assert container["resources"]["limits"]["cpu"] == "0.5"
    assert container["resources"]["requests"]["memory"] == "1.5Gi"
    # Numbers too (`cpu: 0.5` in a values file): test_values_knobs.py.


@pytest.mark.parametrize("document, path", [
    ("manager: {resources: null}", "manager.resources"), ("manager: {affinity: null}", "manager.affinity"),
    ("featureGates: null", "featureGates"), ("manager: {replicas: null}", "manager.replicas"),
    ("webhook: {certificates: null}", "webhook.certificates"), ("crds: {enabled: null}", "crds.enabled"),
])
def test_a_null_value_is_refused_naming_it(tmp_path, document: str, path: str) -> None:
    # Helm's null deletes the default: without the check, a nil-pointer error or a silent 0/false.
    values = tmp_path / "values.yaml"
    values.write_text(document + "\n")
    error = failure("--kube-version", "1.20.2", "-f", str(values))
    assert f"{path} is null or missing: null in Helm values deletes the chart's default. Give {path} a value" in error


def test_nulls_that_only_empty_a_list_or_map_are_fine(tmp_path) -> None:
    from .conftest import render

    values = tmp_path / "values.yaml"
    values.write_text("manager: {tolerations: null, resources: {limits: null}}\nfeatureGates: {PodWebhook: null}\n")
    assert render("--kube-version", "1.20.2", "-f", str(values))


def test_renewing_before_a_certificate_is_issued_is_refused() -> None:
    error = failure("--kube-version", "1.20.2", "--set", "webhook.certificates.validity=10d",
                    "--set", "webhook.certificates.renewBefore=30d")
    assert "webhook.certificates.renewBefore=30d is not shorter than validity=10d" in error
