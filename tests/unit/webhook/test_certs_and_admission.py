import base64
import datetime
import json

from controllers.webhook import admission, certs


def settings(**kw) -> certs.CertSettings:
    return certs.CertSettings(dns_names=["svc.ns.svc"], ip_addresses=["127.0.0.1"], **kw)


def bundle(validity=datetime.timedelta(days=30)) -> tuple[certs.CertBundle, bytes]:
    ca, ca_key = certs.new_ca(datetime.timedelta(days=3650))
    crt, key = certs.new_serving_cert(ca, ca_key, ["svc.ns.svc"], ["127.0.0.1"], validity)
    return certs.CertBundle(ca, crt, key), ca_key


def test_a_fresh_bundle_needs_nothing():
    b, ca_key = bundle()
    assert certs.needs_renewal(b, ca_key, settings(cert_validity=datetime.timedelta(days=30),
                                                   renew_before=datetime.timedelta(days=7))) == ""


def test_renewal_reasons():
    b, ca_key = bundle(validity=datetime.timedelta(days=3))
    s = settings(cert_validity=datetime.timedelta(days=30), renew_before=datetime.timedelta(days=7))
    assert certs.needs_renewal(b, ca_key, s) == "the serving certificate expires soon"
    other, _ = bundle()
    mixed = certs.CertBundle(b.ca_pem, other.cert_pem, other.key_pem)
    assert certs.needs_renewal(mixed, ca_key, s) == "the serving certificate is not signed by the CA"
    wider = settings(cert_validity=datetime.timedelta(days=30), renew_before=datetime.timedelta(days=1))
    wider.dns_names.append("extra.example")
    good, key = bundle()
    assert certs.needs_renewal(good, key, wider) == "the serving certificate does not cover every webhook address"
    assert certs.needs_renewal(certs.CertBundle(b"x", b"y", b"z"), key, s).startswith("unreadable")


def test_ca_bundle_carries_the_previous_ca_while_it_is_phased_out():
    new, _ = bundle()
    old, _ = bundle()
    assert certs.CertBundle(new.ca_pem, new.cert_pem, new.key_pem, old.ca_pem).ca_bundle == new.ca_pem + old.ca_pem
    assert certs.trusted_by(new.cert_pem, new.ca_pem + old.ca_pem) and certs.trusted_by(old.cert_pem, new.ca_pem + old.ca_pem)
    assert not certs.trusted_by(new.cert_pem, old.ca_pem), "checked by signature, not by name"


def test_json_patch_adds_defaults_without_touching_the_rest():
    old = {"spec": {"replicas": 5, "containers": [{"name": "a"}]}}
    new = {"spec": {"replicas": 5, "containers": [{"name": "a", "imagePullPolicy": "IfNotPresent"}],
                    "revisionHistoryLimit": 10}}
    assert admission.json_patch(old, new) == [
        {"op": "add", "path": "/spec/containers/0/imagePullPolicy", "value": "IfNotPresent"},
        {"op": "add", "path": "/spec/revisionHistoryLimit", "value": 10},
    ]


def test_mutate_answers_a_json_patch_and_validate_names_fields():
    obj = {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {"name": "c"},
           "spec": {"selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    review = {"apiVersion": "admission.k8s.io/v1", "request": {"uid": "1", "operation": "CREATE", "object": obj}}
    answer = admission.mutate(review)["response"]
    ops = json.loads(base64.b64decode(answer["patch"]))
    assert answer["allowed"] and {"op": "add", "path": "/spec/replicas", "value": 1} in ops
    bad = json.loads(json.dumps(obj))
    bad["spec"]["template"]["metadata"]["labels"] = {"x": "y"}
    import asyncio
    result = asyncio.run(admission.validate({"request": {"uid": "2", "operation": "CREATE", "object": bad}}))["response"]
    assert not result["allowed"] and "spec.template.metadata.labels" in result["status"]["message"]
    assert result["status"]["message"].startswith('CloneSet.apps.kruise.io "c" is invalid: ')


def test_pod_webhook_adds_kruise_pod_ready_only_to_kruise_pods():
    import asyncio
    from controllers.webhook.pods import mutate_pod

    def review(owner_api: str | None) -> dict:
        pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}],
                                                  "readinessGates": [{"conditionType": "InPlaceUpdateReady"}]}}
        if owner_api:
            pod["metadata"]["ownerReferences"] = [{"apiVersion": owner_api, "kind": "X", "name": "x", "uid": "u",
                                                   "controller": True}]
        return {"request": {"uid": "1", "operation": "CREATE", "object": pod}}

    kruise = asyncio.run(mutate_pod(review("apps.kruise.io/v1alpha1")))["response"]
    ops = json.loads(base64.b64decode(kruise["patch"]))
    assert ops == [{"op": "add", "path": "/spec/readinessGates/1", "value": {"conditionType": "KruisePodReady"}}] or \
        any(o.get("value") == [{"conditionType": "InPlaceUpdateReady"}, {"conditionType": "KruisePodReady"}] for o in ops)
    for other in ("apps/v1", None):
        answer = asyncio.run(mutate_pod(review(other)))["response"]
        assert answer["allowed"] and "patch" not in answer
