"""Admission through the real API server: our webhooks (defaulting and validation from the runtime schema) and
the CRDs' own OpenAPI schemas. Every refusal names the field, and a refused object is never stored."""
from __future__ import annotations

import copy
import json

import pytest

from controllers import schema as schemas
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

# (kind, changes {path: value}, words the message must contain)
INVALID = [
    # CloneSet
    (CS, {"spec.replicas": -1}, ["spec.replicas"]),
    (CS, {"spec.replicas": "five"}, ["spec.replicas"]),
    (CS, {"spec.selector": DELETE}, ["selector"]),  # kubectl names a missing required field itself
    (CS, {"spec.selector": {}}, ["spec.selector"]),
    (CS, {"spec.selector": NOT_SPARSE}, ["spec.template.metadata.labels"]),
    (CS, {"spec.template": DELETE}, ["template"]),
    (CS, {"spec.template.spec.restartPolicy": "Never"}, ["spec.template.spec.restartPolicy", "Always"]),
    (CS, {"spec.template.spec.activeDeadlineSeconds": 10}, ["activeDeadlineSeconds"]),
    (CS, {"spec.updateStrategy.type": "Rolling"}, ["spec.updateStrategy.type"]),
    (CS, {"spec.updateStrategy.maxUnavailable": "abc"}, ["spec.updateStrategy.maxUnavailable"]),
    (CS, {"spec.updateStrategy.maxUnavailable": 0, "spec.updateStrategy.maxSurge": 0}, ["maxUnavailable and maxSurge"]),
    (CS, {"spec.updateStrategy.partition": -1}, ["spec.updateStrategy.partition"]),
    (CS, {"spec.updateStrategy.type": "InPlaceOnly", "spec.updateStrategy.maxSurge": 1}, ["maxSurge"]),
    (CS, {"spec.updateStrategy.inPlaceUpdateStrategy.gracePeriodSeconds": -3}, ["gracePeriodSeconds"]),
    (CS, {"spec.revisionHistoryLimit": -1}, ["spec.revisionHistoryLimit"]),
    (CS, {"spec.minReadySeconds": -5}, ["spec.minReadySeconds"]),
    (CS, {"spec.scaleStrategy.maxUnavailable": "x%"}, ["spec.scaleStrategy.maxUnavailable"]),
    (CS, {"spec.updateStrategy.priorityStrategy": {"weightPriority": [{"weight": 101, "matchSelector": {"matchLabels": {"a": "b"}}}]}},
     ["weight"]),
    (CS, {"spec.updateStrategy.scatterStrategy": [{"key": "", "value": "x"}]}, ["scatterStrategy"]),
    (CS, {"spec.lifecycle.preDelete.finalizersHandler": "not-a-list"}, ["finalizersHandler"]),
    # Advanced StatefulSet (v1beta1 and the seed's v1alpha1)
    (ASTS, {"spec.replicas": -2}, ["spec.replicas"]),
    (ASTS, {"spec.selector": NOT_SPARSE}, ["spec.template.metadata.labels"]),
    (ASTS, {"spec.podManagementPolicy": "Random"}, ["spec.podManagementPolicy"]),
    (ASTS, {"spec.template.spec.readinessGates": DELETE}, ["InPlaceUpdateReady"]),
    (ASTS, {"spec.podManagementPolicy": "OrderedReady"}, ["maxUnavailable", "Parallel"]),
    (ASTS, {"spec.updateStrategy.rollingUpdate.maxUnavailable": 0}, ["maxUnavailable"]),
    (ASTS, {"spec.updateStrategy.type": "OnDelete"}, ["RollingUpdate"]),
    (ASTS, {"spec.updateStrategy.rollingUpdate.podUpdatePolicy": "Sometimes"}, ["podUpdatePolicy"]),
    (ASTS, {"spec.updateStrategy.rollingUpdate.minReadySeconds": 301}, ["minReadySeconds"]),
    (ASTS, {"spec.persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Keep"}}, ["whenDeleted"]),
    (ASTS, {"spec.template.spec.restartPolicy": "OnFailure"}, ["restartPolicy"]),
    (ASTS, {"apiVersion": "apps.kruise.io/v1alpha1", "spec.selector": NOT_SPARSE}, ["spec.template.metadata.labels"]),
    (ASTS, {"apiVersion": "apps.kruise.io/v1alpha1", "spec.template.spec.readinessGates": DELETE}, ["InPlaceUpdateReady"]),
    # Advanced DaemonSet
    (ADS, {"spec.selector": NOT_SPARSE}, ["spec.template.metadata.labels"]),
    (ADS, {"spec.updateStrategy.rollingUpdate.rollingUpdateType": "Sideways"}, ["rollingUpdateType"]),
    (ADS, {"spec.updateStrategy.rollingUpdate.maxSurge": 1}, ["maxSurge"]),
    (ADS, {"spec.updateStrategy.rollingUpdate.maxUnavailable": 0}, ["maxUnavailable"]),
    (ADS, {"spec.template.spec.restartPolicy": "Never"}, ["restartPolicy"]),
    # SidecarSet
    (SCS, {"spec.containers[0].name": DELETE}, ["name"]),
    (SCS, {"spec.updateStrategy.type": "Sometimes"}, ["spec.updateStrategy.type"]),
    (SCS, {"spec.containers[0].upgradeStrategy": {"upgradeType": "HotUpgrade"}}, ["hotUpgradeEmptyImage"]),
    (SCS, {"spec.selector": {}}, ["spec.selector"]),
    # UnitedDeployment
    (UD, {"spec.selector": NOT_SPARSE}, ["labels"]),
    (UD, {"spec.topology.subsets[0].replicas": 7}, ["subsets"]),
    (UD, {"spec.template.cloneSetTemplate.spec.replicas": 3}, ["replicas"]),
    (UD, {"spec.replicas": -1}, ["spec.replicas"]),
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


@pytest.mark.parametrize("kind, changes, words", INVALID,
                         ids=[f"{k}-{'+'.join(c)}" for k, c, _ in INVALID])
def test_invalid_objects_are_refused_naming_the_field(cluster: Cluster, namespace: str, kind, changes, words):
    name = f"bad-{kind.lower()}-{abs(hash(json.dumps(changes, sort_keys=True, default=str))) % 100000}"
    obj = manifest(kind, changes, name)
    result = cluster.kubectl("create", "-f", "-", input=json.dumps(obj), check=False,
                             namespace=None if kind == SCS else namespace)
    assert result.returncode != 0, f"{kind} {changes} was accepted"
    for word in words:
        assert word in result.stderr, f"{word!r} not named in: {result.stderr}"
    assert not stored(cluster, kind, name, namespace), "a refused object must not be stored"


def test_there_are_at_least_forty_invalid_cases_across_every_kind():
    assert len(INVALID) >= 40
    assert {k for k, _, _ in INVALID} == {CS, ASTS, ADS, SCS, UD}


@pytest.mark.parametrize("kind", [CS, ASTS, ADS, SCS, UD])
def test_valid_objects_are_stored_with_their_defaults(cluster: Cluster, namespace: str, kind):
    name = f"ok-{kind.lower()}-{namespace[-5:]}"
    obj = manifest(kind, {}, name)
    ns = None if kind == SCS else namespace
    cluster.kubectl("create", "-f", "-", input=json.dumps(obj), namespace=ns)
    try:
        live = json.loads(cluster.kubectl("get", f"{plural(kind)}.apps.kruise.io", name, "-o", "json",
                                          namespace=ns).stdout)
        version = live["apiVersion"].split("/")[1]
        expected = schemas.apply_defaults({**obj, "apiVersion": live["apiVersion"]})
        for entry in schemas.defaults_for(kind, version):
            if "[" in entry["parent"] or "when" in entry:
                continue  # list items and conditional defaults are covered by the unit tests
            where = f"{entry['parent']}.{entry['field']}" if entry["parent"] else entry["field"]
            want = schemas.get(where, expected)
            if want is None:
                continue
            assert schemas.get(where, live) == want, f"{where}: default {want!r} not applied"
    finally:
        cluster.kubectl("delete", f"{plural(kind)}.apps.kruise.io", name, "--wait=false", namespace=ns)


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
    assert result.returncode != 0 and "spec" in result.stderr and "serviceName" in result.stderr, result.stderr
    live = json.loads(cluster.kubectl("get", "asts", "whitelisted", "-o", "json", namespace=namespace).stdout)
    assert live["spec"]["serviceName"] == "demo-asts", "the refused update changed nothing"
    ok = cluster.kubectl("patch", "asts", "whitelisted", "--type=merge", "-p", '{"spec":{"replicas":4}}',
                         namespace=namespace, check=False)
    assert ok.returncode == 0, ok.stderr


def test_pods_to_delete_must_name_pods_of_this_cloneset(cluster: Cluster, namespace: str):
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stranger", "labels": {"app": "guestbook"}},
                   "spec": {"containers": [{"name": "c", "image": "x:v1"}],
                            "nodeSelector": {"node.ack-kruise.io/simulated": "true"},
                            "tolerations": [{"key": "node.ack-kruise.io/simulated", "operator": "Exists"}]}},
                  namespace)
    obj = manifest(CS, {"spec.replicas": 0}, "picky")
    cluster.kubectl("create", "-f", "-", input=json.dumps(obj), namespace=namespace)
    result = cluster.kubectl("patch", "clone", "picky", "--type=merge", "-p",
                             '{"spec":{"scaleStrategy":{"podsToDelete":["stranger"]}}}', namespace=namespace, check=False)
    assert result.returncode != 0 and "podsToDelete" in result.stderr, result.stderr
