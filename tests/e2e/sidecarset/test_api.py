"""The SidecarSet API against the real API server and the manager's webhooks (openkruise-1.9/sidecarset.md §0,
§1, §3): served as v1alpha1 and v1beta1 with a lossless conversion, the defaults and hash annotations of the
mutating webhook, refusals that name the field and change nothing, and `kubectl get sidecarset`.

Upstream e2e: test/e2e/apps/v1{alpha1,beta1}/sidecarset.go create the same SidecarSet through both versions
(`NewBaseSidecarSet`: namespace versus namespaceSelector, custom version as a label versus spec.customVersion);
the cases below follow it where it checks the API, and say so. SidecarSets are cluster-scoped: each test
selects pods by a label of its own namespace, so no two tests' SidecarSets overlap."""
from __future__ import annotations

import copy
import json
import subprocess

import pytest

from controllers.sidecarset import hashes
from tests.kube import Cluster, wait_for

ALPHA, BETA = "apps.kruise.io/v1alpha1", "apps.kruise.io/v1beta1"
CUSTOM_VERSION = "apps.kruise.io/sidecarset-custom-version"
NAME_LABEL = "kubernetes.io/metadata.name"
STASH = "conversion.apps.kruise.io/fields-not-in-this-version"
KRUISE_NAMESPACE = "kruise-system"


def sidecarset(test_ns: str, api: str = BETA, name: str | None = None, **spec) -> dict:
    """Upstream's NewBaseSidecarSet (test/e2e/framework/v1beta1/sidecarset_utils.go), selecting this test's
    pods only."""
    base = {
        "selector": {"matchLabels": {"app": "sidecarset", "test": test_ns}},
        "initContainers": [{"name": "init-sidecar", "image": "busybox", "command": ["/bin/sh", "-c", "sleep 1"]}],
        "containers": [
            {"name": "nginx-sidecar", "image": "nginx:alpine", "imagePullPolicy": "IfNotPresent",
             "command": ["tail", "-f", "/dev/null"], "podInjectPolicy": "BeforeAppContainer",
             "shareVolumePolicy": {"type": "enabled"}},
            {"name": "busybox-sidecar", "image": "busybox", "command": ["/bin/sh", "-c", "sleep 10000000"],
             "podInjectPolicy": "AfterAppContainer"}],
    }
    return {"apiVersion": api, "kind": "SidecarSet",
            "metadata": {"name": name or f"test-sidecarset-{test_ns[-5:]}", "labels": {"app": "sidecar"}},
            "spec": {**base, **spec}}


@pytest.fixture
def sidecarsets(cluster: Cluster, namespace: str, kruise):
    """Creates SidecarSets (kubectl create) and deletes them at the end of the test."""
    made: list[str] = []

    def create(obj: dict) -> dict:
        cluster.kubectl("create", "-f", "-", input=json.dumps(obj))
        made.append(obj["metadata"]["name"])
        return obj

    yield create
    for name in made:
        cluster.kubectl("delete", "sidecarsets.apps.kruise.io", name, "--ignore-not-found", "--wait=false")


def read(cluster: Cluster, name: str, version: str) -> dict:
    return json.loads(cluster.kubectl("get", f"sidecarsets.{version}.apps.kruise.io", name, "-o", "json").stdout)


def replace(cluster: Cluster, obj: dict) -> subprocess.CompletedProcess:
    return cluster.kubectl("replace", "-f", "-", input=json.dumps(obj), check=False)


def spec_and_labels(obj: dict) -> tuple[dict, dict]:
    return obj["spec"], obj["metadata"].get("labels", {})


# ---------------------------------------------------------------------------------------------- versions

def test_created_as_v1alpha1_read_as_v1beta1_and_back_loses_nothing(cluster: Cluster, namespace: str, sidecarsets):
    # Upstream v1alpha1 suite: namespace + the custom-version label; here also a namespaceSelector beside the
    # namespace, which upstream silently drops (C2) and which comes back here.
    obj = sidecarset(namespace, ALPHA, namespace=namespace, namespaceSelector={"matchLabels": {"team": "a"}})
    obj["metadata"]["labels"][CUSTOM_VERSION] = "version-1"
    sidecarsets(obj)
    beta = read(cluster, obj["metadata"]["name"], "v1beta1")
    assert "namespace" not in beta["spec"]
    assert beta["spec"]["namespaceSelector"] == {"matchLabels": {NAME_LABEL: namespace}}, "the namespace wins (C2)"
    assert beta["spec"]["customVersion"] == "version-1" and CUSTOM_VERSION not in beta["metadata"]["labels"]  # C3
    alpha = read(cluster, obj["metadata"]["name"], "v1alpha1")
    assert alpha["spec"]["namespace"] == namespace
    assert alpha["spec"]["namespaceSelector"] == {"matchLabels": {"team": "a"}}
    assert alpha["metadata"]["labels"][CUSTOM_VERSION] == "version-1"
    assert STASH not in alpha["metadata"].get("annotations", {}), "the record is consumed on the way back"
    # What the client sent comes back, besides the defaults the webhook added.
    for key, value in obj["spec"].items():
        if key not in ("initContainers", "containers"):
            assert alpha["spec"][key] == value, key
    assert [c["name"] for c in alpha["spec"]["containers"]] == ["nginx-sidecar", "busybox-sidecar"]


def test_created_as_v1beta1_read_as_v1alpha1_and_written_back_loses_nothing(cluster: Cluster, namespace: str,
                                                                           sidecarsets):
    obj = sidecarset(namespace, BETA, customVersion="version-2",
                     namespaceSelector={"matchLabels": {NAME_LABEL: namespace}}, injectionStrategy={"paused": True})
    obj["metadata"]["labels"][CUSTOM_VERSION] = "stale"      # a label v1alpha1 cannot show beside customVersion
    sidecarsets(obj)
    before = read(cluster, obj["metadata"]["name"], "v1beta1")
    alpha = read(cluster, obj["metadata"]["name"], "v1alpha1")
    assert alpha["metadata"]["labels"][CUSTOM_VERSION] == "version-2" and "namespace" not in alpha["spec"]
    # A v1alpha1 client reads, edits what it knows and writes the whole object back.
    alpha["spec"]["updateStrategy"]["paused"] = True
    result = replace(cluster, alpha)
    assert result.returncode == 0, result.stderr
    after = read(cluster, obj["metadata"]["name"], "v1beta1")
    assert after["spec"]["updateStrategy"]["paused"] is True
    after["spec"]["updateStrategy"].pop("paused")
    assert spec_and_labels(after) == spec_and_labels(before)
    assert after["metadata"]["labels"][CUSTOM_VERSION] == "stale"


# ---------------------------------------------------------------------------------------------- defaults

@pytest.mark.parametrize("api", [ALPHA, BETA])
def test_defaults_and_hash_annotations(cluster: Cluster, namespace: str, sidecarsets, api: str):
    obj = sidecarset(namespace, api)
    sidecarsets(obj)
    live = read(cluster, obj["metadata"]["name"], "v1beta1")
    spec = live["spec"]
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "partition": 0, "maxUnavailable": 1}
    assert spec["revisionHistoryLimit"] == 10
    init, nginx, busybox = spec["initContainers"][0], *spec["containers"]
    assert init["podInjectPolicy"] == "AfterAppContainer" and busybox["podInjectPolicy"] == "AfterAppContainer"
    assert nginx["shareVolumePolicy"] == {"type": "enabled"} and busybox["shareVolumePolicy"] == {"type": "disabled"}
    assert nginx["imagePullPolicy"] == "IfNotPresent" and busybox["imagePullPolicy"] == "Always"
    for container in (init, nginx, busybox):
        assert container["upgradeStrategy"] == {"upgradeType": "ColdUpgrade"}
        assert container["terminationMessagePath"] == "/dev/termination-log"
    annotations = live["metadata"]["annotations"]
    assert annotations[hashes.HASH_ANNOTATION] == hashes.sidecarset_hash(live)
    assert annotations[hashes.HASH_WITHOUT_IMAGE_ANNOTATION] == hashes.sidecarset_hash_without_image(live)


def test_an_image_change_moves_only_the_hash(cluster: Cluster, namespace: str, sidecarsets):
    obj = sidecarsets(sidecarset(namespace))
    name = obj["metadata"]["name"]
    before = read(cluster, name, "v1beta1")["metadata"]["annotations"]
    cluster.kubectl("patch", "sidecarsets.v1beta1.apps.kruise.io", name, "--type=json", "-p",
                    json.dumps([{"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:1.25"}]))
    after = read(cluster, name, "v1beta1")["metadata"]["annotations"]
    assert after[hashes.HASH_ANNOTATION] != before[hashes.HASH_ANNOTATION]
    assert after[hashes.HASH_WITHOUT_IMAGE_ANNOTATION] == before[hashes.HASH_WITHOUT_IMAGE_ANNOTATION]
    cluster.kubectl("patch", "sidecarsets.v1beta1.apps.kruise.io", name, "--type=merge", "-p",
                    json.dumps({"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}}))
    assert read(cluster, name, "v1beta1")["metadata"]["annotations"] == after, "volumes are not hashed (§3)"


# ---------------------------------------------------------------------------------------------- refusals

REFUSALS = [
    ({"selector": {}}, "spec.selector", "empty selector is not valid for sidecarset."),
    ({"initContainers": [{"name": "native", "image": "envoy", "restartPolicy": "Always"}]}, "spec.updateStrategy",
     "The initContainer in-place upgrade is not currently supported."),
    ({"updateStrategy": {"partition": 1, "selector": {"matchLabels": {"a": "b"}}}}, "spec.updateStrategy",
     "Partition and Selector cannot be used together"),
    ({"injectionStrategy": {"revision": {"revisionName": "no-such-revision"}}}, "spec.injectionStrategy.revision",
     "Cannot find specific ControllerRevision"),
    ({"containers": [{"name": "s", "image": "x", "volumeMounts": [{"name": "logs", "mountPath": "/l"}]}]},
     "spec.containers[0].volumeMounts[0].name", 'Not found: "logs"'),
    ({"containers": [{"name": "s", "image": "x", "transferEnv": [
        {"sourceContainerNameFrom": {"fieldRef": {"fieldPath": "metadata.name"}}, "envName": "E"}]}]},
     "spec.containers[0].transferEnv[0].sourceContainerNameFrom.fieldRef.fieldPath", "field label not supported"),
    ({"containers": [{"name": "s", "image": "x", "resources": {"limits": {"cpu": "1"}}, "resourcesPolicy": {
        "targetContainersMode": "sum", "resourcesExpr": {"limits": {"cpu": "cpu"}}}}]},
     "spec.containers[0].resourcesPolicy", "resourcesPolicy and resources cannot be configured together"),
    ({"patchPodMetadata": [{"annotations": {"oom-score": "1"}}]}, "spec.patchPodMetadata",
     "SidecarSet patch metadata whitelist not found"),
]


@pytest.mark.parametrize("api", [ALPHA, BETA])
@pytest.mark.parametrize("changes, path, message", REFUSALS, ids=[r[1] + "-" + r[2][:20] for r in REFUSALS])
def test_refused_naming_the_field(cluster: Cluster, namespace: str, kruise, api, changes, path, message):
    obj = sidecarset(namespace, api, **changes)
    result = cluster.kubectl("create", "-f", "-", input=json.dumps(obj), check=False)
    assert result.returncode != 0, "accepted"
    assert 'admission webhook "vsidecarset.kb.io" denied the request' in result.stderr, result.stderr
    assert f"{path}: " in result.stderr and message in result.stderr, result.stderr
    found = cluster.kubectl("get", "sidecarsets.apps.kruise.io", obj["metadata"]["name"], "--ignore-not-found",
                            "-o", "name")
    assert not found.stdout.strip(), "a refused SidecarSet is not stored"


def test_a_refused_update_changes_nothing(cluster: Cluster, namespace: str, sidecarsets):
    obj = sidecarsets(sidecarset(namespace))
    name = obj["metadata"]["name"]
    before = read(cluster, name, "v1beta1")
    for patch, path, message in [
        ([{"op": "add", "path": "/spec/containers/-", "value": {"name": "new-sidecar", "image": "busybox"}}],
         "spec.containers[2].name", "container new-sidecar is not found"),
        ([{"op": "add", "path": "/spec/containers/0/upgradeStrategy",
           "value": {"upgradeType": "HotUpgrade", "hotUpgradeEmptyImage": "busybox"}}],
         "spec.containers[0].upgradeStrategy.upgradeType", "field is immutable")]:
        result = cluster.kubectl("patch", "sidecarsets.v1beta1.apps.kruise.io", name, "--type=json", "-p",
                                 json.dumps(patch), check=False)
        assert result.returncode != 0 and f"{path}: " in result.stderr and message in result.stderr, result.stderr
    assert read(cluster, name, "v1beta1") == before


def test_a_second_sidecarset_with_the_same_container_on_the_same_pods_is_refused(cluster: Cluster, namespace: str,
                                                                               sidecarsets):
    # Upstream keeps the containers of SidecarSets that may inject into the same pod apart (validateSidecarConflict).
    first = sidecarsets(sidecarset(namespace))
    second = sidecarset(namespace, ALPHA, name=f"second-{namespace[-5:]}", namespace=namespace)
    result = cluster.kubectl("create", "-f", "-", input=json.dumps(second), check=False)
    assert result.returncode != 0, "accepted"
    assert (f'spec.initContainers[0].name: Invalid value: "init-sidecar": container init-sidecar already exist in '
            f'{first["metadata"]["name"]}') in result.stderr, result.stderr
    elsewhere = copy.deepcopy(second)
    elsewhere["spec"]["selector"]["matchLabels"]["app"] = "other"
    sidecarsets(elsewhere)        # pods no longer overlap: accepted


def test_the_whitelist_of_kruise_configuration_allows_patched_annotations(cluster: Cluster, namespace: str,
                                                                         sidecarsets):
    # Upstream e2e "sidecarSet patch pod metadata" writes this ConfigMap (with the dead key annotationKeyExprs,
    # which only passes under AllAlpha; §1.5). The manager reads it live, at admission time.
    name = "kruise-configuration"
    rules = {"rules": [{"selector": {"matchLabels": {"test": namespace}},
                        "allowedAnnotationKeyExprs": ["^oom-score$"]}]}
    cluster.kubectl("create", "configmap", name, "-n", KRUISE_NAMESPACE,
                    f"--from-literal=SidecarSet_PatchPodMetadata_WhiteList={json.dumps(rules)}")
    try:
        obj = sidecarset(namespace, patchPodMetadata=[{"annotations": {"oom-score": "1"}}])
        obj["metadata"]["labels"]["test"] = namespace
        wait_for(lambda: cluster.kubectl("create", "-f", "-", input=json.dumps(obj), check=False).returncode == 0,
                 10, "the whitelisted SidecarSet to be accepted")
        cluster.kubectl("delete", "sidecarsets.apps.kruise.io", obj["metadata"]["name"], "--wait=false")
        other = copy.deepcopy(obj)
        other["spec"]["patchPodMetadata"] = [{"annotations": {"other": "1"}}]
        result = cluster.kubectl("create", "-f", "-", input=json.dumps(other), check=False)
        assert result.returncode != 0 and "spec.patchPodMetadata: Required value: sidecarSet patch metadata " \
            "annotation(other) is not allowed" in result.stderr, result.stderr
    finally:
        cluster.kubectl("delete", "configmap", name, "-n", KRUISE_NAMESPACE, "--ignore-not-found")


# ---------------------------------------------------------------------------------------------- printing

def test_kubectl_get_prints_matched_updated_ready_and_age(cluster: Cluster, namespace: str, sidecarsets):
    obj = sidecarsets(sidecarset(namespace))
    for version in ("v1alpha1", "v1beta1"):
        out = cluster.kubectl("get", f"sidecarsets.{version}.apps.kruise.io", obj["metadata"]["name"]).stdout
        assert out.split("\n")[0].split() == ["NAME", "MATCHED", "UPDATED", "READY", "AGE"], out
    assert cluster.kubectl("get", "sidecarset", obj["metadata"]["name"], "-o", "name").stdout.strip() == \
        f"sidecarset.apps.kruise.io/{obj['metadata']['name']}"
