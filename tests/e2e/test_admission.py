"""Admission through the real API server: our webhooks (defaulting and validation from the runtime schema) and
the CRDs' own OpenAPI schemas. Every refusal names the field, and a refused object is never stored."""
from __future__ import annotations

import copy
import json
import re

import pytest

from controllers.schema import apply_template_defaults
from tests.kube import Cluster

pytestmark = pytest.mark.usefixtures("kruise")


def example(kind: str) -> dict:
    """The schema's own example of a kind (the seed's YAML for CloneSet and StatefulSet)."""
    import yaml
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / "schema" / "apps.kruise.io" / f"{kind.lower()}.yaml"
    return copy.deepcopy(yaml.safe_load(path.read_text())["example"])


def with_(obj: dict, path: str, value) -> dict:
    """A copy of obj with `path` (dots; [n] for list items) set, or removed when value is DELETE."""
    out = copy.deepcopy(obj)
    parts = path.replace("[", ".[").split(".")
    target = out
    for part in parts[:-1]:
        target = target[int(part[1:-1])] if part.startswith("[") else target.setdefault(part, {})
    last = parts[-1]
    if value is DELETE:
        target.pop(last, None)
    elif last.startswith("["):
        target[int(last[1:-1])] = value
    else:
        target[last] = value
    return out


DELETE = object()
CS, ASTS, ADS, SCS, UD = "CloneSet", "StatefulSet", "DaemonSet", "SidecarSet", "UnitedDeployment"
NOT_SPARSE = {"matchLabels": {"other": "x"}}
# Who refuses: the CRD's OpenAPI schema (the API server itself) or our validating webhook.
SCHEMA, WEBHOOK = "schema", "webhook"
GE0, NO_MATCH = "should be greater than or equal to 0", "`selector` does not match template `labels`"
ALWAYS, INT_OR_PERCENT = 'supported values: "Always"', 'must be a non-negative integer or a percentage ("10%")'

# (kind, changes {path: value}, who refuses, the full path of the field named, the rule stated)
INVALID = [
    # CloneSet
    (CS, {"spec.replicas": -1}, SCHEMA, "spec.replicas", GE0),
    (CS, {"spec.replicas": "five"}, SCHEMA, "spec.replicas", "must be of type integer"),
    (CS, {"spec.selector": DELETE}, SCHEMA, "spec.selector", "Required value"),
    (CS, {"spec.selector": {}}, WEBHOOK, "spec.selector", "empty selector is invalid"),
    (CS, {"spec.selector": NOT_SPARSE}, WEBHOOK, "spec.template.metadata.labels", NO_MATCH),
    (CS, {"spec.template": DELETE}, SCHEMA, "spec.template", "Required value"),
    (CS, {"spec.template.spec.restartPolicy": "Never"}, WEBHOOK, "spec.template.spec.restartPolicy", ALWAYS),
    (CS, {"spec.template.spec.activeDeadlineSeconds": 10}, WEBHOOK, "spec.template.spec.activeDeadlineSeconds",
     "activeDeadlineSeconds in cloneset is not Supported"),
    (CS, {"spec.updateStrategy.type": "Rolling"}, SCHEMA, "spec.updateStrategy.type",
     'Unsupported value: "Rolling": supported values: "ReCreate", "InPlaceIfPossible", "InPlaceOnly"'),
    (CS, {"spec.updateStrategy.maxUnavailable": "abc"}, WEBHOOK, "spec.updateStrategy.maxUnavailable", INT_OR_PERCENT),
    (CS, {"spec.updateStrategy.maxUnavailable": 0, "spec.updateStrategy.maxSurge": 0}, WEBHOOK,
     "spec.updateStrategy.maxUnavailable", "maxUnavailable and maxSurge should not both be less than 1"),
    (CS, {"spec.updateStrategy.partition": -1}, WEBHOOK, "spec.updateStrategy.partition", "must be greater than or equal to 0"),
    (CS, {"spec.updateStrategy.type": "InPlaceOnly", "spec.updateStrategy.maxSurge": 1}, WEBHOOK,
     "spec.updateStrategy.maxSurge", "can not use maxSurge with strategy type InPlaceOnly"),
    (CS, {"spec.updateStrategy.inPlaceUpdateStrategy.gracePeriodSeconds": -3}, SCHEMA,
     "spec.updateStrategy.inPlaceUpdateStrategy.gracePeriodSeconds", GE0),
    (CS, {"spec.revisionHistoryLimit": -1}, SCHEMA, "spec.revisionHistoryLimit", GE0),
    (CS, {"spec.minReadySeconds": -5}, SCHEMA, "spec.minReadySeconds", GE0),
    (CS, {"spec.scaleStrategy.maxUnavailable": "x%"}, WEBHOOK, "spec.scaleStrategy.maxUnavailable", INT_OR_PERCENT),
    (CS, {"spec.updateStrategy.priorityStrategy": {"weightPriority": [{"weight": 101, "matchSelector": {"matchLabels": {"a": "b"}}}]}},
     SCHEMA, "spec.updateStrategy.priorityStrategy.weightPriority.weight", "should be less than or equal to 100"),
    (CS, {"spec.updateStrategy.scatterStrategy": [{"key": "", "value": "x"}]}, SCHEMA,
     "spec.updateStrategy.scatterStrategy.key", "should be at least 1 chars long"),
    (CS, {"spec.lifecycle.preDelete.finalizersHandler": "not-a-list"}, SCHEMA,
     "spec.lifecycle.preDelete.finalizersHandler", "must be of type array"),
    # Advanced StatefulSet (v1beta1 and the seed's v1alpha1)
    (ASTS, {"spec.replicas": -2}, SCHEMA, "spec.replicas", GE0),
    (ASTS, {"spec.selector": NOT_SPARSE}, WEBHOOK, "spec.template.metadata.labels", NO_MATCH),
    (ASTS, {"spec.podManagementPolicy": "Random"}, SCHEMA, "spec.podManagementPolicy",
     'Unsupported value: "Random": supported values: "OrderedReady", "Parallel"'),
    (ASTS, {"spec.template.spec.readinessGates": DELETE}, WEBHOOK, "spec.template.spec.readinessGates",
     "must contain InPlaceUpdateReady when podUpdatePolicy is InPlaceIfPossible or InPlaceOnly"),
    (ASTS, {"spec.podManagementPolicy": "OrderedReady"}, WEBHOOK, "spec.updateStrategy.rollingUpdate.maxUnavailable",
     "maxUnavailable can just work with Parallel PodManagementPolicyType"),
    (ASTS, {"spec.updateStrategy.rollingUpdate.maxUnavailable": 0}, WEBHOOK,
     "spec.updateStrategy.rollingUpdate.maxUnavailable", "maxUnavailable should not be less than 1"),
    (ASTS, {"spec.updateStrategy.type": "OnDelete"}, WEBHOOK, "spec.updateStrategy.rollingUpdate",
     "only allowed for updateStrategy 'RollingUpdate'"),
    (ASTS, {"spec.updateStrategy.rollingUpdate.podUpdatePolicy": "Sometimes"}, SCHEMA,
     "spec.updateStrategy.rollingUpdate.podUpdatePolicy",
     'Unsupported value: "Sometimes": supported values: "ReCreate", "InPlaceIfPossible", "InPlaceOnly"'),
    (ASTS, {"spec.updateStrategy.rollingUpdate.minReadySeconds": 301}, SCHEMA,
     "spec.updateStrategy.rollingUpdate.minReadySeconds", "should be less than or equal to 300"),
    (ASTS, {"spec.persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Keep"}}, SCHEMA,
     "spec.persistentVolumeClaimRetentionPolicy.whenDeleted", 'Unsupported value: "Keep": supported values: "Retain", "Delete"'),
    (ASTS, {"spec.template.spec.restartPolicy": "OnFailure"}, WEBHOOK, "spec.template.spec.restartPolicy", ALWAYS),
    (ASTS, {"apiVersion": "apps.kruise.io/v1alpha1", "spec.selector": NOT_SPARSE}, WEBHOOK,
     "spec.template.metadata.labels", NO_MATCH),
    (ASTS, {"apiVersion": "apps.kruise.io/v1alpha1", "spec.template.spec.readinessGates": DELETE}, WEBHOOK,
     "spec.template.spec.readinessGates", "must contain InPlaceUpdateReady when podUpdatePolicy is InPlaceIfPossible or InPlaceOnly"),
    # Advanced DaemonSet
    (ADS, {"spec.selector": NOT_SPARSE}, WEBHOOK, "spec.template.metadata.labels", NO_MATCH),
    (ADS, {"spec.updateStrategy.rollingUpdate.rollingUpdateType": "Sideways"}, SCHEMA,
     "spec.updateStrategy.rollingUpdate.rollingUpdateType",
     'Unsupported value: "Sideways": supported values: "Standard", "InPlaceIfPossible", "Surging"'),
    (ADS, {"spec.updateStrategy.rollingUpdate.maxSurge": 1}, WEBHOOK, "spec.updateStrategy.rollingUpdate.maxSurge",
     "Required value: must be 0 for InPlaceIfPossible type"),
    (ADS, {"spec.updateStrategy.rollingUpdate.maxUnavailable": 0}, WEBHOOK,
     "spec.updateStrategy.rollingUpdate.maxUnavailable", "Required value: cannot be 0 when maxSurge is 0"),
    (ADS, {"spec.template.spec.restartPolicy": "Never"}, WEBHOOK, "spec.template.spec.restartPolicy", ALWAYS),
    # SidecarSet (the CRD schema names list items without their index)
    (SCS, {"spec.containers[0].name": DELETE}, SCHEMA, "spec.containers.name", "Required value"),
    (SCS, {"spec.updateStrategy.type": "Sometimes"}, SCHEMA, "spec.updateStrategy.type",
     'Unsupported value: "Sometimes": supported values: "NotUpdate", "RollingUpdate"'),
    (SCS, {"spec.containers[0].upgradeStrategy": {"upgradeType": "HotUpgrade"}}, WEBHOOK,
     "spec.containers[0].upgradeStrategy.hotUpgradeEmptyImage", "hotUpgradeEmptyImage is required with upgradeType HotUpgrade"),
    (SCS, {"spec.selector": {}}, WEBHOOK, "spec.selector", "empty selector is not valid for sidecarset."),
    # UnitedDeployment
    (UD, {"spec.selector": NOT_SPARSE}, WEBHOOK, "spec.template.cloneSetTemplate.metadata.labels", NO_MATCH),
    (UD, {"spec.topology.subsets[0].replicas": 7}, WEBHOOK, "spec.topology.subsets",
     "sum of indicated subset replicas 7 should not be greater than UnitedDeployment replicas 6"),
    (UD, {"spec.template.cloneSetTemplate.spec.replicas": 3}, WEBHOOK, "spec.template.cloneSetTemplate.spec.replicas",
     "replicas are set per subset by the UnitedDeployment; remove them from the template"),
    (UD, {"spec.template.cloneSetTemplate.spec.updateStrategy.partition": 1}, WEBHOOK,
     "spec.template.cloneSetTemplate.spec.updateStrategy.partition",
     "partitions are set through spec.updateStrategy.manualUpdate.partitions"),
    (UD, {"spec.replicas": -1}, SCHEMA, "spec.replicas", GE0),
]


def plural(kind: str) -> str:
    return {CS: "clonesets", ASTS: "statefulsets", ADS: "daemonsets", SCS: "sidecarsets", UD: "uniteddeployments"}[kind]


def manifest(kind: str, changes: dict, name: str) -> dict:
    obj = example(kind)
    obj["metadata"]["name"] = name
    for path, value in changes.items():
        obj = with_(obj, path, value) if path != "apiVersion" else {**obj, "apiVersion": value}
    return obj


def stored(cluster: Cluster, kind: str, name: str, namespace: str) -> bool:
    args = ["get", f"{plural(kind)}.apps.kruise.io", name, "--ignore-not-found", "-o", "name"]
    return bool(cluster.kubectl(*args, namespace=None if kind == SCS else namespace).stdout.strip())


def named(path: str, message: str) -> bool:
    """Whether `message` names the field by its full path (not as the tail of a longer one) and says what
    is wrong with it: `<path>: <what>`."""
    return re.search(rf"(^|[\s\[*,]){re.escape(path)}: ", message, re.MULTILINE) is not None


@pytest.mark.parametrize("kind, changes, judge, path, rule", INVALID,
                         ids=[f"{k}-{'+'.join(c)}" for k, c, *_ in INVALID])
def test_invalid_objects_are_refused_naming_the_field(cluster: Cluster, namespace: str, kind, changes, judge, path, rule):
    name = f"bad-{kind.lower()}-{abs(hash(json.dumps(changes, sort_keys=True, default=str))) % 100000}"
    obj = manifest(kind, changes, name)
    # --validate=false: kubectl would refuse some cases itself (a wrong type, a missing required field)
    # before the API server sees them. The API server judges every case: the CRD schema or our webhook.
    result = cluster.kubectl("create", "--validate=false", "-f", "-", input=json.dumps(obj), check=False,
                             namespace=None if kind == SCS else namespace)
    assert result.returncode != 0, f"{kind} {changes} was accepted"
    message = result.stderr
    assert "error validating data" not in message, f"refused by kubectl, not the API server: {message}"
    by_webhook = f'admission webhook "v{kind.lower()}.kb.io" denied the request' in message
    assert by_webhook == (judge == WEBHOOK), f"expected the {judge} to refuse it: {message}"
    assert named(path, message), f"{path!r} not named in: {message}"
    assert rule in message, f"the rule {rule!r} not stated in: {message}"
    assert not stored(cluster, kind, name, namespace), "a refused object must not be stored"


def test_there_are_at_least_forty_invalid_cases_across_every_kind():
    assert len(INVALID) >= 40
    assert {k for k, *_ in INVALID} == {CS, ASTS, ADS, SCS, UD}
    assert {judge for _, _, judge, *_ in INVALID} == {SCHEMA, WEBHOOK}


# Valid objects with only their required fields, and what the API server stores for them: the defaults of
# openkruise.md (§3.1 CloneSet, §4.1 Advanced StatefulSet, §5 Advanced DaemonSet, §6.1 SidecarSet, §8.1
# UnitedDeployment), written out. Fields whose Go type omits its zero value (bool `paused`, int32
# `minReadySeconds`) stay absent, as in OpenKruise; CloneSet's scaleStrategy is a struct and shows as {}.
LABELS = {"app": "minimal"}
POD = {"metadata": {"labels": LABELS}, "spec": {"containers": [{"name": "main", "image": "nginx:alpine"}]}}
MINIMAL = {
    "CloneSet": (
        {"apiVersion": "apps.kruise.io/v1alpha1", "kind": CS, "spec": {"selector": {"matchLabels": LABELS}, "template": POD}},
        {"replicas": 1, "revisionHistoryLimit": 10, "scaleStrategy": {},
         "updateStrategy": {"type": "ReCreate", "partition": 0, "maxUnavailable": "20%", "maxSurge": 0}}),
    "CloneSet-InPlaceIfPossible": (
        {"apiVersion": "apps.kruise.io/v1alpha1", "kind": CS,
         "spec": {"selector": {"matchLabels": LABELS}, "template": POD, "updateStrategy": {"type": "InPlaceIfPossible"}}},
        {"replicas": 1, "revisionHistoryLimit": 10, "scaleStrategy": {},
         "updateStrategy": {"type": "InPlaceIfPossible", "partition": 0, "maxUnavailable": "20%", "maxSurge": 0,
                            "inPlaceUpdateStrategy": {}}}),
    "StatefulSet-v1beta1": (
        {"apiVersion": "apps.kruise.io/v1beta1", "kind": ASTS,
         "spec": {"selector": {"matchLabels": LABELS}, "template": POD, "serviceName": "minimal"}},
        {"serviceName": "minimal", "replicas": 1, "podManagementPolicy": "OrderedReady", "revisionHistoryLimit": 10,
         "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {
             "partition": 0, "maxUnavailable": 1, "podUpdatePolicy": "ReCreate", "minReadySeconds": 0}},
         "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"}}),
    # Read back as v1alpha1: the same, without the v1beta1-only retention policy (kept by the conversion).
    "StatefulSet-v1alpha1": (
        {"apiVersion": "apps.kruise.io/v1alpha1", "kind": ASTS,
         "spec": {"selector": {"matchLabels": LABELS}, "template": POD, "serviceName": "minimal"}},
        {"serviceName": "minimal", "replicas": 1, "podManagementPolicy": "OrderedReady", "revisionHistoryLimit": 10,
         "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {
             "partition": 0, "maxUnavailable": 1, "podUpdatePolicy": "ReCreate", "minReadySeconds": 0}}}),
    "DaemonSet": (
        {"apiVersion": "apps.kruise.io/v1alpha1", "kind": ADS, "spec": {"selector": {"matchLabels": LABELS}, "template": POD}},
        {"burstReplicas": 250, "revisionHistoryLimit": 10,
         "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {
             "rollingUpdateType": "Standard", "maxUnavailable": 1, "maxSurge": 0}}}),
    # v1beta1 (storage), Surging refused there; read back as written.
    "DaemonSet-v1beta1": (
        {"apiVersion": "apps.kruise.io/v1beta1", "kind": ADS,
         "spec": {"selector": {"matchLabels": LABELS}, "template": POD}},
        {"burstReplicas": 250, "revisionHistoryLimit": 10,
         "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {
             "rollingUpdateType": "Standard", "maxUnavailable": 1, "maxSurge": 0}}}),
    "SidecarSet": (
        {"apiVersion": "apps.kruise.io/v1alpha1", "kind": SCS,
         "spec": {"selector": {"matchLabels": LABELS}, "containers": [{"name": "sidecar", "image": "busybox:1"}]}},
        {"containers": [{"name": "sidecar", "image": "busybox:1", "podInjectPolicy": "BeforeAppContainer",
                         "upgradeStrategy": {"upgradeType": "ColdUpgrade"}, "shareVolumePolicy": {"type": "disabled"},
                         "imagePullPolicy": "IfNotPresent", "resources": {},
                         "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
         "revisionHistoryLimit": 10, "updateStrategy": {"type": "RollingUpdate", "partition": 0, "maxUnavailable": 1}}),
    "UnitedDeployment": (
        {"apiVersion": "apps.kruise.io/v1alpha1", "kind": UD,
         "spec": {"replicas": 2, "selector": {"matchLabels": LABELS},
                  "template": {"cloneSetTemplate": {"metadata": POD["metadata"],
                                                    "spec": {"selector": {"matchLabels": LABELS}, "template": POD}}},
                  "topology": {"subsets": [{"name": "subset-a"}]}}},
        {"replicas": 2, "revisionHistoryLimit": 10, "updateStrategy": {"type": "Manual", "manualUpdate": {}},
         "topology": {"subsets": [{"name": "subset-a"}]}}),
}


@pytest.mark.parametrize("case", sorted(MINIMAL))
def test_valid_objects_are_stored_with_their_defaults(cluster: Cluster, namespace: str, case: str):
    obj, expected = copy.deepcopy(MINIMAL[case])
    kind = obj["kind"]
    obj["metadata"] = {"name": f"minimal-{namespace[-5:]}"}
    ns = None if kind == SCS else namespace
    cluster.kubectl("create", "-f", "-", input=json.dumps(obj), namespace=ns)
    try:
        version = obj["apiVersion"].split("/")[1]
        live = json.loads(cluster.kubectl("get", f"{plural(kind)}.{version}.apps.kruise.io", obj["metadata"]["name"],
                                          "-o", "json", namespace=ns).stdout)
        spec = live["spec"]
        # The selector comes back as it was sent; the pod templates with Kubernetes' defaults (compared with the
        # API server's own in tests/e2e/test_template_defaults.py).
        if "selector" in obj["spec"]:
            assert spec.pop("selector") == obj["spec"]["selector"]
        if "template" in obj["spec"]:
            defaulted = apply_template_defaults(obj)["spec"]["template"]
            assert defaulted != obj["spec"]["template"] and spec.pop("template") == defaulted
        assert spec == expected
    finally:
        cluster.kubectl("delete", f"{plural(kind)}.apps.kruise.io", obj["metadata"]["name"], "--wait=false", namespace=ns)


def test_seed_cloneset_gets_openkruise_defaults(cluster: Cluster, namespace: str):
    obj = manifest(CS, {}, "demo-clone")
    cluster.kubectl("create", "-f", "-", input=json.dumps(obj), namespace=namespace)
    spec = json.loads(cluster.kubectl("get", "clone", "demo-clone", "-o", "json", namespace=namespace).stdout)["spec"]
    assert spec["revisionHistoryLimit"] == 10
    assert spec["updateStrategy"]["partition"] == 0 and spec["updateStrategy"]["maxSurge"] == 0
    assert spec["updateStrategy"]["maxUnavailable"] == "20%"
    assert spec["updateStrategy"]["inPlaceUpdateStrategy"] == {"gracePeriodSeconds": 3}


def test_update_outside_the_whitelist_is_refused(cluster: Cluster, namespace: str):
    obj = manifest(ASTS, {}, "whitelisted")
    cluster.kubectl("create", "-f", "-", input=json.dumps(obj), namespace=namespace)
    result = cluster.kubectl("patch", "asts", "whitelisted", "--type=merge", "-p",
                             '{"spec":{"serviceName":"other"}}', namespace=namespace, check=False)
    assert result.returncode != 0 and named("spec.serviceName", result.stderr), result.stderr
    assert "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template'" in result.stderr
    live = json.loads(cluster.kubectl("get", "asts", "whitelisted", "-o", "json", namespace=namespace).stdout)
    assert live["spec"]["serviceName"] == "demo-asts", "the refused update changed nothing"
    ok = cluster.kubectl("patch", "asts", "whitelisted", "--type=merge", "-p", '{"spec":{"replicas":4}}',
                         namespace=namespace, check=False)
    assert ok.returncode == 0, ok.stderr


def test_pods_to_delete_must_name_pods_of_this_cloneset(cluster: Cluster, namespace: str):
    # Not matched by the CloneSet's selector: a matching orphan would be adopted (and, at 0 replicas, deleted).
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stranger", "labels": {"app": "other"}},
                   "spec": {"containers": [{"name": "c", "image": "x:v1"}],
                            "nodeSelector": {"node.ack-kruise.io/simulated": "true"},
                            "tolerations": [{"key": "node.ack-kruise.io/simulated", "operator": "Exists"}]}},
                  namespace)
    obj = manifest(CS, {"spec.replicas": 0}, "picky")
    cluster.kubectl("create", "-f", "-", input=json.dumps(obj), namespace=namespace)
    result = cluster.kubectl("patch", "clone", "picky", "--type=merge", "-p",
                             '{"spec":{"scaleStrategy":{"podsToDelete":["stranger"]}}}', namespace=namespace, check=False)
    assert result.returncode != 0 and named("spec.scaleStrategy.podsToDelete[0]", result.stderr), result.stderr
    assert "find pod stranger owner is not this CloneSet" in result.stderr, result.stderr
