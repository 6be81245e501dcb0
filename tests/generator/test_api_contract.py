"""What users see of the API (openkruise.md §1, the ACK user guide), checked on the generated v1 CRDs."""
from __future__ import annotations

import pytest
import yaml

from .conftest import REPO

EXPECTED = {
    # plural: (kind, shortNames, scope, versions with storage marked, scale subresource, `kubectl get` columns)
    "clonesets": ("CloneSet", ["clone"], "Namespaced", {"v1alpha1": True}, True,
                  "NAME DESIRED UPDATED UPDATED_READY READY TOTAL AGE"),
    "statefulsets": ("StatefulSet", ["sts", "asts"], "Namespaced", {"v1beta1": True, "v1alpha1": False}, True,
                     "NAME DESIRED CURRENT UPDATED READY AGE"),
    "daemonsets": ("DaemonSet", ["daemon", "ads"], "Namespaced", {"v1beta1": True, "v1alpha1": False}, False,
                   "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE AGE"),
    "sidecarsets": ("SidecarSet", None, "Cluster", {"v1beta1": True, "v1alpha1": False}, False, "NAME MATCHED UPDATED READY AGE"),
    "uniteddeployments": ("UnitedDeployment", ["ud"], "Namespaced", {"v1alpha1": True}, True,
                          "NAME DESIRED CURRENT UPDATED READY AGE"),
    "containerrecreaterequests": ("ContainerRecreateRequest", ["crr"], "Namespaced", {"v1alpha1": True}, False,
                                  "NAME PHASE POD NODE AGE"),
}
WIDE = {"clonesets": ["UPDATED_AVAILABLE", "CONTAINERS", "IMAGES", "SELECTOR"],
        "statefulsets": ["CONTAINERS", "IMAGES"], "daemonsets": ["CONTAINERS", "IMAGES"],
        "sidecarsets": [], "uniteddeployments": [], "containerrecreaterequests": []}


@pytest.mark.parametrize("plural", sorted(EXPECTED))
def test_crd_contract(plural: str) -> None:
    kind, short, scope, versions, scale, columns = EXPECTED[plural]
    crd = yaml.safe_load((REPO / "crds" / "v1" / f"apps.kruise.io_{plural}.yaml").read_text())
    spec = crd["spec"]
    assert crd["metadata"]["name"] == f"{plural}.apps.kruise.io"
    assert spec["names"]["kind"] == kind and spec["names"].get("shortNames") == short
    assert spec["scope"] == scope
    assert {v["name"]: v["storage"] for v in spec["versions"]} == versions
    assert ("conversion" in spec) == (len(versions) > 1)
    for version in spec["versions"]:
        assert version["served"] and version["subresources"].get("status") == {}
        if scale:
            assert version["subresources"]["scale"] == {"specReplicasPath": ".spec.replicas",
                                                        "statusReplicasPath": ".status.replicas",
                                                        "labelSelectorPath": ".status.labelSelector"}
        else:
            assert "scale" not in version["subresources"]
        printed = version["additionalPrinterColumns"]
        assert " ".join(["NAME"] + [c["name"] for c in printed if not c.get("priority")]) == columns
        assert [c["name"] for c in printed if c.get("priority") == 1] == WIDE[plural]
        schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        for template in ("template", "volumeClaimTemplates"):
            # Pod and PVC templates stay schemaless (UnitedDeployment's template is a workload template).
            if template in schema and plural != "uniteddeployments":
                node = schema[template].get("items", schema[template])
                assert node == {"type": "object", "x-kubernetes-preserve-unknown-fields": True} | (
                    {"description": node["description"]} if "description" in node else {})


def test_statefulset_v1alpha1_lacks_the_v1beta1_fields() -> None:
    crd = yaml.safe_load((REPO / "crds" / "v1" / "apps.kruise.io_statefulsets.yaml").read_text())
    specs = {v["name"]: v["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"] for v in crd["spec"]["versions"]}
    beta_only = set(specs["v1beta1"]) - set(specs["v1alpha1"])
    assert beta_only == {"reserveOrdinals", "lifecycle", "scaleStrategy", "persistentVolumeClaimRetentionPolicy",
                         "ordinals", "volumeClaimUpdateStrategy"}


def test_daemonset_versions_differ_only_where_upstream_does() -> None:
    crd = yaml.safe_load((REPO / "crds" / "v1" / "apps.kruise.io_daemonsets.yaml").read_text())
    schemas = {v["name"]: v["schema"]["openAPIV3Schema"]["properties"] for v in crd["spec"]["versions"]}
    assert set(schemas["v1beta1"]["spec"]["properties"]) - set(schemas["v1alpha1"]["spec"]["properties"]) == {
        "scaleStrategy"}
    beta_status, alpha_status = (set(schemas[v]["status"]["properties"]) for v in ("v1beta1", "v1alpha1"))
    assert beta_status - alpha_status == {"updateRevision"} and alpha_status - beta_status == {"daemonSetHash"}
    assert crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["path"] == "/convert"
    assert crd["spec"]["conversion"]["webhook"]["conversionReviewVersions"] == ["v1", "v1beta1"]
