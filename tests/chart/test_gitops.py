"""GitOps: the same inputs render the same bytes; nothing random, generated or looked up; no caBundle; CRDs
kept on uninstall by default (ecosystem.md §3)."""
from __future__ import annotations

import re

import pytest

from .conftest import CHART, GATE, VERSIONS, render, render_text, version_args

FORBIDDEN = re.compile(r"\b(rand\w*|genCA|genPrivateKey|genSelfSignedCert\w*|genSignedCert\w*|lookup|uuidv4|now|"
                       r"date|htpasswd|derivePassword|randBytes)\b")


@pytest.mark.parametrize("version, schemas, gate", VERSIONS)
@pytest.mark.parametrize("mode", ["self", "cert-manager"])
def test_two_renders_are_byte_identical(version: str, schemas: str, gate: bool, mode: str) -> None:
    args = (*version_args(version, gate), "--set", f"webhook.certificates.mode={mode}")
    assert render_text(*args) == render_text(*args)


def test_no_template_generates_random_or_looked_up_values() -> None:
    offenders = []
    for path in sorted((CHART / "templates").rglob("*")):
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = " ".join(re.findall(r"\{\{(.*?)\}\}", line))   # template actions only
            if FORBIDDEN.search(code) or re.search(r"caBundle\s*:", line):
                offenders.append(f"{path.relative_to(CHART)}:{number}: {line.strip()}")
    assert offenders == []


def keys(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}.{key}"
            yield from keys(value, f"{path}.{key}")
    elif isinstance(node, list):
        for item in node:
            yield from keys(item, f"{path}[]")


@pytest.mark.parametrize("version, schemas, gate", VERSIONS)
@pytest.mark.parametrize("mode", ["self", "cert-manager", "secret"])
def test_no_ca_bundle_is_rendered(version: str, schemas: str, gate: bool, mode: str) -> None:
    docs = render(*version_args(version, gate), "--set", f"webhook.certificates.mode={mode}",
                  "--set", "webhook.certificates.existingSecret=tls")
    assert [k for doc in docs for k in keys(doc) if k.endswith(".caBundle")] == []


SYNC_OPTIONS = "argocd.argoproj.io/sync-options"


@pytest.mark.parametrize("version, schemas, gate", VERSIONS)
def test_crds_are_kept_on_uninstall_and_never_pruned_or_deleted_by_argo_cd(version: str, schemas: str,
                                                                             gate: bool) -> None:
    # Argo CD prunes objects despite helm.sh/resource-policy (argoproj/argo-cd#17819); deleting a CRD deletes
    # every CloneSet, StatefulSet... of the cluster. Its own sync options keep them.
    crds = [d for d in render(*version_args(version, gate)) if d["kind"] == "CustomResourceDefinition"]
    assert len(crds) == 9
    for crd in crds:
        annotations = crd["metadata"]["annotations"]
        assert annotations["helm.sh/resource-policy"] == "keep", crd["metadata"]["name"]
        assert annotations[SYNC_OPTIONS] == "Prune=false,Delete=false", crd["metadata"]["name"]
    plain = [d for d in render(*version_args(version, gate), "--set", "crds.keep=false")
             if d["kind"] == "CustomResourceDefinition"]
    for crd in plain:
        annotations = crd["metadata"].get("annotations") or {}
        assert "helm.sh/resource-policy" not in annotations and SYNC_OPTIONS not in annotations


def test_sync_options_given_as_values_are_added_to_the_kept_crds_ones() -> None:
    docs = render("--kube-version", "1.20.2", "--set", "webhook.certificates.mode=cert-manager",
                  "--set", "crds.annotations.argocd\\.argoproj\\.io/sync-options=ServerSideApply=true",
                  "--set-string", "crds.annotations.argocd\\.argoproj\\.io/sync-wave=-1")
    for crd in (d for d in docs if d["kind"] == "CustomResourceDefinition"):
        annotations = crd["metadata"]["annotations"]
        assert annotations[SYNC_OPTIONS] == "Prune=false,Delete=false,ServerSideApply=true"
        assert annotations["argocd.argoproj.io/sync-wave"] == "-1"
        has_conversion = (crd["spec"].get("conversion") or {}).get("strategy") == "Webhook"
        assert ("cert-manager.io/inject-ca-from" in annotations) == has_conversion
    unkept = render("--kube-version", "1.20.2", "--set", "crds.keep=false",
                    "--set", "crds.annotations.argocd\\.argoproj\\.io/sync-options=ServerSideApply=true")
    assert {d["metadata"]["annotations"][SYNC_OPTIONS] for d in unkept if d["kind"] == "CustomResourceDefinition"} \
        == {"ServerSideApply=true"}


@pytest.mark.parametrize("version, schemas, gate", VERSIONS)
def test_cluster_wide_objects_carry_the_chart_labels(version: str, schemas: str, gate: bool) -> None:
    # `kubectl get crd,mutatingwebhookconfiguration,... -l app.kubernetes.io/instance=<release>` finds them.
    docs = render(*version_args(version, gate), release="my-release")
    cluster_wide = [d for d in docs if d["kind"] in ("CustomResourceDefinition", "MutatingWebhookConfiguration",
                                                      "ValidatingWebhookConfiguration")]
    assert len(cluster_wide) == len([d for d in docs if d["kind"] == "CustomResourceDefinition"]) + 2
    for doc in cluster_wide:
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "my-release", doc["metadata"]["name"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm" and labels["helm.sh/chart"].startswith("ack-kruise-")
    assert all(doc["metadata"]["labels"]["app.kubernetes.io/instance"] == "my-release" for doc in docs)


def test_the_release_name_changes_only_labels() -> None:
    one = render("--kube-version", "1.20.2", release="ack-kruise")
    two = render("--kube-version", "1.20.2", release="other")
    assert [(d["kind"], d["metadata"]["name"]) for d in one] == [(d["kind"], d["metadata"]["name"]) for d in two]


def test_no_hooks_but_the_helm_test() -> None:
    # Argo CD turns install and upgrade hooks into its own sync hooks, and Flux runs every hook; the chart needs
    # none. Its one hook is the `helm test` pod: Argo CD maps only pre/post-install/upgrade to sync phases
    # (gitops-engine pkg/sync/hook/helm/type.go), so it neither runs nor syncs a test hook; Flux runs it only
    # with the HelmRelease's spec.test.enable.
    hooks = [doc for doc in render("--kube-version", "1.20.2", *GATE, "--set", "webhook.certificates.mode=cert-manager")
             if "helm.sh/hook" in (doc["metadata"].get("annotations") or {})]
    assert [(d["kind"], d["metadata"]["name"], d["metadata"]["annotations"]["helm.sh/hook"]) for d in hooks] == \
        [("Pod", "kruise-webhook-test", "test")]


@pytest.mark.parametrize("code", ["randAlphaNum 16", 'genCA "kruise" 365', 'lookup "v1" "Secret" "ns" "x"',
                                  "genSignedCert", "now | date"])
def test_the_forbidden_pattern_catches_them(code: str) -> None:
    assert FORBIDDEN.search(code)
