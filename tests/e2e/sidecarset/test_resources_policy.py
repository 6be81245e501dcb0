"""resourcesPolicy against the real API server (sidecarset.md §2.9): upstream's [SidecarResourcesPolicy] stories
(§7.4, test/e2e/apps/v1beta1/sidecarset_resources_policy.go), each named after its story, with its numbers. The
pod webhook computes the sidecar's resources from the app containers' at creation; every SidecarSet is NotUpdate,
as upstream's are. Story 5 is in test_inject.py (test_resources_policy_linear_expressions).

Kubernetes 1.20 (the sandbox) has no native sidecars: the API server drops `restartPolicy: Always` from the
injected init container, but the resources it was given at injection stay, which is what these stories check."""
from __future__ import annotations

import pytest

from .test_inject import create_pod

V4 = {"name": "large-engine-v4", "image": "busybox",
      "resources": {"limits": {"cpu": "200m", "memory": "200Mi"}, "requests": {"cpu": "50m", "memory": "100Mi"}}}
V8 = {"name": "large-engine-v8", "image": "busybox",
      "resources": {"limits": {"cpu": "400m", "memory": "400Mi"}, "requests": {"cpu": "100m", "memory": "200Mi"}}}
HALF = "max(cpu*50%, 50m)"
ENGINE_EXPR = {"limits": {"cpu": HALF, "memory": "200Mi"}, "requests": {"cpu": HALF, "memory": "100Mi"}}


def app(name: str, limits: dict, requests: dict) -> dict:
    return {"name": name, "image": "busybox", "resources": {"limits": limits, "requests": requests}}


def policy_sidecar(regex: str, mode: str, expr: dict, native: bool = False) -> dict:
    return {"name": "policy-sidecar", "image": "busybox", "command": ["sleep", "999d"],
            **({"restartPolicy": "Always"} if native else {}),
            "resourcesPolicy": {"targetContainersMode": mode, "targetContainersNameRegex": regex,
                                "resourcesExpr": expr}}


def sidecarset(sidecarsets, suffix: str, containers=(), init_containers=()) -> dict:
    s = sidecarsets.base(suffix, initContainers=list(init_containers), updateStrategy={"type": "NotUpdate"})
    s["spec"]["containers"] = list(containers)
    return s


STORIES = {
    "story 1, a regex that picks one container": dict(
        sidecars=[policy_sidecar("^large-engine-v4$", "sum", ENGINE_EXPR)],
        pod={"containers": [V4, {**V8, "resources": V4["resources"]}]},
        want={"limits": {"cpu": "100m", "memory": "200Mi"}, "requests": {"cpu": "50m", "memory": "100Mi"}}),
    "story 2, sum": dict(
        sidecars=[policy_sidecar("^large-engine-v.*$", "sum", ENGINE_EXPR)],
        pod={"containers": [V4, V8]},
        want={"limits": {"cpu": "300m", "memory": "200Mi"}, "requests": {"cpu": "75m", "memory": "100Mi"}}),
    "story 3, max": dict(
        sidecars=[policy_sidecar("^large-engine-v.*$", "max", ENGINE_EXPR)],
        pod={"containers": [V4, V8]},
        want={"limits": {"cpu": "200m", "memory": "200Mi"}, "requests": {"cpu": "50m", "memory": "100Mi"}}),
    "story 4, a missing CPU limit means unlimited": dict(
        sidecars=[policy_sidecar("^large-engine-v.*$", "sum", ENGINE_EXPR)],
        pod={"containers": [V4, {**V8, "resources": {"limits": {"memory": "400Mi"},
                                                     "requests": V8["resources"]["requests"]}}]},
        want={"limits": {"memory": "200Mi"}, "requests": {"cpu": "75m", "memory": "100Mi"}}),
    "story 6, a native init sidecar": dict(
        init_sidecars=[policy_sidecar("^app.*$", "sum", {
            "limits": {"cpu": "max(cpu*30%, 50m)", "memory": "max(memory*25%, 100Mi)"},
            "requests": {"cpu": "cpu*20%", "memory": "memory*15%"}}, native=True)],
        pod={"containers": [app("app1", {"cpu": "400m", "memory": "800Mi"}, {"cpu": "200m", "memory": "400Mi"}),
                            app("app2", {"cpu": "600m", "memory": "1200Mi"}, {"cpu": "300m", "memory": "600Mi"})]},
        want={"limits": {"cpu": "300m", "memory": "500Mi"}, "requests": {"cpu": "100m", "memory": "150Mi"}}),
    "filtering non-native sidecar init-containers": dict(
        sidecars=[policy_sidecar(".*", "sum", {"limits": {"cpu": "cpu*50%", "memory": "memory*50%"},
                                               "requests": {"cpu": "cpu*40%", "memory": "memory*40%"}})],
        pod={"containers": [app("app1", {"cpu": "200m", "memory": "200Mi"}, {"cpu": "100m", "memory": "100Mi"})],
             "initContainers": [{**app("plain-init", {"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}),
                                 "command": ["true"]}]},
        want={"limits": {"cpu": "100m", "memory": "100Mi"}, "requests": {"cpu": "40m", "memory": "40Mi"}}),
    "filtering Kruise sidecar containers and init-containers": dict(
        other=dict(init_containers=[{**app("kruise-init-sidecar", {"cpu": "2", "memory": "2Gi"},
                                           {"cpu": "1", "memory": "1Gi"}), "restartPolicy": "Always"}],
                   containers=[{**app("kruise-sidecar", {"cpu": "4", "memory": "4Gi"}, {"cpu": "2", "memory": "2Gi"}),
                                "command": ["sleep", "999d"]}]),
        sidecars=[policy_sidecar(".*", "sum", {"limits": {"cpu": "cpu*50%", "memory": "memory*50%"},
                                               "requests": {"cpu": "cpu*40%", "memory": "memory*40%"}})],
        pod={"containers": [app("app1", {"cpu": "200m", "memory": "200Mi"}, {"cpu": "100m", "memory": "100Mi"})]},
        want={"limits": {"cpu": "100m", "memory": "100Mi"}, "requests": {"cpu": "40m", "memory": "40Mi"}}),
}


@pytest.mark.parametrize("story", list(STORIES))
def test_sidecar_resources_policy(cluster, namespace, sidecarsets, story):
    """[SidecarResourcesPolicy] the stories of §7.4 (Story 5 is in test_inject.py)."""
    case = STORIES[story]
    if "other" in case:   # another SidecarSet's sidecars, with fixed resources: never aggregated
        sidecarsets.create(sidecarset(sidecarsets, "kruise", **case["other"]))
    sidecarsets.create(sidecarset(sidecarsets, "policy", case.get("sidecars", ()), case.get("init_sidecars", ())))
    created = create_pod(cluster, namespace, "sized", {"app": "sidecarset"}, **case["pod"])
    assert created.returncode == 0, created.stderr
    pod = cluster.pod(namespace, "sized")
    every = (pod["spec"].get("initContainers") or []) + pod["spec"]["containers"]
    sidecar = next(c for c in every if c["name"] == "policy-sidecar")
    assert sidecar["resources"] == case["want"]
    if "other" in case:
        fixed = next(c for c in every if c["name"] == "kruise-sidecar")
        assert fixed["resources"]["limits"] == {"cpu": "4", "memory": "4Gi"}, "the other sidecar keeps its own"
