"""Templates judged by the API server (controllers/webhook/kubernetes_validation.py): which objects are sent, how
an answer becomes field errors, and that no answer never refuses. The API server's side is in
tests/e2e/test_kubernetes_validation.py."""
import asyncio

import pytest

from controllers import schema as schemas
from controllers.webhook import admission
from controllers.webhook import kubernetes_validation as kv

TEMPLATE = {"metadata": {"name": "ignored", "namespace": "elsewhere", "labels": {"app": "x"}},
            "spec": {"containers": [{"name": "main"}]}}
CLAIM = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
RULE = {"id": "kubernetes-validation", "podTemplates": ["spec.template"], "volumeClaimTemplates":
        ["spec.volumeClaimTemplates"]}


def invalid(kind: str, *causes: tuple[str, str], message: str = "is invalid") -> dict:
    return {"kind": "Status", "code": 422, "reason": "Invalid", "message": f'{kind} "x" {message}',
            "details": {"kind": kind, "causes": [{"field": f, "message": m} for f, m in causes]}}


def test_a_pod_and_each_claim_are_built_from_the_templates():
    obj = {"spec": {"template": TEMPLATE, "volumeClaimTemplates": [CLAIM]}}
    pod, claim = kv.probes(RULE, obj, None)
    assert pod.prefix == "spec.template" and pod.resource == "pods"
    # The template's name and namespace are not what a controller creates; our label keeps our pod webhook away.
    assert pod.body["metadata"] == {"name": kv.PROBE_NAME, "labels": {"app": "x", kv.SKIP_POD_WEBHOOK_LABEL: "true"}}
    # The claims are the pod's volumes too, after the template's (upstream's CloneSet webhook mocks them so):
    # a mount may name a claim, and a template volume of a claim's name is a duplicate.
    assert pod.body["spec"] == {**TEMPLATE["spec"], "volumes": [{"name": "data", "persistentVolumeClaim": {
        "claimName": "data"}}]}
    assert claim.prefix == "spec.volumeClaimTemplates[0]" and claim.body["metadata"] == {"name": "data"}


def test_claims_follow_the_templates_own_volumes():
    template = {**TEMPLATE, "spec": {**TEMPLATE["spec"], "volumes": [{"name": "scratch", "emptyDir": {}}]}}
    pod = next(kv.probes(RULE, {"spec": {"template": template, "volumeClaimTemplates": [CLAIM]}}, None))
    assert [v["name"] for v in pod.body["spec"]["volumes"]] == ["scratch", "data"]
    assert template["spec"]["volumes"] == [{"name": "scratch", "emptyDir": {}}], "the template itself is unchanged"


def test_on_update_only_changed_templates_are_sent():
    old = {"spec": {"template": TEMPLATE, "volumeClaimTemplates": [CLAIM]}}
    assert list(kv.probes(RULE, old, old)) == []
    changed = {"spec": {"template": TEMPLATE, "volumeClaimTemplates": [CLAIM, {**CLAIM, "metadata": {"name": "b"}}]}}
    # A new claim is a new volume of the pod: the pod is judged again with it.
    assert [p.prefix for p in kv.probes(RULE, changed, old)] == ["spec.template", "spec.volumeClaimTemplates[1]"]
    resized = {"spec": {"template": TEMPLATE, "volumeClaimTemplates": [{**CLAIM, "spec": {"resources": {}}}]}}
    assert [p.prefix for p in kv.probes(RULE, resized, old)] == ["spec.volumeClaimTemplates[0]"]


def test_causes_are_prefixed_by_the_template_path():
    probe = next(kv.probes(RULE, {"spec": {"template": TEMPLATE}}, None))
    status = invalid("Pod", ("spec.containers[0].image", "Required value"), ("metadata.labels", "Invalid value: x"),
                     ("spec.containers[1].image", "Required value"), ("metadata.name", "Invalid value"))
    # containers[1] was added by some other mutating webhook, metadata.name is ours: neither is the user's.
    assert kv.errors_of(probe, status) == [("spec.template.spec.containers[0].image", "Required value"),
                                           ("spec.template.metadata.labels", "Invalid value: x")]


def test_only_object_validation_is_a_verdict():
    probe = next(kv.probes(RULE, {"spec": {"template": TEMPLATE}}, None))
    assert kv.errors_of(probe, None) == []
    assert kv.errors_of(probe, {"code": 409, "reason": "AlreadyExists"}) == []     # validated before storage
    quota = {"code": 403, "reason": "Forbidden", "message": 'pods "x" is forbidden: exceeded quota'}
    webhook = {**invalid("Pod", ("spec.x", "Invalid value")), "message": 'admission webhook "w" denied the request'}
    for status in (quota, webhook, invalid("Service", ("spec.x", "Invalid value")), {"code": 500}):
        assert kv.errors_of(probe, status) is None


def test_a_sidecarset_pod_maps_back_to_its_lists_and_drops_the_placeholder():
    rule = {"id": "r", "podOf": {"initContainers": "spec.initContainers", "containers": "spec.containers",
                                 "volumes": "spec.volumes"}}
    obj = {"spec": {"initContainers": [{"name": "init", "podInjectPolicy": "BeforeAppContainer"}]}}
    probe = next(kv.probes(rule, obj, None))
    assert probe.body["spec"]["initContainers"] == [{"name": "init"}]
    assert probe.body["spec"]["containers"] == [kv._PLACEHOLDER]
    status = invalid("Pod", ("spec.initContainers[0].image", "Required value"),
                     ("spec.containers[0].name", "Duplicate value"))
    assert kv.errors_of(probe, status) == [("spec.initContainers[0].image", "Required value")]


def test_each_subset_placement_is_a_pod_placed_by_it_and_maps_back_to_the_subset():
    rule = {"id": "r", "placements": {"list": "spec.topology.subsets", "nodeSelectorTerm": "nodeSelectorTerm",
                                      "tolerations": "tolerations"}}
    term = {"matchExpressions": [{"key": "zone", "operator": "Near", "values": ["a"]}]}
    toleration = {"key": "k", "effect": "Sometimes"}
    obj = {"spec": {"topology": {"subsets": [{"name": "a"}, {"name": "b", "nodeSelectorTerm": term,
                                                                "tolerations": [toleration]}]}}}
    (probe,) = kv.probes(rule, obj, None)       # subset a places nothing: no probe
    assert probe.body["spec"]["tolerations"] == [toleration]
    assert probe.body["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [term]}
    required = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
    status = invalid("Pod", (f"{required}.matchExpressions[0].operator", 'Unsupported value: "Near"'),
                     ("spec.tolerations[0].effect", 'Unsupported value: "Sometimes"'),
                     ("spec.containers[0].image", "Required value"))
    assert kv.errors_of(probe, status) == [
        ("spec.topology.subsets[1].nodeSelectorTerm.matchExpressions[0].operator", 'Unsupported value: "Near"'),
        ("spec.topology.subsets[1].tolerations[0].effect", 'Unsupported value: "Sometimes"')]
    # On UPDATE, only the subsets that changed.
    assert list(kv.probes(rule, obj, obj)) == []


def test_no_answer_in_time_accepts_with_a_warning(monkeypatch):
    monkeypatch.setattr(kv, "TIMEOUT_SECONDS", 0.05)

    async def slow(resource, namespace, body):
        await asyncio.sleep(5)

    judged = asyncio.run(kv.judge([RULE], {"spec": {"template": TEMPLATE}}, None, "ns", slow))
    assert judged["kubernetes-validation"].errors == [] and not judged["kubernetes-validation"].complete
    assert "no answer in time" in judged["kubernetes-validation"].warnings[0]


def no_service_account(name: str) -> dict:
    return {"code": 403, "reason": "Forbidden", "message": f'pods "p" is forbidden: error looking up service '
            f'account ns/{name}: serviceaccount "{name}" not found'}


NO_TOKEN_YET = {"code": 500, "reason": "ServerTimeout", "message": 'No API token found for service account '
                '"default", retry after the token is automatically created and added to the service account'}


def test_a_new_namespaces_default_service_account_and_its_token_are_waited_for(monkeypatch):
    monkeypatch.setattr(kv, "SERVICE_ACCOUNT_RETRY_SECONDS", 0.001)
    answers = [no_service_account("default"), NO_TOKEN_YET,
               invalid("Pod", ("spec.containers[0].image", "Required value"))]

    async def namespace_just_created(resource, namespace, body):
        return answers.pop(0)

    judged = asyncio.run(kv.judge([RULE], {"spec": {"template": TEMPLATE}}, None, "ns", namespace_just_created))
    assert judged["kubernetes-validation"] == ([("spec.template.spec.containers[0].image", "Required value")],
                                               True, [])


def test_another_missing_service_account_is_not_waited_for():
    calls = []

    async def missing(resource, namespace, body):
        calls.append(1)
        return no_service_account("builder")

    judged = asyncio.run(kv.judge([RULE], {"spec": {"template": TEMPLATE}}, None, "ns", missing))
    assert calls == [1] and not judged["kubernetes-validation"].complete
    assert 'serviceaccount "builder" not found' in judged["kubernetes-validation"].warnings[0]


def review(obj: dict) -> dict:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u", "operation": "CREATE", "namespace": "ns", "object": obj}}


def cloneset(template: dict) -> dict:
    return {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {"name": "c", "namespace": "ns"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}}, "template": template}}


def test_the_webhook_refuses_with_the_api_servers_causes_and_accepts_without_an_answer():
    sent = []

    async def refuse(resource, namespace, body):
        sent.append((resource, namespace))
        return invalid("Pod", ("spec.containers[0].image", "Required value"))

    async def down(resource, namespace, body):
        raise ConnectionError("connection refused")

    obj = schemas.default_schema().apply_defaults(cloneset(TEMPLATE))
    refused = asyncio.run(admission.validate(review(obj), dry_run=refuse))["response"]
    assert sent == [("pods", "ns")] and not refused["allowed"]
    assert refused["status"]["message"] == ('CloneSet.apps.kruise.io "c" is invalid: '
                                            'spec.template.spec.containers[0].image: Required value')
    allowed = asyncio.run(admission.validate(review(obj), dry_run=down))["response"]
    assert allowed["allowed"] and "connection refused" in allowed["warnings"][0]


def example(kind: str) -> dict:
    import copy
    from pathlib import Path

    import yaml
    path = Path(__file__).resolve().parents[3] / "schema" / "apps.kruise.io" / f"{kind.lower()}.yaml"
    return copy.deepcopy(yaml.safe_load(path.read_text())["example"])


@pytest.mark.parametrize("kind", ["CloneSet", "StatefulSet", "DaemonSet", "SidecarSet", "UnitedDeployment"])
def test_selector_syntax_in_every_kind(kind: str):
    obj = schemas.default_schema().apply_defaults(example(kind))
    assert schemas.validate(obj) == []
    obj["spec"]["selector"]["matchExpressions"] = [{"key": "bad key!", "operator": "In", "values": []}]
    found = {e.path: e.message for e in schemas.validate(obj)}
    assert found["spec.selector.matchExpressions[0].values"].startswith("Required value")
    assert found["spec.selector.matchExpressions[0].key"].startswith('Invalid value: "bad key!"')


def test_a_statefulset_name_is_a_dns_label():
    obj = schemas.default_schema().apply_defaults(example("StatefulSet"))
    obj["metadata"]["name"] = "a.b"
    assert [e.path for e in schemas.validate(obj)] == ["metadata.name"]
