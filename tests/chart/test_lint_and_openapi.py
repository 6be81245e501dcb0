"""`helm lint --strict` and strict OpenAPI validation (unknown fields are errors) of every render, per target
Kubernetes version, with the schemas of that version (tests/k8s_openapi.py; scripts/fetch-k8s-schemas.sh)."""
from __future__ import annotations

import pytest

from tests import k8s_openapi

from .conftest import CHART, VERSIONS, helm, render, require_schemas, version_args

MODES = [("self",), ("cert-manager",), ("secret", "--set", "webhook.certificates.existingSecret=my-certs")]
# Values that exercise every optional branch of the templates.
EVERYTHING = ("--set", "manager.nodeSelector.disk=ssd",
              "--set", "manager.tolerations[0].key=dedicated,manager.tolerations[0].operator=Exists",
              "--set", "manager.tolerations[0].effect=NoSchedule",
              "--set", "manager.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
                       ".nodeSelectorTerms[0].matchExpressions[0].key=kubernetes.io/os",
              "--set", "manager.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
                       ".nodeSelectorTerms[0].matchExpressions[0].operator=In",
              "--set", "manager.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
                       ".nodeSelectorTerms[0].matchExpressions[0].values[0]=linux",
              "--set", "manager.image.pullSecrets[0].name=regcred",
              "--set", "manager.priorityClassName=system-cluster-critical",
              "--set-string", "manager.podAnnotations.prometheus\\.io/scrape=true",
              "--set", "crds.annotations.argocd\\.argoproj\\.io/sync-options=ServerSideApply=true",
              "--set", "featureGates.StatefulSetStartOrdinal=true",
              # the deletion-protection webhooks (1.16+) and the wildcard list of the CRD Cascading check
              "--set", "featureGates.ResourcesDeletionProtection=true",
              "--set", "featureGates.DeletionProtectionForCRDCascadingGate=true",
              "--set", "manager.hostNetwork=true",
              "--set", "manager.topologySpread.whenUnsatisfiable=DoNotSchedule",
              "--set", "manager.image.registry=registry.example.org/mirror",
              "--set", "manager.image.digest=sha256:" + "0" * 64,
              "--set", "manager.podLabels.team=platform,daemon.podLabels.team=nodes",
              "--set", "daemon.podAnnotations.note=x",
              "--set", "manager.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::1:role/k",
              "--set", "daemon.serviceAccount.annotations.note=x",
              "--set", "manager.extraArgs[0]=--cert-check-interval=120,daemon.extraArgs[0]=--rest-config-qps=10",
              "--set", "manager.extraEnvs[0].name=HTTPS_PROXY,manager.extraEnvs[0].value=http://proxy:3128",
              "--set", "daemon.extraEnvs[0].name=NO_PROXY,daemon.extraEnvs[0].value=.svc",
              "--set", "manager.podSecurityContext.fsGroup=65534",
              "--set", "manager.metrics.service.enabled=true")


@pytest.mark.parametrize("version, schemas, gate", VERSIONS)
def test_helm_lint_strict(version: str, schemas: str, gate: bool) -> None:
    result = helm("lint", "--strict", str(CHART), *version_args(version, gate))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


@pytest.mark.parametrize("mode", MODES, ids=[m[0] for m in MODES])
def test_helm_lint_strict_per_certificate_mode(mode: tuple[str, ...]) -> None:
    result = helm("lint", "--strict", str(CHART), "--kube-version", "1.20.2",
                  "--set", f"webhook.certificates.mode={mode[0]}", *mode[1:], *EVERYTHING)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("mode", MODES, ids=[m[0] for m in MODES])
@pytest.mark.parametrize("version, schemas, gate", VERSIONS)
def test_every_render_is_strictly_valid(version: str, schemas: str, gate: bool, mode: tuple[str, ...]) -> None:
    require_schemas(schemas)
    docs = render(*version_args(version, gate), "--set", f"webhook.certificates.mode={mode[0]}", *mode[1:],
                  *EVERYTHING)
    checked = 0
    for doc in docs:
        if doc["apiVersion"].startswith("cert-manager.io/"):
            continue   # not a Kubernetes API: checked in test_certificates.py
        assert k8s_openapi.validate(doc, schemas) == [], (doc["kind"], doc["metadata"]["name"])
        if doc["kind"] == "CustomResourceDefinition":
            assert k8s_openapi.schema_props_errors(doc, schemas) == [], doc["metadata"]["name"]
        checked += 1
    # 9 CRDs, 2 webhook configurations, Deployment, PodDisruptionBudget, Service, ServiceAccount,
    # ClusterRole(+Binding), Role(+Binding); kruise-daemon's DaemonSet, ServiceAccount, ClusterRole(+Binding);
    # the metrics Service; the `helm test` Pod
    assert checked == 25


def test_the_validator_would_catch_a_field_1_13_does_not_know() -> None:
    require_schemas("1.13")
    from .conftest import find

    deployment = find(render("--kube-version", "1.20.2"), "Deployment")
    errors = k8s_openapi.validate(deployment, "1.13")
    assert any("seccompProfile" in e for e in errors)   # GA in 1.19: the chart renders it from 1.19 on only
