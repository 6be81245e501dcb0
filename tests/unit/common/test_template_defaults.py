"""Pod and PVC template defaults on plain dicts: a table of inputs and the exact templates that come out.
The volume, probe, port and quantity rows are what the v1.20.2 API server wrote for the same PodTemplate
(besides containers' imagePullPolicy, which OpenKruise sets to Always)."""
from __future__ import annotations

import copy

import pytest

from apischema import TEMPLATE_DEFAULT_KEYS
from controllers.common.template_defaults import (DEFAULTERS, default_pod_spec, default_pod_template,
                                                  default_volume_claim_templates, image_tag)

SPEC_DEFAULTS = {"dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                 "securityContext": {}, "terminationGracePeriodSeconds": 30}
CONTAINER_DEFAULTS = {"terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                      "resources": {}}
PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}


def app(name: str = "c", image: str = "x:v1", **fields) -> dict:
    return {"name": name, "image": image, **fields}


def defaulted_app(name: str = "c", image: str = "x:v1", pull: str = "Always", **fields) -> dict:
    return {"name": name, "image": image, "imagePullPolicy": pull, **CONTAINER_DEFAULTS, **fields}


SPECS = {
    "a minimal spec": (
        {"containers": [app()]},
        {"containers": [defaulted_app()], **SPEC_DEFAULTS}),
    "values that are set stay": (
        {"dnsPolicy": "Default", "restartPolicy": "Never", "schedulerName": "mine", "terminationGracePeriodSeconds": 0,
         "securityContext": {"runAsUser": 1}, "containers": [app(imagePullPolicy="Never", terminationMessagePath="/t",
                                                                 terminationMessagePolicy="FallbackToLogsOnError",
                                                                 resources={"limits": {"cpu": "1"}})]},
        {"dnsPolicy": "Default", "restartPolicy": "Never", "schedulerName": "mine", "terminationGracePeriodSeconds": 0,
         "securityContext": {"runAsUser": 1}, "containers": [{
             "name": "c", "image": "x:v1", "imagePullPolicy": "Never", "terminationMessagePath": "/t",
             "terminationMessagePolicy": "FallbackToLogsOnError", "resources": {"limits": {"cpu": "1"}}}]}),
    "app containers always pull, init containers pull by tag as Kubernetes does": (
        {"containers": [app("a", "x:v1"), app("b", "x")],
         "initContainers": [app("i1", "x:v1"), app("i2", "x:latest"), app("i3", "localhost:5000/x"),
                            app("i4", "x@sha256:" + "a" * 64)]},
        {"containers": [defaulted_app("a", "x:v1"), defaulted_app("b", "x")],
         "initContainers": [defaulted_app("i1", "x:v1", "IfNotPresent"), defaulted_app("i2", "x:latest"),
                            defaulted_app("i3", "localhost:5000/x"),
                            defaulted_app("i4", "x@sha256:" + "a" * 64, "IfNotPresent")], **SPEC_DEFAULTS}),
    "probes, lifecycle hooks, ports and env": (
        {"containers": [app(
            ports=[{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
            env=[{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}, {"name": "V", "value": "v"}],
            livenessProbe={"httpGet": {"port": 80}},
            readinessProbe={"tcpSocket": {"port": 80}, "periodSeconds": 0, "failureThreshold": 5},
            startupProbe={"exec": {"command": ["true"]}},
            lifecycle={"postStart": {"exec": {"command": ["a"]}},
                       "preStop": {"httpGet": {"port": 80, "path": "/q"}}})]},
        {"containers": [defaulted_app(
            ports=[{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}],
            env=[{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}},
                 {"name": "V", "value": "v"}],
            livenessProbe={"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, **PROBE_DEFAULTS},
            readinessProbe={"tcpSocket": {"port": 80}, **PROBE_DEFAULTS, "failureThreshold": 5},
            startupProbe={"exec": {"command": ["true"]}, **PROBE_DEFAULTS},
            lifecycle={"postStart": {"exec": {"command": ["a"]}},
                       "preStop": {"httpGet": {"port": 80, "path": "/q", "scheme": "HTTP"}}})], **SPEC_DEFAULTS}),
    "host networking makes container ports host ports (v1.20 SetDefaults_PodSpec)": (
        {"hostNetwork": True, "containers": [app(ports=[{"containerPort": 80}, {"containerPort": 81, "hostPort": 9}])],
         "initContainers": [app("i", ports=[{"containerPort": 82, "hostPort": 0}])]},
        {"hostNetwork": True, "containers": [defaulted_app(ports=[
            {"containerPort": 80, "hostPort": 80, "protocol": "TCP"},
            {"containerPort": 81, "hostPort": 9, "protocol": "TCP"}])],
         "initContainers": [defaulted_app("i", pull="IfNotPresent",
                                          ports=[{"containerPort": 82, "hostPort": 82, "protocol": "TCP"}])],
         **SPEC_DEFAULTS}),
    "quantities are rounded up to milli and written as Kubernetes writes them": (
        {"containers": [app(resources={"limits": {"cpu": "1000m", "memory": "1.5Gi"},
                                       "requests": {"cpu": "0.0001", "memory": 100000}})],
         "overhead": {"cpu": "0.5"}, "volumes": [{"name": "e", "emptyDir": {"sizeLimit": "0.1n"}}]},
        {"containers": [defaulted_app(resources={"limits": {"cpu": "1", "memory": "1536Mi"},
                                                 "requests": {"cpu": "1m", "memory": "100k"}})],
         "overhead": {"cpu": "500m"}, "volumes": [{"name": "e", "emptyDir": {"sizeLimit": "1n"}}], **SPEC_DEFAULTS}),
    "volume sources": (
        {"containers": [app()], "volumes": [
            {"name": "e"},
            {"name": "h", "hostPath": {"path": "/tmp"}},
            {"name": "s", "secret": {"secretName": "s"}},
            {"name": "s0", "secret": {"secretName": "s", "defaultMode": 0}},
            {"name": "cm", "configMap": {"name": "c"}},
            {"name": "da", "downwardAPI": {"items": [{"path": "p", "fieldRef": {"fieldPath": "metadata.name"}}]}},
            {"name": "pr", "projected": {"sources": [
                {"downwardAPI": {"items": [{"path": "p", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                {"serviceAccountToken": {"path": "t"}}]}},
            {"name": "is", "iscsi": {"targetPortal": "1.2.3.4", "iqn": "iqn.2001-04.com.example:storage", "lun": 0}},
            {"name": "rb", "rbd": {"monitors": ["a"], "image": "i"}},
            {"name": "az", "azureDisk": {"diskName": "d", "diskURI": "u"}},
            {"name": "sc", "scaleIO": {"gateway": "g", "system": "s", "secretRef": {"name": "x"}, "volumeName": "v"}},
            {"name": "pvc", "persistentVolumeClaim": {"claimName": "c"}}]},
        {"containers": [defaulted_app()], "volumes": [
            {"name": "e", "emptyDir": {}},
            {"name": "h", "hostPath": {"path": "/tmp", "type": ""}},
            {"name": "s", "secret": {"secretName": "s", "defaultMode": 420}},
            {"name": "s0", "secret": {"secretName": "s", "defaultMode": 0}},
            {"name": "cm", "configMap": {"name": "c", "defaultMode": 420}},
            {"name": "da", "downwardAPI": {"defaultMode": 420, "items": [
                {"path": "p", "fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}]}},
            {"name": "pr", "projected": {"defaultMode": 420, "sources": [
                {"downwardAPI": {"items": [
                    {"path": "p", "fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}]}},
                {"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}}]}},
            {"name": "is", "iscsi": {"targetPortal": "1.2.3.4", "iqn": "iqn.2001-04.com.example:storage", "lun": 0,
                                     "iscsiInterface": "default"}},
            {"name": "rb", "rbd": {"monitors": ["a"], "image": "i", "pool": "rbd", "user": "admin",
                                   "keyring": "/etc/ceph/keyring"}},
            {"name": "az", "azureDisk": {"diskName": "d", "diskURI": "u", "cachingMode": "ReadWrite", "fsType": "ext4",
                                         "readOnly": False, "kind": "Shared"}},
            {"name": "sc", "scaleIO": {"gateway": "g", "system": "s", "secretRef": {"name": "x"}, "volumeName": "v",
                                       "storageMode": "ThinProvisioned", "fsType": "xfs"}},
            {"name": "pvc", "persistentVolumeClaim": {"claimName": "c"}}], **SPEC_DEFAULTS}),
    "ephemeral containers get field defaults only, as OpenKruise's pod.go": (
        {"containers": [app()], "ephemeralContainers": [
            {"name": "dbg", "image": "x", "ports": [{"containerPort": 1}],
             "readinessProbe": {"httpGet": {"port": 1}}}]},
        {"containers": [defaulted_app()], "ephemeralContainers": [
            {"name": "dbg", "image": "x", "ports": [{"containerPort": 1, "protocol": "TCP"}], "resources": {},
             "readinessProbe": {"httpGet": {"port": 1, "path": "/", "scheme": "HTTP"}, **PROBE_DEFAULTS}}],
         **SPEC_DEFAULTS}),
    "what is not Kubernetes' to default stays as it is": (
        {"containers": [app(resources={"limits": {"cpu": "lots"}}), "not a container"], "volumes": "nope",
         "nodeSelector": {"a": "b"}},
        {"containers": [defaulted_app(resources={"limits": {"cpu": "lots"}}), "not a container"], "volumes": "nope",
         "nodeSelector": {"a": "b"}, **SPEC_DEFAULTS}),
}


@pytest.mark.parametrize("case", sorted(SPECS))
def test_pod_spec_defaults(case: str) -> None:
    given, expected = SPECS[case]
    original = copy.deepcopy(given)
    assert default_pod_spec(given) == expected
    assert given == original, "the input is not modified"
    assert default_pod_spec(expected) == expected, "defaulting twice changes nothing"


def test_limits_are_not_copied_to_requests_nor_service_links_enabled() -> None:
    """SetDefaults_Pod, not SetDefaults_PodSpec: Kubernetes does that to Pods only, never to templates."""
    spec = default_pod_spec({"containers": [app(resources={"limits": {"cpu": "1"}})]})
    assert spec["containers"][0]["resources"] == {"limits": {"cpu": "1"}}
    assert "enableServiceLinks" not in spec


def test_a_template_keeps_its_metadata() -> None:
    template = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [app()]}}
    assert default_pod_template(template) == {"metadata": {"labels": {"app": "a"}},
                                              "spec": {"containers": [defaulted_app()], **SPEC_DEFAULTS}}
    assert default_pod_template({"metadata": {}}) == {"metadata": {}}
    assert default_pod_template(None) is None


@pytest.mark.parametrize("image, tag", [
    ("x", "latest"), ("x:v1", "v1"), ("x:latest", "latest"), ("registry.example:5000/a/b", "latest"),
    ("registry.example:5000/a/b:v2", "v2"), ("x@sha256:" + "0" * 64, ""), ("x:v1@sha256:" + "0" * 64, "v1"),
    ("Upper/case", ""), ("", ""), ("a" * 64, ""), (None, "")])
def test_image_tags_as_parse_image_name_reads_them(image, tag) -> None:
    assert image_tag(image) == tag


def test_volume_claim_templates() -> None:
    claims = [{"metadata": {"name": "data"},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1.5Gi"},
                                                                       "limits": {"storage": 2000000000}}}},
              {"metadata": {"name": "block"}, "spec": {"volumeMode": "Block"},
               "status": {"capacity": {"storage": "1024Mi"}}}]
    assert default_volume_claim_templates(claims) == [
        {"metadata": {"name": "data"},
         "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem",
                  "resources": {"requests": {"storage": "1536Mi"}, "limits": {"storage": "2G"}}},
         "status": {"phase": "Pending"}},
        {"metadata": {"name": "block"}, "spec": {"volumeMode": "Block"},
         "status": {"capacity": {"storage": "1Gi"}, "phase": "Pending"}}]
    assert default_volume_claim_templates(None) is None


def test_every_templatedefaults_key_the_generator_accepts_has_a_defaulter() -> None:
    """The generator knows the keys from apischema (it never imports controllers); the runtime has the code."""
    assert set(DEFAULTERS) == set(TEMPLATE_DEFAULT_KEYS)
