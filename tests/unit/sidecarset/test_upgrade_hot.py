"""Hot upgrade step by step (sidecarset.md §5.8, [SidecarSetHotUpgrade] cases of §7.3) on plain dicts: the
empty container takes the new image and becomes the working one at once, then, once it runs and the pod is
ready, the old one is reset to the empty image in a round of its own."""
import json

from controllers.common import actions as A
from controllers.sidecarset import annotations as keys

from .upgrade_world import apply_pod_patches, injected_pod, plan_for, run, sidecar, sidecarset


def hot_set(image="nginx:1", hash_="h1", **kw):
    return sidecarset(containers=[sidecar("envoy", image, hot=True)], hash_=hash_, **kw)


def images(pod):
    return {c["name"]: c["image"] for c in pod["spec"]["containers"]}


def annotations(pod):
    return pod["metadata"]["annotations"]


def working(pod):
    return json.loads(annotations(pod)[keys.WORKING_HOT_UPGRADE_CONTAINER])["envoy"]


def status_of(plan):
    s = plan.of_type(A.Patch, A.WORKLOAD, "status")[0].body["status"]
    return s["matchedPods"], s["updatedPods"], s["updatedReadyPods"], s["readyPods"]


def inject_versions(pod):
    annotations(pod).update({keys.version_annotation("envoy-1"): "1", keys.version_alt_annotation("envoy-1"): "0",
                             keys.version_annotation("envoy-2"): "0", keys.version_alt_annotation("envoy-2"): "1"})
    return pod


def test_upgrade_hot_sidecar_container_image():
    """1 replica: working -1 nginx, empty -2; image → new-nginx → working -2 new-nginx, empty -1 (1/1/1/1);
    image back to nginx → working -1 nginx, empty -2 busybox."""
    pod = inject_versions(injected_pod("p", hot_set()))
    assert working(pod) == "envoy-1"
    v2 = hot_set("nginx:2", hash_="h2")
    v2["metadata"]["resourceVersion"] = "200"
    # round 1: the empty container -2 gets the image and is the working one from now on
    plan = plan_for(v2, [pod])
    [patch] = plan.of_type(A.Patch, "pods")
    assert patch.body["spec"] == {"containers": [{"name": "envoy-2", "image": "nginx:2"}]}
    apply_pod_patches(plan, [pod])
    assert working(pod) == "envoy-2"
    assert annotations(pod)[keys.version_annotation("envoy-2")] == "200"
    assert annotations(pod)[keys.version_alt_annotation("envoy-2")] == "1"
    assert annotations(pod)[keys.version_alt_annotation("envoy-1")] == "200"
    # before envoy-2 restarts: no flip, no further upgrade; the pod is not ready for the SidecarSet
    plan = plan_for(v2, [pod])
    assert plan.of_type(A.Patch, "pods") == [] and status_of(plan) == (1, 1, 0, 0)
    # round 2: envoy-2 runs the new image; the flip resets envoy-1 to the empty image, alone in its round
    run(pod, restart={"envoy-2"})
    plan = plan_for(v2, [pod])
    [flip] = plan.of_type(A.Patch, "pods")
    assert flip.body["spec"] == {"containers": [{"name": "envoy-1", "image": "busybox:empty"}]}
    assert flip.body["metadata"]["annotations"][keys.version_annotation("envoy-1")] == "0"
    assert flip.body["metadata"]["annotations"][keys.version_alt_annotation("envoy-2")] == "0"
    assert keys.HASH not in flip.body["metadata"]["annotations"]
    [event] = plan.of_type(A.Event)
    assert (event.reason, event.regarding["name"], event.regarding["kind"]) == ("ResetContainerSucceed", "p", "Pod")
    apply_pod_patches(plan, [pod])
    assert plan_for(v2, [pod]).of_type(A.Patch, "pods") == []  # waiting for envoy-1's restart
    run(pod, restart={"envoy-1"})
    plan = plan_for(v2, [pod])
    assert plan.of_type(A.Patch, "pods") == [] and status_of(plan) == (1, 1, 1, 1)
    assert images(pod) == {"envoy-1": "busybox:empty", "envoy-2": "nginx:2", "main": "busybox:latest"}
    # back to nginx:1: the empty -1 takes it
    v3 = hot_set("nginx:1", hash_="h3")
    plan = plan_for(v3, [pod])
    apply_pod_patches(plan, [pod])
    run(pod, restart={"envoy-1"})
    apply_pod_patches(plan_for(v3, [pod]), [pod])
    assert working(pod) == "envoy-1"
    assert images(pod) == {"envoy-1": "nginx:1", "envoy-2": "busybox:empty", "main": "busybox:latest"}
    main = next(cs for cs in pod["status"]["containerStatuses"] if cs["name"] == "main")
    assert main["restartCount"] == 0


def test_hot_env_change_is_not_upgraded():
    pod = injected_pod("p", hot_set())
    changed = hot_set("nginx:2", hash_="h2", hwi="w2")
    plan = plan_for(changed, [pod])
    assert plan.of_type(A.Patch, "pods") == [] and status_of(plan) == (1, 0, 0, 1)


def test_upgrade_hot_sidecar_container_failed_image():
    """2 replicas, an invalid image → 2/1/0/1; then new-nginx → both pods: working -2 new-nginx, empty -1."""
    pods = [inject_versions(injected_pod(f"p{i}", hot_set())) for i in range(2)]
    bad = hot_set("nginx:broken", hash_="h2")
    plan = plan_for(bad, pods)
    assert len(plan.of_type(A.Patch, "pods")) == 1  # maxUnavailable 1
    apply_pod_patches(plan, pods)
    broken = next(p for p in pods if images(p)["envoy-2"] == "nginx:broken")
    run(broken, unready={"envoy-2"})  # the new container never gets ready: the old one keeps serving, no flip
    plan = plan_for(bad, pods)
    assert plan.of_type(A.Patch, "pods") == [] and status_of(plan) == (2, 1, 0, 1)
    good = hot_set("nginx:2", hash_="h3")
    for _ in range(8):
        plan = plan_for(good, pods)
        apply_pod_patches(plan, pods)
        for p in pods:
            restarted = {cs["name"] for cs in p["status"]["containerStatuses"]
                         if cs["image"] != images(p)[cs["name"]]}
            run(p, restart=restarted)
    assert status_of(plan_for(good, pods)) == (2, 2, 2, 2)
    for p in pods:
        assert working(p) == "envoy-2"
        assert images(p) == {"envoy-1": "busybox:empty", "envoy-2": "nginx:2", "main": "busybox:latest"}
