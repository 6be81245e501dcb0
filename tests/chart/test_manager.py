"""The kruise-manager Deployment and the webhook Service: flags from values, checked against the manager's own
command line (controllers/manager.py), placement, probes, namespace, and the values the chart refuses."""
from __future__ import annotations

import argparse

import pytest
import yaml

from controllers import manager as kruise_manager

from .conftest import CHART, GATE, NAMESPACE, args_of, failure, find, manager_container, render


def parse_as_the_manager_does(docs: list[dict]):
    container = manager_container(docs)
    assert container["command"] == ["ack-kruise", "manager"]
    parser = argparse.ArgumentParser()
    kruise_manager.add_arguments(parser)
    return kruise_manager.settings_from(parser.parse_args(container["args"]))


def test_default_flags_are_accepted_by_the_manager() -> None:
    docs = render("--kube-version", "1.20.2")
    settings = parse_as_the_manager_does(docs)
    assert settings.leader.enabled and settings.leader.lease_duration == 15
    assert settings.webhook.port == 9876 and settings.webhook.service_name == "kruise-webhook-service"
    assert settings.webhook.cert_mode == "self" and settings.webhook.cert_secret == "kruise-webhook-certs"
    assert settings.health_addr == ":8000" and settings.metrics_addr == ":8080"
    assert settings.api.qps == 30 and settings.api.burst == 50
    assert settings.log_level == "info"
    gates = yaml.safe_load((CHART / "values.yaml").read_text())["featureGates"]
    assert settings.feature_gates == gates


def test_values_reach_the_flags() -> None:
    docs = render("--kube-version", "1.20.2", "--set", "manager.logLevel=debug",
                  "--set", "manager.leaderElection.leaseDuration=30", "--set", "manager.webhookPort=10250",
                  "--set", "manager.healthPort=9000", "--set", "manager.metricsPort=9001",
                  "--set", "manager.apiClient.qps=100,manager.apiClient.burst=200",
                  "--set", "webhook.service.name=kruise-hooks", "--set", "webhook.certificates.secretName=certs",
                  "--set", "webhook.certificates.validity=90d,webhook.certificates.renewBefore=10d")
    settings = parse_as_the_manager_does(docs)
    assert settings.log_level == "debug" and settings.leader.lease_duration == 30
    assert settings.webhook.port == 10250 and settings.webhook.service_name == "kruise-hooks"
    assert settings.webhook.cert_secret == "certs"
    assert settings.webhook.cert_validity.days == 90 and settings.webhook.cert_renew_before.days == 10
    assert settings.health_addr == ":9000" and settings.metrics_addr == ":9001"
    assert settings.api.qps == 100 and settings.api.burst == 200
    container = manager_container(docs)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"webhook-server": 10250, "health": 9000, "metrics": 9001}
    service = find(docs, "Service")
    assert service["metadata"]["name"] == "kruise-hooks"
    assert service["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": "webhook-server", "protocol": "TCP"}]


def test_feature_gates_are_sorted_whatever_the_order_they_are_set_in() -> None:
    one = render("--kube-version", "1.20.2", "--set", "featureGates.StatefulSetStartOrdinal=true",
                 "--set", "featureGates.ResourcesDeletionProtection=true")
    two = render("--kube-version", "1.20.2", "--set", "featureGates.ResourcesDeletionProtection=true",
                 "--set", "featureGates.StatefulSetStartOrdinal=true")
    assert args_of(one)["--feature-gates"] == args_of(two)["--feature-gates"] == (
        "CloneSetPartitionRollback=false,CloneSetShortHash=false,DaemonWatchingPod=true,"
        "DeletionProtectionForCRDCascadingGate=false,"
        "EnableSortSidecarContainerByName=false,ImagePullJobGate=false,KruiseDaemon=true,"
        "KruisePodReadinessGate=false,PodWebhook=true,PreDownloadImageForDaemonSetUpdate=false,"
        "PreDownloadImageForInPlaceUpdate=false,"
        "PreparingUpdateAsUpdate=false,RecreatePodWhenChangeVCTInCloneSetGate=false,"
        "ResourcesDeletionProtection=true,SidecarSetPatchPodMetadataDefaultsAllowed=false,StatefulSetAutoDeletePVC=true,"
        "StatefulSetAutoResizePVCGate=false,StatefulSetStartOrdinal=true,TemplateNoDefaults=false")
    assert parse_as_the_manager_does(one).feature_gates["StatefulSetStartOrdinal"] is True


def test_leader_election_off_with_one_replica() -> None:
    docs = render("--kube-version", "1.20.2", "--set", "manager.leaderElection.enabled=false",
                  "--set", "manager.replicas=1", "--set", "manager.podDisruptionBudget.enabled=false")
    assert parse_as_the_manager_does(docs).leader.enabled is False
    assert find(docs, "Deployment")["spec"]["replicas"] == 1


def test_image_tag_defaults_to_the_app_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    container = manager_container(render("--kube-version", "1.20.2"))
    # The source tree's default: the name `make image` pushes to the sandbox's registry (no public registry
    # namespace that someone else could claim).
    assert container["image"] == f"localhost:5000/ack-kruise/kruise-manager:{chart['appVersion']}"
    assert container["imagePullPolicy"] == "IfNotPresent"
    container = manager_container(render("--kube-version", "1.20.2", "--set", "manager.image.registry=",
                                         "--set", "manager.image.repository=r.example/k",
                                         "--set", "manager.image.tag=dev", "--set", "manager.image.pullPolicy=Always"))
    assert container["image"] == "r.example/k:dev" and container["imagePullPolicy"] == "Always"


def test_a_digest_wins_over_the_tag_and_the_registry_prefixes_the_repository() -> None:
    digest = "sha256:" + "ab" * 32
    container = manager_container(render("--kube-version", "1.20.2", "--set",
                                         "manager.image.registry=mirror.example:5000/team",
                                         "--set", f"manager.image.digest={digest}", "--set", "manager.image.tag=x"))
    assert container["image"] == f"mirror.example:5000/team/ack-kruise/kruise-manager@{digest}"


@pytest.mark.parametrize("key, value", [("tag", "a:b"), ("tag", "v1 beta"), ("tag", "!!bad"),
                                        ("repository", "Registry/ACK"), ("digest", "sha256:abc"),
                                        ("digest", "md5:" + "0" * 32), ("registry", "https://r.example")])
def test_malformed_image_references_are_refused_naming_the_value(key: str, value: str) -> None:
    assert f"manager.image.{key}: Does not match pattern" in failure("--kube-version", "1.20.2", "--set-string",
                                                                      f"manager.image.{key}={value}")


def test_pod_namespace_probes_and_security() -> None:
    docs = render("--kube-version", "1.20.2")
    container = manager_container(docs)
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    pod = find(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "kruise-manager" and pod["securityContext"]["runAsNonRoot"] is True
    assert find(docs, "Deployment")["spec"]["replicas"] == 2


def test_probe_timings_come_from_values() -> None:
    container = manager_container(render("--kube-version", "1.20.2", "--set", "manager.livenessProbe.periodSeconds=20",
                                         "--set", "manager.readinessProbe.failureThreshold=6"))
    assert container["livenessProbe"]["periodSeconds"] == 20
    assert container["readinessProbe"]["failureThreshold"] == 6


def test_placement() -> None:
    pod = find(render("--kube-version", "1.20.2", "--set", "manager.nodeSelector.disk=ssd",
                      "--set", "manager.tolerations[0].key=dedicated,manager.tolerations[0].operator=Equal",
                      "--set", "manager.tolerations[0].value=kruise,manager.tolerations[0].effect=NoSchedule",
                      "--set", "manager.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution"
                               "[0].topologyKey=kubernetes.io/hostname"), "Deployment")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"disk": "ssd"}
    assert pod["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "kruise", "effect": "NoSchedule"}]
    assert pod["affinity"] == {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "kubernetes.io/hostname"}]}}
    default = find(render("--kube-version", "1.20.2"), "Deployment")["spec"]["template"]["spec"]
    term = default["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == \
        find(render("--kube-version", "1.20.2"), "Deployment")["spec"]["selector"]["matchLabels"]
    assert "nodeSelector" not in default and "tolerations" not in default


def test_selector_labels_carry_no_version() -> None:
    deployment = find(render("--kube-version", "1.20.2"), "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert "app.kubernetes.io/version" not in selector and "helm.sh/chart" not in selector
    assert deployment["spec"]["template"]["metadata"]["labels"] == selector
    assert find(render("--kube-version", "1.20.2"), "Service")["spec"]["selector"] == selector


def test_everything_goes_into_the_release_namespace_or_the_override() -> None:
    for namespace, extra in ((NAMESPACE, ()), ("kruise-elsewhere", ("--set", "namespaceOverride=kruise-elsewhere"))):
        docs = render("--kube-version", "1.20.2", "--set", "webhook.certificates.mode=cert-manager", *extra)
        for doc in docs:
            cluster_scoped = doc["kind"] in ("CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
                                             "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
                                             "Namespace")
            # kruise-daemon-config: where the daemons read image pull secrets, a fixed name (as OpenKruise's).
            daemon_config = doc["metadata"]["name"].startswith("kruise-daemon-secret-role")
            expected = None if cluster_scoped else "kruise-daemon-config" if daemon_config else namespace
            assert doc["metadata"].get("namespace") == expected, doc["metadata"]
        hooks = [w for d in docs if d["kind"].endswith("WebhookConfiguration") for w in d["webhooks"]]
        assert {w["clientConfig"]["service"]["namespace"] for w in hooks} == {namespace}
        pod_hooks = [w for w in hooks if w["clientConfig"]["service"]["path"] == "/mutate-pod"]
        assert pod_hooks and all(namespace in w["namespaceSelector"]["matchExpressions"][0]["values"] for w in pod_hooks)
        for doc in docs:
            if "inject-ca-from" in str(doc["metadata"].get("annotations")):
                assert doc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"].startswith(f"{namespace}/")
        assert find(docs, "ClusterRoleBinding", "kruise-manager-rolebinding")["subjects"][0]["namespace"] == namespace


@pytest.mark.parametrize("args, message", [
    (("--set", "webhook.certificates.mode=secret"),
     "webhook.certificates.mode=secret needs webhook.certificates.existingSecret"),
    (("--set", "webhook.service.namespace=elsewhere"),
     'webhook.service.namespace is "elsewhere" but the manager runs in "kruise-system"'),
    (("--kube-version", "1.14.10", *GATE, "--set", "webhook.service.port=8443"),
     "Kubernetes v1.14.10 always calls webhooks on port 443; webhook.service.port=8443 needs Kubernetes 1.15"),
    (("--set", "featureGates.PodWebhook=false"), "set webhook.podWebhook.enabled=false as well"),
    (("--set", "manager.leaderElection.enabled=false"), "enable leader election or run one replica"),
])
def test_values_that_cannot_work_together_are_refused(args: tuple[str, ...], message: str) -> None:
    if "--kube-version" not in args:
        args = ("--kube-version", "1.20.2", *args)
    assert message in failure(*args)


def test_the_pod_webhook_and_its_gate_can_be_turned_off_together() -> None:
    docs = render("--kube-version", "1.20.2", "--set", "featureGates.PodWebhook=false",
                  "--set", "webhook.podWebhook.enabled=false")
    assert "PodWebhook=false" in args_of(docs)["--feature-gates"]
    assert "/mutate-pod" not in [w["clientConfig"]["service"]["path"] for d in docs
                                 if d["kind"].endswith("WebhookConfiguration") for w in d["webhooks"]]


def test_the_service_namespace_may_name_the_chart_namespace() -> None:
    docs = render("--kube-version", "1.20.2", "--set", f"webhook.service.namespace={NAMESPACE}")
    assert find(docs, "Service")["metadata"]["namespace"] == NAMESPACE


def test_seccomp_only_where_the_api_knows_it() -> None:
    for version, expected in (("1.18.20", False), ("1.19.0", True), ("1.30.0", True), ("1.37.0", True)):
        pod = find(render("--kube-version", version), "Deployment")["spec"]["template"]["spec"]
        assert ("seccompProfile" in pod["securityContext"]) == expected, version


def test_numbers_from_a_values_file_stay_integers(tmp_path) -> None:
    # Helm reads numbers of a values file as floats; 1000000 would print as 1e+06 without `int`.
    values = tmp_path / "values.yaml"
    values.write_text("manager:\n  replicas: 3\n  apiClient: {burst: 1000000, qps: 2.5}\n")
    docs = render("--kube-version", "1.20.2", "-f", str(values))
    assert args_of(docs)["--rest-config-burst"] == "1000000"
    settings = parse_as_the_manager_does(docs)
    assert settings.api.burst == 1000000 and settings.api.qps == 2.5
