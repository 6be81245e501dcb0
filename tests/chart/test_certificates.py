"""Webhook certificate modes: cert-manager (Issuer chain, Certificate writing the Secret the manager reads,
inject-ca-from on every object with a caBundle) and an existing Secret."""
from __future__ import annotations

from .conftest import NAMESPACE, args_of, find, render

INJECT = "cert-manager.io/inject-ca-from"


def has_ca_bundle(doc: dict) -> bool:
    return doc["kind"].endswith("WebhookConfiguration") or (
        doc["kind"] == "CustomResourceDefinition" and "conversion" in doc["spec"])


def test_cert_manager_mode_with_the_chart_s_own_ca() -> None:
    docs = render("--kube-version", "1.20.2", "--set", "webhook.certificates.mode=cert-manager")
    issuers = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Issuer"}
    certificates = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Certificate"}
    assert {d["apiVersion"] for d in [*issuers.values(), *certificates.values()]} == {"cert-manager.io/v1"}
    assert issuers["kruise-webhook-selfsigned-issuer"]["spec"] == {"selfSigned": {}}
    ca = certificates["kruise-webhook-ca"]["spec"]
    assert ca["isCA"] is True and ca["issuerRef"]["name"] == "kruise-webhook-selfsigned-issuer"
    assert issuers["kruise-webhook-ca-issuer"]["spec"] == {"ca": {"secretName": ca["secretName"]}}
    serving = certificates["kruise-webhook-certs"]["spec"]
    assert serving["issuerRef"] == {"name": "kruise-webhook-ca-issuer", "kind": "Issuer", "group": "cert-manager.io"}
    assert serving["dnsNames"] == [f"kruise-webhook-service.{NAMESPACE}.svc",
                                   f"kruise-webhook-service.{NAMESPACE}.svc.cluster.local"]
    # The manager reads the Secret the Certificate writes, and leaves the caBundles to the cainjector.
    flags = args_of(docs)
    assert flags["--cert-mode"] == "cert-manager" and flags["--cert-secret"] == serving["secretName"]
    assert "--cert-validity" not in flags
    for doc in docs:
        annotations = doc["metadata"].get("annotations") or {}
        if has_ca_bundle(doc):
            assert annotations.get(INJECT) == f"{NAMESPACE}/kruise-webhook-certs", doc["metadata"]["name"]
        else:
            assert INJECT not in annotations, doc["metadata"]["name"]


def test_cert_manager_mode_with_an_issuer_of_yours() -> None:
    docs = render("--kube-version", "1.20.2", "--set", "webhook.certificates.mode=cert-manager",
                  "--set", "webhook.certificates.certManager.certificateName=kruise-serving",
                  "--set", "webhook.certificates.secretName=kruise-serving-tls",
                  "--set", "webhook.certificates.certManager.issuerRef.name=corp-ca",
                  "--set", "webhook.certificates.certManager.issuerRef.kind=ClusterIssuer")
    assert [d for d in docs if d["kind"] == "Issuer"] == []
    certificate = find(docs, "Certificate")
    assert certificate["metadata"]["name"] == "kruise-serving"
    assert certificate["spec"]["secretName"] == "kruise-serving-tls" == args_of(docs)["--cert-secret"]
    assert certificate["spec"]["issuerRef"] == {"name": "corp-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    sts = find(docs, "CustomResourceDefinition", "statefulsets.apps.kruise.io")
    assert sts["metadata"]["annotations"][INJECT] == f"{NAMESPACE}/kruise-serving"


def test_secret_mode_reads_the_named_secret() -> None:
    docs = render("--kube-version", "1.20.2", "--set", "webhook.certificates.mode=secret",
                  "--set", "webhook.certificates.existingSecret=my-webhook-tls")
    flags = args_of(docs)
    assert flags["--cert-mode"] == "secret" and flags["--cert-secret"] == "my-webhook-tls"
    assert not [d for d in docs if d["apiVersion"].startswith("cert-manager.io")]
    assert not [d for d in docs if INJECT in (d["metadata"].get("annotations") or {})]


def test_self_mode_renders_no_certificate_material() -> None:
    docs = render("--kube-version", "1.20.2")
    assert not [d for d in docs if d["kind"] in ("Secret", "Certificate", "Issuer")]
    flags = args_of(docs)
    assert flags["--cert-mode"] == "self" and flags["--cert-validity"] == "365d"
