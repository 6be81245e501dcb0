"""Deletion protection of Namespaces, CRDs and apps/v1 workloads (controllers/webhook/deletion_protection.py):
upstream's decisions (pkg/webhook/util/deletionprotection, v1.9.0) and words, on plain dicts. The e2e twin is
tests/e2e/test_deletion_protection.py."""
from __future__ import annotations

import asyncio

import pytest

from controllers import schema as schemas
from controllers.webhook import deletion_protection as dp
from kube import ApiError

LABEL = "policy.kruise.io/delete-protection"
GATES = {"ResourcesDeletionProtection": True}


def obj(value: str | None = None, deleting: bool = False, **spec) -> dict:
    meta: dict = {"name": "x", "labels": {LABEL: value} if value else {"app": "a"}}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-04T12:00:00Z"
    return {"metadata": meta, "spec": spec}


def pod(phase: str = "Running", deleting: bool = False) -> dict:
    return {"metadata": {"name": "p", **({"deletionTimestamp": "t"} if deleting else {})}, "status": {"phase": phase}}


def claim(phase: str, deleting: bool = False) -> dict:
    return {"metadata": {"name": "c", **({"deletionTimestamp": "t"} if deleting else {})}, "status": {"phase": phase}}


def crd(value: str | None, version_key: str = "versions") -> dict:
    o = obj(value)
    o["spec"] = {"group": "example.io", "names": {"plural": "widgets", "listKind": "WidgetList"}}
    if version_key == "versions":
        o["spec"]["versions"] = [{"name": "v1alpha1", "storage": False}, {"name": "v1", "storage": True}]
    else:
        o["spec"]["version"] = "v1beta1"
    return o


def test_workloads_always_and_cascading_with_replicas():
    assert dp.workload_refusal(obj("Always", replicas=0)) == \
        f"forbidden by ResourcesProtectionDeletion for {LABEL}=Always"
    assert dp.workload_refusal(obj("Cascading", replicas=2)) == \
        f"forbidden by ResourcesProtectionDeletion for {LABEL}=Cascading and replicas 2>0"
    assert dp.workload_refusal(obj("Cascading", replicas=0)) is None
    assert dp.workload_refusal(obj("Cascading")) is None          # upstream's nil replicas
    assert dp.workload_refusal(obj("Sometimes", replicas=3)) is None
    assert dp.workload_refusal(obj(None, replicas=3)) is None
    assert dp.workload_refusal(obj("Always", deleting=True)) is None   # already being deleted: not judged again


def test_namespace_cascading_counts_active_pods_then_bound_claims():
    ns = obj("Cascading")
    assert dp.namespace_refusal(obj("Always")) == f"forbidden by ResourcesProtectionDeletion for {LABEL}=Always"
    assert dp.namespace_refusal(ns, [pod("Running"), pod("Pending"), pod("Succeeded"), pod("Failed"),
                                     pod("Running", deleting=True)], []) == \
        f"forbidden by ResourcesProtectionDeletion for {LABEL}=Cascading and active pods 2>0"
    assert dp.namespace_refusal(ns, [pod("Succeeded")], [claim("Bound"), claim("Pending"),
                                                          claim("Bound", deleting=True)]) == \
        f'forbidden by ResourcesProtectionDeletion for {LABEL}=Cascading and "Bound" status pvc 1>0'
    assert dp.namespace_refusal(ns, [pod("Failed")], [claim("Lost")]) is None
    assert dp.namespace_refusal(obj(None), [pod()], [claim("Bound")]) is None


def test_crd_cascading_needs_its_gate_and_no_custom_resources():
    assert dp.crd_refusal(crd("Always")) == f"forbidden by ResourcesProtectionDeletion for {LABEL}=Always"
    assert dp.crd_refusal(crd("Cascading"), [], cascading_gate=False) == \
        "feature-gate DeletionProtectionForCRDCascadingGate is not enabled"
    live, going = {"metadata": {"name": "a"}}, {"metadata": {"name": "b", "deletionTimestamp": "t"}}
    assert dp.crd_refusal(crd("Cascading"), [live, live, going], cascading_gate=True) == \
        f"forbidden by ResourcesProtectionDeletion for {LABEL}=Cascading and active CRs 2>0"
    assert dp.crd_refusal(crd("Cascading"), [going], cascading_gate=True) is None
    assert dp.crd_storage(crd(None)) == ("example.io", "v1", "widgets", "WidgetList")
    assert dp.crd_storage(crd(None, version_key="version")) == ("example.io", "v1beta1", "widgets", "WidgetList")


class Lister:
    def __init__(self, answers: dict[str, list[dict] | Exception]):
        self.answers, self.asked = answers, []

    async def __call__(self, path: str) -> list[dict]:
        self.asked.append(path)
        answer = self.answers[path]
        if isinstance(answer, Exception):
            raise answer
        return answer


def review(old: dict | None, operation: str = "DELETE", kind: str = "Namespace") -> dict:
    request = {"uid": "u", "operation": operation, "kind": {"kind": kind}, "name": "x", "userInfo": {"username": "me"}}
    if old is not None:
        request["oldObject"] = old
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def run(coro):
    return asyncio.run(coro)


NAMESPACE = {"featureGate": "ResourcesDeletionProtection", "cascading": "podsAndClaims"}
CRD = {"featureGate": "ResourcesDeletionProtection", "cascading": "customResources",
       "cascadingFeatureGate": "DeletionProtectionForCRDCascadingGate"}
WORKLOAD = {"featureGate": "ResourcesDeletionProtection", "cascading": "replicas"}


def test_the_generated_table_names_upstream_paths():
    table = schemas.default_schema().data["deletionProtection"]
    assert {path: (spec["webhook"], spec["cascading"]) for path, spec in table.items()} == {
        "/validate-apps-deployment": ("vbuiltindeployment.kb.io", "replicas"),
        "/validate-apps-replicaset": ("vbuiltinreplicaset.kb.io", "replicas"),
        "/validate-apps-statefulset": ("vbuiltinstatefulset.kb.io", "replicas"),
        "/validate-customresourcedefinition": ("vcustomresourcedefinition.kb.io", "customResources"),
        "/validate-namespace": ("vnamespace.kb.io", "podsAndClaims"),
        "/validate-service": ("vservice.kb.io", "none"), "/validate-ingress": ("vingress.kb.io", "none")}
    assert table["/validate-customresourcedefinition"]["cascadingFeatureGate"] == "DeletionProtectionForCRDCascadingGate"


def test_refusal_is_a_403_with_upstreams_words_alone():
    answer = run(dp.validate(review(obj("Always")), NAMESPACE, GATES))["response"]
    assert answer == {"uid": "u", "allowed": False,
                      "status": {"code": 403, "message": f"forbidden by ResourcesProtectionDeletion for {LABEL}=Always"}}


def test_nothing_is_judged_without_the_gate_a_delete_or_an_old_object():
    assert run(dp.validate(review(obj("Always")), NAMESPACE, {}))["response"]["allowed"]
    assert run(dp.validate(review(obj("Always"), operation="UPDATE"), NAMESPACE, GATES))["response"]["allowed"]
    assert run(dp.validate(review(None), NAMESPACE, GATES))["response"]["allowed"]   # Kubernetes < 1.16


def test_cascading_namespace_lists_pods_then_claims_and_only_then():
    lister = Lister({"/api/v1/namespaces/x/pods": [pod("Succeeded")],
                     "/api/v1/namespaces/x/persistentvolumeclaims": [claim("Bound")]})
    answer = run(dp.validate(review(obj("Cascading")), NAMESPACE, GATES, lister))["response"]
    assert answer["status"]["message"].endswith('and "Bound" status pvc 1>0')
    assert lister.asked == ["/api/v1/namespaces/x/pods", "/api/v1/namespaces/x/persistentvolumeclaims"]
    busy = Lister({"/api/v1/namespaces/x/pods": [pod()]})
    assert run(dp.validate(review(obj("Cascading")), NAMESPACE, GATES, busy))["response"]["status"]["message"] \
        .endswith("and active pods 1>0")
    assert busy.asked == ["/api/v1/namespaces/x/pods"]
    idle = Lister({})
    assert not run(dp.validate(review(obj("Always")), NAMESPACE, GATES, idle))["response"]["allowed"]
    assert run(dp.validate(review(obj(None)), NAMESPACE, GATES, idle))["response"]["allowed"]
    assert idle.asked == []      # nothing is read unless Cascading


def test_a_list_that_fails_refuses_in_upstreams_words():
    denied = ApiError(403, {"message": "pods is forbidden: no"}, "GET", "/api/v1/namespaces/x/pods")
    answer = run(dp.validate(review(obj("Cascading")), NAMESPACE, GATES,
                             Lister({"/api/v1/namespaces/x/pods": denied})))["response"]
    assert answer["status"]["message"] == "forbidden by ResourcesProtectionDeletion for list pods error: pods is forbidden: no"
    answer = run(dp.validate(review(crd("Cascading"), kind="CustomResourceDefinition"), CRD,
                             {**GATES, "DeletionProtectionForCRDCascadingGate": True},
                             Lister({"/apis/example.io/v1/widgets": RuntimeError("boom")})))["response"]
    assert answer["status"]["message"] == "failed to list CRs of example.io/v1, Kind=WidgetList: boom"


@pytest.mark.parametrize("gate_on, items, allowed", [(False, [], False), (True, [{"metadata": {"name": "w"}}], False),
                                                     (True, [], True)])
def test_cascading_crd(gate_on, items, allowed):
    lister = Lister({"/apis/example.io/v1/widgets": items})
    gates = {**GATES, "DeletionProtectionForCRDCascadingGate": gate_on}
    answer = run(dp.validate(review(crd("Cascading"), kind="CustomResourceDefinition"), CRD, gates, lister))
    assert answer["response"]["allowed"] is allowed
    assert lister.asked == (["/apis/example.io/v1/widgets"] if gate_on else [])


def test_the_crd_gate_requires_resources_deletion_protection():
    gates = schemas.default_schema().gates({"DeletionProtectionForCRDCascadingGate": True})
    assert gates["DeletionProtectionForCRDCascadingGate"] is False
    assert schemas.default_schema().gates({"DeletionProtectionForCRDCascadingGate": True, **GATES})[
        "DeletionProtectionForCRDCascadingGate"] is True


def test_builtin_workloads_read_nothing():
    answer = run(dp.validate(review(obj("Cascading", replicas=3), kind="Deployment"), WORKLOAD, GATES, Lister({})))
    assert answer["response"]["status"]["message"].endswith("and replicas 3>0")
    assert run(dp.validate(review(obj("Cascading", replicas=0), kind="Deployment"), WORKLOAD, GATES))["response"][
        "allowed"]


def test_services_and_ingresses_know_always_only():
    """ValidateServiceDeletion, ValidateIngressDeletion: `Cascading` has no dependents to wait for."""
    spec = {"featureGate": "ResourcesDeletionProtection", "cascading": "none"}
    answer = run(dp.validate(review(obj("Always"), kind="Service"), spec, GATES, Lister({})))["response"]
    assert answer["status"]["message"] == f"forbidden by ResourcesProtectionDeletion for {LABEL}=Always"
    assert run(dp.validate(review(obj("Cascading"), kind="Ingress"), spec, GATES, Lister({})))["response"]["allowed"]
    assert dp.always_refusal(obj("Always", deleting=True)) is None
