"""The SidecarSet upgrade controller against the real API server (sidecarset.md §4, §5): upstream's
[SidecarSetUpgrade] cases (§7.2), each named after its upstream test, on simulated nodes that play the kubelet
(an in-place image change restarts only that container, with a new containerID; the tag `broken` never pulls).
Pods get their sidecars from the pod webhook (real injection), as upstream's Deployment pods do.

Waits follow upstream's WaitForSidecarSetUpgradeComplete: matched, updated, updatedReady and ready equal the
expected values and status.observedGeneration is the generation."""
from __future__ import annotations

import contextlib
import json
import time

from kubernetes.client.exceptions import ApiException

from tests.kube import Cluster, wait_for

from .conftest import NAME_LABEL, created_pods, deployment

HASH = "kruise.io/sidecarset-hash"
HASH_WITHOUT_IMAGE = "kruise.io/sidecarset-hash-without-image"
STATE = "kruise.io/sidecarset-inplace-update-state"
INSTALL_NS = "kruise-system"
GROUP, VERSION, PLURAL = "apps.kruise.io", "v1beta1", "sidecarsets"


# ---- helpers -------------------------------------------------------------------------------------------------
def read(cluster: Cluster, name: str) -> dict:
    return cluster.custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)


def update(cluster: Cluster, name: str, change) -> dict:
    """Get, change, replace; again on a conflict (the controller writes the status meanwhile)."""
    for _ in range(10):
        obj = read(cluster, name)
        change(obj["spec"])
        try:
            return cluster.custom.replace_cluster_custom_object(GROUP, VERSION, PLURAL, name, obj)
        except ApiException as e:
            if e.status != 409:
                raise
    raise AssertionError(f"could not update SidecarSet {name}")


def counts(obj: dict) -> tuple[int, int, int, int]:
    s = obj.get("status") or {}
    return s.get("matchedPods", 0), s.get("updatedPods", 0), s.get("updatedReadyPods", 0), s.get("readyPods", 0)


def wait_upgrade(cluster: Cluster, name: str, matched: int, updated: int, updated_ready: int, ready: int,
                 timeout: float = 120) -> dict:
    """WaitForSidecarSetUpgradeComplete: (matched, updated, updatedReady, ready) and observedGeneration."""
    def done():
        obj = read(cluster, name)
        observed = (obj.get("status") or {}).get("observedGeneration") == obj["metadata"]["generation"]
        return obj if observed and counts(obj) == (matched, updated, updated_ready, ready) else None
    try:
        return wait_for(done, timeout, f"SidecarSet {name} at {(matched, updated, updated_ready, ready)}")
    except AssertionError as e:
        raise AssertionError(f"{e}; last status {read(cluster, name).get('status')}") from None


def images(pod: dict) -> dict[str, str]:
    return {c["name"]: c["image"] for c in pod["spec"]["containers"]}


def statuses(pod: dict) -> dict[str, dict]:
    return {s["name"]: s for s in (pod.get("status") or {}).get("containerStatuses") or []}


def condition(pod: dict, ctype: str = "SidecarSetUpgradable") -> dict:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c["type"] == ctype), {})


def revisions(cluster: Cluster, name: str) -> list[dict]:
    items = cluster.apps.list_namespaced_controller_revision(
        INSTALL_NS, label_selector=f"kruise.io/sidecarset-name={name}").items
    return sorted((cluster.api.sanitize_for_serialization(r) for r in items), key=lambda r: r["revision"])


def events(cluster: Cluster, namespace: str, name: str) -> list[dict]:
    items = cluster.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
    return [cluster.api.sanitize_for_serialization(e) for e in items]


@contextlib.contextmanager
def patch_metadata_allowed(cluster: Cluster, namespace: str, *key_exprs: str):
    """The patchPodMetadata whitelist (§1.5, ConfigMap kruise-configuration in the install namespace) allowing
    `key_exprs` for SidecarSets labelled test=<namespace>, as upstream's "patch pod metadata" e2e writes it
    (with the field's right name, allowedAnnotationKeyExprs)."""
    rules = {"rules": [{"selector": {"matchLabels": {"test": namespace}}, "allowedAnnotationKeyExprs": list(key_exprs)}]}
    cluster.kubectl("create", "configmap", "kruise-configuration", "-n", INSTALL_NS,
                    f"--from-literal=SidecarSet_PatchPodMetadata_WhiteList={json.dumps(rules)}")
    try:
        yield
    finally:
        cluster.kubectl("delete", "configmap", "kruise-configuration", "-n", INSTALL_NS, "--ignore-not-found")


def create_whitelisted(cluster: Cluster, namespace: str, sidecarsets, obj: dict) -> dict:
    """Create a SidecarSet with patchPodMetadata once the webhook reads the whitelist (it reads it live)."""
    obj["metadata"]["labels"]["test"] = namespace

    def created():
        try:
            return sidecarsets.create(obj)
        except ApiException as e:
            if e.status == 422 and "whitelist" in str(e.body):
                return None
            raise
    return wait_for(created, 10, "the whitelisted SidecarSet accepted")


def start(cluster, namespace, sidecarsets, replicas=2, **spec) -> tuple[str, list[dict]]:
    """The base SidecarSet, then a Deployment whose pods it injects; waits for `replicas` ready matched pods."""
    created = sidecarsets.create(sidecarsets.base(**spec))
    name = created["metadata"]["name"]
    cluster.apply(deployment(replicas=replicas), namespace)
    wait_upgrade(cluster, name, replicas, replicas, replicas, replicas)
    return name, created_pods(cluster, namespace, "app=sidecarset", replicas)


# ---- [SidecarSetUpgrade] (§7.2) ------------------------------------------------------------------------------
def test_sidecarset_patch_pod_metadata(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] sidecarSet patch pod metadata: MergePatchJson key={"c":1} at injection; the patch
    changed to {"c":2} alone touches no pod (2/2/2/2, still {"c":1}); with the next image change the pods get
    the new image and {"c":2}."""
    with patch_metadata_allowed(cluster, namespace, "^key$"):
        obj = sidecarsets.base(patchPodMetadata=[{"annotations": {"key": '{"nginx-sidecar":1}'},
                                                  "patchPolicy": "MergePatchJson"}])
        name = create_whitelisted(cluster, namespace, sidecarsets, obj)["metadata"]["name"]
        cluster.apply(deployment(replicas=2), namespace)
        wait_upgrade(cluster, name, 2, 2, 2, 2)
        for pod in cluster.pods(namespace, "app=sidecarset"):
            assert json.loads(pod["metadata"]["annotations"]["key"]) == {"nginx-sidecar": 1}
            assert images(pod)["nginx-sidecar"] == "nginx"
        update(cluster, name, lambda s: s["patchPodMetadata"][0]["annotations"].update(key='{"nginx-sidecar":2}'))
        wait_upgrade(cluster, name, 2, 2, 2, 2)
        for pod in cluster.pods(namespace, "app=sidecarset"):
            assert json.loads(pod["metadata"]["annotations"]["key"]) == {"nginx-sidecar": 1}
        update(cluster, name, lambda s: s["containers"][0].update(image="busybox"))
        wait_upgrade(cluster, name, 2, 2, 2, 2)
        for pod in cluster.pods(namespace, "app=sidecarset"):
            assert json.loads(pod["metadata"]["annotations"]["key"]) == {"nginx-sidecar": 2}
            assert images(pod)["nginx-sidecar"] == "busybox"


def test_upgrade_cold_sidecar_container_image_only(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] sidecarSet upgrade cold sidecar container image only: a namespace that does not
    match gets nothing; labelled, its new pods are injected; an image change goes in place, only that container
    restarts (a new containerID), the app container keeps restartCount 0, the pod its UID; the condition
    SidecarSetUpgradable=True."""
    created = sidecarsets.create(sidecarsets.base(namespaceSelector={"matchLabels": {"inject": "sidecar"}},
                                                  updateStrategy={"maxUnavailable": 2}))
    name = created["metadata"]["name"]
    cluster.apply(deployment(replicas=2), namespace)
    pods = created_pods(cluster, namespace, "app=sidecarset", 2)
    assert [len(p["spec"]["containers"]) for p in pods] == [1, 1]
    cluster.kubectl("label", "namespace", namespace, "inject=sidecar")
    cluster.kubectl("delete", "pods", "-l", "app=sidecarset", "--wait=false", namespace=namespace)
    wait_upgrade(cluster, name, 2, 2, 2, 2)
    before = {p["metadata"]["name"]: p for p in created_pods(cluster, namespace, "app=sidecarset", 2)
              if len(p["spec"]["containers"]) == 3 and not p["metadata"].get("deletionTimestamp")}
    assert len(before) == 2 and all(images(p)["nginx-sidecar"] == "nginx" for p in before.values())

    update(cluster, name, lambda s: s["containers"][0].update(image="busybox"))
    wait_upgrade(cluster, name, 2, 2, 2, 2)
    for pod in cluster.pods(namespace, "app=sidecarset"):
        old = before[pod["metadata"]["name"]]
        assert pod["metadata"]["uid"] == old["metadata"]["uid"]
        assert images(pod)["nginx-sidecar"] == "busybox"
        now, then = statuses(pod), statuses(old)
        assert now["nginx-sidecar"]["containerID"] != then["nginx-sidecar"]["containerID"]
        assert now["main"]["restartCount"] == 0 and now["main"]["containerID"] == then["main"]["containerID"]
        assert now["busybox-sidecar"]["containerID"] == then["busybox-sidecar"]["containerID"]
        cond = condition(pod)
        assert (cond["status"], cond["reason"]) == ("True", "AllSidecarsetUpgradable")
        assert json.loads(cond["message"]) == {name: True}
        state = json.loads(pod["metadata"]["annotations"][STATE])[name]
        assert list(state["lastContainerStatuses"]) == ["nginx-sidecar"]


def test_sidecarset_upgrade_failed_image_only_update_one_pod(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] sidecarSet upgrade cold sidecar container failed image, and only update one pod:
    the hash annotations first; a broken image → 2/1/0/1 (maxUnavailable 1 stops there); a good one → 2/2/2/2."""
    name, pods = start(cluster, namespace, sidecarsets)
    ss = read(cluster, name)
    for pod in pods:
        entry = json.loads(pod["metadata"]["annotations"][HASH])[name]
        assert entry["sidecarSetName"] == name and entry["hash"] == ss["metadata"]["annotations"][HASH]
        assert entry["sidecarList"] == ["busybox-sidecar", "nginx-sidecar"]
    update(cluster, name, lambda s: s["containers"][0].update(image="nginx:broken"))
    wait_upgrade(cluster, name, 2, 1, 0, 1)
    broken = [p for p in cluster.pods(namespace, "app=sidecarset") if images(p)["nginx-sidecar"] == "nginx:broken"]
    assert len(broken) == 1
    update(cluster, name, lambda s: s["containers"][0].update(image="nginx:2"))
    wait_upgrade(cluster, name, 2, 2, 2, 2)
    ss = read(cluster, name)
    for pod in cluster.pods(namespace, "app=sidecarset"):
        entry = json.loads(pod["metadata"]["annotations"][HASH])[name]
        assert entry["hash"] == ss["metadata"]["annotations"][HASH]
        assert entry["controllerRevision"] == ss["status"]["latestRevision"]
        assert images(pod)["nginx-sidecar"] == "nginx:2"


def test_upgrade_sidecar_more_than_image_field_no_pod_updated(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] sidecarSet upgrade sidecar container (more than image field), no pod should be
    updated: 1/0/0/1, condition False (UpdateImmutableField), event NotUpgradablePods; a pod created after
    the change gets the new spec and follows a later image change (matched 2, updated 1, updatedReady 1)."""
    name, pods = start(cluster, namespace, sidecarsets, replicas=1, initContainers=[])
    update(cluster, name, lambda s: s["containers"][0].update(env=[{"name": "test", "value": "v1"}]))
    wait_upgrade(cluster, name, 1, 0, 0, 1)
    pod = wait_for(lambda: (lambda p: p if condition(p).get("status") == "False" else None)(
        cluster.pod(namespace, pods[0]["metadata"]["name"])), 60, "SidecarSetUpgradable=False")
    assert condition(pod)["reason"] == "UpdateImmutableField"
    assert json.loads(condition(pod)["message"]) == {name: False}
    assert images(pod)["nginx-sidecar"] == "nginx"
    assert all(e["name"] != "test" for e in pod["spec"]["containers"][0].get("env") or [])
    wait_for(lambda: any(e["reason"] == "NotUpgradablePods" for e in events(cluster, "default", name)), 60,
             "event NotUpgradablePods in default")
    cluster.kubectl("scale", "deployment/deployment-test", "--replicas=2", namespace=namespace)
    wait_upgrade(cluster, name, 2, 1, 1, 2)
    update(cluster, name, lambda s: s["containers"][0].update(image="nginx:2"))
    wait_upgrade(cluster, name, 2, 1, 1, 2)
    by_name = {p["metadata"]["name"]: p for p in cluster.pods(namespace, "app=sidecarset")}
    assert images(by_name[pods[0]["metadata"]["name"]])["nginx-sidecar"] == "nginx"
    assert sorted(images(p)["nginx-sidecar"] for p in by_name.values()) == ["nginx", "nginx:2"]


def test_multi_sidecarset_upgrade_check_pod_condition(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] multi sidecarSet upgrade, check pod condition: ss1's command change → ss1 2/0/0/2;
    ss2's image change → 2/2/2/2; the pods' condition is False (ss1 is not upgradable); ss1 back to its
    command with a new image → 2/2/2/2 and the condition True."""
    base = sidecarsets.base()
    ss1 = dict(base, spec={**base["spec"], "containers": base["spec"]["containers"][:1]})
    ss2 = sidecarsets.base("two", initContainers=[], containers=base["spec"]["containers"][1:])
    name1 = sidecarsets.create(ss1)["metadata"]["name"]
    name2 = sidecarsets.create(ss2)["metadata"]["name"]
    cluster.apply(deployment(replicas=2), namespace)
    wait_upgrade(cluster, name1, 2, 2, 2, 2)
    wait_upgrade(cluster, name2, 2, 2, 2, 2)
    update(cluster, name1, lambda s: s["containers"][0].update(command=["sleep", "1000"]))
    wait_upgrade(cluster, name1, 2, 0, 0, 2)
    update(cluster, name2, lambda s: s["containers"][0].update(image="busybox:2"))
    wait_upgrade(cluster, name2, 2, 2, 2, 2)

    def all_conditions(status):
        pods = cluster.pods(namespace, "app=sidecarset")
        return pods if all(condition(p).get("status") == status for p in pods) else None
    pods = wait_for(lambda: all_conditions("False"), 60, "condition False on every pod")
    assert all(json.loads(condition(p)["message"]) == {name1: False, name2: True} for p in pods)
    update(cluster, name1, lambda s: s["containers"][0].update(command=["tail", "-f", "/dev/null"], image="nginx:2"))
    wait_upgrade(cluster, name1, 2, 2, 2, 2)
    pods = wait_for(lambda: all_conditions("True"), 60, "condition True on every pod")
    assert all(condition(p)["reason"] == "AllSidecarsetUpgradable" for p in pods)


def test_upgrade_cold_image_and_paused(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] sidecarSet upgrade cold sidecar container image, and paused: the first pod goes,
    pausing stops the second (2/1/1/2 holds), unpausing finishes (2/2/2/2). Upstream pauses 5 s after the change
    and relies on the image pull being slower than that; a simulated node restarts the sidecar at once, so the
    second pod could go before the pause lands. Here a partition of 1 lets exactly the first pod go, and one
    write then pauses and lifts the partition: only the pause can hold the second pod."""
    name, _ = start(cluster, namespace, sidecarsets)
    update(cluster, name, lambda s: (s["containers"][0].update(image="nginx:2"),
                                     s["updateStrategy"].update(partition=1)))
    wait_upgrade(cluster, name, 2, 1, 1, 2)
    update(cluster, name, lambda s: s["updateStrategy"].update(paused=True, partition=0))
    obj = wait_upgrade(cluster, name, 2, 1, 1, 2)
    # Paused holds: every later round of the controller (each pod event wakes it) leaves the second pod alone.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert counts(read(cluster, name))[1] == 1
        cluster.kubectl("annotate", "pods", "-l", "app=sidecarset", f"poke={time.monotonic()}", "--overwrite",
                        namespace=namespace)
    assert obj["spec"]["updateStrategy"]["paused"] is True
    update(cluster, name, lambda s: s["updateStrategy"].update(paused=False))
    wait_upgrade(cluster, name, 2, 2, 2, 2)


def test_upgrade_cold_image_and_selector(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] sidecarSet upgrade cold sidecar container image, and selector: only the canary pod
    moves (2/1/1/2); without the selector both do."""
    name, pods = start(cluster, namespace, sidecarsets)
    canary = pods[0]["metadata"]["name"]
    cluster.kubectl("label", "pod", canary, "canary.release=true", namespace=namespace)

    def change(spec):
        spec["containers"][0]["image"] = "busybox:canary"
        spec["updateStrategy"]["selector"] = {"matchLabels": {"canary.release": "true"}}
    update(cluster, name, change)
    wait_upgrade(cluster, name, 2, 1, 1, 2)
    by_name = {p["metadata"]["name"]: p for p in cluster.pods(namespace, "app=sidecarset")}
    assert images(by_name[canary])["nginx-sidecar"] == "busybox:canary"
    assert images(by_name[pods[1]["metadata"]["name"]])["nginx-sidecar"] == "nginx"
    update(cluster, name, lambda s: s["updateStrategy"].pop("selector"))
    wait_upgrade(cluster, name, 2, 2, 2, 2)


def test_upgrade_cold_image_and_partition(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] sidecarSet upgrade cold sidecar container image, and partition: "50%" keeps one
    pod back (2/1/1/2); partition removed (defaulted to 0) → 2/2/2/2."""
    name, _ = start(cluster, namespace, sidecarsets)

    def change(spec):
        spec["containers"][0]["image"] = "busybox:partition"
        spec["updateStrategy"]["partition"] = "50%"
    update(cluster, name, change)
    wait_upgrade(cluster, name, 2, 1, 1, 2)
    update(cluster, name, lambda s: s["updateStrategy"].pop("partition"))
    obj = wait_upgrade(cluster, name, 2, 2, 2, 2)
    assert obj["spec"]["updateStrategy"]["partition"] == 0


def test_upgrade_cold_image_and_max_unavailable(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] sidecarSet upgrade cold sidecar container image, and maxUnavailable: 4 pods, a
    broken image with maxUnavailable "50%" → 4/2/0/2; a good image → 4/4/4/4."""
    name, _ = start(cluster, namespace, sidecarsets, replicas=4)

    def change(spec):
        spec["containers"][0]["image"] = "nginx:broken"
        spec["updateStrategy"]["maxUnavailable"] = "50%"
    update(cluster, name, change)
    wait_upgrade(cluster, name, 4, 2, 0, 2)
    update(cluster, name, lambda s: s["containers"][0].update(image="nginx:2"))
    wait_upgrade(cluster, name, 4, 4, 4, 4)


def test_update_init_sidecar_container_and_dont_upgrade(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] sidecarSet update init sidecar container, and don't upgrade: the init container's
    image is not in the hash, so kruise.io/sidecarset-hash and the pods stay as they are."""
    name, pods = start(cluster, namespace, sidecarsets, replicas=1)
    created = read(cluster, name)
    assert created["spec"]["initContainers"][0]["podInjectPolicy"] == "AfterAppContainer"
    assert created["spec"]["containers"][0]["podInjectPolicy"] == "BeforeAppContainer"
    before = created["metadata"]["annotations"][HASH]
    update(cluster, name, lambda s: s["initContainers"][0].update(image="busybox:init2"))
    obj = wait_upgrade(cluster, name, 1, 1, 1, 1)
    assert obj["metadata"]["annotations"][HASH] == before
    pod = cluster.pod(namespace, pods[0]["metadata"]["name"])
    assert pod["spec"]["initContainers"][0]["image"] == "busybox"
    assert STATE not in pod["metadata"]["annotations"] and not condition(pod)


def test_history_revision_checker(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] sidecarSet history revision checker: imagePullSecrets secret-1 → one revision, in
    the install namespace, whose data.spec has every recorded key; 14 more → revisions 6..15; secret-12 again →
    6..11, 13, 14, 15, 16."""
    created = sidecarsets.create(sidecarsets.base(imagePullSecrets=[{"name": "secret-1"}]))
    name = created["metadata"]["name"]
    [rev] = wait_for(lambda: (lambda r: r if len(r) == 1 else None)(revisions(cluster, name)), 60, "1 revision")
    assert rev["metadata"]["namespace"] == INSTALL_NS
    assert {"volumes", "containers", "initContainers", "imagePullSecrets"} <= set(rev["data"]["spec"])
    assert rev["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    for n in range(2, 16):
        update(cluster, name, lambda s, n=n: s.update(imagePullSecrets=[{"name": f"secret-{n}"}]))
        wait_for(lambda n=n: max(r["revision"] for r in revisions(cluster, name)) == n, 60, f"revision {n}")
    wait_for(lambda: [r["revision"] for r in revisions(cluster, name)] == list(range(6, 16)), 60, "6..15")
    update(cluster, name, lambda s: s.update(imagePullSecrets=[{"name": "secret-12"}]))
    wait_for(lambda: [r["revision"] for r in revisions(cluster, name)] == [6, 7, 8, 9, 10, 11, 13, 14, 15, 16],
             60, "6..11, 13..16")
    latest = revisions(cluster, name)[-1]
    assert latest["data"]["spec"]["imagePullSecrets"] == [{"name": "secret-12"}]
    assert read(cluster, name)["status"]["latestRevision"] == latest["metadata"]["name"]


def test_history_revision_data_checker(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] sidecarSet history revision data checker: patchPodMetadata version-1, then
    version-2: two revisions, the older holding version-1, the newer version-2."""
    key = "sidecarset.kruise.io/test"
    with patch_metadata_allowed(cluster, namespace, "^sidecarset.kruise.io/test$"):
        created = create_whitelisted(cluster, namespace, sidecarsets, sidecarsets.base(patchPodMetadata=[
            {"annotations": {key: "version-1"}, "patchPolicy": "Retain"}]))
        name = created["metadata"]["name"]
        wait_for(lambda: len(revisions(cluster, name)) == 1, 60, "1 revision")
        update(cluster, name, lambda s: s["patchPodMetadata"][0]["annotations"].update({key: "version-2"}))
    old, new = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(revisions(cluster, name)), 60, "2 revisions")
    assert old["data"]["spec"]["patchPodMetadata"][0]["annotations"][key] == "version-1"
    assert new["data"]["spec"]["patchPodMetadata"][0]["annotations"][key] == "version-2"


def test_injection_strategy_revision_checker(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] sidecarSet InjectionStrategy.Revision checker: custom versions 0..5 each make a
    revision; with the pin on custom version 3 and updates paused, a new pod gets nginx:1.20.1 and names
    revision #4; unpaused, it is upgraded to the newest (nginx:1.19.10, the latest revision)."""
    created = sidecarsets.create(sidecarsets.base(
        initContainers=[], customVersion="0", updateStrategy={"paused": True},
        containers=[{**sidecarsets.base()["spec"]["containers"][0], "image": "nginx:latest"}]))
    name = created["metadata"]["name"]
    wait_for(lambda: len(revisions(cluster, name)) == 1, 60, "1 revision")
    for i, image in enumerate(["nginx:1.21.1", "nginx:1.21", "nginx:1.20.1", "nginx:1.20", "nginx:1.19.10"], 1):
        def change(spec, i=i, image=image):
            spec["containers"][0]["image"] = image
            spec["customVersion"] = str(i)
        update(cluster, name, change)
        wait_for(lambda i=i: len(revisions(cluster, name)) == i + 1, 60, f"{i + 1} revisions")
    revs = revisions(cluster, name)
    assert revs[3]["metadata"]["labels"]["apps.kruise.io/sidecarset-custom-version"] == "3"
    update(cluster, name, lambda s: s.update(injectionStrategy={"revision": {"customVersion": "3",
                                                                             "policy": "Always"}}))
    cluster.apply(deployment(replicas=1), namespace)
    pod = created_pods(cluster, namespace, "app=sidecarset")[0]
    assert images(pod)["nginx-sidecar"] == "nginx:1.20.1"
    assert json.loads(pod["metadata"]["annotations"][HASH])[name]["controllerRevision"] == revs[3]["metadata"]["name"]
    update(cluster, name, lambda s: s["updateStrategy"].update(paused=False))
    obj = wait_upgrade(cluster, name, 1, 1, 1, 1)
    pod = cluster.pod(namespace, pod["metadata"]["name"])
    assert images(pod)["nginx-sidecar"] == "nginx:1.19.10"
    assert json.loads(pod["metadata"]["annotations"][HASH])[name]["controllerRevision"] == \
        obj["status"]["latestRevision"] == revisions(cluster, name)[-1]["metadata"]["name"]


def test_inject_pod_sidecar_during_canary_upgrades(cluster, namespace, sidecarsets):
    """[SidecarSetUpgrade] sidecarSet inject pod sidecar during canary upgrades: stable and canary pods at
    nginx:1.20.1; then image 1.21.1 plus an env (not in place), selector version=canary, injection pinned to
    custom version 0 with policy Partial → 2/0/0/2; scaled to 2 each: the stable pods keep 1.20.1, the new
    canary pod gets 1.21.1."""
    base = sidecarsets.base()["spec"]["containers"][0]
    created = sidecarsets.create(sidecarsets.base(initContainers=[], customVersion="0",
                                                  containers=[{**base, "image": "nginx:1.20.1"}]))
    name = created["metadata"]["name"]
    for version in ("stable", "canary"):
        labels = {"app": "sidecarset", "version": version}
        cluster.apply(deployment(f"deployment-{version}", replicas=1, labels=labels), namespace)
    wait_upgrade(cluster, name, 2, 2, 2, 2)

    def change(spec):
        spec["containers"][0].update(image="nginx:1.21.1", env=[{"name": "version", "value": "canary"}])
        spec["updateStrategy"]["selector"] = {"matchLabels": {"version": "canary"}}
        spec["injectionStrategy"] = {"revision": {"customVersion": "0", "policy": "Partial"}}
        spec["customVersion"] = "1"
    update(cluster, name, change)
    wait_upgrade(cluster, name, 2, 0, 0, 2)
    for version in ("stable", "canary"):
        cluster.kubectl("scale", f"deployment/deployment-{version}", "--replicas=2", namespace=namespace)
    wait_for(lambda: counts(read(cluster, name))[0] == 4, 60, "4 matched pods")
    stable = sorted(images(p)["nginx-sidecar"] for p in cluster.pods(namespace, "version=stable"))
    canary = sorted(images(p)["nginx-sidecar"] for p in cluster.pods(namespace, "version=canary"))
    assert stable == ["nginx:1.20.1", "nginx:1.20.1"]
    assert canary == ["nginx:1.20.1", "nginx:1.21.1"]


# ---- beyond upstream's cases ------------------------------------------------------------------------------
def test_deleting_the_sidecarset_keeps_the_pods_and_collects_its_revisions(cluster, namespace, sidecarsets):
    """§6: no finalizer; pods keep their sidecars and annotations; the revisions in the install namespace go
    with their owner (garbage collector)."""
    name, pods = start(cluster, namespace, sidecarsets, replicas=1)
    assert revisions(cluster, name)
    cluster.custom.delete_cluster_custom_object(GROUP, VERSION, PLURAL, name)
    wait_for(lambda: not revisions(cluster, name), 60, "revisions garbage-collected")
    pod = cluster.pod(namespace, pods[0]["metadata"]["name"])
    assert pod["metadata"]["uid"] == pods[0]["metadata"]["uid"]
    assert "nginx-sidecar" in images(pod) and name in pod["metadata"]["annotations"]["kruise.io/sidecarset-injected-list"]


def test_namespace_relabelled_wakes_the_sidecarset(cluster, namespace, sidecarsets):
    """namespaceSelector is read from the Namespace: a namespace that stops matching takes its pods out of
    matchedPods without any pod event."""
    cluster.kubectl("label", "namespace", namespace, "team=a")
    name, _ = start(cluster, namespace, sidecarsets, replicas=1,
                    namespaceSelector={"matchLabels": {NAME_LABEL: namespace, "team": "a"}})
    cluster.kubectl("label", "namespace", namespace, "team=b", "--overwrite")
    wait_upgrade(cluster, name, 0, 0, 0, 0)
