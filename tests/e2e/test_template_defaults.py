"""Pod and PVC templates are stored with Kubernetes' own defaults (openkruise.md §2.3): the mutating webhooks
default them on create and whenever they change, so the same YAML applied again makes no new revision, and
the TemplateNoDefaults gate stores them as given.

The reference is the API server itself: `kubectl create --dry-run=server` of a PodTemplate (the defaults
Kubernetes gives templates), of a Pod (what pods made from the template look like) and of a PVC."""
from __future__ import annotations

import base64
import copy
import json

import pytest

from controllers.common import quantity
from tests.kube import ON_SIMULATED_NODES, Cluster, wait_for
from tests.manager import install_webhook_copy, webhook_only_manager

IMAGE = "registry.example/app:v1"
# A template touching every kind of default: volumes, probes, hooks, ports, env, quantities, init containers.
RICH_SPEC = {
    **ON_SIMULATED_NODES,
    "initContainers": [{"name": "init", "image": "registry.example/init", "command": ["true"]}],
    "containers": [{
        "name": "main", "image": IMAGE,
        "ports": [{"containerPort": 8080}, {"containerPort": 53, "protocol": "UDP"}],
        "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "resources": {"limits": {"cpu": "1000m", "memory": "1.5Gi"}, "requests": {"cpu": "0.0001", "memory": 100000}},
        "livenessProbe": {"httpGet": {"port": 8080}},
        "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 0},
        "startupProbe": {"exec": {"command": ["true"]}},
        "lifecycle": {"preStop": {"httpGet": {"port": 8080}}},
        "volumeMounts": [{"name": "scratch", "mountPath": "/s"}],
    }],
    "volumes": [
        {"name": "scratch"},
        {"name": "sized", "emptyDir": {"sizeLimit": "1024Mi"}},
        {"name": "host", "hostPath": {"path": "/tmp"}},
        {"name": "secret", "secret": {"secretName": "s"}},
        {"name": "config", "configMap": {"name": "c"}},
        {"name": "downward", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
        {"name": "projected", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
    ],
    "overhead": {"cpu": "0.5"},
}
MINIMAL_SPEC = {**ON_SIMULATED_NODES, "containers": [{"name": "main", "image": IMAGE}]}
CLAIM = {"metadata": {"name": "data"},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1.5Gi"}}}}


def template(app: str, spec: dict) -> dict:
    return {"metadata": {"labels": {"app": app}}, "spec": copy.deepcopy(spec)}


def cloneset(name: str, spec: dict = MINIMAL_SPEC, **extra) -> dict:
    return {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {"name": name},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}}, "template": template(name, spec),
                     **extra}}


def statefulset(name: str, version: str, spec: dict = MINIMAL_SPEC, **extra) -> dict:
    return {"apiVersion": f"apps.kruise.io/{version}", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": 0, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                     "template": template(name, spec), **extra}}


def create(cluster: Cluster, obj: dict, namespace: str, verb: str = "create") -> dict:
    return json.loads(cluster.kubectl(verb, "-f", "-", "-o", "json", input=json.dumps(obj),
                                      namespace=namespace).stdout)


def get(cluster: Cluster, obj: dict, namespace: str) -> dict:
    resource = {"CloneSet": "clonesets.apps.kruise.io", "StatefulSet": "statefulsets.apps.kruise.io",
                "DaemonSet": "daemonsets.apps.kruise.io", "UnitedDeployment": "uniteddeployments.apps.kruise.io"}
    return json.loads(cluster.kubectl("get", resource[obj["kind"]], obj["metadata"]["name"], "-o", "json",
                                      namespace=namespace).stdout)


def dry_run(cluster: Cluster, obj: dict, namespace: str) -> dict:
    return json.loads(cluster.kubectl("create", "--dry-run=server", "-f", "-", "-o", "json", input=json.dumps(obj),
                                      namespace=namespace).stdout)


def as_kubernetes_defaults_it(cluster: Cluster, pod_template: dict, namespace: str) -> dict:
    """The template as the API server stores it in a PodTemplate: Kubernetes' template defaults."""
    made = dry_run(cluster, {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "reference"},
                             "template": pod_template}, namespace)["template"]
    made["metadata"].pop("creationTimestamp", None)     # Go writes `creationTimestamp: null`
    return made


def with_kubernetes_pull_policy(pod_template: dict, reference: dict) -> dict:
    """`pod_template` with the app containers' imagePullPolicy of `reference`: OpenKruise defaults it to Always
    (pod.go, "for in-place update") where Kubernetes goes by the tag. Only where ours is Always."""
    result = copy.deepcopy(pod_template)
    for ours, theirs in zip(result["spec"]["containers"], reference["spec"]["containers"]):
        assert ours["imagePullPolicy"] == "Always", ours
        ours["imagePullPolicy"] = theirs["imagePullPolicy"]
    return result


def contained(part, whole, where: str = "spec") -> list[str]:
    """Where `part` differs from `whole`, reading lists of named items by name and ignoring what only `whole`
    has (a pod has more than its template: the service account volume, enableServiceLinks, ...)."""
    if isinstance(part, dict) and isinstance(whole, dict):
        return [d for k, v in part.items() for d in (contained(v, whole[k], f"{where}.{k}") if k in whole
                                                      else [f"{where}.{k}: missing"])]
    if isinstance(part, list) and isinstance(whole, list):
        if all(isinstance(i, dict) and "name" in i for i in part + whole):
            named = {i["name"]: i for i in whole}
            return [d for i in part for d in (contained(i, named[i["name"]], f"{where}[{i['name']}]")
                                              if i["name"] in named else [f"{where}[{i['name']}]: missing"])]
        if len(part) == len(whole):
            return [d for n, (a, b) in enumerate(zip(part, whole)) for d in contained(a, b, f"{where}[{n}]")]
        # Admission may add items (DefaultTolerationSeconds adds tolerations): each of ours must be there.
        return [f"{where}: {i!r} missing" for i in part if not any(contained(i, w) == [] for w in whole)]
    return [] if part == whole else [f"{where}: {part!r} != {whole!r}"]


# ---------------------------------------------------------------------------------------------------------

def test_a_clonesets_stored_template_is_what_kubernetes_makes_of_it(cluster: Cluster, namespace: str, kruise):
    """Every default Kubernetes v1.20 gives this template is in the stored one, and nothing else (besides
    OpenKruise's imagePullPolicy Always); a pod made from the template has every value the template has."""
    given = cloneset("rich", RICH_SPEC)
    stored = create(cluster, given, namespace)["spec"]["template"]
    reference = as_kubernetes_defaults_it(cluster, given["spec"]["template"], namespace)
    assert with_kubernetes_pull_policy(stored, reference) == reference
    assert stored != given["spec"]["template"]
    # A pod may carry an overhead only from its RuntimeClass: compare the rest.
    pod_spec = {k: v for k, v in given["spec"]["template"]["spec"].items() if k != "overhead"}
    pod = dry_run(cluster, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod_spec}, namespace)
    ours = with_kubernetes_pull_policy(stored, pod)["spec"]
    assert contained({k: v for k, v in ours.items() if k != "overhead"}, pod["spec"]) == []
    # Kubernetes defaults this on Pods only (SetDefaults_Pod), never on templates: neither do we.
    assert pod["spec"]["enableServiceLinks"] is True and "enableServiceLinks" not in stored["spec"]


@pytest.mark.parametrize("version", ["v1beta1", "v1alpha1"])
def test_an_advanced_statefulsets_templates_are_what_kubernetes_makes_of_them(cluster: Cluster, namespace: str,
                                                                             kruise, version: str):
    given = statefulset("asts", version, volumeClaimTemplates=[copy.deepcopy(CLAIM)])
    stored = create(cluster, given, namespace)["spec"]
    reference = as_kubernetes_defaults_it(cluster, given["spec"]["template"], namespace)
    assert with_kubernetes_pull_policy(stored["template"], reference) == reference
    claim = dry_run(cluster, {"apiVersion": "v1", "kind": "PersistentVolumeClaim", **copy.deepcopy(CLAIM)}, namespace)
    assert stored["volumeClaimTemplates"] == [{"metadata": {"name": "data"}, "spec": claim["spec"],
                                               "status": claim["status"]}]
    assert claim["spec"]["volumeMode"] == "Filesystem" and claim["status"] == {"phase": "Pending"}


@pytest.mark.parametrize("obj", [
    pytest.param({"apiVersion": "apps.kruise.io/v1alpha1", "kind": "DaemonSet", "metadata": {"name": "ds"},
                  "spec": {"selector": {"matchLabels": {"app": "ds"}}, "template": template("ds", MINIMAL_SPEC)}},
                 id="DaemonSet"),
    *[pytest.param({"apiVersion": "apps.kruise.io/v1alpha1", "kind": "UnitedDeployment", "metadata": {"name": "ud"},
                    "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "ud"}},
                             "topology": {"subsets": [{"name": "a"}]},
                             "template": {kind: {"metadata": {"labels": {"app": "ud"}},
                                                 "spec": {**extra, "template": template("ud", MINIMAL_SPEC)}}}}},
                   id=f"UnitedDeployment {kind}")
      for kind, extra in [("statefulSetTemplate", {"selector": {"matchLabels": {"app": "ud"}}}),
                          ("advancedStatefulSetTemplate", {"selector": {"matchLabels": {"app": "ud"}}}),
                          ("cloneSetTemplate", {"selector": {"matchLabels": {"app": "ud"}}}),
                          ("deploymentTemplate", {"selector": {"matchLabels": {"app": "ud"}}})]]])
def test_other_workloads_templates_are_what_kubernetes_makes_of_them(cluster: Cluster, namespace: str, kruise,
                                                                     obj: dict):
    def pod_template(workload: dict) -> dict:
        if workload["kind"] == "UnitedDeployment":
            return next(iter(workload["spec"]["template"].values()))["spec"]["template"]
        return workload["spec"]["template"]

    stored = pod_template(create(cluster, obj, namespace))
    reference = as_kubernetes_defaults_it(cluster, pod_template(obj), namespace)
    assert with_kubernetes_pull_policy(stored, reference) == reference


def test_the_same_yaml_again_makes_no_new_revision(cluster: Cluster, namespace: str, kruise):
    """kubectl apply twice, then kubectl replace (a PUT of the template without its defaults): the webhook
    defaults the template again, so the spec, the generation, updateRevision and the ControllerRevisions
    stay as they were. Defaulting on create only would have replace strip the defaults: a new revision."""
    objects = [cloneset("again-clone"), statefulset("again-asts", "v1alpha1")]
    for obj in objects:
        cluster.kubectl("apply", "-f", "-", input=json.dumps(obj), namespace=namespace)

    def settled(obj: dict) -> dict | None:
        live = get(cluster, obj, namespace)
        status = live.get("status") or {}
        done = status.get("observedGeneration") == live["metadata"]["generation"] and status.get("updateRevision")
        return live if done else None

    def revisions() -> set[str]:
        return {r.metadata.name for r in cluster.apps.list_namespaced_controller_revision(namespace).items}

    before = {o["metadata"]["name"]: wait_for(lambda o=o: settled(o), 30, f"{o['kind']} revisions") for o in objects}
    names = revisions()
    assert len(names) == 2
    for verb in ("apply", "replace"):
        for obj in objects:
            cluster.kubectl(verb, "-f", "-", input=json.dumps(obj), namespace=namespace)
    for obj in objects:
        now = wait_for(lambda o=obj: settled(o), 30, f"{obj['kind']} observed")
        then = before[obj["metadata"]["name"]]
        assert now["metadata"]["generation"] == then["metadata"]["generation"], obj["kind"]
        assert now["spec"] == then["spec"] and now["status"]["updateRevision"] == then["status"]["updateRevision"]
    assert revisions() == names


def test_quantities_are_written_as_the_api_server_writes_them(cluster: Cluster, namespace: str):
    """controllers/common/quantity.py against the API server, on a table of awkward quantities: as resources
    (rounded up to milli) and as an emptyDir sizeLimit (not rounded)."""
    texts = ["1", "0.5", "1e3", "1E3", "12e-1", "1.0001Ki", "0.5Ki", "1023Ki", "100u", "0.1n", "+5", "5.0", "007",
             "1.", "1.5k", "10e2", "1024Mi", "1.5Mi", "0m", "1.5e-9", "1e19", "10000E", "12345678901234567890",
             "1.10", "2000", "100000", "8Ki"]
    made = as_kubernetes_defaults_it(cluster, {"spec": {
        "containers": [{"name": f"c{i}", "image": "x", "resources": {"limits": {"cpu": t}}}
                       for i, t in enumerate(texts)],
        "volumes": [{"name": f"v{i}", "emptyDir": {"sizeLimit": t}} for i, t in enumerate(texts)]}}, namespace)
    theirs = [(c["resources"]["limits"]["cpu"], v["emptyDir"]["sizeLimit"])
              for c, v in zip(made["spec"]["containers"], made["spec"]["volumes"])]
    ours = [(quantity.canonical(t, round_to_milli=True), quantity.canonical(t)) for t in texts]
    assert ours == theirs


def test_template_no_defaults_stores_templates_as_given(cluster: Cluster, namespace: str, tls_secret: str, tmp_path):
    """A manager of the test's own with --feature-gates TemplateNoDefaults=true serves a copy of the CloneSet
    mutating webhook for objects labelled for this test, which the installed entry then skips."""
    label = f"test.ack-kruise.io/{namespace}"
    live = json.loads(cluster.kubectl("get", "mutatingwebhookconfiguration", "kruise-mutating-webhook-configuration",
                                      "-o", "json").stdout)
    index, hook = next((i, h) for i, h in enumerate(live["webhooks"]) if h["name"] == "mcloneset.kb.io")
    manager = webhook_only_manager(cluster, namespace, tls_secret, tmp_path / "manager.log",
                                   "--feature-gates", "TemplateNoDefaults=true").start()
    ca = base64.b64decode(cluster.core.read_namespaced_secret(tls_secret, namespace).data["ca.crt"])
    path = hook["clientConfig"]["url"].split("/", 3)[3]
    skip = [{"op": "replace", "path": f"/webhooks/{index}/objectSelector",
             "value": {"matchExpressions": [{"key": label, "operator": "DoesNotExist"}]}}]
    try:
        install_webhook_copy(cluster, "no-defaults-copy", [{**hook, "objectSelector": {"matchLabels": {label: "yes"}}}],
                             f"https://127.0.0.1:{manager.webhook_port}/{path}", ca, failure_policy="Fail")
        cluster.kubectl("patch", "mutatingwebhookconfiguration", "kruise-mutating-webhook-configuration",
                        "--type=json", "-p", json.dumps(skip))
        given = cloneset("plain", volumeClaimTemplates=[copy.deepcopy(CLAIM)])
        given["metadata"]["labels"] = {label: "yes"}
        stored = create(cluster, given, namespace)["spec"]
        assert stored["template"] == given["spec"]["template"]
        assert stored["volumeClaimTemplates"] == [CLAIM]
        assert stored["replicas"] == 0 and stored["revisionHistoryLimit"] == 10, "the other defaults still apply"
    finally:
        cluster.kubectl("patch", "mutatingwebhookconfiguration", "kruise-mutating-webhook-configuration",
                        "--type=json", "-p", json.dumps([{**skip[0], "value": hook.get("objectSelector") or {}}]))
        cluster.kubectl("delete", "mutatingwebhookconfiguration", "no-defaults-copy", "--ignore-not-found")
        manager.stop()
