"""`ack-kruise preflight`: what it concludes from an API server's answers (a fake client here; the e2e tests in
tests/e2e/test_chart_install.py ask the sandbox's real kube-apiserver)."""
from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import pytest
import yaml

from ack_kruise import preflight
from controllers import schema
from controllers.schema import Schema
from kube import ApiError
from tests import k8s_openapi

REPO = Path(__file__).resolve().parents[2]
# What a 1.13/1.14 kube-apiserver answers when the gate is off: it drops the webhook settings of a CRD, then
# refuses the CRD (apiextensions validation.go).
GATE_OFF_MESSAGE = ('CustomResourceDefinition.apiextensions.k8s.io "conversionprobes.preflight.ack-kruise.io" is '
                    'invalid: spec.conversion.webhookClientConfig: Required value: required when strategy is set to '
                    'Webhook, but not allowed because the CustomResourceWebhookConversion feature is disabled')


class FakeClient:
    """Answers GETs from a dict of path → object (missing: 404) and records creates."""

    def __init__(self, version: str, apiextensions: list[str], create_error: ApiError | None = None,
                 objects: dict | None = None):
        self.version, self.apiextensions, self.create_error = version, apiextensions, create_error
        self.objects = objects or {}
        self.created: list[tuple[str, dict, dict]] = []

    async def get(self, path: str, **_: object) -> dict:
        if path == "/version":
            return {"gitVersion": self.version, "major": "1", "minor": self.version.split(".")[1]}
        if path == "/apis/apiextensions.k8s.io":
            return {"versions": [{"version": v} for v in self.apiextensions]}
        if path == "/apis/admissionregistration.k8s.io":
            return {"versions": [{"version": v} for v in self.apiextensions]}
        if path in self.objects:
            return self.objects[path]
        raise ApiError(404, {"reason": "NotFound"}, "GET", path)

    async def get_or_none(self, path: str) -> dict | None:
        try:
            return await self.get(path)
        except ApiError:
            return None

    async def create(self, path: str, body: dict, **params: object) -> dict:
        self.created.append((path, body, params))
        if self.create_error:
            raise self.create_error
        return body


def facts(client: FakeClient) -> preflight.Facts:
    return asyncio.run(preflight.gather(client))


@pytest.mark.parametrize("info, expected", [
    ({"gitVersion": "v1.14.8-aliyun.1", "major": "1", "minor": "14"}, (1, 14)),
    ({"gitVersion": "v1.26.3-eks-a59e1f0", "major": "1", "minor": "26+"}, (1, 26)),
    ({"gitVersion": "", "major": "1", "minor": "28+"}, (1, 28)),
    ({"gitVersion": "v1.20.2"}, (1, 20)),
])
def test_server_versions_with_vendor_suffixes(info: dict, expected: tuple[int, int]) -> None:
    version = preflight.parse_version(info)
    assert (version.major, version.minor) == expected


def test_1_14_without_the_gate_says_how_to_enable_it() -> None:
    client = FakeClient("v1.14.8-aliyun.1", ["v1beta1"], ApiError(422, {"message": GATE_OFF_MESSAGE}, "POST", "/x"))
    report = preflight.assess(facts(client))
    text = "\n".join(report.lines)
    assert report.exit_code == 1
    assert "--feature-gates=CustomResourceWebhookConversion=true" in text
    assert "--set compatibility.customResourceWebhookConversion=true" in text
    assert "legacy profile" in text
    # The probe went through apiextensions v1beta1 as a server-side dry run.
    path, body, params = client.created[0]
    assert path == "/apis/apiextensions.k8s.io/v1beta1/customresourcedefinitions"
    assert body["apiVersion"] == "apiextensions.k8s.io/v1beta1" and params == {"dryRun": "All"}
    assert body["spec"]["conversion"]["strategy"] == "Webhook"


def test_1_14_with_the_gate_installs_with_the_gate_value() -> None:
    report = preflight.assess(facts(FakeClient("v1.14.10", ["v1beta1"])))
    assert report.exit_code == 0
    assert report.helm_flags == ["--set compatibility.customResourceWebhookConversion=true"]
    assert any(line.startswith("Ready to install:") and report.helm_flags[0] in line for line in report.lines)


@pytest.mark.parametrize("version, served, profile", [("v1.15.12", ["v1beta1"], "legacy"),
                                                      ("v1.20.2", ["v1", "v1beta1"], "v1"),
                                                      ("v1.30.0", ["v1"], "v1")])
def test_newer_versions_need_no_flags(version: str, served: list[str], profile: str) -> None:
    client = FakeClient(version, served)
    report = preflight.assess(facts(client))
    assert report.exit_code == 0 and report.helm_flags == []
    assert f"{profile} profile" in report.lines[0]
    assert client.created[0][1]["apiVersion"] == f"apiextensions.k8s.io/{served[0]}"


def test_a_gate_switched_off_on_1_16_is_reported() -> None:
    client = FakeClient("v1.16.15", ["v1", "v1beta1"], ApiError(422, {"message": GATE_OFF_MESSAGE}, "POST", "/x"))
    report = preflight.assess(facts(client))
    assert report.exit_code == 1 and "must not be false" in "\n".join(report.lines)


def test_versions_before_1_13_cannot_run_the_chart() -> None:
    report = preflight.assess(facts(FakeClient("v1.12.10", ["v1beta1"])))
    assert report.exit_code == 1 and "needs Kubernetes 1.13 or later" in report.lines[0]


def test_no_dry_run_on_1_13_means_we_cannot_tell() -> None:
    error = ApiError(400, {"message": "dryRun is not supported"}, "POST", "/x")
    report = preflight.assess(facts(FakeClient("v1.13.12", ["v1beta1"], error)))
    assert report.exit_code == 2
    assert "--set compatibility.customResourceWebhookConversion=true" in "\n".join(report.lines)


def test_no_permission_to_create_crds_is_named() -> None:
    error = ApiError(403, {"message": "forbidden: User cannot create customresourcedefinitions"}, "POST", "/x")
    report = preflight.assess(facts(FakeClient("v1.20.2", ["v1"], error)))
    assert "no permission to create CRDs" in "\n".join(report.lines)


def test_objects_of_another_installation_block_the_install() -> None:
    crd = {"metadata": {"name": "clonesets.apps.kruise.io"}}
    client = FakeClient("v1.20.2", ["v1"], objects={
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/clonesets.apps.kruise.io": crd})
    report = preflight.assess(facts(client))
    assert report.exit_code == 1
    assert "    CustomResourceDefinition clonesets.apps.kruise.io" in report.lines


def test_objects_of_an_ack_kruise_release_mean_upgrade() -> None:
    owned = {"metadata": {"annotations": {"meta.helm.sh/release-name": "ack-kruise",
                                          "meta.helm.sh/release-namespace": "kruise-system"}}}
    client = FakeClient("v1.20.2", ["v1"], objects={
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/kruise-mutating-webhook-configuration": owned})
    report = preflight.assess(facts(client))
    assert report.exit_code == 0
    assert any("Helm release kruise-system/ack-kruise" in line and "helm upgrade" in line for line in report.lines)


def test_an_unreachable_api_server_exits_2(tmp_path: Path, capsys) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "x"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    parser = argparse.ArgumentParser()
    preflight.add_arguments(parser)
    assert preflight.run(parser.parse_args(["--kubeconfig", str(kubeconfig)])) == 2
    assert "cannot reach the API server" in capsys.readouterr().err


# ---- the matrix and the names are the generator's (controllers/_generated/schema.json) -------------------

# A made-up matrix: nothing of policies/ is restated in preflight, so its verdicts follow whatever was generated.
MADE_UP = {
    "compatibility": {
        "variants": [
            {"name": "old", "since": "1.11", "profile": "ancient", "crdApiVersion": "apiextensions.k8s.io/v1beta1",
             "admissionApiVersion": "admissionregistration.k8s.io/v1beta1",
             "apiServerFeatureGates": ["CustomResourceWebhookConversion"]},
            {"name": "new", "since": "1.18", "profile": "modern", "crdApiVersion": "apiextensions.k8s.io/v1",
             "admissionApiVersion": "admissionregistration.k8s.io/v1", "apiServerFeatureGates": []}],
        "apiServerFeatureGates": {"CustomResourceWebhookConversion": {"enabledByDefaultSince": "1.18",
                                                                      "value": "made.up.gateOn"}}},
    "chartObjects": {"customResourceDefinitions": ["widgets.example.io"],
                     "webhookConfigurations": {"mutating": "made-up-mutating", "validating": "made-up-validating"}},
}


@pytest.fixture
def made_up_matrix(monkeypatch):
    data = {**schema.default_schema().data, **MADE_UP}
    monkeypatch.setattr(schema, "default_schema", lambda: Schema(data))


def test_the_matrix_comes_from_the_runtime_schema(made_up_matrix) -> None:
    too_old = preflight.assess(facts(FakeClient("v1.10.0", ["v1beta1"])))
    assert too_old.exit_code == 1 and "needs Kubernetes 1.11 or later" in too_old.lines[0]
    refused = preflight.assess(facts(FakeClient("v1.16.15", ["v1", "v1beta1"],
                                                ApiError(422, {"message": GATE_OFF_MESSAGE}, "POST", "/x"))))
    text = "\n".join(refused.lines)
    assert refused.exit_code == 1 and "off by default" in text and "--set made.up.gateOn=true" in text
    assert "ancient profile (apiextensions.k8s.io/v1beta1, admissionregistration.k8s.io/v1beta1)" in text
    accepted = preflight.assess(facts(FakeClient("v1.17.0", ["v1", "v1beta1"])))
    assert accepted.exit_code == 0 and accepted.helm_flags == ["--set made.up.gateOn=true"]
    modern = preflight.assess(facts(FakeClient("v1.18.0", ["v1"])))
    assert modern.helm_flags == [] and "modern profile (apiextensions.k8s.io/v1" in modern.lines[0]


def test_the_object_names_come_from_the_runtime_schema(made_up_matrix) -> None:
    client = FakeClient("v1.20.2", ["v1"], objects={
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.io": {"metadata": {}},
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/clonesets.apps.kruise.io": {"metadata": {}},
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/made-up-validating": {"metadata": {}}})
    found = facts(client).existing
    assert [(o.kind, o.name) for o in found] == [("CustomResourceDefinition", "widgets.example.io"),
                                                 ("ValidatingWebhookConfiguration", "made-up-validating")]


def test_the_generated_names_are_the_charts() -> None:
    crds = sorted(yaml.safe_load(p.read_text())["metadata"]["name"] for p in (REPO / "crds" / "v1").glob("*.yaml"))
    assert sorted(schema.chart_objects()["customResourceDefinitions"]) == crds


@pytest.mark.parametrize("api_version, kube", [("apiextensions.k8s.io/v1beta1", "1.13"),
                                               ("apiextensions.k8s.io/v1beta1", "1.14"),
                                               ("apiextensions.k8s.io/v1beta1", "1.15"),
                                               ("apiextensions.k8s.io/v1", "1.16"),
                                               ("apiextensions.k8s.io/v1", "1.20")])
def test_the_probe_crd_is_valid_where_it_is_sent(api_version: str, kube: str) -> None:
    if not k8s_openapi.has_version(kube):  # a failure, not a skip: make setup fetches them
        pytest.fail(f"no Kubernetes {kube} OpenAPI schemas in {k8s_openapi.CACHE}: {k8s_openapi.FETCH_HINT}",
                    pytrace=False)
    crd = json.loads(json.dumps(preflight.probe_crd(api_version)))
    errors = k8s_openapi.validate(crd, kube)
    if kube in ("1.13",):
        # 1.13 does not know conversionReviewVersions/preserveUnknownFields; its API server drops them.
        errors = [e for e in errors if "conversionReviewVersions" not in e and "preserveUnknownFields" not in e]
    elif kube == "1.14":
        errors = [e for e in errors if "preserveUnknownFields" not in e]
    assert errors == []
