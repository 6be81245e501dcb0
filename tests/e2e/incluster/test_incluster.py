"""The chart as users run it (`make e2e-incluster`): the kruise-manager image (`make image`, built without
Docker) pulled by the sandbox's real node from its registry, started by the chart's Deployment, serving its
webhooks through the chart's Service and reconciling workloads.

One sandbox of its own (real node, tainted simulated nodes, no host-run manager: `--with-manager` would
install the CRDs and webhooks outside Helm), one release, steps in order:

1. `helm package`, then `helm install` of the .tgz, exactly as the README's in-cluster install block says
   (the test reads the commands from it); the manager pods Ready (certificate Secret, caBundles injected,
   Lease held, admission answered through the Service), their image pulled from localhost:5000;
2. the seed's CloneSet walkthrough, verbatim (5/5/5/5/5, then an in-place image update);
3. the seed's Advanced StatefulSet walkthrough, verbatim (3/3/3/3);
4. Argo CD's view: every field of `helm template` (same values) equals the live object, caBundles aside;
5. the leader pod deleted in the middle of a CloneSet rollout: another replica takes over and the rollout
   ends with exactly the desired pods;
6. `helm upgrade` to a new chart version with a changed value: the manager Deployment rolls out;
7. `helm uninstall`: the CRDs and the user's CloneSets stay.
"""
from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from sandbox import tools
from tests.kube import ON_SIMULATED_NODES, Cluster, PodWatch, container_status, is_ready, wait_for

pytestmark = [pytest.mark.sandbox_lifecycle, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "ack-kruise"
README = REPO / "README.md"
README_MARKER = "<!-- in-cluster install:"
NAMESPACE = "kruise-system"
RELEASE = "ack-kruise"
DEPLOYMENT = "kruise-controller-manager"
MANAGER_PODS = "app.kubernetes.io/component=manager"
CRDS = ["clonesets.apps.kruise.io", "containerrecreaterequests.apps.kruise.io", "daemonsets.apps.kruise.io",
        "sidecarsets.apps.kruise.io", "statefulsets.apps.kruise.io", "uniteddeployments.apps.kruise.io"]
WEBHOOKS = [("mutatingwebhookconfigurations", "kruise-mutating-webhook-configuration"),
            ("validatingwebhookconfigurations", "kruise-validating-webhook-configuration")]
GUESTBOOK = "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook"
CA_BUNDLE_PATHS = {
    ("MutatingWebhookConfiguration", "kruise-mutating-webhook-configuration"): r"webhooks\[\d+\]\.clientConfig\.caBundle",
    ("ValidatingWebhookConfiguration", "kruise-validating-webhook-configuration"): r"webhooks\[\d+\]\.clientConfig\.caBundle",
    ("CustomResourceDefinition", "statefulsets.apps.kruise.io"): r"spec\.conversion\.webhook\.clientConfig\.caBundle",
    ("CustomResourceDefinition", "daemonsets.apps.kruise.io"): r"spec\.conversion\.webhook\.clientConfig\.caBundle",
}


def log(msg: str) -> None:
    print(f"[in-cluster {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---- the sandbox, the image and the release ------------------------------------------------------------
@pytest.fixture(scope="module")
def image():
    from release import image as manager_image
    t = time.monotonic()
    result = manager_image.build()
    log(f"image {'cached' if result.cached else 'built'} in {time.monotonic() - t:.1f}s: {result.names[0]} "
        f"{result.manifest_digest} ({result.compressed_size / 1e6:.1f} MB)")
    return result


@pytest.fixture(scope="module")
def box(tmp_path_factory, image):
    from release import image as manager_image
    from sandbox.cluster import SandboxOptions
    from tests.sandboxes import own_sandbox

    # real node; simulated nodes tainted; no host-run manager
    with own_sandbox(tmp_path_factory.mktemp("incluster"), SandboxOptions()) as sandbox:
        t = time.monotonic()
        manager_image.load(sandbox.state_dir, image.archive)
        log(f"image imported into the real node's containerd and pushed to localhost:5000 in {time.monotonic() - t:.1f}s")
        yield sandbox


@pytest.fixture(scope="module")
def cluster(box) -> Cluster:
    return Cluster(box.state().kubeconfig)


def readme_install_commands() -> tuple[list[str], list[str]]:
    """The commands of the README's in-cluster install block (the ```sh fence after README_MARKER), split as a
    shell would: `helm package ...`, then `helm install ...` of the package."""
    text = README.read_text()
    assert README_MARKER in text, f"README.md has no {README_MARKER!r} block"
    fence = re.search(r"```sh\n(.*?)```", text[text.index(README_MARKER):], re.S)
    assert fence, f"no ```sh block after {README_MARKER!r} in README.md"
    commands = [argv for line in fence.group(1).replace("\\\n", " ").splitlines()
                if (argv := shlex.split(line, comments=True))]
    assert [argv[:2] for argv in commands] == [["helm", "package"], ["helm", "install"]], commands
    return commands[0], commands[1]


def option(argv: list[str], *names: str) -> str:
    at = next(i for i, arg in enumerate(argv) if arg in names)
    return argv[at + 1]


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, Path]:
    """The chart packaged by the README's `helm package` (into a folder of the test's own instead of the
    README's), and a next version of it for the upgrade."""
    package, _ = readme_install_commands()
    readme_dir = option(package, "-d", "--destination")
    out = tmp_path_factory.mktemp("charts")
    relocated = [str(out / "0") if arg == readme_dir else arg for arg in package[1:]]
    helm_cmd(*relocated, cwd=REPO)  # the README's chart path is relative to the repository
    helm_cmd(*[str(out / "1") if arg == readme_dir else arg for arg in package[1:]], "--version", "0.1.1", cwd=REPO)
    first, second = sorted((out / "0").glob("*.tgz")), sorted((out / "1").glob("*.tgz"))
    assert len(first) == len(second) == 1
    return {"install": first[0], "upgrade": second[0], "readme_dir": Path(readme_dir)}


def helm_cmd(*args: str, kubeconfig: str | None = None, check: bool = True,
             cwd: Path | None = None) -> subprocess.CompletedProcess:
    argv = [tools.find("helm"), *(["--kubeconfig", kubeconfig] if kubeconfig else []), *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=240, cwd=cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def readme_install_argv(packages: dict[str, Path]) -> list[str]:
    """The README's `helm install`, its package path (a glob in the README's package folder) resolved to the
    package the test made."""
    _, install = readme_install_commands()
    assert install[2] == RELEASE and option(install, "-n", "--namespace") == NAMESPACE, install
    chart = install[3]
    assert Path(chart).parent == packages["readme_dir"] and fnmatch.fnmatch(packages["install"].name, Path(chart).name), \
        f"the README installs {chart}, not the package its `helm package` writes"
    return [str(packages["install"]) if arg == chart else arg for arg in install[1:]]


def install_values(image, packages: dict[str, Path]) -> list[str]:
    """The README's --set values: the image from the sandbox's registry, pulled every time (a real pull by the
    real node)."""
    argv = readme_install_argv(packages)
    values = [arg for i, arg in enumerate(argv) if arg == "--set" or (i and argv[i - 1] == "--set")]
    registry, repository = image.names[0].rsplit(":", 1)[0].split("/", 1)
    chart_default = yaml.safe_load((CHART / "values.yaml").read_text())["manager"]["image"]["repository"]
    assert f"manager.image.registry={registry}" in values and repository == chart_default, \
        f"the README installs another image: {values}"
    return values


UPGRADE_VALUES = ["--set", "manager.logLevel=debug"]


class Release:
    def __init__(self, cluster: Cluster, image, packages: dict[str, Path]):
        self.cluster, self.image, self.packages = cluster, image, packages
        self.chart, self.values = packages["install"], install_values(image, packages)
        self.state: dict = {}

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return helm_cmd(*args, kubeconfig=self.cluster.kubeconfig, check=check)

    def get(self, *args: str, namespace: str | None = NAMESPACE) -> dict | None:
        result = self.cluster.kubectl("get", *args, "-o", "json", namespace=namespace, check=False)
        if result.returncode != 0:
            assert "NotFound" in result.stderr, result.stderr
            return None
        return json.loads(result.stdout)

    def manager_pods(self) -> list[dict]:
        deployment = self.get("deployment", DEPLOYMENT) or {"spec": {"selector": {"matchLabels": {}}}}
        selector = ",".join(f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items())
        return [p for p in self.cluster.pods(NAMESPACE, selector) if not p["metadata"].get("deletionTimestamp")]

    def lease_holder(self) -> str:
        lease = self.get("lease", "kruise-manager") or {}
        return (lease.get("spec") or {}).get("holderIdentity") or ""

    def leader_pod(self) -> str:
        """The pod whose identity holds the Lease (identities are <hostname = pod name>_<random>)."""
        holder = self.lease_holder()
        names = [p["metadata"]["name"] for p in self.manager_pods()]
        return next((n for n in names if holder.startswith(n + "_")), "")

    def describe(self) -> str:
        pods = self.cluster.kubectl("get", "pods", "-o", "wide", namespace=NAMESPACE, check=False).stdout
        events = self.cluster.kubectl("get", "events", "--sort-by=.lastTimestamp", namespace=NAMESPACE,
                                      check=False).stdout[-2500:]
        logs = ""
        for pod in self.manager_pods()[:2]:
            logs += f"\n--- logs of {pod['metadata']['name']} ---\n" + self.cluster.kubectl(
                "logs", pod["metadata"]["name"], "--tail=30", namespace=NAMESPACE, check=False).stdout
        return f"\n{pods}\n{events}{logs}\nLease holder: {self.lease_holder()!r}"


@pytest.fixture(scope="module")
def release(cluster: Cluster, image, packages) -> Release:
    return Release(cluster, image, packages)


def columns(output: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in output.strip().splitlines()]


# ---- 1. install --------------------------------------------------------------------------------------------
def test_install_starts_the_manager_in_the_cluster(release: Release, cluster: Cluster, image) -> None:
    t0 = time.monotonic()
    installed = release.helm(*readme_install_argv(release.packages))
    assert "STATUS: deployed" in installed.stdout
    rollout = cluster.kubectl("rollout", "status", f"deployment/{DEPLOYMENT}", "--timeout=150s",
                              namespace=NAMESPACE, check=False, timeout=170)
    assert rollout.returncode == 0, rollout.stderr + release.describe()
    log(f"helm install → Deployment rolled out in {time.monotonic() - t0:.1f}s")
    pods = release.manager_pods()
    assert len(pods) == 2 and all(is_ready(p) for p in pods), release.describe()
    for pod in pods:
        # Pulled from the sandbox's registry by the real node: the digest is the one `make image` built.
        assert pod["spec"]["nodeName"] == "real-node-0"
        status = container_status(pod, "manager")
        assert status["image"] == image.names[0]
        assert status["imageID"] == f"{image.names[0].rsplit(':', 1)[0]}@{image.manifest_digest}", status
        assert status["restartCount"] == 0, release.describe()
    events = cluster.kubectl("get", "events", "--field-selector", "reason=Pulled", "-o", "json",
                             namespace=NAMESPACE).stdout
    assert image.names[0] in events

    # Certificates in place, caBundles injected (equal to the Secret's CA), Lease held by a manager pod.
    secret = release.get("secret", "kruise-webhook-certs")
    assert secret and {"tls.crt", "tls.key", "ca.crt"} <= set(secret["data"])
    ca = secret["data"]["ca.crt"]
    for resource, name in WEBHOOKS:
        hooks = release.get(resource, name, namespace=None)["webhooks"]
        assert hooks and all(h["clientConfig"].get("caBundle") == ca for h in hooks), name
        assert {h["clientConfig"]["service"]["name"] for h in hooks} == {"kruise-webhook-service"}
    crd = release.get("crd", "statefulsets.apps.kruise.io", namespace=None)
    assert crd["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"] == ca
    wait_for(release.leader_pod, 30, "a manager pod holding the Lease kruise-manager", describe=release.describe)
    lease = release.get("lease", "kruise-manager")
    log(f"Lease kruise-manager held by {lease['spec']['holderIdentity']}; caBundles = the Secret's CA")

    # Admission through the Service: the API server calls kruise-webhook-service.kruise-system.svc:443.
    bad = cluster.kubectl("create", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {"name": "bad"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "a"}},
                 "template": {"metadata": {"labels": {"app": "b"}},
                              "spec": {"containers": [{"name": "c", "image": "x"}]}}}}), check=False)
    assert bad.returncode != 0 and 'admission webhook "vcloneset.kb.io" denied the request' in bad.stderr, bad.stderr


# ---- 2. the seed's CloneSet walkthrough -----------------------------------------------------------------
def test_seed_cloneset_walkthrough(release: Release, cluster: Cluster) -> None:
    t0 = time.monotonic()
    created = cluster.kubectl("create", "-f", str(REPO / "examples/seed/cloneset.yaml"))
    assert created.stdout.strip() == "cloneset.apps.kruise.io/demo-clone created"

    def clone() -> dict:
        return json.loads(cluster.kubectl("get", "clone", "demo-clone", "-o", "json").stdout)

    wait_for(lambda: clone().get("status", {}).get("updatedReadyReplicas") == 5, 90, "5 updated ready replicas",
             describe=lambda: f"{clone().get('status')}{release.describe()}")
    table = columns(cluster.kubectl("get", "clone").stdout)
    assert table[0] == ["NAME", "DESIRED", "UPDATED", "UPDATED_READY", "READY", "TOTAL", "AGE"]
    assert table[1][:6] == ["demo-clone", "5", "5", "5", "5", "5"]
    pods = columns(cluster.kubectl("get", "pod").stdout)
    assert len(pods) == 6 and all(row[1:4] == ["1/1", "Running", "0"] for row in pods[1:]), pods
    before = {p["metadata"]["name"]: p for p in cluster.pods("default", "app=guestbook")}
    for pod in before.values():
        assert pod["spec"]["nodeName"] == "real-node-0"
        assert {"conditionType": "InPlaceUpdateReady"} in pod["spec"]["readinessGates"]
    log(f"kubectl get clone: {'  '.join(table[1])} after {time.monotonic() - t0:.1f}s")

    cluster.kubectl("patch", "clone", "demo-clone", "--type=json", "-p", json.dumps(
        [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": f"{GUESTBOOK}:v2"}]))
    wait_for(lambda: (s := clone().get("status", {})).get("updatedReadyReplicas") == 5
             and s.get("updateRevision") == s.get("currentRevision"), 120, "the in-place rollout",
             describe=lambda: f"{clone().get('status')}{release.describe()}")
    after = {p["metadata"]["name"]: p for p in cluster.pods("default", "app=guestbook")}
    assert after.keys() == before.keys(), "in place: the pods keep their names"
    for name, pod in after.items():
        assert pod["metadata"]["uid"] == before[name]["metadata"]["uid"]
        status = container_status(pod)
        assert status["restartCount"] == 1 and status["image"].endswith(":v2") and is_ready(pod)
    table = columns(cluster.kubectl("get", "clone").stdout)
    assert table[1][:6] == ["demo-clone", "5", "5", "5", "5", "5"]
    log(f"in-place update to :v2 done, pods kept, RESTARTS 1; {time.monotonic() - t0:.1f}s in all")


# ---- 3. the seed's Advanced StatefulSet walkthrough --------------------------------------------------------
def test_seed_statefulset_walkthrough(release: Release, cluster: Cluster) -> None:
    t0 = time.monotonic()
    created = cluster.kubectl("create", "-f", str(REPO / "examples/seed/statefulset.yaml"))
    assert created.stdout.strip() == "statefulset.apps.kruise.io/demo-asts created"
    # Stored as v1beta1 and read back as v1alpha1 through the conversion webhook, behind the Service.
    alpha = json.loads(cluster.kubectl("get", "statefulsets.v1alpha1.apps.kruise.io", "demo-asts", "-o", "json").stdout)
    assert alpha["apiVersion"] == "apps.kruise.io/v1alpha1"

    def asts() -> dict:
        return json.loads(cluster.kubectl("get", "asts", "demo-asts", "-o", "json").stdout)

    wait_for(lambda: (s := asts().get("status", {})).get("readyReplicas") == 3
             and s.get("updatedReplicas") == 3 and s.get("currentReplicas") == 3,
             120, "demo-asts 3/3/3/3", describe=lambda: f"{asts().get('status')}{release.describe()}")
    table = columns(cluster.kubectl("get", "asts").stdout)
    assert table[0][:5] == ["NAME", "DESIRED", "CURRENT", "UPDATED", "READY"]
    assert table[1][:5] == ["demo-asts", "3", "3", "3", "3"]
    pods = sorted(p["metadata"]["name"] for p in cluster.pods("default", "app=guestbook-sts"))
    assert pods == ["demo-asts-0", "demo-asts-1", "demo-asts-2"]
    log(f"kubectl get asts: {'  '.join(table[1])} after {time.monotonic() - t0:.1f}s")


# ---- 4. Argo CD's view -----------------------------------------------------------------------------------------
def drift(rendered, live, path: str = "") -> list[str]:
    """Every field of `rendered` that the live object lacks or holds differently (fields the API server
    added are not drift, as for Argo CD)."""
    if isinstance(rendered, dict):
        if not isinstance(live, dict):
            return [f"{path}: rendered a mapping, live {live!r}"]
        out = []
        for key, value in rendered.items():
            sub = f"{path}.{key}" if path else key
            if key not in live:
                if value not in (None, {}, []):
                    out.append(f"{sub}: missing in the live object")
                continue
            out += drift(value, live[key], sub)
        return out
    if isinstance(rendered, list):
        if not isinstance(live, list) or len(live) != len(rendered):
            return [f"{path}: rendered {len(rendered)} items, live {live!r:.200}"]
        return [d for i, (r, l) in enumerate(zip(rendered, live)) for d in drift(r, l, f"{path}[{i}]")]
    if rendered != live:
        return [f"{path}: rendered {rendered!r:.120}, live {live!r:.120}"]
    return []


def assert_live_matches_rendered(release: Release, chart: Path, values: list[str]) -> tuple[int, int]:
    """Returns how many objects were compared and how many caBundle fields were set aside."""
    rendered = [d for d in yaml.safe_load_all(release.helm(
        "template", RELEASE, str(chart), "--namespace", NAMESPACE, "--kube-version", "1.20.2", *values).stdout) if d]
    problems, ignored = [], 0
    for doc in rendered:
        kind, name = doc["kind"], doc["metadata"]["name"]
        namespaced = kind not in ("CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
                                  "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
        group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
        resource = f"{kind.lower()}.{group}" if group else kind.lower()
        live = release.get(resource, name, namespace=NAMESPACE if namespaced else None)
        assert live is not None, f"{kind}/{name} is rendered but not in the cluster"
        skip = CA_BUNDLE_PATHS.get((kind, name))
        for problem in drift(doc, live):
            if skip and re.fullmatch(skip, problem.split(":")[0]):
                ignored += 1
                continue
            problems.append(f"{kind}/{name}: {problem}")
    assert not problems, "live objects differ from the rendered chart:\n" + "\n".join(problems)
    return len(rendered), ignored


def test_live_objects_equal_the_rendered_chart(release: Release) -> None:
    """After the manager ran (certificates, caBundles, Lease, reconciled workloads), nothing the chart renders
    was changed behind Helm's back, except the caBundles (`ignoreDifferences` in the chart's README)."""
    count, ca_bundles = assert_live_matches_rendered(release, release.chart, release.values)
    # The chart renders no caBundle (the drift above is only "missing in the chart"): nothing to set aside.
    assert ca_bundles == 0
    kinds = {d["kind"] for d in yaml.safe_load_all(release.helm(
        "template", RELEASE, str(release.chart), "--namespace", NAMESPACE, "--kube-version", "1.20.2",
        *release.values).stdout) if d}
    assert {"CustomResourceDefinition", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
            "Deployment", "Service", "ClusterRole", "Role", "ServiceAccount"} <= kinds
    log(f"{count} rendered objects ({', '.join(sorted(kinds))}) equal their live copies")


# ---- 5. the leader deleted mid-rollout -------------------------------------------------------------------------
FAULT_CLONESET = {
    "apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {"name": "fault-clone"},
    "spec": {
        "replicas": 8,
        "selector": {"matchLabels": {"app": "fault"}},
        "template": {"metadata": {"labels": {"app": "fault"}}, "spec": {
            **ON_SIMULATED_NODES,
            "containers": [{"name": "main", "image": "localhost:5000/ack-kruise/testapp:v1",
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                               "initialDelaySeconds": 2}}]}},
        "updateStrategy": {"type": "ReCreate", "maxUnavailable": 1},
    },
}


def test_leader_pod_deleted_mid_rollout(release: Release, cluster: Cluster) -> None:
    cluster.create_namespace("fault")
    cluster.apply(FAULT_CLONESET, namespace="fault")

    def clone() -> dict:
        return release.get("clone", "fault-clone", namespace="fault") or {}

    wait_for(lambda: clone().get("status", {}).get("readyReplicas") == 8, 90, "8 ready pods",
             describe=lambda: clone().get("status"))
    # Watch the pod count for the whole rollout: never more than the 8 desired (ReCreate, no surge).
    with PodWatch(cluster, "fault", "app=fault") as watch:
        cluster.kubectl("patch", "clone", "fault-clone", "--type=json", "-p", json.dumps(
            [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
              "value": "localhost:5000/ack-kruise/testapp:v2"}]), namespace="fault")
        wait_for(lambda: 2 <= (clone().get("status", {}).get("updatedReplicas") or 0) <= 5, 60,
                 "the rollout under way (2-5 of 8 updated)", interval=0.2, describe=lambda: clone().get("status"))
        leader, holder = release.leader_pod(), release.lease_holder()
        assert leader, release.describe()
        updated_then = clone()["status"]["updatedReplicas"]
        t0 = time.monotonic()
        cluster.kubectl("delete", "pod", leader, "--wait=false", namespace=NAMESPACE)
        log(f"deleted the leader {leader} with {updated_then}/8 pods updated")
        new_holder = wait_for(lambda: (h := release.lease_holder()) and h != holder and not h.startswith(leader + "_")
                              and h, 30, "another manager pod holding the Lease", interval=0.2,
                              describe=release.describe)
        log(f"Lease taken over by {new_holder} after {time.monotonic() - t0:.1f}s")
        wait_for(lambda: (s := clone().get("status", {})).get("updatedReadyReplicas") == 8
                 and s.get("readyReplicas") == 8 and s.get("replicas") == 8
                 and s.get("updateRevision") == s.get("currentRevision"), 120, "the rollout finished",
                 describe=lambda: f"{clone().get('status')}{release.describe()}")
        log(f"rollout finished {time.monotonic() - t0:.1f}s after the leader was deleted")
    status = clone()["status"]
    pods = cluster.pods("fault", "app=fault")
    assert len(pods) == 8, [p["metadata"]["name"] for p in pods]
    assert all(p["metadata"]["labels"]["controller-revision-hash"] == status["updateRevision"] for p in pods)
    assert len({p["metadata"]["labels"]["apps.kruise.io/cloneset-instance-id"] for p in pods}) == 8
    assert all(is_ready(p) for p in pods)
    assert watch.most_pods() <= 8, f"the pod count went above 8 during the take-over: {watch.counts()}"
    assert len(watch.created()) == 8, "each of the 8 pods replaced exactly once"
    # The Deployment replaced the deleted pod; both replicas Ready again.
    wait_for(lambda: len(pods := release.manager_pods()) == 2 and all(is_ready(p) for p in pods)
             and leader not in [p["metadata"]["name"] for p in pods], 90, "2 Ready manager pods again",
             describe=release.describe)


# ---- 6. helm upgrade --------------------------------------------------------------------------------------------
def test_upgrade_rolls_out_the_manager(release: Release, cluster: Cluster) -> None:
    t0 = time.monotonic()
    before = {p["metadata"]["name"] for p in release.manager_pods()}
    old_rs = {rs["metadata"]["name"] for rs in json.loads(cluster.kubectl(
        "get", "rs", "-o", "json", namespace=NAMESPACE).stdout)["items"] if rs["spec"]["replicas"]}
    deployment = release.get("deployment", DEPLOYMENT)
    selector = ",".join(f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items())
    with PodWatch(cluster, NAMESPACE, selector) as watch:
        upgraded = release.helm("upgrade", RELEASE, str(release.packages["upgrade"]), "--namespace", NAMESPACE,
                                *release.values, *UPGRADE_VALUES)
        assert "STATUS: deployed" in upgraded.stdout and "REVISION: 2" in upgraded.stdout
        rollout = cluster.kubectl("rollout", "status", f"deployment/{DEPLOYMENT}", "--timeout=150s",
                                  namespace=NAMESPACE, check=False, timeout=170)
        assert rollout.returncode == 0, rollout.stderr + release.describe()
    log(f"helm upgrade to chart 0.1.1 (manager.logLevel=debug) rolled out in {time.monotonic() - t0:.1f}s:\n"
        + rollout.stdout.strip())
    deployment = release.get("deployment", DEPLOYMENT)
    assert deployment["metadata"]["labels"]["helm.sh/chart"] == "ack-kruise-0.1.1"
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert "--log-level=debug" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    pods = release.manager_pods()
    assert len(pods) == 2 and all(is_ready(p) for p in pods)
    assert not before & {p["metadata"]["name"] for p in pods}, "every manager pod was replaced"
    assert all("--log-level=debug" in p["spec"]["containers"][0]["args"] for p in pods)
    new_rs = {rs["metadata"]["name"] for rs in json.loads(cluster.kubectl(
        "get", "rs", "-o", "json", namespace=NAMESPACE).stdout)["items"] if rs["spec"]["replicas"]}
    assert len(new_rs) == 1 and not new_rs & old_rs
    # maxSurge 1, maxUnavailable 0: a Ready replica served the webhooks all along.
    assert watch.fewest_ready() >= 1, watch.counts()
    history = yaml.safe_load(release.helm("history", RELEASE, "--namespace", NAMESPACE, "-o", "yaml").stdout)
    assert [h["chart"] for h in history] == ["ack-kruise-0.1.0", "ack-kruise-0.1.1"]
    # A new pod leads and reconciles: scale the seed's CloneSet.
    wait_for(release.leader_pod, 40, "a new manager pod holding the Lease", describe=release.describe)
    cluster.kubectl("scale", "clone", "demo-clone", "--replicas=6")
    wait_for(lambda: columns(cluster.kubectl("get", "clone").stdout)[1][:6]
             == ["demo-clone", "6", "6", "6", "6", "6"], 60, "demo-clone 6/6/6/6/6",
             describe=lambda: cluster.kubectl("get", "clone").stdout + release.describe())
    leader_logs = cluster.kubectl("logs", release.leader_pod(), namespace=NAMESPACE).stdout
    assert "DEBUG" in leader_logs or "debug" in leader_logs.lower()
    count, _ = assert_live_matches_rendered(release, release.packages["upgrade"], release.values + UPGRADE_VALUES)
    log(f"after the upgrade too, {count} rendered objects equal their live copies")


# ---- 7. helm uninstall ------------------------------------------------------------------------------------------
def test_uninstall_keeps_the_crds_and_the_users_clonesets(release: Release, cluster: Cluster) -> None:
    pods_before = {p["metadata"]["uid"] for p in cluster.pods("default", "app=guestbook")}
    uninstalled = release.helm("uninstall", RELEASE, "--namespace", NAMESPACE)
    assert "kept due to the resource policy" in uninstalled.stdout
    for crd in CRDS:
        assert release.get("crd", crd, namespace=None) is not None, crd
    for resource, name in WEBHOOKS:
        wait_for(lambda: release.get(resource, name, namespace=None) is None, 30, f"{resource}/{name} deleted")
    # The manager exits within seconds of SIGTERM, but the 1.20 kubelet may take about three grace periods
    # (30 s here) to finish a pod whose container it already removed ("ContainerStatusUnknown", kubernetes
    # #97288, fixed after 1.20.2): measured 42 s to more than 60 s on this machine.
    wait_for(lambda: not release.manager_pods() and not cluster.pods(NAMESPACE, MANAGER_PODS), 150,
             "the manager pods gone", describe=release.describe)
    assert release.get("deployment", DEPLOYMENT) is None
    # The user's workloads are untouched: the CloneSets and their running pods.
    table = columns(cluster.kubectl("get", "clone").stdout)
    assert table[1][:6] == ["demo-clone", "6", "6", "6", "6", "6"]
    assert pods_before == {p["metadata"]["uid"] for p in cluster.pods("default", "app=guestbook")}
    assert release.get("clone", "fault-clone", namespace="fault") is not None
    clone = release.get("clone", "demo-clone", namespace="default")
    # Nothing would block deleting them later without a manager.
    assert not clone["metadata"].get("finalizers"), clone["metadata"].get("finalizers")
    log("helm uninstall: CRDs, demo-clone (6 pods), fault-clone kept; webhooks, Deployment, pods gone")
