"""SidecarSet injection at pod creation against the real API server (sidecarset.md §2): upstream's
[SidecarSetInject] cases (§7.1, named after them), the injection half of [SidecarSetHotUpgrade] (§7.3), a
pinned revision read from the install namespace (§2.3, §4.5), and this project's own guarantees: a pod created
right after its SidecarSet gets it, a follower replica injects from its own cache, and the two availability
properties with the manager stopped (README "SidecarSet injection")."""
from __future__ import annotations

import base64
import json
import time

from kubernetes.client.exceptions import ApiException

from tests.kube import ON_SIMULATED_NODES, Cluster, wait_for
from tests.manager import install_webhook_copy, webhook_only_manager

from .conftest import NAME_LABEL, created_pods, deployment, plain_pod

HASH = "kruise.io/sidecarset-hash"
INJECTED_LIST = "kruise.io/sidecarset-injected-list"
REQUIRED_LABEL = "sidecarset.kruise.io/injection=required"


def names(containers) -> list[str]:
    return [c["name"] for c in containers or []]


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env") or []}


def create_pod(cluster: Cluster, namespace: str, name: str, labels: dict, **spec):
    return cluster.kubectl("create", "-f", "-", input=plain_pod(name, labels, **spec), namespace=namespace,
                           check=False)


# ---- [SidecarSetInject] (§7.1) ------------------------------------------------------------------------------
def test_pods_dont_have_matched_sidecarset(cluster, namespace, sidecarsets):
    """[SidecarSetInject] pods don't have matched sidecarSet."""
    sidecarsets.create(sidecarsets.base(selector={"matchLabels": {"app": "nomatched"}}))
    cluster.apply(deployment(), namespace)
    pod = created_pods(cluster, namespace, "app=sidecarset")[0]
    assert names(pod["spec"]["containers"]) == ["main"] and not pod["spec"].get("initContainers")
    assert INJECTED_LIST not in (pod["metadata"].get("annotations") or {})


def test_sidecarset_with_volumes_downward_api(cluster, namespace, sidecarsets):
    """[SidecarSetInject] sidecarset with volumes.downwardAPI: fieldRefs without apiVersion (#597)."""
    s = sidecarsets.base(volumes=[{"name": "podinfo", "downwardAPI": {"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}]}}])
    s["spec"]["containers"][0]["volumeMounts"] = [{"name": "podinfo", "mountPath": "/etc/podinfo"}]
    sidecarsets.create(s)
    cluster.apply(deployment(), namespace)
    pod = created_pods(cluster, namespace, "app=sidecarset")[0]
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "podinfo")
    assert [i["fieldRef"]["apiVersion"] for i in volume["downwardAPI"]["items"]] == ["v1", "v1"]


def test_sidecarset_inject_pod_sidecar_container(cluster, namespace, sidecarsets):
    """[SidecarSetInject] sidecarSet inject pod sidecar container; the hash annotations as upstream's
    [SidecarSetUpgrade] "failed image" case checks them: the SidecarSet's own hashes, its name and sidecars."""
    created = sidecarsets.create(sidecarsets.base())
    cluster.apply(deployment(), namespace)
    pod = created_pods(cluster, namespace, "app=sidecarset")[0]
    assert names(pod["spec"]["containers"]) == ["nginx-sidecar", "main", "busybox-sidecar"]
    assert names(pod["spec"]["initContainers"]) == ["init-sidecar"]
    assert env_of(pod["spec"]["containers"][0])["IS_INJECTED"] == "true"
    annotations = pod["metadata"]["annotations"]
    assert annotations[INJECTED_LIST] == sidecarsets.name()
    entry = json.loads(annotations[HASH])[sidecarsets.name()]
    assert entry["sidecarSetName"] == sidecarsets.name()
    assert entry["sidecarList"] == ["busybox-sidecar", "nginx-sidecar"]
    own = created["metadata"]["annotations"]
    assert entry["hash"] == own[HASH] and len(entry["hash"]) == 64
    without_image = json.loads(annotations["kruise.io/sidecarset-hash-without-image"])[sidecarsets.name()]
    assert without_image["hash"] == own["kruise.io/sidecarset-hash-without-image"]
    assert "controllerRevision" not in without_image


def test_inject_volume_mounts(cluster, namespace, sidecarsets):
    """[SidecarSetInject] sidecarSet inject pod sidecar container volumeMounts."""
    s = sidecarsets.base(volumes=[{"name": "nginx-volume", "emptyDir": {}}])
    s["spec"]["containers"][0]["volumeMounts"] = [{"name": "nginx-volume", "mountPath": "/nginx-volume"}]
    sidecarsets.create(s)
    cluster.apply(deployment(main={"volumeMounts": [{"name": "main-volume", "mountPath": "/main-volume"}]},
                             volumes=[{"name": "main-volume", "emptyDir": {}}]), namespace)
    pod = created_pods(cluster, namespace, "app=sidecarset")[0]
    assert {"main-volume", "nginx-volume"} <= set(names(pod["spec"]["volumes"]))
    mounts = [m["mountPath"] for m in pod["spec"]["containers"][0]["volumeMounts"]]
    assert "/main-volume" in mounts and "/nginx-volume" in mounts


def test_volume_mounts_subpathexpr_with_expanded_subpath(cluster, namespace, sidecarsets):
    """[SidecarSetInject] sidecarSet inject pod sidecar container volumeMounts, SubPathExpr with expanded
    subpath."""
    sidecarsets.create(sidecarsets.base())
    envs = [{"name": "POD_NAME", "value": "bar"}, {"name": "OD_NAME", "value": "od_name"}]
    cluster.apply(deployment(main={"env": envs,
                                   "volumeMounts": [{"name": "main-volume", "mountPath": "/main-volume",
                                                     "subPathExpr": "foo/$(POD_NAME)/$(OD_NAME)/conf"}]},
                             volumes=[{"name": "main-volume", "emptyDir": {}}]), namespace)
    sidecar = created_pods(cluster, namespace, "app=sidecarset")[0]["spec"]["containers"][0]
    assert "/main-volume" in [m["mountPath"] for m in sidecar["volumeMounts"]]
    assert env_of(sidecar)["POD_NAME"] == "bar" and env_of(sidecar)["OD_NAME"] == "od_name"


MAIN_ENVS = [{"name": "POD_NAME", "value": "bar"}, {"name": "OD_NAME", "value": "od_name"},
             {"name": "PROXY_IP", "value": "127.0.0.1"}]


def _transfer_sidecarset(sidecarsets, transfer: list[dict]) -> dict:
    s = sidecarsets.base(initContainers=[])
    s["spec"]["containers"] = [{"name": "nginx-sidecar", "image": "nginx", "command": ["tail", "-f", "/dev/null"],
                                "env": [{"name": "OD_NAME", "value": "sidecar_name"},
                                        {"name": "SidecarName", "value": "nginx-sidecar"}],
                                "transferEnv": transfer}]
    return s


def _expect_transferred(pod: dict) -> None:
    assert len(pod["spec"]["containers"]) == 2
    env = env_of(pod["spec"]["containers"][0])
    assert (env["POD_NAME"], env["OD_NAME"], env["PROXY_IP"], env["SidecarName"]) == \
        ("bar", "sidecar_name", "127.0.0.1", "nginx-sidecar")


def test_transfer_envs(cluster, namespace, sidecarsets):
    """[SidecarSetInject] sidecarSet inject pod sidecar container transfer Envs."""
    sidecarsets.create(_transfer_sidecarset(sidecarsets, [
        {"sourceContainerName": "main", "envName": n} for n in ("POD_NAME", "OD_NAME", "PROXY_IP")]))
    cluster.apply(deployment(main={"env": MAIN_ENVS}), namespace)
    _expect_transferred(created_pods(cluster, namespace, "app=sidecarset")[0])


def test_transfer_envs_via_downward_api_by_metadata_labels(cluster, namespace, sidecarsets):
    """[SidecarSetInject] sidecarSet inject pod sidecar container transfer Envs with downward API by
    metadata.labels."""
    sidecarsets.create(_transfer_sidecarset(sidecarsets, [{
        "sourceContainerNameFrom": {"fieldRef": {"fieldPath": "metadata.labels['biz']"}},
        "envNames": ["POD_NAME", "OD_NAME", "PROXY_IP"]}]))
    cluster.apply(deployment(labels={"app": "sidecarset", "biz": "main"}, main={"env": MAIN_ENVS}), namespace)
    _expect_transferred(created_pods(cluster, namespace, "app=sidecarset")[0])


def test_transfer_envs_via_downward_api_by_metadata_annotations(cluster, namespace, sidecarsets):
    """[SidecarSetInject] sidecarSet inject pod sidecar container transfer Envs with downward API by
    metadata.annotations."""
    sidecarsets.create(_transfer_sidecarset(sidecarsets, [{
        "sourceContainerNameFrom": {"fieldRef": {"fieldPath": "metadata.annotations['biz']"}},
        "envNames": ["POD_NAME", "OD_NAME", "PROXY_IP"]}]))
    d = deployment(main={"env": MAIN_ENVS})
    d["spec"]["template"]["metadata"]["annotations"] = {"biz": "main"}
    cluster.apply(d, namespace)
    _expect_transferred(created_pods(cluster, namespace, "app=sidecarset")[0])


# ---- beyond §7.1 ----------------------------------------------------------------------------------------------
def test_inject_pod_hot_upgrade_sidecar_container(cluster, namespace, sidecarsets):
    """[SidecarSetHotUpgrade] sidecarSet inject pod hot upgrade sidecar container (its injection half)."""
    s = sidecarsets.base(initContainers=[])
    s["spec"]["containers"][0]["upgradeStrategy"] = {"upgradeType": "HotUpgrade", "hotUpgradeEmptyImage": "busybox"}
    sidecarsets.create(s)
    cluster.apply(deployment(), namespace)
    pod = created_pods(cluster, namespace, "app=sidecarset")[0]
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    assert names(pod["spec"]["containers"]) == ["nginx-sidecar-1", "nginx-sidecar-2", "main", "busybox-sidecar"]
    assert (containers["nginx-sidecar-1"]["image"], containers["nginx-sidecar-2"]["image"]) == ("nginx", "busybox")
    a = pod["metadata"]["annotations"]
    assert [a[f"{p}.sidecarset.kruise.io/nginx-sidecar-{n}"] for p in ("version", "versionalt") for n in (1, 2)] == \
        ["1", "0", "0", "1"]
    assert json.loads(a["kruise.io/sidecarset-working-hotupgrade-container"]) == {"nginx-sidecar": "nginx-sidecar-1"}


def test_patch_pod_metadata_at_injection(cluster, namespace, sidecarsets):
    """patchPodMetadata (§2.5): Retain keeps the pod's value, Overwrite replaces it. The keys are allowed by the
    whitelist of ConfigMap kruise-configuration (§1.5), as in upstream's "patch pod metadata" case."""
    rules = {"rules": [{"selector": {"matchLabels": {"patch-test": namespace}},
                        "allowedAnnotationKeyExprs": ["^example\\.io/"]}]}
    cluster.kubectl("create", "configmap", "kruise-configuration", "-n", "kruise-system",
                    f"--from-literal=SidecarSet_PatchPodMetadata_WhiteList={json.dumps(rules)}")
    try:
        s = sidecarsets.base(patchPodMetadata=[
            {"annotations": {"example.io/kept": "sidecar"}, "patchPolicy": "Retain"},
            {"annotations": {"example.io/replaced": "sidecar"}, "patchPolicy": "Overwrite"}])
        s["metadata"]["labels"]["patch-test"] = namespace
        wait_for(lambda: cluster.kubectl("create", "-f", "-", input=json.dumps(s), check=False).returncode == 0,
                 10, "the whitelisted SidecarSet to be accepted")
        sidecarsets.names.append(s["metadata"]["name"])
        d = deployment()
        d["spec"]["template"]["metadata"]["annotations"] = {"example.io/kept": "pod", "example.io/replaced": "pod"}
        cluster.apply(d, namespace)
        a = created_pods(cluster, namespace, "app=sidecarset")[0]["metadata"]["annotations"]
        assert (a["example.io/kept"], a["example.io/replaced"]) == ("pod", "sidecar")
    finally:
        cluster.kubectl("delete", "configmap", "kruise-configuration", "-n", "kruise-system", "--ignore-not-found")


def _revision(cluster: Cluster, sidecarset: str, name: str, number: int, image: str, custom_version: str) -> dict:
    """A ControllerRevision of the install namespace as the controller records one (§4.1)."""
    body = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": name, "labels": {"kruise.io/sidecarset-name": sidecarset,
                                                  "apps.kruise.io/sidecarset-custom-version": custom_version}},
            "revision": number,
            "data": {"spec": {"$patch": "replace", "imagePullSecrets": None, "initContainers": None,
                              "patchPodMetadata": None, "volumes": None,
                              "containers": [{"name": "nginx-sidecar", "image": image,
                                              "podInjectPolicy": "BeforeAppContainer"}]}}}
    return cluster.apps.create_namespaced_controller_revision("kruise-system", body)


def test_pinned_revision_is_injected_from_the_install_namespace(cluster, namespace, sidecarsets):
    """InjectionStrategy.Revision (§2.3, §4.5; upstream's "InjectionStrategy.Revision checker" with the
    revisions written here rather than by the controller): the newest revision labelled with the custom version
    is injected, not the SidecarSet's current containers; a pinned revision that does not exist denies the pod."""
    name = sidecarsets.name()
    made = [f"{name}-r{i}" for i in (1, 2, 3)]
    try:
        for i, (image, version) in enumerate((("nginx:1.20", "1"), ("nginx:1.21", "2"), ("nginx:1.22", "2")), 1):
            _revision(cluster, name, made[i - 1], i, image, version)
        sidecarsets.create(sidecarsets.base(initContainers=[], injectionStrategy={
            "revision": {"customVersion": "2", "policy": "Always"}}))
        cluster.apply(deployment(), namespace)
        pod = created_pods(cluster, namespace, "app=sidecarset")[0]
        assert names(pod["spec"]["containers"]) == ["nginx-sidecar", "main"]
        assert pod["spec"]["containers"][0]["image"] == "nginx:1.22"
        assert json.loads(pod["metadata"]["annotations"][HASH])[name]["controllerRevision"] == f"{name}-r3"
        # The revisions go: a new pod is refused, with the reason.
        for revision in made:
            cluster.apps.delete_namespaced_controller_revision(revision, "kruise-system")
        refused = wait_for(lambda: (lambda r: r if r.returncode else None)(
            create_pod(cluster, namespace, "pinned", {"app": "sidecarset"})), 30, "the pod to be refused")
        assert "SidecarSet injection failed" in refused.stderr and "not found" in refused.stderr, refused.stderr
    finally:
        for revision in made:
            try:
                cluster.apps.delete_namespaced_controller_revision(revision, "kruise-system")
            except ApiException:
                pass


def test_a_pod_created_right_after_its_sidecarset_gets_it(cluster, namespace, sidecarsets, kruise):
    """Every pod created immediately after a new SidecarSet, 20 times in a row, has its sidecar: the webhook
    checks its cache against a quorum list and waits for the informer when it is behind. Prints how often it
    was behind and how long it waited (README "SidecarSet injection")."""
    behind_before = kruise.metric("kruise_sidecarset_webhook_cache_behind_total")
    waited_before = kruise.metric("kruise_sidecarset_webhook_cache_wait_seconds_sum")
    rounds, took = 20, []
    for i in range(rounds):
        s = sidecarsets.base(f"fresh{i}", initContainers=[], selector={"matchLabels": {"app": f"fresh-{i}"}})
        sidecarsets.create(s)
        started = time.monotonic()
        pod = cluster.core.create_namespaced_pod(namespace, {
            "metadata": {"name": f"fresh-{i}", "labels": {"app": f"fresh-{i}"}},
            "spec": {**ON_SIMULATED_NODES, "containers": [{"name": "main", "image": "busybox"}]}})
        took.append(time.monotonic() - started)
        assert [c.name for c in pod.spec.containers] == ["nginx-sidecar", "main", "busybox-sidecar"], f"round {i}"
    behind = kruise.metric("kruise_sidecarset_webhook_cache_behind_total") - behind_before
    waited = kruise.metric("kruise_sidecarset_webhook_cache_wait_seconds_sum") - waited_before
    took.sort()
    print(f"\ncache behind in {behind:.0f} of {rounds} pod creates right after their SidecarSet; waited "
          f"{waited * 1000:.1f} ms in all ({waited * 1000 / max(behind, 1):.1f} ms per wait); pod create "
          f"p50 {took[rounds // 2] * 1000:.0f} ms, max {took[-1] * 1000:.0f} ms")


def test_a_follower_replica_injects_from_its_own_cache(cluster, namespace, sidecarsets, tls_secret, tmp_path):
    """A second manager that never leads (the Lease of its namespace is held by someone else) serves the pod
    webhook alone for this namespace (the installed entries skip it: control-plane=openkruise) and injects
    from its own cache."""
    manager = webhook_only_manager(cluster, namespace, tls_secret, tmp_path / "follower.log").start()
    ca = base64.b64decode(cluster.core.read_namespaced_secret(tls_secret, namespace).data["ca.crt"])
    live = json.loads(cluster.kubectl("get", "mutatingwebhookconfiguration",
                                      "kruise-mutating-webhook-configuration", "-o", "json").stdout)
    hook = next(h for h in live["webhooks"] if h["name"] == "mpod.kb.io")
    cluster.kubectl("label", "namespace", namespace, "control-plane=openkruise", f"follower-test={namespace}")
    hook["namespaceSelector"] = {"matchLabels": {"follower-test": namespace}}
    try:
        install_webhook_copy(cluster, "follower-pod-webhook", [hook],
                             f"https://127.0.0.1:{manager.webhook_port}/mutate-pod", ca, failure_policy="Fail")
        sidecarsets.create(sidecarsets.base(initContainers=[]))
        created = create_pod(cluster, namespace, "via-follower", {"app": "sidecarset"})
        assert created.returncode == 0, created.stderr
        pod = cluster.pod(namespace, "via-follower")
        assert names(pod["spec"]["containers"]) == ["nginx-sidecar", "main", "busybox-sidecar"]
        assert manager.metric("controller_runtime_webhook_requests_total", webhook="/mutate-pod", code="200") >= 1
        assert manager.metric("leader_election_master_status", name="kruise-manager") == 0
    finally:
        manager.stop()
        cluster.kubectl("delete", "mutatingwebhookconfiguration", "follower-pod-webhook", "--ignore-not-found")


def test_availability_both_ways_with_the_manager_stopped(sandbox, cluster, namespace, sidecarsets):
    """The webhook configuration as installed, the sandbox's manager killed: a pod no SidecarSet selects is
    created (mpod.kb.io fails open); in a namespace labelled sidecarset.kruise.io/injection=required no pod is
    created (mpod-sidecarset-required.kb.io fails closed), so a selected pod there never runs without its
    sidecars; once the manager is back, it is created with them."""
    required = f"{namespace}-req"[:63]
    cluster.create_namespace(required)
    try:
        cluster.kubectl("label", "namespace", required, f"{NAME_LABEL}={required}", REQUIRED_LABEL)
        sidecarsets.create(sidecarsets.base(initContainers=[], namespaceSelector={"matchExpressions": [
            {"key": NAME_LABEL, "operator": "In", "values": [namespace, required]}]}))
        up = create_pod(cluster, required, "while-up", {"app": "sidecarset"})
        assert up.returncode == 0, up.stderr
        assert names(cluster.pod(required, "while-up")["spec"]["containers"])[0] == "nginx-sidecar"
        sandbox.kill_manager()
        try:
            unrelated = create_pod(cluster, namespace, "unrelated", {"app": "web"})
            assert unrelated.returncode == 0, f"an unselected pod was blocked: {unrelated.stderr}"
            blocked = create_pod(cluster, required, "selected", {"app": "sidecarset"})
            assert blocked.returncode != 0, "a selected pod was created without its sidecars"
            assert 'failed calling webhook "mpod-sidecarset-required.kb.io"' in blocked.stderr, blocked.stderr
            assert [p["metadata"]["name"] for p in cluster.pods(required)] == ["while-up"]
        finally:
            sandbox.restart_manager()
        created = wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(
            create_pod(cluster, required, "selected", {"app": "sidecarset"})), 30, "the pod once the manager is back")
        assert created and names(cluster.pod(required, "selected")["spec"]["containers"])[0] == "nginx-sidecar"
    finally:
        cluster.delete_namespace(required, wait=False)


def test_a_cache_behind_the_api_server_still_injects_the_new_sidecarset(cluster, namespace, sidecarsets):
    """The freshness check itself, on the webhook's cache class against the real API server: with the
    SidecarSet watch stopped (a cache as far behind as it gets), a SidecarSet created afterwards is read
    directly and one deleted afterwards is left out. With the watch running, prints how long the informer
    takes to see a new SidecarSet (the lag the check covers; README "SidecarSet injection")."""
    import asyncio

    from controllers.metrics import REGISTRY
    from controllers.webhook.sidecarset_cache import SidecarSetCache
    from kube import KubeClient, load_config

    async def scenario() -> list[float]:
        client = KubeClient(load_config(cluster.kubeconfig))
        cache = SidecarSetCache(client, "kruise-system")
        cache.start()
        try:
            assert await cache.wait_synced(30)
            lags = []
            for i in range(20):   # the informer's lag: from the create's answer to the cache having it
                s = sidecarsets.create(sidecarsets.base(f"lag{i}", selector={"matchLabels": {"app": f"lag-{i}"}}))
                started = time.monotonic()
                while ("", s["metadata"]["name"]) not in cache.sidecarsets.cache:
                    await asyncio.sleep(0.0005)
                lags.append(time.monotonic() - started)
            # The SidecarSet controller writes each new SidecarSet's status once; the cache must hold those
            # versions before its watch stops, or the freshness check rightly reads them directly as well.
            lag_names = [sidecarsets.name(f"lag{i}") for i in range(20)]

            def settled() -> bool:
                for name in lag_names:
                    live = cluster.custom.get_cluster_custom_object("apps.kruise.io", "v1beta1", "sidecarsets", name)
                    cached = cache.sidecarsets.cache.get(("", name))
                    if (live.get("status", {}).get("observedGeneration") != live["metadata"]["generation"]
                            or cached is None
                            or cached["metadata"]["resourceVersion"] != live["metadata"]["resourceVersion"]):
                        return False
                return True

            deadline = time.monotonic() + 60
            while not settled():
                assert time.monotonic() < deadline, "the controller never settled the new SidecarSets' status"
                await asyncio.sleep(0.2)
            gone = sidecarsets.name("lag0")
            cache._tasks[0].cancel()   # the SidecarSet watch stops: the cache stays as it is now
            fresh = sidecarsets.create(sidecarsets.base("late"))["metadata"]["name"]
            cluster.custom.delete_cluster_custom_object("apps.kruise.io", "v1beta1", "sidecarsets", gone)
            assert ("", fresh) not in cache.sidecarsets.cache and ("", gone) in cache.sidecarsets.cache
            direct = REGISTRY.value("kruise_sidecarset_webhook_direct_reads_total", resource="sidecarsets")
            view = await cache.view(namespace)
            listed = {s["metadata"]["name"] for s in view.sidecarsets}
            assert fresh in listed and gone not in listed
            assert REGISTRY.value("kruise_sidecarset_webhook_direct_reads_total", resource="sidecarsets") == direct + 1
            assert view.namespace_labels.get(NAME_LABEL) == namespace
            return lags
        finally:
            await cache.stop()
            await client.close()

    lags = sorted(asyncio.run(scenario()))
    print(f"\ninformer lag for a new SidecarSet: p50 {lags[10] * 1000:.1f} ms, max {lags[-1] * 1000:.1f} ms")


def test_a_sidecarset_reaching_fail_open_namespaces_is_warned_about(cluster, namespace, sidecarsets):
    """The SidecarSet webhook warns (kubectl prints it) when a SidecarSet can select pods outside the
    namespaces labelled sidecarset.kruise.io/injection=required, and not when it requires the label."""
    warned = cluster.kubectl("create", "-f", "-", input=json.dumps(sidecarsets.base("open")))
    sidecarsets.names.append(sidecarsets.name("open"))
    assert "Warning: SidecarSet " + sidecarsets.name("open") + " can select pods in namespaces not labelled " \
        "sidecarset.kruise.io/injection=required" in warned.stderr, warned.stderr
    closed = sidecarsets.base("closed", selector={"matchLabels": {"app": "other"}}, namespaceSelector={
        "matchLabels": {NAME_LABEL: namespace, "sidecarset.kruise.io/injection": "required"}})
    quiet = cluster.kubectl("create", "-f", "-", input=json.dumps(closed))
    sidecarsets.names.append(sidecarsets.name("closed"))
    assert "Warning" not in quiet.stderr, quiet.stderr


TESTAPP = "localhost:5000/ack-kruise/testapp"


def test_injected_sidecar_runs_as_a_real_container_on_the_real_node(cluster, namespace, sidecarsets):
    """On the real node (kubelet, containerd): the injected init container runs first, the injected sidecar is
    a container of its own (its containerID, Ready through its own readinessProbe), serves HTTP on the pod's IP
    next to the app container, and sees the app's volume through shareVolumePolicy."""
    from tests.kube import ON_REAL_NODE, container_status, is_ready

    s = sidecarsets.base(
        initContainers=[{"name": "init-sidecar", "image": f"{TESTAPP}:v1", "command": ["sh", "-c", "true"]}],
        containers=[{"name": "web-sidecar", "image": f"{TESTAPP}:v2", "podInjectPolicy": "AfterAppContainer",
                     "shareVolumePolicy": {"type": "enabled"},
                     "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}}])
    sidecarsets.create(s)
    pod_spec = {**ON_REAL_NODE, "terminationGracePeriodSeconds": 2,
                "volumes": [{"name": "data", "emptyDir": {}}],
                "containers": [{"name": "main", "image": f"{TESTAPP}:v1", "env": [{"name": "PORT", "value": "8081"}],
                                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                                "lifecycle": {"postStart": {"exec": {"command": [
                                    "sh", "-c", "echo written-by-main > /data/hello"]}}}}]}
    cluster.core.create_namespaced_pod(namespace, {"metadata": {"name": "real", "labels": {"app": "sidecarset"}},
                                                   "spec": pod_spec})
    pod = wait_for(lambda: (lambda p: p if is_ready(p) else None)(cluster.pod(namespace, "real")), 90,
                   "the pod Ready on the real node")
    assert names(pod["spec"]["containers"]) == ["main", "web-sidecar"]
    assert names(pod["spec"]["initContainers"]) == ["init-sidecar"]
    init = pod["status"]["initContainerStatuses"][0]
    assert init["state"]["terminated"]["exitCode"] == 0 and init["containerID"].startswith("containerd://")
    sidecar, main = container_status(pod, "web-sidecar"), container_status(pod, "main")
    assert sidecar["ready"] and "running" in sidecar["state"] and sidecar["containerID"].startswith("containerd://")
    assert sidecar["containerID"] != main["containerID"]
    import urllib.request
    with urllib.request.urlopen(f"http://{pod['status']['podIP']}:8080/", timeout=5) as answer:
        assert answer.read().decode().strip() == "testapp v2"   # the sidecar's image, on the pod's IP
    shared = cluster.kubectl("exec", "real", "-c", "web-sidecar", "--", "cat", "/data/hello", namespace=namespace)
    assert shared.stdout.strip() == "written-by-main"


def test_resources_policy_linear_expressions(cluster, namespace, sidecarsets):
    """[SidecarResourcesPolicy] Story 5, linear expressions (§7.4): the sidecar's resources are computed from
    the app containers' at creation; a pod none of whose containers matches the regex is refused."""
    s = sidecarsets.base(initContainers=[], updateStrategy={"type": "NotUpdate"})
    s["spec"]["containers"] = [{"name": "policy-sidecar", "image": "busybox", "resourcesPolicy": {
        "targetContainersMode": "sum", "targetContainersNameRegex": "^app.*$",
        "resourcesExpr": {"limits": {"cpu": "cpu*50% + 100m", "memory": "max(memory*20% + 100Mi, 200Mi)"},
                          "requests": {"cpu": "cpu*30% + 50m", "memory": "memory*15% + 50Mi"}}}}]
    sidecarsets.create(s)
    containers = [{"name": "app1", "image": "busybox", "resources": {"limits": {"cpu": "200m", "memory": "400Mi"},
                                                                     "requests": {"cpu": "100m", "memory": "200Mi"}}},
                  {"name": "app2", "image": "busybox", "resources": {"limits": {"cpu": "400m", "memory": "600Mi"},
                                                                     "requests": {"cpu": "200m", "memory": "300Mi"}}}]
    created = create_pod(cluster, namespace, "sized", {"app": "sidecarset"}, containers=containers)
    assert created.returncode == 0, created.stderr
    sidecar = cluster.pod(namespace, "sized")["spec"]["containers"][0]
    assert sidecar["name"] == "policy-sidecar"
    assert sidecar["resources"] == {"limits": {"cpu": "400m", "memory": "300Mi"},
                                    "requests": {"cpu": "140m", "memory": "125Mi"}}
    refused = create_pod(cluster, namespace, "no-app", {"app": "sidecarset"})   # its one container is `main`
    assert refused.returncode != 0 and "no containers match the regex pattern" in refused.stderr, refused.stderr
