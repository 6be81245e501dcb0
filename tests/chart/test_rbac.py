"""Least-privilege RBAC: what the controllers need cluster-wide, caBundle patches by name only, Secrets and
Leases in the manager's namespace only (a Role), no cluster-wide Secret access, no wildcards."""
from __future__ import annotations

import pytest
import yaml

from .conftest import NAMESPACE, REPO, find, render

WEBHOOKS = yaml.safe_load((REPO / "policies" / "webhooks.yaml").read_text())["configurations"]
CONTROLLERS = yaml.safe_load((REPO / "policies" / "controllers.yaml").read_text())


MANAGER_ROLE, DAEMON_ROLE = "kruise-manager-role", "kruise-daemon-role"


def rules(docs: list[dict], kind: str, name: str = MANAGER_ROLE) -> list[dict]:
    return find(docs, kind, name)["rules"]


def grants(rule_list: list[dict], group: str, resource: str) -> list[dict]:
    return [r for r in rule_list if group in r["apiGroups"] and resource in r["resources"]]


def in_namespace(docs: list[dict], kind: str, namespace: str = NAMESPACE) -> dict:
    """The one `kind` (Role, RoleBinding) of `namespace`: kruise-daemon-config has the daemon's own."""
    found = [d for d in docs if d["kind"] == kind and d["metadata"].get("namespace") == namespace]
    assert len(found) == 1, (kind, namespace, found)
    return found[0]


@pytest.mark.parametrize("mode", ["self", "cert-manager", "secret"])
def test_no_cluster_wide_secrets_and_no_wildcards(mode: str) -> None:
    docs = render("--kube-version", "1.20.2", "--set", f"webhook.certificates.mode={mode}",
                  "--set", "webhook.certificates.existingSecret=mine")
    cluster = rules(docs, "ClusterRole") + rules(docs, "ClusterRole", DAEMON_ROLE)
    assert grants(cluster, "", "secrets") == []
    for rule in cluster + in_namespace(docs, "Role")["rules"]:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
        assert not rule.get("nonResourceURLs"), rule


def test_cluster_wide_secrets_only_with_image_pull_jobs() -> None:
    """ImagePullJob copies its pull secrets (in any namespace) into kruise-daemon-config for the daemons, as
    OpenKruise's manager does: cluster-wide Secrets exactly when ImagePullJobGate turns those jobs on."""
    docs = render("--kube-version", "1.20.2", "--set", "featureGates.ImagePullJobGate=true")
    assert [set(r["verbs"]) for r in grants(rules(docs, "ClusterRole"), "", "secrets")] == [
        {"get", "list", "watch", "create", "patch", "delete"}]
    assert grants(rules(docs, "ClusterRole", DAEMON_ROLE), "", "secrets") == []


def test_controllers_get_what_the_resource_table_says() -> None:
    """The controller rules are generated from policies/controllers.yaml: every controller reads its workload,
    writes its status and finalizers, reads what it watches and writes what it says, and no more."""
    cluster = rules(render("--kube-version", "1.20.2", "--set", "featureGates.ImagePullJobGate=true"), "ClusterRole")
    table = CONTROLLERS["resources"]

    def verbs(key: str, sub: str = "") -> set[str]:
        res = table[key]
        name = res["plural"] + (f"/{sub}" if sub else "")
        return {v for r in grants(cluster, res["apiVersion"].rpartition("/")[0], name) for v in r["verbs"]}

    read = {"get", "list", "watch"}
    wanted: dict[tuple[str, str], set[str]] = {}
    for controller in CONTROLLERS["controllers"].values():
        workload = controller["workload"]
        own = () if controller.get("readsWorkloadOnly") else (
            (workload, "status", {"get", "update", "patch"}), (workload, "finalizers", {"update"}))
        for key, sub, more in ((workload, "", read), *own,
                               *((w, "", read) for w in controller["watches"]),
                               *((t.partition("/")[0], t.partition("/")[2], set(v))
                                 for t, v in controller["writes"].items())):
            wanted.setdefault((key, sub), set()).update(more)
    for (key, sub), expected in wanted.items():
        assert verbs(key, sub) == expected, (key, sub)
    # What the controllers of today and the next three need, said concretely.
    write = {"create", "patch", "delete"}
    assert read | write <= verbs("pods") and verbs("pods", "status") == {"patch"}
    assert read | write | {"update"} <= verbs("controllerrevisions.apps")  # update: the legacy-revision PUT
    assert read | {"create"} <= verbs("persistentvolumeclaims")
    assert verbs("nodes") == read and not verbs("nodes", "status")  # Advanced DaemonSet, NodeImage
    for key in ("deployments.apps", "statefulsets.apps", "clonesets.apps.kruise.io", "statefulsets.apps.kruise.io"):
        assert read | write <= verbs(key), key  # UnitedDeployment's subsets
    assert "create" in grants(cluster, "", "events")[0]["verbs"]
    assert set(grants(cluster, "", "namespaces")[0]["verbs"]) == read


def test_storage_classes_read_only_with_the_claim_resize_gate() -> None:
    """The StatefulSet webhook reads StorageClasses (a claim that grows needs one allowing expansion) only with
    StatefulSetAutoResizePVCGate, the one case its rule runs: get and list, never watch or write
    (policies/controllers.yaml `reads`)."""
    assert grants(rules(render("--kube-version", "1.20.2"), "ClusterRole"), "storage.k8s.io", "storageclasses") == []
    docs = render("--kube-version", "1.20.2", "--set", "featureGates.StatefulSetAutoResizePVCGate=true")
    assert [set(r["verbs"]) for r in grants(rules(docs, "ClusterRole"), "storage.k8s.io", "storageclasses")] == [
        {"get", "list"}]


@pytest.mark.parametrize("mode, patches", [("self", True), ("secret", True), ("cert-manager", False)])
def test_ca_bundle_patches_only_by_name(mode: str, patches: bool) -> None:
    docs = render("--kube-version", "1.20.2", "--set", f"webhook.certificates.mode={mode}",
                  "--set", "webhook.certificates.existingSecret=mine")
    cluster = rules(docs, "ClusterRole")
    expected = {("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): [WEBHOOKS["mutating"]],
                ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): [WEBHOOKS["validating"]],
                ("apiextensions.k8s.io", "customresourcedefinitions"): ["daemonsets.apps.kruise.io",
                                                                          "imagelistpulljobs.apps.kruise.io",
                                                                          "imagepulljobs.apps.kruise.io",
                                                                          "nodeimages.apps.kruise.io",
                                                                          "sidecarsets.apps.kruise.io",
                                                                          "statefulsets.apps.kruise.io"]}
    for (group, resource), names in expected.items():
        found = grants(cluster, group, resource)
        readers = [r for r in found if "resourceNames" not in r]
        assert [set(r["verbs"]) for r in readers] == [{"get", "list", "watch"}], resource
        writers = [r for r in found if set(r["verbs"]) & {"create", "update", "patch", "delete"}]
        if patches:
            assert len(writers) == 1 and writers[0]["resourceNames"] == names, resource
            assert set(writers[0]["verbs"]) == {"patch", "update"}
        else:
            assert writers == [], resource


@pytest.mark.parametrize("mode, verbs", [("self", {"get", "list", "watch", "create", "update"}),
                                         ("cert-manager", {"get", "list", "watch"}),
                                         ("secret", {"get", "list", "watch"})])
def test_secrets_and_leases_only_in_the_manager_namespace(mode: str, verbs: set[str]) -> None:
    docs = render("--kube-version", "1.20.2", "--set", f"webhook.certificates.mode={mode}",
                  "--set", "webhook.certificates.existingSecret=mine")
    role = in_namespace(docs, "Role")
    assert set(grants(role["rules"], "", "secrets")[0]["verbs"]) == verbs
    assert {"get", "create", "update"} <= set(grants(role["rules"], "coordination.k8s.io", "leases")[0]["verbs"])
    binding = in_namespace(docs, "RoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]}


def test_bindings_name_the_manager_service_account() -> None:
    docs = render("--kube-version", "1.20.2")
    account = find(docs, "ServiceAccount", "kruise-manager")["metadata"]
    subject = {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    binding = find(docs, "ClusterRoleBinding", "kruise-manager-rolebinding")
    assert binding["subjects"] == [subject]
    assert in_namespace(docs, "RoleBinding")["subjects"] == [subject]
    assert binding["roleRef"]["name"] == find(docs, "ClusterRole", MANAGER_ROLE)["metadata"]["name"]
    pod = find(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["name"]


def test_the_daemon_reads_its_requests_writes_their_status_and_nothing_else() -> None:
    """kruise-daemon (openkruise-1.9 kruise-daemon.md §1.7, only what this daemon does): its node's
    ContainerRecreateRequests and their status, its node's pods and their status (an annotation), events; bound to its own ServiceAccount; gone with daemon.enabled=false
    or featureGates.KruiseDaemon=false."""
    docs = render("--kube-version", "1.20.2")
    assert rules(docs, "ClusterRole", DAEMON_ROLE) == [
        {"apiGroups": ["apps.kruise.io"], "resources": ["containerrecreaterequests"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["apps.kruise.io"], "resources": ["containerrecreaterequests/status"], "verbs": ["patch"]},
        {"apiGroups": ["apps.kruise.io"], "resources": ["nodeimages"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["apps.kruise.io"], "resources": ["nodeimages/status"], "verbs": ["patch"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["patch"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]}]
    assert not [d for d in docs if d["metadata"].get("namespace") == "kruise-daemon-config"]
    # kruise-daemon-config, its Role and RoleBinding only with ImagePullJobGate (the pull secrets' copies).
    docs = render("--kube-version", "1.20.2", "--set", "featureGates.ImagePullJobGate=true")
    assert find(docs, "Namespace", "kruise-daemon-config")
    secret_role = in_namespace(docs, "Role", "kruise-daemon-config")
    assert secret_role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}]
    secret_binding = in_namespace(docs, "RoleBinding", "kruise-daemon-config")
    assert secret_binding["subjects"] == [{"kind": "ServiceAccount", "name": "kruise-daemon", "namespace": NAMESPACE}]
    binding = find(docs, "ClusterRoleBinding", "kruise-daemon-rolebinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kruise-daemon", "namespace": NAMESPACE}]
    assert find(docs, "DaemonSet", "kruise-daemon")["spec"]["template"]["spec"]["serviceAccountName"] == "kruise-daemon"
    for off in ("daemon.enabled=false", "featureGates.KruiseDaemon=false"):
        kinds = {(d["kind"], d["metadata"]["name"]) for d in render("--kube-version", "1.20.2", "--set", off)}
        assert not {k for k in kinds if k[1].startswith("kruise-daemon")}, (off, kinds)


@pytest.mark.parametrize("gate", ["PreDownloadImageForInPlaceUpdate", "PreDownloadImageForDaemonSetUpdate"])
def test_pre_download_gates_grant_image_pull_jobs_as_the_manager_resolves_them(gate: str) -> None:
    """A pre-download gate turns ImagePullJobGate on in the manager (policies/feature-gates.yaml `implies`): the
    chart grants what the workload controllers create and delete, and the image-job controllers' rules, and
    nothing of it when KruiseDaemon is off (which turns the gates off)."""
    cluster = rules(render("--kube-version", "1.20.2", "--set", f"featureGates.{gate}=true"), "ClusterRole")
    verbs = {v for r in grants(cluster, "apps.kruise.io", "imagepulljobs") for v in r["verbs"]}
    assert {"get", "list", "watch", "create", "delete"} <= verbs
    assert grants(cluster, "apps.kruise.io", "imagelistpulljobs") and grants(cluster, "", "secrets")
    off = rules(render("--kube-version", "1.20.2", "--set", f"featureGates.{gate}=true",
                       "--set", "featureGates.KruiseDaemon=false"), "ClusterRole")
    assert {v for r in grants(off, "apps.kruise.io", "imagepulljobs") for v in r["verbs"]} == {"get", "list", "watch"}
    assert grants(off, "", "secrets") == []
