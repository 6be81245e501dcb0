"""The deletion-protection webhooks of Kubernetes' own objects (policies/webhooks.yaml `deleteProtection`):
rendered with upstream's names, paths and rules, failurePolicy Fail and the objectSelector on the label, only with
feature gate ResourcesDeletionProtection as the manager resolves it, and only from Kubernetes 1.16; and the RBAC of
the CRD Cascading check only with DeletionProtectionForCRDCascadingGate."""
from __future__ import annotations

import pytest

from tests.chart.conftest import GATE, render

LABEL = "policy.kruise.io/delete-protection"
UPSTREAM = {  # OpenKruise v1.9.0 kubebuilder markers (pkg/webhook/*/validating/webhooks.go)
    "vbuiltindeployment.kb.io": ("/validate-apps-deployment", "apps", ["v1"], "deployments"),
    "vbuiltinreplicaset.kb.io": ("/validate-apps-replicaset", "apps", ["v1"], "replicasets"),
    "vbuiltinstatefulset.kb.io": ("/validate-apps-statefulset", "apps", ["v1"], "statefulsets"),
    "vcustomresourcedefinition.kb.io": ("/validate-customresourcedefinition", "apiextensions.k8s.io", ["v1", "v1beta1"],
                                        "customresourcedefinitions"),
    "vnamespace.kb.io": ("/validate-namespace", "", ["v1"], "namespaces"),
    "vservice.kb.io": ("/validate-service", "", ["v1"], "services"),
    "vingress.kb.io": ("/validate-ingress", "networking.k8s.io", ["v1", "v1beta1"], "ingresses"),
}
ON = ("--set", "featureGates.ResourcesDeletionProtection=true")


def validating(version: str, *args: str) -> dict[str, dict]:
    extra = GATE if version in ("1.13.0", "1.14.10") else ()
    docs = render("--kube-version", version, *extra, *args)
    config = next(d for d in docs if d["kind"] == "ValidatingWebhookConfiguration")
    return {h["name"]: h for h in config["webhooks"]}


@pytest.mark.parametrize("version", ["1.16.15", "1.20.2", "1.30.0"])
def test_entries_with_the_gate_from_1_16(version: str) -> None:
    hooks = validating(version, *ON)
    for name, (path, group, versions, resource) in UPSTREAM.items():
        hook = hooks[name]
        assert hook["clientConfig"]["service"]["path"] == path
        assert hook["rules"] == [{"apiGroups": [group], "apiVersions": versions, "operations": ["DELETE"],
                                  "resources": [resource]}]
        assert hook["failurePolicy"] == "Fail"
        assert hook["objectSelector"] == {"matchExpressions": [{"key": LABEL, "operator": "Exists"}]}
        assert "namespaceSelector" not in hook
    assert not set(UPSTREAM) & set(validating(version))    # the gate off (the default): none


@pytest.mark.parametrize("version", ["1.13.0", "1.14.10", "1.15.12"])
def test_no_entries_before_1_16(version: str) -> None:
    """Before 1.16 a DELETE carries no oldObject: nothing to judge, and 1.13/1.14 have no objectSelector, so an
    entry there would send every deletion of these kinds to the manager."""
    hooks = validating(version, *ON)
    assert not set(UPSTREAM) & set(hooks)
    assert "vcloneset.kb.io" in hooks


def test_the_crd_gate_alone_renders_nothing() -> None:
    """DeletionProtectionForCRDCascadingGate requires ResourcesDeletionProtection (upstream's SetDefaultFeatureGates)."""
    hooks = validating("1.20.2", "--set", "featureGates.DeletionProtectionForCRDCascadingGate=true")
    assert not set(UPSTREAM) & set(hooks)


def _wildcard_lists(*args: str) -> list[dict]:
    docs = render("--kube-version", "1.20.2", *args)
    role = next(d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "kruise-manager-role")
    return [r for r in role["rules"] if r["apiGroups"] == ["*"] or r["resources"] == ["*"]]


def test_listing_every_resource_only_with_the_crd_cascading_gate() -> None:
    """A Cascading CRD's check counts its custom resources, of any group: list on every resource, only when
    the manager resolves DeletionProtectionForCRDCascadingGate on (it requires ResourcesDeletionProtection)."""
    assert _wildcard_lists() == []
    assert _wildcard_lists(*ON) == []
    assert _wildcard_lists("--set", "featureGates.DeletionProtectionForCRDCascadingGate=true") == []
    assert _wildcard_lists(*ON, "--set", "featureGates.DeletionProtectionForCRDCascadingGate=true") == [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["list"]}]
