"""Injection at pod creation (sidecarset.md §2) on plain dicts: v1beta1 SidecarSets as the API serves them
(defaulted), pods as the API server hands them to the webhook."""
import json
from datetime import datetime, timezone

import pytest

from controllers.sidecarset import annotations as keys
from controllers.sidecarset.inject import InjectionError, inject, merge_containers

NOW = datetime(2026, 7, 1, 8, 0, 0, tzinfo=timezone.utc)
NS_LABELS = {"kubernetes.io/metadata.name": "ns"}


def sidecarset(name="test-sidecarset", containers=None, init_containers=None, **spec):
    """NewBaseSidecarSet (§7), defaulted as the SidecarSet webhook does."""
    body = {"selector": {"matchLabels": {"app": "sidecarset"}},
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ns"}},
            "initContainers": init_containers if init_containers is not None else [
                {"name": "init-sidecar", "image": "busybox", "command": ["sleep", "1"],
                 "podInjectPolicy": "AfterAppContainer", "upgradeStrategy": {"upgradeType": "ColdUpgrade"},
                 "shareVolumePolicy": {"type": "disabled"}}],
            "containers": containers if containers is not None else [
                {"name": "nginx-sidecar", "image": "nginx", "command": ["tail", "-f", "/dev/null"],
                 "podInjectPolicy": "BeforeAppContainer", "upgradeStrategy": {"upgradeType": "ColdUpgrade"},
                 "shareVolumePolicy": {"type": "enabled"}},
                {"name": "busybox-sidecar", "image": "busybox", "command": ["sleep", "10000000"],
                 "podInjectPolicy": "AfterAppContainer", "upgradeStrategy": {"upgradeType": "ColdUpgrade"},
                 "shareVolumePolicy": {"type": "disabled"}}],
            "updateStrategy": {"type": "RollingUpdate", "partition": 0, "maxUnavailable": 1},
            "revisionHistoryLimit": 10}
    body.update(spec)
    return {"apiVersion": "apps.kruise.io/v1beta1", "kind": "SidecarSet",
            "metadata": {"name": name, "resourceVersion": "7",
                         "annotations": {keys.HASH: f"{name}-hash", keys.HASH_WITHOUT_IMAGE: f"{name}-hwi"}},
            "spec": body, "status": {"latestRevision": f"{name}-rev1"}}


def pod(labels=None, containers=None, annotations=None, **spec):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": "deployment-test-", "namespace": "ns",
                         "labels": {"app": "sidecarset"} if labels is None else labels,
                         **({"annotations": annotations} if annotations else {})},
            "spec": {"containers": containers or [{"name": "main", "image": "busybox:latest"}], **spec}}


def names(containers):
    return [c["name"] for c in containers]


def run(p, *sets, labels=NS_LABELS, revisions=(), **kw):
    return inject(p, "ns", sets, labels, revisions, NOW, **kw)


# ---- [SidecarSetInject] cases of §7.1 -------------------------------------------------------------------
def test_pods_dont_have_matched_sidecarset():
    p = pod()
    assert run(p, sidecarset(selector={"matchLabels": {"app": "nomatched"}})) is p


def test_sidecarset_inject_pod_sidecar_container():
    out = run(pod(), sidecarset())
    assert names(out["spec"]["containers"]) == ["nginx-sidecar", "main", "busybox-sidecar"]
    assert names(out["spec"]["initContainers"]) == ["init-sidecar"]
    for c in out["spec"]["containers"][::2] + out["spec"]["initContainers"]:
        assert {"name": "IS_INJECTED", "value": "true"} in c["env"]
        assert not set(c) & {"podInjectPolicy", "upgradeStrategy", "shareVolumePolicy", "transferEnv"}
    assert "env" not in out["spec"]["containers"][1]


def test_inject_volume_mounts():
    s = sidecarset(volumes=[{"name": "nginx-volume", "emptyDir": {}}])
    s["spec"]["containers"][0]["volumeMounts"] = [{"name": "nginx-volume", "mountPath": "/nginx-volume"}]
    p = pod(containers=[{"name": "main", "image": "busybox",
                         "volumeMounts": [{"name": "main-volume", "mountPath": "/main-volume"}]}],
            volumes=[{"name": "main-volume", "emptyDir": {}}])
    out = run(p, s)
    assert names(out["spec"]["volumes"]) == ["main-volume", "nginx-volume"]
    assert [m["mountPath"] for m in out["spec"]["containers"][0]["volumeMounts"]] == ["/nginx-volume",
                                                                                       "/main-volume"]


def test_volume_mounts_subpathexpr_with_expanded_subpath():
    p = pod(containers=[{"name": "main", "image": "busybox",
                         "env": [{"name": "POD_NAME", "value": "bar"}, {"name": "OD_NAME", "value": "od_name"}],
                         "volumeMounts": [{"name": "main-volume", "mountPath": "/main-volume",
                                           "subPathExpr": "foo/$(POD_NAME)/$(OD_NAME)/conf"}]}],
            volumes=[{"name": "main-volume", "emptyDir": {}}])
    out = run(p, sidecarset())
    sidecar = out["spec"]["containers"][0]
    assert [m["mountPath"] for m in sidecar["volumeMounts"]] == ["/main-volume"]
    assert sidecar["env"] == [{"name": "IS_INJECTED", "value": "true"}, {"name": "POD_NAME", "value": "bar"},
                              {"name": "OD_NAME", "value": "od_name"}]


MAIN_ENVS = [{"name": "POD_NAME", "value": "bar"}, {"name": "OD_NAME", "value": "od_name"},
             {"name": "PROXY_IP", "value": "127.0.0.1"}]


def transfer_sidecarset(transfer):
    return sidecarset(init_containers=[], containers=[{
        "name": "nginx-sidecar", "image": "nginx", "podInjectPolicy": "BeforeAppContainer",
        "upgradeStrategy": {"upgradeType": "ColdUpgrade"}, "shareVolumePolicy": {"type": "disabled"},
        "env": [{"name": "OD_NAME", "value": "sidecar_name"}, {"name": "SidecarName", "value": "nginx-sidecar"}],
        "transferEnv": transfer}])


def expect_transferred(out):
    assert len(out["spec"]["containers"]) == 2
    env = {e["name"]: e["value"] for e in out["spec"]["containers"][0]["env"]}
    assert env == {"OD_NAME": "sidecar_name", "SidecarName": "nginx-sidecar", "IS_INJECTED": "true",
                   "POD_NAME": "bar", "PROXY_IP": "127.0.0.1"}


def test_transfer_envs():
    s = transfer_sidecarset([{"sourceContainerName": "main", "envName": "POD_NAME"},
                             {"sourceContainerName": "main", "envName": "OD_NAME"},
                             {"sourceContainerName": "main", "envName": "PROXY_IP"}])
    expect_transferred(run(pod(containers=[{"name": "main", "image": "busybox", "env": MAIN_ENVS}]), s))


@pytest.mark.parametrize("where", ["labels", "annotations"])
def test_transfer_envs_via_downward_api(where):
    s = transfer_sidecarset([{"sourceContainerNameFrom": {"fieldRef": {
        "apiVersion": "v1", "fieldPath": f"metadata.{where}['biz']"}},
        "envNames": ["POD_NAME", "OD_NAME", "PROXY_IP"]}])
    p = pod(containers=[{"name": "main", "image": "busybox", "env": MAIN_ENVS}])
    p["metadata"].setdefault(where, {})["biz"] = "main"
    expect_transferred(run(p, s))


def test_transfer_from_unsupported_field_is_skipped():
    s = transfer_sidecarset([{"sourceContainerNameFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                              "envNames": ["POD_NAME"]}])
    env = run(pod(containers=[{"name": "main", "image": "b", "env": MAIN_ENVS}]), s)["spec"]["containers"][0]["env"]
    assert "POD_NAME" not in {e["name"] for e in env}


# ---- matching (§2.2) --------------------------------------------------------------------------------------
def test_namespace_selector_reads_the_namespace_labels_and_an_unknown_namespace_never_matches():
    assert run(pod(), sidecarset(), labels={"kubernetes.io/metadata.name": "other"})["spec"].get("initContainers") \
        is None
    assert run(pod(), sidecarset(), labels=None)["spec"].get("initContainers") is None
    unscoped = sidecarset()
    del unscoped["spec"]["namespaceSelector"]
    assert len(run(pod(), unscoped, labels=None)["spec"]["containers"]) == 3


def test_paused_injection_empty_selector_and_inactive_pods_are_skipped():
    p = pod()
    assert run(p, sidecarset(injectionStrategy={"paused": True})) is p
    assert run(p, sidecarset(selector={})) is p
    done = {**p, "status": {"phase": "Succeeded"}}
    assert run(done, sidecarset()) is done


# ---- merge order (§2.8) -----------------------------------------------------------------------------------
def test_a_sidecar_named_like_an_app_container_replaces_it_in_place():
    merged = merge_containers([{"name": "a"}, {"name": "b"}],
                              [{"name": "b", "image": "x", "podInjectPolicy": "BeforeAppContainer"},
                               {"name": "c", "podInjectPolicy": "Weird"}, {"name": "d",
                                                                          "podInjectPolicy": "BeforeAppContainer"}])
    assert merged == [{"name": "d"}, {"name": "a"}, {"name": "b", "image": "x"}, {"name": "c"}]


def test_init_containers_sorted_by_name_and_before_policy_prepends_them():
    s = sidecarset(init_containers=[
        {"name": "z-init", "image": "b", "podInjectPolicy": "AfterAppContainer"},
        {"name": "a-init", "image": "b", "podInjectPolicy": "BeforeAppContainer"}])
    out = run(pod(initContainers=[{"name": "app-init", "image": "b"}]), s)
    assert names(out["spec"]["initContainers"]) == ["a-init", "app-init", "z-init"]


def test_sort_by_name_gate_and_volumes_and_secrets_merge_first_wins():
    s1 = sidecarset("ss-a", init_containers=[], imagePullSecrets=[{"name": "s1"}, {"name": "pod-secret"}],
                    volumes=[{"name": "v", "emptyDir": {}}])
    s1["spec"]["containers"][1]["volumeMounts"] = [{"name": "v", "mountPath": "/v"}]
    s2 = sidecarset("ss-b", init_containers=[], containers=[{"name": "aaa", "image": "b"}])
    p = pod(imagePullSecrets=[{"name": "pod-secret"}], volumes=[{"name": "v", "hostPath": {"path": "/x"}}])
    out = run(p, s2, s1)   # matched in name order whatever the list order
    assert names(out["spec"]["containers"]) == ["nginx-sidecar", "main", "busybox-sidecar", "aaa"]
    assert names(run(p, s1, s2, sort_by_name=True)["spec"]["containers"]) == \
        ["nginx-sidecar", "main", "aaa", "busybox-sidecar"]
    assert out["spec"]["volumes"] == [{"name": "v", "hostPath": {"path": "/x"}}]
    assert out["spec"]["imagePullSecrets"] == [{"name": "pod-secret"}, {"name": "s1"}]


# ---- annotations (§2.11) ----------------------------------------------------------------------------------
def test_annotations_exact_json():
    out = run(pod(annotations={keys.INJECTED_LIST: "a-sidecarset",
                               keys.HASH: json.dumps({"old": "legacyhash"})}), sidecarset())
    a = out["metadata"]["annotations"]
    assert a[keys.HASH] == (
        '{"old":{"updateTimestamp":null,"hash":"legacyhash","sidecarSetName":"old","sidecarList":null},'
        '"test-sidecarset":{"updateTimestamp":"2026-07-01T08:00:00Z","hash":"test-sidecarset-hash",'
        '"sidecarSetName":"test-sidecarset","sidecarList":["busybox-sidecar","nginx-sidecar"],'
        '"controllerRevision":"test-sidecarset-rev1"}}')
    assert a[keys.HASH_WITHOUT_IMAGE] == (
        '{"test-sidecarset":{"updateTimestamp":"2026-07-01T08:00:00Z","hash":"test-sidecarset-hwi",'
        '"sidecarSetName":"test-sidecarset","sidecarList":["busybox-sidecar","nginx-sidecar"]}}')
    assert a[keys.INJECTED_LIST] == "a-sidecarset,test-sidecarset"


def test_no_status_yet_omits_controller_revision_and_native_sidecars_are_listed():
    s = sidecarset(init_containers=[{"name": "native", "image": "b", "restartPolicy": "Always"},
                                    {"name": "plain", "image": "b"}])
    del s["status"]
    spec = json.loads(run(pod(), s)["metadata"]["annotations"][keys.HASH])["test-sidecarset"]
    assert "controllerRevision" not in spec
    assert spec["sidecarList"] == ["busybox-sidecar", "native", "nginx-sidecar"]


def test_a_bad_hash_annotation_denies_the_pod():
    with pytest.raises(InjectionError, match="invalid annotations\\[kruise.io/sidecarset-hash\\]"):
        run(pod(annotations={keys.HASH: "{not json"}), sidecarset())


# ---- patchPodMetadata (§2.5) ------------------------------------------------------------------------------
def test_patch_pod_metadata_policies():
    s = sidecarset(patchPodMetadata=[
        {"annotations": {"retain": "new", "fresh": "x"}, "patchPolicy": "Retain"},
        {"annotations": {"over": "new"}, "patchPolicy": "Overwrite"},
        {"annotations": {"merge": '{"c":1}', "set": '{"b":2}'}, "patchPolicy": "MergePatchJson"},
        {"annotations": {"unknown": "x"}, "patchPolicy": "Other"}])
    a = run(pod(annotations={"retain": "old", "over": "old", "merge": '{"z":{"y":1},"a":0}'}), s)["metadata"][
        "annotations"]
    assert (a["retain"], a["fresh"], a["over"]) == ("old", "x", "new")
    assert a["merge"] == '{"a":0,"c":1,"z":{"y":1}}' and a["set"] == '{"b":2}' and "unknown" not in a
    with pytest.raises(InjectionError, match="MergePatchJson annotations\\[merge\\]"):
        run(pod(annotations={"merge": "not json"}), s)


# ---- hot upgrade (§2.10) ---------------------------------------------------------------------------------
def test_hot_upgrade_pair():
    s = sidecarset(init_containers=[])
    s["spec"]["containers"][0]["upgradeStrategy"] = {"upgradeType": "HotUpgrade", "hotUpgradeEmptyImage": "busybox"}
    out = run(pod(), s)
    c = out["spec"]["containers"]
    assert names(c) == ["nginx-sidecar-1", "nginx-sidecar-2", "main", "busybox-sidecar"]
    assert (c[0]["image"], c[1]["image"]) == ("nginx", "busybox")
    assert c[1]["env"][-2:] == [
        {"name": "SIDECARSET_VERSION", "valueFrom": {"fieldRef": {
            "fieldPath": "metadata.annotations['version.sidecarset.kruise.io/nginx-sidecar-2']"}}},
        {"name": "SIDECARSET_VERSION_ALT", "valueFrom": {"fieldRef": {
            "fieldPath": "metadata.annotations['versionalt.sidecarset.kruise.io/nginx-sidecar-2']"}}}]
    a = out["metadata"]["annotations"]
    assert a[keys.WORKING_HOT_UPGRADE_CONTAINER] == '{"nginx-sidecar":"nginx-sidecar-1"}'
    assert [a[f"{p}.sidecarset.kruise.io/nginx-sidecar-{n}"] for p in ("version", "versionalt") for n in (1, 2)] == \
        ["1", "0", "0", "1"]
    assert json.loads(a[keys.HASH])["test-sidecarset"]["sidecarList"] == ["busybox-sidecar", "nginx-sidecar"]


# ---- revisions (§2.3, §4.5) -------------------------------------------------------------------------------
def revision(name, number, image, custom=None, hashes=True):
    return {"metadata": {"name": name, "namespace": "kruise-system",
                         "labels": {keys.REVISION_SIDECARSET_LABEL: "test-sidecarset",
                                    **({keys.REVISION_CUSTOM_VERSION_LABEL: custom} if custom else {})},
                         "annotations": {keys.HASH: f"h-{name}", keys.HASH_WITHOUT_IMAGE: f"w-{name}"} if hashes
                         else {}},
            "revision": number,
            "data": {"spec": {"$patch": "replace", "containers": [{"name": "nginx-sidecar", "image": image,
                                                                  "podInjectPolicy": "BeforeAppContainer"}],
                              "initContainers": None, "volumes": None, "imagePullSecrets": None,
                              "patchPodMetadata": None}}}


REVISIONS = [revision("ss-r1", 1, "nginx:1.20", "0"), revision("ss-r2", 2, "nginx:1.21", "1"),
             revision("ss-r3", 3, "nginx:1.22", "1")]


def injected_image(out):
    return out["spec"]["containers"][0]["image"]


def test_pinned_custom_version_takes_the_newest_revision_with_that_label():
    s = sidecarset(injectionStrategy={"revision": {"customVersion": "1", "policy": "Always"}})
    out = run(pod(), s, revisions=REVISIONS)
    assert injected_image(out) == "nginx:1.22" and names(out["spec"]["containers"]) == ["nginx-sidecar", "main"]
    spec = json.loads(out["metadata"]["annotations"][keys.HASH])["test-sidecarset"]
    assert (spec["hash"], spec["controllerRevision"]) == ("h-ss-r3", "ss-r3")


def test_pinned_revision_name_missing_denies_the_pod():
    s = sidecarset(injectionStrategy={"revision": {"revisionName": "gone", "policy": "Always"}})
    with pytest.raises(InjectionError, match='controllerrevisions.apps "gone" not found'):
        run(pod(), s, revisions=REVISIONS)


def test_restored_revision_without_hash_annotations_is_hashed():
    s = sidecarset(injectionStrategy={"revision": {"revisionName": "ss-r1"}})
    out = run(pod(), s, revisions=[revision("ss-r1", 1, "nginx:1.20", hashes=False)],
              hasher=lambda spec: ("computed", "computed-w"))
    assert json.loads(out["metadata"]["annotations"][keys.HASH])["test-sidecarset"]["hash"] == "computed"


def test_partial_policy():
    pinned = {"injectionStrategy": {"revision": {"revisionName": "ss-r1", "policy": "Partial"}}}
    int_partition = sidecarset(**pinned)
    assert injected_image(run(pod(), int_partition, revisions=REVISIONS)) == "nginx"   # latest
    percent = sidecarset(**pinned, updateStrategy={"type": "RollingUpdate", "partition": "30%"})
    assert injected_image(run(pod(), percent, revisions=REVISIONS, rand=lambda: 0.3)) == "nginx:1.20"
    assert injected_image(run(pod(), percent, revisions=REVISIONS, rand=lambda: 0.31)) == "nginx"
    canary = sidecarset(**pinned, updateStrategy={"selector": {"matchLabels": {"version": "canary"}},
                                                  "partition": 0})
    assert injected_image(run(pod(), canary, revisions=REVISIONS)) == "nginx:1.20"   # outside the selector
    assert injected_image(run(pod(labels={"app": "sidecarset", "version": "canary"}), canary,
                              revisions=REVISIONS)) == "nginx"
    paused = sidecarset(**pinned, updateStrategy={"paused": True, "partition": 0})
    assert injected_image(run(pod(), paused, revisions=REVISIONS)) == "nginx:1.20"


def test_a_revision_without_hash_annotations_gets_upstreams_hashes():
    from controllers.sidecarset.hashes import sidecarset_hash

    s = sidecarset(injectionStrategy={"revision": {"revisionName": "ss-r1"}})
    bare = revision("ss-r1", 1, "nginx:1.20", hashes=False)
    entry = json.loads(run(pod(), s, revisions=[bare])["metadata"]["annotations"][keys.HASH])["test-sidecarset"]
    assert entry["hash"] == sidecarset_hash({"containers": bare["data"]["spec"]["containers"]})
    assert len(entry["hash"]) == 64
