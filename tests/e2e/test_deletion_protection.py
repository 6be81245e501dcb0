"""Deletion protection of Kubernetes' own objects through the real API server (README "Deletion protection";
OpenKruise v1.9.0 pkg/webhook/{namespace,customresourcedefinition,builtinworkloads,service,ingress}/validating):
with feature gates ResourcesDeletionProtection and DeletionProtectionForCRDCascadingGate, the webhook configuration
the chart renders with them (vnamespace.kb.io, vcustomresourcedefinition.kb.io,
vbuiltin{deployment,replicaset,statefulset}.kb.io, vservice.kb.io, vingress.kb.io) is installed and the manager
runs with them, for this module. For each kind: `Always` is refused in upstream's words and the object stays;
`Cascading` is refused while the object has dependents and accepted once it has none; an unlabelled one is deleted
as ever. With the manager down (killed, as in tests/e2e/sidecarset/test_inject.py) an unlabelled Namespace and
Deployment still go, and a labelled one does not. Upstream tests these handlers in unit tests only. No pod runs:
pods wait Pending on a node selector no node has."""
from __future__ import annotations

import json
import uuid

import pytest
from kubernetes.client import NetworkingV1Api
from kubernetes.client.rest import ApiException

from tests.kube import Cluster, wait_for

LABEL = "policy.kruise.io/delete-protection"
GATES = ("ResourcesDeletionProtection", "DeletionProtectionForCRDCascadingGate")
NOWHERE = {"ack-kruise.test/node": "none"}
HOOKS = {"vbuiltindeployment.kb.io": "deployments", "vbuiltinreplicaset.kb.io": "replicasets",
         "vbuiltinstatefulset.kb.io": "statefulsets", "vcustomresourcedefinition.kb.io": "customresourcedefinitions",
         "vnamespace.kb.io": "namespaces", "vservice.kb.io": "services", "vingress.kb.io": "ingresses"}


def forbidden(value: str, more: str = "") -> str:
    return f"forbidden by ResourcesProtectionDeletion for {LABEL}={value}{more}"


def install(sandbox, gates: tuple[str, ...], manager_gates: tuple[str, ...] | None = None) -> None:
    """The manager restarted with `manager_gates` (default: `gates`) after the chart's webhook configurations
    are installed as rendered with `gates` on (the manager then injects their URLs and CA bundle). No gates:
    the sandbox's own."""
    on = gates if manager_gates is None else manager_gates
    sandbox.restart_manager(("--feature-gates", ",".join(f"{g}=true" for g in on)) if on else None,
                            tuple(f"featureGates.{g}=true" for g in gates) if gates else None)


@pytest.fixture(scope="module", autouse=True)
def protected(sandbox, kruise, cluster: Cluster):
    install(sandbox, GATES)
    try:
        yield
    finally:
        install(sandbox, ())


@pytest.fixture(scope="module")
def ns(cluster: Cluster):
    name = f"delete-protection-{uuid.uuid4().hex[:5]}"
    cluster.create_namespace(name)
    yield name
    cluster.delete_namespace(name, wait=False)


def refusal(call, *args, **kwargs) -> str | None:
    """The API server's message when it refuses, None when it accepts."""
    try:
        call(*args, **kwargs)
    except ApiException as e:
        return json.loads(e.body).get("message", e.body) if e.body else str(e)
    return None


def denied(error: str | None, hook: str, message: str) -> bool:
    return error is not None and f'admission webhook "{hook}" denied the request: {message}' in error


def test_the_chart_renders_upstreams_entries_only_with_the_gate(cluster: Cluster):
    installed = {h["name"]: h for h in json.loads(cluster.kubectl(
        "get", "validatingwebhookconfiguration", "kruise-validating-webhook-configuration", "-o", "json").stdout)["webhooks"]}
    for name, resource in HOOKS.items():
        hook = installed[name]
        assert hook["failurePolicy"] == "Fail" and hook["rules"][0]["resources"] == [resource], hook
        assert hook["rules"][0]["operations"] == ["DELETE"], hook
        assert hook["objectSelector"] == {"matchExpressions": [{"key": LABEL, "operator": "Exists"}]}, hook


# ---- apps/v1 workloads ---------------------------------------------------------------------------

def workload(kind: str, name: str) -> dict:
    labels = {"app": name}
    spec = {"replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"nodeSelector": NOWHERE, "containers": [{"name": "c", "image": "nginx:alpine"}]}}}
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "labels": {LABEL: "Always"}}, "spec": spec}


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "StatefulSet"])
def test_builtin_workloads(cluster: Cluster, ns: str, kind: str):
    """ValidateWorkloadDeletion through vbuiltin<kind>.kb.io: `Always` refuses; `Cascading` refuses while
    spec.replicas > 0; unlabelled goes."""
    plural = kind.lower() + "s"
    read, delete, patch = (getattr(cluster.apps, f"{verb}_namespaced_{kind_snake(kind)}") for verb in
                           ("read", "delete", "patch"))
    hook = f"vbuiltin{kind.lower()}.kb.io"
    name = f"protected-{plural}"
    getattr(cluster.apps, f"create_namespaced_{kind_snake(kind)}")(ns, workload(kind, name))
    try:
        assert denied(refusal(delete, name, ns), hook, forbidden("Always")), refusal(delete, name, ns)
        assert read(name, ns).metadata.uid
        patch(name, ns, {"metadata": {"labels": {LABEL: "Cascading"}}})
        error = refusal(delete, name, ns)
        assert denied(error, hook, forbidden("Cascading", " and replicas 1>0")), error
        assert read(name, ns).metadata.deletion_timestamp is None
        patch(name, ns, {"spec": {"replicas": 0}})
        assert refusal(delete, name, ns) is None, "Cascading with 0 replicas must allow the deletion"
        plain = workload(kind, f"plain-{plural}")
        plain["metadata"]["labels"] = {"app": "plain"}
        getattr(cluster.apps, f"create_namespaced_{kind_snake(kind)}")(ns, plain)
        assert refusal(delete, plain["metadata"]["name"], ns) is None
    finally:
        unprotect(lambda: patch(name, ns, {"metadata": {"labels": {LABEL: None}}}))


def kind_snake(kind: str) -> str:
    return {"Deployment": "deployment", "ReplicaSet": "replica_set", "StatefulSet": "stateful_set"}[kind]


def unprotect(call) -> None:
    """Never leave a protected object behind (the namespace's deletion would trip on it)."""
    try:
        call()
    except ApiException as e:
        if e.status != 404:
            raise


# ---- Namespaces ------------------------------------------------------------------------------------

def test_namespace(cluster: Cluster):
    """ValidateNamespaceDeletion through vnamespace.kb.io: `Always` refuses; `Cascading` refuses while the
    namespace has an active pod (Pending counts), then while it has a Bound claim; accepted once it has none."""
    name = f"protected-ns-{uuid.uuid4().hex[:5]}"
    cluster.create_namespace(name)
    hook = "vnamespace.kb.io"
    try:
        cluster.core.patch_namespace(name, {"metadata": {"labels": {LABEL: "Always"}}})
        error = refusal(cluster.core.delete_namespace, name)
        assert denied(error, hook, forbidden("Always")), error
        assert cluster.core.read_namespace(name).status.phase == "Active"

        cluster.core.patch_namespace(name, {"metadata": {"labels": {LABEL: "Cascading"}}})
        cluster.core.create_namespaced_pod(name, {"metadata": {"name": "waiting"}, "spec": {
            "automountServiceAccountToken": False, "nodeSelector": NOWHERE,
            "containers": [{"name": "c", "image": "nginx:alpine"}]}})
        error = refusal(cluster.core.delete_namespace, name)
        assert denied(error, hook, forbidden("Cascading", " and active pods 1>0")), error
        cluster.core.delete_namespaced_pod("waiting", name, grace_period_seconds=0)
        wait_for(lambda: not cluster.pods(name), 30, "the pod to go")

        cluster.static_volumes(name, 1)
        cluster.core.create_namespaced_persistent_volume_claim(name, {"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": name, "resources": {"requests": {"storage": "1Gi"}}}})
        wait_for(lambda: cluster.core.read_namespaced_persistent_volume_claim("data", name).status.phase == "Bound",
                 60, "the claim to bind")
        error = refusal(cluster.core.delete_namespace, name)
        assert denied(error, hook, forbidden("Cascading", ' and "Bound" status pvc 1>0')), error
        cluster.core.delete_namespaced_persistent_volume_claim("data", name)
        # A claim being deleted no longer counts (its protection finalizer may keep it a moment).
        assert refusal(cluster.core.delete_namespace, name) is None, "Cascading without pods or claims must go"
        assert cluster.core.read_namespace(name).status.phase == "Terminating"
    finally:
        unprotect(lambda: cluster.core.patch_namespace(name, {"metadata": {"labels": {LABEL: None}}}))
        drop_namespace(cluster, name)
        cluster.kubectl("delete", "pv", "-l", f"test={name}", "--ignore-not-found", "--wait=false")


def drop_namespace(cluster: Cluster, name: str) -> None:
    """Delete `name` unless it is gone or going (deleting a terminating namespace is a 409)."""
    try:
        cluster.core.delete_namespace(name)
    except ApiException as e:
        if e.status not in (404, 409):
            raise


def test_unlabelled_namespace_goes(cluster: Cluster):
    name = f"plain-ns-{uuid.uuid4().hex[:5]}"
    cluster.create_namespace(name)
    assert refusal(cluster.core.delete_namespace, name) is None


# ---- CustomResourceDefinitions -----------------------------------------------------------------------

def crd(plural: str, value: str | None) -> dict:
    group = "protection.ack-kruise.test"
    kind = plural.capitalize()[:-1]
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}", "labels": {LABEL: value} if value else {}},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": plural, "singular": plural[:-1], "kind": kind, "listKind": f"{kind}List"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {"type": "object"}}}]}}


def create_crd(cluster: Cluster, body: dict) -> None:
    cluster.kubectl("create", "-f", "-", input=json.dumps(body))
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{body['metadata']['name']}", "--timeout=60s")


def delete_crd(cluster: Cluster, name: str) -> str | None:
    result = cluster.kubectl("delete", "crd", name, "--wait=false", check=False)
    return None if result.returncode == 0 else result.stderr


def test_crd(cluster: Cluster, ns: str):
    """ValidateCRDDeletion through vcustomresourcedefinition.kb.io: `Always` refuses; `Cascading` (with
    DeletionProtectionForCRDCascadingGate) refuses while a custom resource exists, in any namespace; unlabelled
    goes."""
    body = crd(f"gadget{uuid.uuid4().hex[:4]}s", "Always")
    name, hook = body["metadata"]["name"], "vcustomresourcedefinition.kb.io"
    create_crd(cluster, body)
    try:
        error = delete_crd(cluster, name)
        assert denied(error, hook, forbidden("Always")), error
        cluster.kubectl("label", "crd", name, f"{LABEL}=Cascading", "--overwrite")
        group, plural = body["spec"]["group"], body["spec"]["names"]["plural"]
        cluster.custom.create_namespaced_custom_object(group, "v1", ns, plural, {
            "apiVersion": f"{group}/v1", "kind": body["spec"]["names"]["kind"], "metadata": {"name": "one"}})
        error = delete_crd(cluster, name)
        assert denied(error, hook, forbidden("Cascading", " and active CRs 1>0")), error
        cluster.custom.delete_namespaced_custom_object(group, "v1", ns, plural, "one")
        assert delete_crd(cluster, name) is None, "Cascading without custom resources must go"
    finally:
        cluster.kubectl("label", "crd", name, f"{LABEL}-", check=False)
        cluster.kubectl("delete", "crd", name, "--ignore-not-found", "--wait=false", check=False)
    plain = crd(f"plain{uuid.uuid4().hex[:4]}s", None)
    create_crd(cluster, plain)
    assert delete_crd(cluster, plain["metadata"]["name"]) is None


def test_crd_cascading_without_its_gate_is_refused(cluster: Cluster, sandbox):
    """Without DeletionProtectionForCRDCascadingGate (the manager's), a Cascading CRD is never deleted, as
    upstream: `feature-gate DeletionProtectionForCRDCascadingGate is not enabled`."""
    body = crd(f"widget{uuid.uuid4().hex[:4]}s", "Cascading")
    name = body["metadata"]["name"]
    create_crd(cluster, body)
    install(sandbox, GATES, manager_gates=("ResourcesDeletionProtection",))
    try:
        error = delete_crd(cluster, name)
        assert denied(error, "vcustomresourcedefinition.kb.io",
                      "feature-gate DeletionProtectionForCRDCascadingGate is not enabled"), error
    finally:
        cluster.kubectl("label", "crd", name, f"{LABEL}-", check=False)
        cluster.kubectl("delete", "crd", name, "--ignore-not-found", "--wait=false", check=False)
        install(sandbox, GATES)


# ---- Services and Ingresses ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["Service", "Ingress"])
def test_services_and_ingresses_know_always_only(cluster: Cluster, ns: str, kind: str):
    """ValidateServiceDeletion, ValidateIngressDeletion through vservice.kb.io, vingress.kb.io: `Always` refuses;
    `Cascading` has nothing to wait for and goes; unlabelled goes."""
    if kind == "Service":
        api, suffix = cluster.core, "service"
        body = {"metadata": {"name": "protected"}, "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}
    else:
        api, suffix = NetworkingV1Api(cluster.api), "ingress"
        body = {"metadata": {"name": "protected"}, "spec": {"defaultBackend": {
            "service": {"name": "protected", "port": {"number": 80}}}}}
    create, read, patch = (getattr(api, f"{verb}_namespaced_{suffix}") for verb in ("create", "read", "patch"))

    def delete(name: str, namespace: str):
        # Not deserialized: the API server answers a Service DELETE with a Status, which the client cannot
        # read as a Service.
        return getattr(api, f"delete_namespaced_{suffix}")(name, namespace, _preload_content=False)
    hook = f"v{suffix}.kb.io"
    create(ns, {**body, "metadata": {"name": "protected", "labels": {LABEL: "Always"}}})
    try:
        error = refusal(delete, "protected", ns)
        assert denied(error, hook, forbidden("Always")), error
        assert read("protected", ns).metadata.deletion_timestamp is None
        patch("protected", ns, {"metadata": {"labels": {LABEL: "Cascading"}}})
        assert refusal(delete, "protected", ns) is None, "Cascading protects nothing here, as upstream"
        create(ns, {**body, "metadata": {"name": "plain"}})
        assert refusal(delete, "plain", ns) is None
    finally:
        unprotect(lambda: patch("protected", ns, {"metadata": {"labels": {LABEL: None}}}))


# ---- the manager down -------------------------------------------------------------------------------

def test_with_the_manager_down_only_labelled_objects_wait(cluster: Cluster, ns: str, sandbox):
    """failurePolicy Fail with the objectSelector: an unlabelled Namespace and Deployment are deleted while the
    manager is down; a labelled one is not (the webhook cannot be called), and goes once it is back."""
    plain_ns, kept_ns = (f"{p}-{uuid.uuid4().hex[:5]}" for p in ("down-plain", "down-kept"))
    for name in (plain_ns, kept_ns):
        cluster.create_namespace(name)
    cluster.core.patch_namespace(kept_ns, {"metadata": {"labels": {LABEL: "Cascading"}}})
    plain = workload("Deployment", "down-plain")
    plain["metadata"]["labels"] = {"app": "plain"}
    cluster.apps.create_namespaced_deployment(ns, plain)
    sandbox.kill_manager()
    try:
        assert refusal(cluster.core.delete_namespace, plain_ns) is None, "an unlabelled namespace waited on the manager"
        assert refusal(cluster.apps.delete_namespaced_deployment, "down-plain", ns) is None, \
            "an unlabelled Deployment waited on the manager"
        error = refusal(cluster.core.delete_namespace, kept_ns)
        assert error is not None and 'failed calling webhook "vnamespace.kb.io"' in error, error
        assert cluster.core.read_namespace(kept_ns).status.phase == "Active"
    finally:
        install(sandbox, GATES)
    assert refusal(cluster.core.delete_namespace, kept_ns) is None, "an empty Cascading namespace must go"
