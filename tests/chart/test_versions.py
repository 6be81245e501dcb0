"""The target Kubernetes version picks the API profile; unsupported versions and a missing API-server gate fail
with a message saying what to do (ecosystem.md §2.5, §4). Every check honours the kubeVersion value."""
from __future__ import annotations

import pytest

from tests import k8s_openapi

from .conftest import CHART, GATE, LEGACY_API_VERSIONS, failure, find, helm, render, require_schemas

GATE_MESSAGE = ("needs the kube-apiserver feature gate CustomResourceWebhookConversion=true",
                "set compatibility.customResourceWebhookConversion=true",
                # the literal flag, so it can be copied into the API server's command line
                "Start kube-apiserver with --feature-gates=CustomResourceWebhookConversion=true")


@pytest.mark.parametrize("version", ["1.13.0", "1.14.10", "v1.14.8-aliyun.1"])
def test_1_13_and_1_14_fail_without_the_gate_value(version: str) -> None:
    error = failure("--kube-version", version)
    for part in GATE_MESSAGE:
        assert part in error
    assert version.lstrip("v") in error


@pytest.mark.parametrize("extra", [(), ("--set", "crds.enabled=false")])
def test_the_gate_check_does_not_depend_on_the_crds(extra: tuple[str, ...]) -> None:
    assert GATE_MESSAGE[1] in failure("--kube-version", "1.14.10", *extra)


def test_1_14_with_the_gate_renders_v1beta1_that_1_14_accepts() -> None:
    require_schemas("1.14")
    docs = render("--kube-version", "1.14.10", *GATE)
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    hooks = [d for d in docs if d["kind"].endswith("WebhookConfiguration")]
    assert len(crds) == 9 and {d["apiVersion"] for d in crds} == {"apiextensions.k8s.io/v1beta1"}
    assert len(hooks) == 2 and {d["apiVersion"] for d in hooks} == {"admissionregistration.k8s.io/v1beta1"}
    for doc in crds + hooks:
        assert k8s_openapi.validate(doc, "1.14") == [], doc["metadata"]["name"]
    for crd in crds:
        assert k8s_openapi.schema_props_errors(crd, "1.14") == [], crd["metadata"]["name"]


@pytest.mark.parametrize("args", [("--kube-version", "1.12.0"), ("--kube-version", "1.12.10")])
def test_versions_before_1_13_are_refused(args: tuple[str, ...]) -> None:
    error = failure(*args)
    assert "1.13" in error and "1.12" in error


def test_a_kube_version_value_before_1_13_is_refused_too() -> None:
    # Chart.yaml's kubeVersion sees the cluster (1.20); the template guard sees the value.
    error = failure("--kube-version", "1.20.2", "--set", "kubeVersion=1.12.3")
    assert "ack-kruise needs Kubernetes >=1.13; the target version is 1.12.3" in error


@pytest.mark.parametrize("version", ["1.37.0", "1.30.0", "v1.26.3-eks-a59e1f0", "1.16.15", "v1.28.2-gke.1157000"])
def test_1_16_and_later_render_only_v1_apis(version: str) -> None:
    docs = render("--kube-version", version)
    api_versions = {d["apiVersion"] for d in docs}
    assert not api_versions & LEGACY_API_VERSIONS
    pdb = "policy/v1" if version.lstrip("v").split(".")[1] >= "21" else "policy/v1beta1"
    assert {"apiextensions.k8s.io/v1", "admissionregistration.k8s.io/v1", "apps/v1",
            "rbac.authorization.k8s.io/v1", "v1", pdb} == api_versions


@pytest.mark.parametrize("version, variant", [("1.13.0", "legacy-1.13"), ("v1.14.8-aliyun.1", "legacy-1.14"),
                                              ("1.15.12", "legacy-1.15"), ("v1.15.11-eks-af3caf", "legacy-1.15")])
def test_1_13_to_1_15_render_the_legacy_profile(version: str, variant: str) -> None:
    docs = render("--kube-version", version, *GATE)
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    assert {d["apiVersion"] for d in crds} == {"apiextensions.k8s.io/v1beta1"}
    assert {d["apiVersion"] for d in docs if d["kind"].endswith("WebhookConfiguration")} == \
        {"admissionregistration.k8s.io/v1beta1"}
    # Deployment and RBAC use API versions 1.13 already serves.
    assert find(docs, "Deployment")["apiVersion"] == "apps/v1"
    assert find(docs, "ClusterRole", "kruise-manager-role")["apiVersion"] == "rbac.authorization.k8s.io/v1"
    assert find(docs, "DaemonSet", "kruise-daemon")["apiVersion"] == "apps/v1"
    sts = next(d for d in crds if d["metadata"]["name"] == "statefulsets.apps.kruise.io")
    has_port = "port" in sts["spec"]["conversion"]["webhookClientConfig"]["service"]
    assert has_port == (variant == "legacy-1.15")


@pytest.mark.parametrize("value, profile", [("v1.14.8-aliyun.1", "apiextensions.k8s.io/v1beta1"),
                                            ("1.26.3-eks-a59e1f0", "apiextensions.k8s.io/v1"),
                                            ("1.15", "apiextensions.k8s.io/v1beta1")])
def test_the_kube_version_value_wins_over_the_cluster(value: str, profile: str) -> None:
    docs = render("--kube-version", "1.30.0", "--set", f"kubeVersion={value}", *GATE)
    assert {d["apiVersion"] for d in docs if d["kind"] == "CustomResourceDefinition"} == {profile}


def test_the_chart_declares_its_kube_version_with_prerelease_suffixes_allowed() -> None:
    import yaml

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["kubeVersion"] == ">=1.13.0-0"


def test_templates_never_read_the_minor_version_as_an_integer() -> None:
    for path in (CHART / "templates").rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "KubeVersion.Minor" not in text and "KubeVersion.Major" not in text, path
            assert ".Capabilities.APIVersions" not in text, path


def test_helm_lint_shows_the_gate_failure() -> None:
    # helm lint runs templates in lint mode, where `fail` is reported as [INFO] and does not fail the lint;
    # install, upgrade and template do fail (above).
    result = helm("lint", "--strict", str(CHART), "--kube-version", "1.14.10")
    assert f"[INFO] Fail: Kubernetes v1.14.10 {GATE_MESSAGE[0]}" in result.stdout + result.stderr
