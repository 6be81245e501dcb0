"""The released chart installs with default values (issue 22): `make release REGISTRY=localhost:5000` on a
fresh sandbox (its registry is empty: nothing loaded by `make image`) builds the manager image, pushes it and
the chart there, and `helm install oci://localhost:5000/charts/ack-kruise` with no values at all starts a
manager that becomes Ready, pulled by the real node by the digest stamped into the chart, and answers
admission through the chart's Service. Follows no upstream e2e case (OpenKruise's charts CI runs `ct install`
on kind with its published image).

Runs with the in-cluster tests (`make e2e-incluster`, marker sandbox_lifecycle): the real node is
machine-wide, so run it alone or under `flock /tmp/ack-kruise-realnode.lock`.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import yaml

from release import chart, registry
from tests.kube import Cluster, container_status, is_ready, wait_for

from tests.sandboxes import own_sandbox

from .test_incluster import helm_cmd, log

pytestmark = [pytest.mark.sandbox_lifecycle, pytest.mark.timeout(900)]  # a cold image build debootstraps

REPO = Path(__file__).resolve().parents[3]
NAMESPACE = "kruise-system"
DEPLOYMENT = "kruise-controller-manager"
REGISTRY = "localhost:5000"


@pytest.fixture(scope="module")
def fresh_sandbox(tmp_path_factory):
    from sandbox.cluster import SandboxOptions

    with own_sandbox(tmp_path_factory.mktemp("release-install"), SandboxOptions()) as box:
        yield box  # real node and its registry; no manager, no chart


@pytest.fixture(scope="module")
def released(fresh_sandbox, tmp_path_factory) -> chart.Released:
    """`make release VERSION=<the chart's version> REGISTRY=localhost:5000`, on a copy of the chart (the
    source tree is not stamped) with a chart repository folder of its own."""
    version = yaml.safe_load((REPO / "charts/ack-kruise/Chart.yaml").read_text())["version"]
    assert registry.manifest_digest(f"{REGISTRY}/charts/ack-kruise", version) is None, "the registry is not fresh"
    root = tmp_path_factory.mktemp("release")
    shutil.copytree(REPO / "charts/ack-kruise", root / "chart/ack-kruise")
    paths = chart.Paths(chart_dir=root / "chart/ack-kruise", changelog=REPO / "CHANGELOG.md", dist=root / "dist",
                        pyproject=REPO / "pyproject.toml", schema_dir=REPO / "schema", policies_dir=REPO / "policies")
    t = time.monotonic()
    result = chart.publish(version, paths, chart.Options(registry=REGISTRY), log=log)
    log(f"released {version} to {REGISTRY} in {time.monotonic() - t:.1f}s: {result.chart}, {result.image}")
    return result


def test_the_released_chart_installs_with_default_values(fresh_sandbox, released: chart.Released) -> None:
    cluster = Cluster(fresh_sandbox.state().kubeconfig)
    version = yaml.safe_load(helm_cmd("show", "chart", str(released.package)).stdout)["version"]
    digest = released.image.rsplit("@", 1)[1]
    assert released.image == f"{REGISTRY}/ack-kruise/kruise-manager@{digest}"
    assert registry.manifest_digest(f"{REGISTRY}/ack-kruise/kruise-manager", version) == digest

    t0 = time.monotonic()
    installed = helm_cmd("install", "ack-kruise", released.chart, "--version", version, "--namespace", NAMESPACE,
                         "--create-namespace", "--plain-http", kubeconfig=cluster.kubeconfig)
    assert "STATUS: deployed" in installed.stdout
    rollout = cluster.kubectl("rollout", "status", f"deployment/{DEPLOYMENT}", "--timeout=200s",
                              namespace=NAMESPACE, check=False, timeout=220)
    events = cluster.kubectl("get", "events", "--sort-by=.lastTimestamp", namespace=NAMESPACE, check=False).stdout
    assert rollout.returncode == 0, rollout.stderr + events[-3000:]
    log(f"helm install {released.chart} --version {version} (no values): rolled out in {time.monotonic() - t0:.1f}s")

    pods = [p for p in cluster.pods(NAMESPACE, "app.kubernetes.io/component=manager")
            if not p["metadata"].get("deletionTimestamp")]
    assert len(pods) == 2 and all(is_ready(p) for p in pods), events[-3000:]
    for pod in pods:
        assert pod["spec"]["containers"][0]["image"] == released.image
        status = container_status(pod, "manager")
        # Pulled by the real node from the registry, by the digest the release pushed.
        assert status["imageID"].endswith(f"@{digest}"), status
        assert status["restartCount"] == 0
    # The availability defaults: a budget that keeps one replica through drains, the zone spread.
    pdb = json.loads(cluster.kubectl("get", "pdb", DEPLOYMENT, "-o", "json", namespace=NAMESPACE).stdout)
    assert pdb["spec"]["minAvailable"] == 1
    wait_for(lambda: json.loads(cluster.kubectl("get", "pdb", DEPLOYMENT, "-o", "json", namespace=NAMESPACE)
                                .stdout).get("status", {}).get("disruptionsAllowed") == 1, 30,
             "the budget allowing one disruption")
    spread = pods[0]["spec"]["topologySpreadConstraints"]
    assert spread[0]["topologyKey"] == "topology.kubernetes.io/zone"

    # The webhooks answer through the chart's Service: a CloneSet whose selector misses its template is refused.
    bad = cluster.kubectl("create", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {"name": "bad"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "a"}},
                 "template": {"metadata": {"labels": {"app": "b"}},
                              "spec": {"containers": [{"name": "c", "image": "x"}]}}}}), check=False)
    assert bad.returncode != 0 and 'admission webhook "vcloneset.kb.io" denied the request' in bad.stderr, bad.stderr
    # The CRDs carry what keeps them from Helm and Argo CD alike.
    crd = json.loads(cluster.kubectl("get", "crd", "clonesets.apps.kruise.io", "-o", "json").stdout)
    assert crd["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"
    assert crd["metadata"]["labels"]["app.kubernetes.io/instance"] == "ack-kruise"
    log("manager Ready from the released chart; admission answered; PodDisruptionBudget allows 1 disruption")
