"""resourcesPolicy (sidecarset.md §2.9) with the numbers of upstream's [SidecarResourcesPolicy] stories (§7.4)."""
import pytest

from controllers.sidecarset.inject import InjectionError, inject
from controllers.sidecarset.resources import Qty, evaluate

from .test_inject import NOW


def app(name, limits=None, requests=None, **extra):
    resources = {**({"limits": limits} if limits else {}), **({"requests": requests} if requests else {})}
    return {"name": name, "image": "app", "resources": resources, **extra}


def sidecarset(regex, mode, limits=None, requests=None, name="policy", init=False, others=()):
    sidecar = {"name": "sidecar", "image": "s", "podInjectPolicy": "AfterAppContainer",
               "resourcesPolicy": {"targetContainersMode": mode, "targetContainersNameRegex": regex,
                                   "resourcesExpr": {**({"limits": limits} if limits else {}),
                                                     **({"requests": requests} if requests else {})}}}
    if init:
        sidecar["restartPolicy"] = "Always"
    return {"metadata": {"name": name}, "spec": {
        "selector": {"matchLabels": {"app": "x"}},
        "initContainers": [sidecar] if init else [], "containers": [*others, *([] if init else [sidecar])]}}


def injected(containers, *sets, init_containers=None):
    pod = {"metadata": {"namespace": "ns", "labels": {"app": "x"}},
           "spec": {"containers": containers, **({"initContainers": init_containers} if init_containers else {})}}
    out = inject(pod, "ns", sets, {}, [], NOW)
    every = out["spec"].get("initContainers", []) + out["spec"]["containers"]
    return next(c for c in every if c["name"] == "sidecar")["resources"]


V4 = app("large-engine-v4", {"cpu": "200m", "memory": "200Mi"}, {"cpu": "50m", "memory": "100Mi"})
V8 = app("large-engine-v8", {"cpu": "400m", "memory": "400Mi"}, {"cpu": "100m", "memory": "200Mi"})
HALF = {"cpu": "max(cpu*50%, 50m)"}


def test_story_1_regex_picks_one_container():
    v8 = app("large-engine-v8", {"cpu": "200m", "memory": "200Mi"}, {"cpu": "50m", "memory": "100Mi"})
    assert injected([V4, v8], sidecarset("^large-engine-v4$", "sum", {**HALF, "memory": "200Mi"},
                                          {**HALF, "memory": "100Mi"})) == \
        {"limits": {"cpu": "100m", "memory": "200Mi"}, "requests": {"cpu": "50m", "memory": "100Mi"}}


def test_story_2_sum_and_story_3_max():
    limits, requests = {**HALF, "memory": "200Mi"}, {**HALF, "memory": "100Mi"}
    assert injected([V4, V8], sidecarset("^large-engine-v.*$", "sum", limits, requests)) == \
        {"limits": {"cpu": "300m", "memory": "200Mi"}, "requests": {"cpu": "75m", "memory": "100Mi"}}
    assert injected([V4, V8], sidecarset("^large-engine-v.*$", "max", limits, requests)) == \
        {"limits": {"cpu": "200m", "memory": "200Mi"}, "requests": {"cpu": "50m", "memory": "100Mi"}}


def test_story_4_a_missing_limit_means_unlimited():
    v8 = app("large-engine-v8", {"memory": "400Mi"}, {"cpu": "100m", "memory": "200Mi"})
    got = injected([V4, v8], sidecarset("^large-engine-v.*$", "sum", {**HALF, "memory": "200Mi"},
                                        {**HALF, "memory": "100Mi"}))
    assert got == {"limits": {"memory": "200Mi"}, "requests": {"cpu": "75m", "memory": "100Mi"}}


def test_story_5_linear_expressions():
    apps = [app("app1", {"cpu": "200m", "memory": "400Mi"}, {"cpu": "100m", "memory": "200Mi"}),
            app("app2", {"cpu": "400m", "memory": "600Mi"}, {"cpu": "200m", "memory": "300Mi"})]
    got = injected(apps, sidecarset(".*", "sum", {"cpu": "cpu*50% + 100m", "memory": "max(memory*20% + 100Mi, 200Mi)"},
                                    {"cpu": "cpu*30% + 50m", "memory": "memory*15% + 50Mi"}))
    assert got == {"limits": {"cpu": "400m", "memory": "300Mi"}, "requests": {"cpu": "140m", "memory": "125Mi"}}


def test_story_6_native_init_sidecar():
    apps = [app("app1", {"cpu": "400m", "memory": "800Mi"}, {"cpu": "200m", "memory": "400Mi"}),
            app("app2", {"cpu": "600m", "memory": "1200Mi"}, {"cpu": "300m", "memory": "600Mi"})]
    got = injected(apps, sidecarset("^app.*$", "sum", {"cpu": "max(cpu*30%, 50m)", "memory": "max(memory*25%, 100Mi)"},
                                    {"cpu": "cpu*20%", "memory": "memory*15%"}, init=True))
    assert got == {"limits": {"cpu": "300m", "memory": "500Mi"}, "requests": {"cpu": "100m", "memory": "150Mi"}}


def test_story_7_plain_init_containers_are_not_targets():
    apps = [app("app1", {"cpu": "200m", "memory": "200Mi"}, {"cpu": "100m", "memory": "100Mi"})]
    plain_init = [app("init", {"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})]
    got = injected(apps, sidecarset(".*", "sum", {"cpu": "cpu*50%", "memory": "memory*50%"},
                                    {"cpu": "cpu*40%", "memory": "memory*40%"}), init_containers=plain_init)
    assert got == {"limits": {"cpu": "100m", "memory": "100Mi"}, "requests": {"cpu": "40m", "memory": "40Mi"}}


def test_story_8_kruise_sidecars_are_not_targets():
    fixed = {"name": "kruise-sidecar", "image": "s", "resources": {"limits": {"cpu": "4", "memory": "4Gi"}}}
    first = {"metadata": {"name": "a-first"}, "spec": {"selector": {"matchLabels": {"app": "x"}},
                                                       "containers": [fixed]}}
    apps = [app("app1", {"cpu": "200m", "memory": "200Mi"}, {"cpu": "100m", "memory": "100Mi"})]
    got = injected(apps, first, sidecarset(".*", "sum", {"cpu": "cpu*50%"}, name="b-policy"))
    assert got == {"limits": {"cpu": "100m"}}


def test_no_target_denies_the_pod_and_the_calculator_refuses_nonsense():
    with pytest.raises(InjectionError, match="no containers match the regex pattern '\\^nothing\\$'"):
        injected([V4], sidecarset("^nothing$", "sum", {"cpu": "cpu"}))
    cpu = Qty(1, "DecimalSI")
    for bad in ("cpu * 2Mi", "cpu / 0", "foo(cpu)", "max(cpu)", "cpu +", "bogus"):
        with pytest.raises(ValueError):
            evaluate(bad, cpu, False)
    assert evaluate("", cpu, True) is None and evaluate("0.5", cpu, False).text() == "500m"
    assert evaluate("(cpu - 100m) * 2", Qty(1, "DecimalSI"), False).text() == "1800m"
