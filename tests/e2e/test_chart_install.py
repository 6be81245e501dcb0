"""The chart on a real kube-apiserver (1.20.2): install, upgrade (a changed value and a CRD schema change),
uninstall (the CRDs stay), reinstall; least-privilege RBAC evaluated by the API server's authorizer; and
`ack-kruise preflight` against live API servers.

Why a control plane of its own. The chart's CRDs and webhook configurations are cluster-wide with fixed names,
and the session's sandbox already has them (`sandbox/kruise.py install_api`, outside Helm) with a
kruise-manager patching their caBundles and URLs for the other tests. Installing the chart there would
either fail (Helm refuses objects it does not own) or, with `--take-ownership`, rewrite the webhooks other
tests rely on and delete them on uninstall. Renaming them, or installing without CRDs and webhooks, would
not test the chart. So this module starts a second, private control plane from the same binaries
(`Sandbox` with no real node and no simulated nodes: etcd, kube-apiserver 1.20.2, kube-controller-manager,
kube-scheduler; about 5 s) and installs the real chart there, everything included. The shared sandbox is
only read (preflight's GET /version and server-side dry run, which stores nothing).

The manager's pods cannot run (no image is published: another issue), so the tests check the objects, and
prove the RBAC with `kubectl auth can-i --as` the chart's ServiceAccount. The manager itself runs as a host
process with that ServiceAccount's token: self-managed certificates (renewed under load), and the `secret`
mode with a Secret the test provides. The chart is installed from the .tgz `make release` packages.
"""
from __future__ import annotations

import base64
import datetime
import json
import re
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from controllers.schema import chart_objects
from generator import pipeline
from sandbox import tools
from tests.kube import Cluster, wait_for
from tests.manager import AdmissionLoad, ManagerProcess

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "ack-kruise"
NAMESPACE = "kruise-system"
RELEASE = "ack-kruise"
SA = f"system:serviceaccount:{NAMESPACE}:kruise-manager"
CRDS = ["clonesets.apps.kruise.io", "daemonsets.apps.kruise.io", "sidecarsets.apps.kruise.io",
        "statefulsets.apps.kruise.io", "uniteddeployments.apps.kruise.io"]
# The CRDs served at two versions, whose conversion webhook a host-process manager points at itself.
CONVERTED_CRDS = chart_objects()["conversionWebhookCRDs"]
WEBHOOKS = [("mutatingwebhookconfigurations", "kruise-mutating-webhook-configuration"),
            ("validatingwebhookconfigurations", "kruise-validating-webhook-configuration")]


@pytest.fixture(scope="module")
def private_cluster(tmp_path_factory) -> Cluster:
    from sandbox.cluster import SandboxOptions
    from tests.sandboxes import own_sandbox

    with own_sandbox(tmp_path_factory.mktemp("chart-apiserver"),
                     SandboxOptions(real_node=False, simulated_nodes=0)) as box:
        yield Cluster(box.state().kubeconfig)


@pytest.fixture(scope="module")
def released_chart(tmp_path_factory) -> Path:
    """The chart as `make release` ships it: stamped, linted and packaged by release/chart.py (the chart's
    own version and CHANGELOG entry) into a chart repository of its own; the repository's chart is not touched."""
    from release import chart

    root = tmp_path_factory.mktemp("release")
    shutil.copytree(CHART, root / "chart" / "ack-kruise")
    paths = chart.Paths.of_repo(REPO)
    paths.chart_dir, paths.dist = root / "chart" / "ack-kruise", root / "dist"
    version = yaml.safe_load((CHART / "Chart.yaml").read_text())["version"]
    package = chart.release(version, paths, log=lambda *_: None)
    assert package.name == f"ack-kruise-{version}.tgz"
    return package


def helm(cluster: Cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([tools.find("helm"), "--kubeconfig", cluster.kubeconfig, *args],
                            capture_output=True, text=True, timeout=180)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def preflight(cluster: Cluster) -> subprocess.CompletedProcess:
    code = ("import argparse, sys\nfrom ack_kruise import preflight\np = argparse.ArgumentParser()\n"
            "preflight.add_arguments(p)\nsys.exit(preflight.run(p.parse_args(sys.argv[1:])))")
    return subprocess.run([sys.executable, "-c", code, "--kubeconfig", cluster.kubeconfig],
                          capture_output=True, text=True, timeout=60, cwd=REPO)


def get(cluster: Cluster, *args: str, namespace: str | None = None) -> dict | None:
    result = cluster.kubectl("get", *args, "-o", "yaml", namespace=namespace, check=False)
    if result.returncode != 0:
        assert "NotFound" in result.stderr, result.stderr
        return None
    return yaml.safe_load(result.stdout)


def can_i(cluster: Cluster, verb: str, resource: str, namespace: str | None = None) -> bool:
    """`resource` as kubectl names it; `plural.group/name` names one object, `plural.group:subresource` (ours)
    a subresource (kubectl would read `/status` as an object called status)."""
    resource, _, subresource = resource.partition(":")
    args = ["auth", "can-i", verb, resource, "--as", SA] + (["--subresource", subresource] if subresource else [])
    args += ["--namespace", namespace] if namespace else ["--all-namespaces"]
    result = cluster.kubectl(*args, check=False)
    assert result.stdout.strip() in ("yes", "no"), result.stdout + result.stderr
    return result.stdout.strip() == "yes"


def crd_spec_fields(cluster: Cluster) -> set[str]:
    crd = get(cluster, "crd", "clonesets.apps.kruise.io")
    return set(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"])


def chart_with_a_new_cloneset_field(tmp_path: Path) -> Path:
    """The chart regenerated from a schema with one more CloneSet field, as a schema change reaches users."""
    for name in ("schema", "policies"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copytree(CHART, tmp_path / "charts" / "ack-kruise")
    kind = tmp_path / "schema" / "apps.kruise.io" / "cloneset.yaml"
    anchor = "      replicas: {type: int32, default: 1, minimum: 0, description: The desired number of pods.}\n"
    text = kind.read_text()
    assert anchor in text
    kind.write_text(text.replace(anchor, anchor + "      upgradeProbe: {type: string, description: Added by an upgrade.}\n"))
    pipeline.write(pipeline.run(tmp_path / "schema", tmp_path / "policies", tmp_path), tmp_path)
    return tmp_path / "charts" / "ack-kruise"


def test_preflight_on_a_fresh_cluster(private_cluster: Cluster) -> None:
    result = preflight(private_cluster)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ Kubernetes v1.20.2: supported, v1 profile" in result.stdout
    assert "✓ conversion webhooks: accepted (apiextensions.k8s.io/v1, server-side dry run)" in result.stdout
    assert "Ready to install:" in result.stdout
    # A dry run stores nothing.
    assert get(private_cluster, "crd", "conversionprobes.preflight.ack-kruise.io") is None


def test_install_upgrade_uninstall_reinstall(private_cluster: Cluster, released_chart: Path, tmp_path: Path) -> None:
    """Installed from the released .tgz, as users get it from the chart repository; upgraded to a chart
    regenerated with a schema change; reinstalled from the .tgz."""
    cluster = private_cluster
    # ---- install ----------------------------------------------------------------------------------
    installed = helm(cluster, "install", RELEASE, str(released_chart), "--namespace", NAMESPACE, "--create-namespace")
    listed = yaml.safe_load(helm(cluster, "list", "--namespace", NAMESPACE, "-o", "yaml").stdout)
    assert [(r["name"], r["chart"]) for r in listed] == [(RELEASE, released_chart.name.removesuffix(".tgz"))]
    assert f"installed in namespace {NAMESPACE}" in installed.stdout            # NOTES.txt
    assert f"kubectl -n {NAMESPACE} rollout status deployment/kruise-controller-manager" in installed.stdout
    assert "Kubernetes v1.20.2 (v1 API profile: v1)" in installed.stdout
    assert f"helm test {RELEASE} -n {NAMESPACE}" in installed.stdout
    assert "control-plane=openkruise" in installed.stdout                      # < 1.21: label the namespace
    for crd in CRDS:
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")
        live = get(cluster, "crd", crd)
        assert live["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert live["metadata"]["annotations"]["meta.helm.sh/release-name"] == RELEASE
    sts = get(cluster, "crd", "statefulsets.apps.kruise.io")
    assert sts["spec"]["conversion"]["webhook"]["clientConfig"]["service"] == {
        "name": "kruise-webhook-service", "namespace": NAMESPACE, "path": "/convert", "port": 443}
    for resource, name in WEBHOOKS:
        hooks = get(cluster, resource, name)["webhooks"]
        assert {h["clientConfig"]["service"]["name"] for h in hooks} == {"kruise-webhook-service"}
        assert all("caBundle" not in h["clientConfig"] for h in hooks)   # the manager's job, not the chart's
    deployment = get(cluster, "deployment", "kruise-controller-manager", namespace=NAMESPACE)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["ack-kruise", "manager"] and "--log-level=info" in container["args"]
    assert deployment["spec"]["replicas"] == 2
    service = get(cluster, "service", "kruise-webhook-service", namespace=NAMESPACE)
    assert service["spec"]["ports"][0]["port"] == 443 and service["spec"]["ports"][0]["targetPort"] == "webhook-server"
    # The controller-manager makes the ReplicaSet and pods; with no node (and no image) they stay Pending.
    wait_for(lambda: len(cluster.core.list_namespaced_pod(
        NAMESPACE, label_selector="app.kubernetes.io/component=manager").items) == 2, 30, "2 manager pods")

    # ---- RBAC, as the API server's authorizer sees it -------------------------------------------------
    assert can_i(cluster, "patch", "mutatingwebhookconfigurations/kruise-mutating-webhook-configuration")
    assert can_i(cluster, "patch", "validatingwebhookconfigurations/kruise-validating-webhook-configuration")
    assert can_i(cluster, "update", "customresourcedefinitions/statefulsets.apps.kruise.io")
    assert can_i(cluster, "update", "customresourcedefinitions/daemonsets.apps.kruise.io")
    assert not can_i(cluster, "patch", "mutatingwebhookconfigurations/someone-else")
    assert not can_i(cluster, "patch", "customresourcedefinitions/clonesets.apps.kruise.io")
    assert not can_i(cluster, "delete", "customresourcedefinitions/statefulsets.apps.kruise.io")
    assert can_i(cluster, "create", "secrets", NAMESPACE) and can_i(cluster, "update", "leases", NAMESPACE)
    assert not can_i(cluster, "get", "secrets", "default")
    assert not can_i(cluster, "list", "secrets")                      # all namespaces
    assert not can_i(cluster, "create", "leases", "default")
    for verb, resource in (("create", "pods"), ("patch", "pods/status"), ("delete", "persistentvolumeclaims"),
                           ("create", "controllerrevisions.apps"), ("patch", "clonesets.apps.kruise.io:status"),
                           ("list", "nodes"), ("watch", "namespaces"), ("create", "events")):
        assert can_i(cluster, verb, resource), f"{verb} {resource}"
    assert not can_i(cluster, "delete", "nodes") and not can_i(cluster, "create", "daemonsets.apps")
    # Least privilege, from policies/controllers.yaml: no controller replaces a workload or a pod's status.
    assert not can_i(cluster, "update", "clonesets.apps.kruise.io") and not can_i(cluster, "update", "pods:status")

    # preflight now sees the release and says to upgrade it.
    result = preflight(cluster)
    assert result.returncode == 0 and f"Helm release {NAMESPACE}/{RELEASE}" in result.stdout

    # ---- upgrade: a changed value and a CRD schema change ---------------------------------------------
    assert "upgradeProbe" not in crd_spec_fields(cluster)
    upgraded_chart = chart_with_a_new_cloneset_field(tmp_path)
    helm(cluster, "upgrade", RELEASE, str(upgraded_chart), "--namespace", NAMESPACE, "--reuse-values",
         "--set", "manager.logLevel=debug", "--set", "featureGates.StatefulSetStartOrdinal=true")
    assert "upgradeProbe" in crd_spec_fields(cluster)
    container = get(cluster, "deployment", "kruise-controller-manager",
                    namespace=NAMESPACE)["spec"]["template"]["spec"]["containers"][0]
    assert "--log-level=debug" in container["args"]
    assert any(a.startswith("--feature-gates=") and "StatefulSetStartOrdinal=true" in a for a in container["args"])
    history = yaml.safe_load(helm(cluster, "history", RELEASE, "--namespace", NAMESPACE, "-o", "yaml").stdout)
    assert [h["revision"] for h in history] == [1, 2] and history[-1]["status"] == "deployed"

    # ---- uninstall: everything goes but the CRDs ----------------------------------------------------------
    uninstalled = helm(cluster, "uninstall", RELEASE, "--namespace", NAMESPACE)
    assert "kept due to the resource policy" in uninstalled.stdout
    for crd in CRDS:
        assert get(cluster, "crd", crd) is not None, crd
    assert "upgradeProbe" in crd_spec_fields(cluster)          # as the last release left them
    for resource, name in WEBHOOKS:
        wait_for(lambda: get(cluster, resource, name) is None, 30, f"{resource}/{name} deleted")
    assert get(cluster, "deployment", "kruise-controller-manager", namespace=NAMESPACE) is None
    assert get(cluster, "service", "kruise-webhook-service", namespace=NAMESPACE) is None
    assert get(cluster, "clusterrole", "kruise-manager-role") is None
    assert get(cluster, "role", "kruise-manager-role", namespace=NAMESPACE) is None

    # ---- reinstall: the kept CRDs carry this release's ownership, so Helm takes them back ----------------
    helm(cluster, "install", RELEASE, str(released_chart), "--namespace", NAMESPACE)
    assert "upgradeProbe" not in crd_spec_fields(cluster)      # the released chart's schema again
    assert get(cluster, "deployment", "kruise-controller-manager", namespace=NAMESPACE) is not None
    helm(cluster, "uninstall", RELEASE, "--namespace", NAMESPACE)


def test_a_release_with_crds_left_out(private_cluster: Cluster) -> None:
    """crds.enabled=false and namespaceOverride: the CRDs stay whatever another release left; the rest goes
    where the override says."""
    cluster = private_cluster
    cluster.kubectl("create", "namespace", "kruise-elsewhere", check=False)
    helm(cluster, "install", "other", str(CHART), "--namespace", "default", "--set", "crds.enabled=false",
         "--set", "namespaceOverride=kruise-elsewhere", "--set", "webhook.certificates.mode=secret",
         "--set", "webhook.certificates.existingSecret=my-tls")
    try:
        deployment = get(cluster, "deployment", "kruise-controller-manager", namespace="kruise-elsewhere")
        assert "--cert-secret=my-tls" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        hooks = get(cluster, *WEBHOOKS[0])["webhooks"]
        assert {h["clientConfig"]["service"]["namespace"] for h in hooks} == {"kruise-elsewhere"}
        role = get(cluster, "role", "kruise-manager-role", namespace="kruise-elsewhere")
        secrets = next(r for r in role["rules"] if "secrets" in r["resources"])
        assert sorted(secrets["verbs"]) == ["get", "list", "watch"]   # secret mode: read only
        crd = get(cluster, "crd", "clonesets.apps.kruise.io")
        if crd is not None:   # left by the previous test: not this release's
            assert crd["metadata"]["annotations"].get("meta.helm.sh/release-name") != "other"
    finally:
        helm(cluster, "uninstall", "other", "--namespace", "default")


def service_account_kubeconfig(cluster: Cluster, path: Path) -> Path:
    """A kubeconfig with the chart's ServiceAccount token (1.20's token controller writes it into a Secret)."""
    account = wait_for(lambda: (cluster.core.read_namespaced_service_account("kruise-manager", NAMESPACE).secrets
                                or [None])[0], 30, "the kruise-manager token Secret")
    secret = cluster.core.read_namespaced_secret(account.name, NAMESPACE)
    token = base64.b64decode(secret.data["token"]).decode()
    admin = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "sa",
              "clusters": [{"name": "c", "cluster": admin["clusters"][0]["cluster"]}],
              "users": [{"name": "sa", "user": {"token": token}}],
              "contexts": [{"name": "sa", "context": {"cluster": "c", "user": "sa", "namespace": NAMESPACE}}]}
    path.write_text(yaml.safe_dump(config))
    return path


CLONESET = """
apiVersion: apps.kruise.io/v1alpha1
kind: CloneSet
metadata: {name: demo}
spec:
  replicas: 2
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec:
      containers: [{name: main, image: localhost:5000/ack-kruise/testapp:v1}]
"""
ASTS = """
apiVersion: apps.kruise.io/v1beta1
kind: StatefulSet
metadata: {name: demo}
spec:
  replicas: 1
  serviceName: demo
  selector: {matchLabels: {app: demo-sts}}
  template:
    metadata: {labels: {app: demo-sts}}
    spec:
      containers: [{name: main, image: localhost:5000/ack-kruise/testapp:v1}]
  reserveOrdinals: [0]
"""


def chart_s_manager(cluster: Cluster, tmp_path: Path, *args: str) -> ManagerProcess:
    """kruise-manager as a host process (no image) with the chart's ServiceAccount token, the API server
    calling its webhooks through a URL; started and ready. Install the chart with manager.replicas=0 (and
    manager.allowZeroReplicas=true) first."""
    kubeconfig = service_account_kubeconfig(cluster, tmp_path / "sa-kubeconfig")
    return ManagerProcess(str(kubeconfig), tmp_path / "manager.log", "--log-level", "debug", *args,
                          namespace=NAMESPACE).start()


def uninstall_after_a_host_manager(cluster: Cluster, *secrets: str) -> None:
    """helm uninstall, and what it leaves behind after a host-process manager: the kept CRDs with a conversion
    webhook (CONVERTED_CRDS), which the manager pointed at its own URL (a later install's three-way merge would then send
    both url and service, which the API server refuses: the chart's Service goes back), and the Secrets."""
    helm(cluster, "uninstall", RELEASE, "--namespace", NAMESPACE, check=False)
    service = {"name": "kruise-webhook-service", "namespace": NAMESPACE, "path": "/convert", "port": 443}
    for crd in CONVERTED_CRDS:
        cluster.kubectl("patch", "crd", crd, "--type=json", "-p", json.dumps([
            {"op": "remove", "path": "/spec/conversion/webhook/clientConfig/url"},
            {"op": "add", "path": "/spec/conversion/webhook/clientConfig/service", "value": service}]), check=False)
    for secret in secrets:
        cluster.kubectl("delete", "secret", secret, "--namespace", NAMESPACE, "--ignore-not-found", check=False)


def served_certificate(manager: ManagerProcess) -> x509.Certificate:
    return x509.load_pem_x509_certificate(ssl.get_server_certificate(("127.0.0.1", manager.webhook_port)).encode())


def ca_bundles(cluster: Cluster) -> set[str]:
    """Every caBundle of our webhook configurations and of the StatefulSet CRD's conversion."""
    bundles = {h["clientConfig"].get("caBundle", "") for resource, name in WEBHOOKS for h in get(cluster, resource, name)["webhooks"]}
    crd = get(cluster, "crd", "statefulsets.apps.kruise.io")
    return bundles | {crd["spec"]["conversion"]["webhook"]["clientConfig"].get("caBundle", "")}


def test_the_manager_runs_with_nothing_but_the_chart_s_rbac(private_cluster: Cluster, tmp_path: Path) -> None:
    """kruise-manager itself, as a host process (no image) with the chart's ServiceAccount token: it creates
    its certificate Secret, injects the caBundles, takes the Lease, serves the webhooks and reconciles a
    CloneSet. Any permission the chart forgot would stop one of these."""
    cluster = private_cluster
    helm(cluster, "install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--create-namespace",
         # the host process stands in for the pods
         "--set", "manager.replicas=0", "--set", "manager.allowZeroReplicas=true")
    manager = chart_s_manager(cluster, tmp_path)
    log = manager.log_path
    try:
        assert get(cluster, "secret", "kruise-webhook-certs", namespace=NAMESPACE) is not None
        for resource, name in WEBHOOKS:
            assert all(h["clientConfig"].get("caBundle") for h in get(cluster, resource, name)["webhooks"])
        wait_for(lambda: (get(cluster, "lease", "kruise-manager", namespace=NAMESPACE) or {}).get(
            "spec", {}).get("holderIdentity"), 30, "the Lease held", describe=lambda: log.read_text()[-3000:])

        cluster.kubectl("create", "namespace", "chart-demo", check=False)
        cluster.apply(CLONESET, namespace="chart-demo")
        stored = get(cluster, "clonesets.apps.kruise.io", "demo", namespace="chart-demo")
        assert stored["spec"]["updateStrategy"]["type"] == "ReCreate"   # defaulted by the mutating webhook
        wait_for(lambda: len(cluster.core.list_namespaced_pod("chart-demo", label_selector="app=demo").items) == 2,
                 60, "the CloneSet's 2 pods", describe=lambda: log.read_text()[-3000:])
        # Conversion through the manager: a v1beta1-only field survives a v1alpha1 read.
        cluster.apply(ASTS, namespace="chart-demo")
        alpha = get(cluster, "statefulsets.v1alpha1.apps.kruise.io", "demo", namespace="chart-demo")
        assert alpha["apiVersion"] == "apps.kruise.io/v1alpha1"
        assert "reserveOrdinals" in alpha["metadata"]["annotations"]["conversion.apps.kruise.io/fields-not-in-this-version"]
        # Nothing the manager did was refused.
        # (Match refusals, not log timestamps: ",403" is also a millisecond count.)
        assert not re.search(r": 403 |Forbidden", log.read_text()), log.read_text()[-3000:]
    finally:
        manager.stop()
        cluster.kubectl("delete", "namespace", "chart-demo", "--wait=false", check=False)
        uninstall_after_a_host_manager(cluster, "kruise-webhook-certs")


def test_secret_mode_serves_the_user_s_certificate_and_injects_its_ca(private_cluster: Cluster, tmp_path: Path) -> None:
    """webhook.certificates.mode=secret: the manager serves the certificate of the Secret the user made, writes
    its CA into every caBundle, and never writes the Secret (the chart grants it read access only)."""
    from controllers.webhook import certs

    cluster = private_cluster
    helm(cluster, "install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--create-namespace",
         "--set", "manager.replicas=0", "--set", "manager.allowZeroReplicas=true",
         "--set", "webhook.certificates.mode=secret",
         "--set", "webhook.certificates.existingSecret=user-tls")
    ca, ca_key = certs.new_ca(datetime.timedelta(days=30))
    crt, key = certs.new_serving_cert(ca, ca_key, [f"kruise-webhook-service.{NAMESPACE}.svc"], ["127.0.0.1"],
                                      datetime.timedelta(days=30))
    cluster.core.create_namespaced_secret(NAMESPACE, {
        "metadata": {"name": "user-tls"}, "type": "kubernetes.io/tls",
        "data": {k: base64.b64encode(v).decode() for k, v in {"ca.crt": ca, "tls.crt": crt, "tls.key": key}.items()}})
    written = cluster.core.read_namespaced_secret("user-tls", NAMESPACE).metadata.resource_version
    manager = chart_s_manager(cluster, tmp_path, "--cert-mode", "secret", "--cert-secret", "user-tls")
    try:
        assert served_certificate(manager) == x509.load_pem_x509_certificate(crt)
        assert ca_bundles(cluster) == {base64.b64encode(ca).decode()}
        # The API server trusts the served certificate through the injected CA: admission works.
        cluster.kubectl("create", "namespace", "secret-mode", check=False)
        defaulted = yaml.safe_load(cluster.kubectl("create", "--dry-run=server", "-o", "yaml", "-f", "-",
                                                   input=CLONESET, namespace="secret-mode").stdout)
        assert defaulted["spec"]["updateStrategy"]["type"] == "ReCreate"
        assert cluster.core.read_namespaced_secret("user-tls", NAMESPACE).metadata.resource_version == written
        assert "kruise-webhook-certs" not in [s.metadata.name for s in cluster.core.list_namespaced_secret(NAMESPACE).items]
    finally:
        manager.stop()
        cluster.kubectl("delete", "namespace", "secret-mode", "--wait=false", check=False)
        uninstall_after_a_host_manager(cluster, "user-tls")


def test_a_running_manager_renews_its_certificate_before_expiry_failing_no_request(
        private_cluster: Cluster, tmp_path: Path) -> None:
    """Self-managed certificates valid for 20 s, renewed once fewer than 17 s remain: the running manager
    renews the serving certificate under admission load, keeping the CA (so the caBundle does not change),
    and not one request fails."""
    cluster = private_cluster
    helm(cluster, "install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--create-namespace",
         "--set", "manager.replicas=0", "--set", "manager.allowZeroReplicas=true")
    manager = chart_s_manager(cluster, tmp_path, "--cert-validity", "20s", "--cert-renew-before", "17s",
                              "--cert-check-interval", "1")
    cluster.kubectl("create", "namespace", "renewal", check=False)
    try:
        first, bundles = served_certificate(manager), ca_bundles(cluster)
        with AdmissionLoad(cluster.kubeconfig, "renewal", clients=3) as load:
            renewed = wait_for(lambda: (c := served_certificate(manager)).serial_number != first.serial_number and c,
                               30, "a renewed serving certificate", describe=manager.tail)
            answered = load.ok
            wait_for(lambda: load.ok > answered + 20, 30, "requests answered with the renewed certificate")
        assert renewed.not_valid_after_utc > first.not_valid_after_utc
        assert renewed.issuer == first.issuer and ca_bundles(cluster) == bundles, "the CA is kept"
        assert load.failed == [], f"{len(load.failed)} requests failed, e.g. {load.failed[:3]}"
        # The upkeep runs by the clock, not for any pod: it is the webhooks' client's (the renewal's PUT of the
        # Secret), so that the controllers' requests per pod count only the controllers' work.
        assert manager.metric_sum("rest_client_requests_total", client="webhooks", method="PUT") > 0
        assert manager.metric_sum("rest_client_requests_total", client="controllers", method="PUT") == 0
    finally:
        manager.stop()
        cluster.kubectl("delete", "namespace", "renewal", "--wait=false", check=False)
        uninstall_after_a_host_manager(cluster, "kruise-webhook-certs")


def test_preflight_against_the_session_sandbox(cluster: Cluster) -> None:
    """The session's sandbox has the API installed outside Helm (sandbox/kruise.py): preflight says a
    `helm install` there would be refused, and why. Only reads and a dry run: nothing changes."""
    result = preflight(cluster)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "✓ conversion webhooks: accepted" in result.stdout
    assert "not from a Helm release" in result.stdout
    assert "    CustomResourceDefinition clonesets.apps.kruise.io" in result.stdout
