"""The knobs operators expect from the anchors (review 2026-12-03-chart.md §6: openkruise's chart and
cert-manager's): pod labels, service-account annotations, extra args and env, security-context overrides (OpenShift
restricted-v2), a metrics Service and a ServiceMonitor, quantities as numbers. Each is rendered where it belongs,
the defaults keep the secure settings, and a value that cannot work is refused naming the key."""
from __future__ import annotations

import argparse

import pytest
import yaml

from controllers import manager as kruise_manager
from daemon import main as kruise_daemon

from .conftest import CHART, failure, find, manager_container, render

V = ("--kube-version", "1.30.0")


def daemon_set(docs: list[dict]) -> dict:
    return find(docs, "DaemonSet", "kruise-daemon")


def values_file(tmp_path, text: str) -> str:
    path = tmp_path / "values.yaml"
    path.write_text(text)
    return str(path)


def test_pod_labels_reach_the_pods_not_the_selectors() -> None:
    docs = render(*V, "--set", "manager.podLabels.team=platform", "--set", "daemon.podLabels.team=nodes",
                  "--set", "daemon.podAnnotations.note=x")
    deployment, daemons = find(docs, "Deployment"), daemon_set(docs)
    assert deployment["spec"]["template"]["metadata"]["labels"]["team"] == "platform"
    assert "team" not in deployment["spec"]["selector"]["matchLabels"]
    assert daemons["spec"]["template"]["metadata"]["labels"]["team"] == "nodes"
    assert daemons["spec"]["template"]["metadata"]["annotations"] == {"note": "x"}
    assert "team" not in daemons["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("component, label, owner", [
    ("manager", "app.kubernetes.io/component", "Deployment"), ("manager", "app.kubernetes.io/instance", "Deployment"),
    ("daemon", "app.kubernetes.io/name", "DaemonSet")])
def test_pod_labels_that_would_break_the_selector_are_refused(component: str, label: str, owner: str) -> None:
    escaped = label.replace(".", "\\.")
    error = failure(*V, "--set", f"{component}.podLabels.{escaped}=x")
    assert f"{component}.podLabels sets {label}: the {owner} selects its pods by that label" in error


def test_service_account_annotations() -> None:
    docs = render(*V,
                  "--set", "manager.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::1:role/k",
                  "--set", "daemon.serviceAccount.annotations.iam\\.gke\\.io/gcp-service-account=d@p.iam")
    manager_account = find(docs, "ServiceAccount", "kruise-manager")
    assert manager_account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/k"}
    # The annotated account is the one the manager's pods run as.
    assert find(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "kruise-manager"
    assert find(docs, "ServiceAccount", "kruise-daemon")["metadata"]["annotations"] == \
        {"iam.gke.io/gcp-service-account": "d@p.iam"}
    defaults = render(*V)
    assert "annotations" not in find(defaults, "ServiceAccount", "kruise-manager")["metadata"]


def test_extra_args_and_env_reach_the_manager_and_its_command_line_accepts_them() -> None:
    docs = render(*V, "--set", "manager.extraArgs[0]=--cert-check-interval=120",
                  "--set", "manager.extraEnvs[0].name=HTTPS_PROXY,manager.extraEnvs[0].value=http://proxy:3128",
                  "--set", "daemon.extraArgs[0]=--rest-config-qps=10")
    container = manager_container(docs)
    assert container["args"][-1] == "--cert-check-interval=120"
    parser = argparse.ArgumentParser()
    kruise_manager.add_arguments(parser)
    assert parser.parse_args(container["args"]).cert_check_interval == 120
    assert container["env"][-1] == {"name": "HTTPS_PROXY", "value": "http://proxy:3128"}
    daemon_container = daemon_set(docs)["spec"]["template"]["spec"]["containers"][0]
    assert daemon_container["args"][-1] == "--rest-config-qps=10"
    daemon_parser = argparse.ArgumentParser()
    kruise_daemon.add_arguments(daemon_parser)
    assert daemon_parser.parse_args(daemon_container["args"]).rest_config_qps == 10


def chart_flags() -> dict[str, dict[str, str]]:
    text = (CHART / "templates" / "_helpers.tpl").read_text()
    block = text.split('{{- define "ack-kruise.chartFlags" -}}\n', 1)[1].split("{{- end -}}", 1)[0]
    return yaml.safe_load(block)


@pytest.mark.parametrize("component", ["manager", "daemon"])
def test_every_flag_the_chart_sets_is_guarded_from_extra_args(component: str) -> None:
    docs = render(*V, "--set", "daemon.socketFile=containerd.sock")
    container = (manager_container(docs) if component == "manager"
                 else daemon_set(docs)["spec"]["template"]["spec"]["containers"][0])
    rendered = {arg.split("=", 1)[0] for arg in container["args"]}
    assert rendered == set(chart_flags()[component]), "the guard's flag list and the template differ"


@pytest.mark.parametrize("setting, message", [
    ("manager.extraArgs[0]=--webhook-port=1",
     "manager.extraArgs sets --webhook-port, which the chart sets from manager.webhookPort: set that value instead"),
    ("manager.extraArgs[0]=--feature-gates=PodWebhook=false",
     "manager.extraArgs sets --feature-gates, which the chart sets from featureGates"),
    ("daemon.extraArgs[0]=--addr=:1", "daemon.extraArgs sets --addr, which the chart sets from daemon.port"),
    ("manager.extraEnvs[0].name=POD_NAMESPACE", "manager.extraEnvs sets POD_NAMESPACE, which the chart sets"),
    ("daemon.extraEnvs[0].name=NODE_NAME", "daemon.extraEnvs sets NODE_NAME, which the chart sets"),
])
def test_extra_args_and_env_cannot_override_the_chart(setting: str, message: str) -> None:
    assert message in failure(*V, "--set", setting)


@pytest.mark.parametrize("setting, key, message", [
    ("manager.extraArgs[0]=webhook-port", "manager.extraArgs.0", "Does not match pattern"),
    ("manager.extraEnvs[0].value=x", "manager.extraEnvs.0", "name is required"),
    ("daemon.extraEnvs[0].nam=x", "daemon.extraEnvs.0", "Additional property nam is not allowed"),
    ("manager.metrics.serviceMonitor.interval=1y", "manager.metrics.serviceMonitor.interval", "Does not match pattern"),
])
def test_bad_knob_values_are_refused_by_the_schema(setting: str, key: str, message: str) -> None:
    error = failure(*V, "--set", setting)
    assert f"- {key}: " in error and message in error, error


def pod_and_container_contexts(docs: list[dict]) -> tuple[dict, dict]:
    spec = find(docs, "Deployment")["spec"]["template"]["spec"]
    return spec.get("securityContext"), spec["containers"][0]["securityContext"]


def test_default_security_contexts_stay_strict() -> None:
    pod, container = pod_and_container_contexts(render(*V))
    assert pod == {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                   "seccompProfile": {"type": "RuntimeDefault"}}
    assert container == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                         "capabilities": {"drop": ["ALL"]}}
    # seccompProfile is a pod field from 1.19: not rendered before.
    pod, _ = pod_and_container_contexts(render("--kube-version", "1.16.15"))
    assert "seccompProfile" not in pod and pod["runAsNonRoot"] is True


def test_openshift_restricted_v2_values() -> None:
    # restricted-v2 assigns the user and group (MustRunAsRange) and requires: non-root, no privilege
    # escalation, every capability dropped, seccomp RuntimeDefault (or none given).
    docs = render(*V, "-f", str(CHART / "ci" / "openshift-values.yaml"))
    pod, container = pod_and_container_contexts(docs)
    assert pod == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert container["allowPrivilegeEscalation"] is False and container["capabilities"] == {"drop": ["ALL"]}
    assert "runAsUser" not in container and "runAsGroup" not in container
    assert not [d for d in docs if d["kind"] == "DaemonSet"]   # needs the privileged SCC: off there
    # --set works the same way.
    pod, _ = pod_and_container_contexts(render(*V, "--set", "manager.podSecurityContext.runAsUser=null",
                                               "--set", "manager.podSecurityContext.runAsGroup=null"))
    assert pod == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def test_security_context_overrides_merge_with_the_defaults() -> None:
    pod, container = pod_and_container_contexts(render(
        *V, "--set", "manager.podSecurityContext.fsGroup=2000",
        "--set", "manager.podSecurityContext.seccompProfile.type=Localhost",
        "--set", "manager.podSecurityContext.seccompProfile.localhostProfile=kruise.json",
        "--set", "manager.securityContext.readOnlyRootFilesystem=false"))
    assert pod == {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534, "fsGroup": 2000,
                   "seccompProfile": {"type": "Localhost", "localhostProfile": "kruise.json"}}
    assert container["readOnlyRootFilesystem"] is False and container["allowPrivilegeEscalation"] is False


def test_no_metrics_objects_by_default() -> None:
    docs = render(*V)
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Service"] == ["kruise-webhook-service"]
    assert not [d for d in docs if d["kind"] == "ServiceMonitor"]


def test_metrics_service_alone() -> None:
    docs = render(*V, "--set", "manager.metrics.service.enabled=true", "--set", "manager.metricsPort=9100")
    service = find(docs, "Service", "kruise-manager-metrics")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9100, "targetPort": "metrics", "protocol": "TCP"}]
    pod_labels = find(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert not [d for d in docs if d["kind"] == "ServiceMonitor"]


def test_service_monitor_scrapes_the_metrics_service() -> None:
    docs = render(*V, "--set", "manager.metrics.serviceMonitor.enabled=true",
                  "--set", "manager.metrics.serviceMonitor.labels.release=prometheus",
                  "--set", "manager.metrics.serviceMonitor.interval=30s",
                  "--set", "manager.metrics.serviceMonitor.scrapeTimeout=10s")
    monitor = find(docs, "ServiceMonitor")
    service = find(docs, "Service", "kruise-manager-metrics")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"] == "kruise-system"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    # It selects only the metrics Service, not the webhook Service (whose port is TLS).
    webhook = find(docs, "Service", "kruise-webhook-service")
    assert not monitor["spec"]["selector"]["matchLabels"].items() <= webhook["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["kruise-system"]}
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "scheme": "http",
                                             "interval": "30s", "scrapeTimeout": "10s", "honorLabels": False}]
    assert {p["name"] for p in service["spec"]["ports"]} == {e["port"] for e in monitor["spec"]["endpoints"]}


def test_a_scrape_timeout_longer_than_the_interval_is_refused() -> None:
    error = failure(*V, "--set", "manager.metrics.serviceMonitor.enabled=true",
                    "--set", "manager.metrics.serviceMonitor.scrapeTimeout=2m")
    assert "manager.metrics.serviceMonitor.scrapeTimeout=2m is longer than interval=60s" in error


@pytest.mark.parametrize("component", ["manager", "daemon"])
def test_quantities_as_numbers_are_accepted_and_written_as_strings(tmp_path, component: str) -> None:
    text = (f"{component}:\n  resources:\n    requests: {{cpu: 0.5, memory: 1.5Gi}}\n"
            "    limits: {cpu: 2, memory: 1073741824}\n")
    docs = render(*V, "-f", values_file(tmp_path, text))
    container = (manager_container(docs) if component == "manager"
                 else daemon_set(docs)["spec"]["template"]["spec"]["containers"][0])
    assert container["resources"] == {"requests": {"cpu": "0.5", "memory": "1.5Gi"},
                                      "limits": {"cpu": "2", "memory": "1073741824"}}


@pytest.mark.parametrize("component", ["manager", "daemon"])
@pytest.mark.parametrize("quantity, message", [
    ("lots", "Does not match pattern"), ('"-1"', "Does not match pattern"),
    ("-1", "Must be greater than or equal to 0"), ("true", "Invalid type")])
def test_bad_quantities_are_refused_naming_the_key(tmp_path, component: str, quantity: str, message: str) -> None:
    error = failure(*V, "-f", values_file(tmp_path, f"{component}:\n  resources:\n    limits: {{cpu: {quantity}}}\n"))
    assert f"- {component}.resources.limits.cpu: " in error and message in error, error


def test_zero_replicas_is_refused_unless_allowed() -> None:
    error = failure(*V, "--set", "manager.replicas=0")
    assert "manager.replicas=0 runs no manager, and the webhooks fail closed" in error
    assert "manager.allowZeroReplicas=true" in error
    docs = render(*V, "--set", "manager.replicas=0", "--set", "manager.allowZeroReplicas=true")
    assert find(docs, "Deployment")["spec"]["replicas"] == 0
