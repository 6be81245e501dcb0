"""The mutating webhook gives templates Kubernetes' defaults where policies/admission `templateDefaults` says,
on CREATE and on an UPDATE that changes them, unless the TemplateNoDefaults gate is on (openkruise.md §2.3)."""
from __future__ import annotations

import base64
import copy
import json

import jsonpatch
import pytest

from controllers import schema
from controllers.common.template_defaults import default_pod_template, default_volume_claim_templates
from controllers.webhook import admission

POD_TEMPLATE = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}
CLAIMS = [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                  "resources": {"requests": {"storage": "1Gi"}}}}]
NO_DEFAULTS = {"TemplateNoDefaults": True}


def workload(kind: str, version: str = "v1alpha1", **spec) -> dict:
    return {"apiVersion": f"apps.kruise.io/{version}", "kind": kind, "metadata": {"name": "w", "namespace": "n"},
            "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": copy.deepcopy(POD_TEMPLATE), **spec}}


def admit(obj: dict, old: dict | None = None, gates: dict | None = None) -> dict:
    """What the API server stores: the object with the webhook's JSON patch applied."""
    request = {"uid": "1", "operation": "UPDATE" if old else "CREATE", "object": obj}
    if old:
        request["oldObject"] = old
    response = admission.mutate({"apiVersion": "admission.k8s.io/v1", "request": request}, feature_gates=gates)
    assert response["response"]["allowed"]
    patch = json.loads(base64.b64decode(response["response"].get("patch") or base64.b64encode(b"[]")))
    return jsonpatch.apply_patch(obj, patch)


@pytest.mark.parametrize("kind, version", [("CloneSet", "v1alpha1"), ("StatefulSet", "v1alpha1"),
                                           ("StatefulSet", "v1beta1"), ("DaemonSet", "v1alpha1")])
def test_created_templates_carry_the_defaults(kind: str, version: str) -> None:
    stored = admit(workload(kind, version))
    assert stored["spec"]["template"] == default_pod_template(POD_TEMPLATE)
    assert stored["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    assert stored["apiVersion"] == f"apps.kruise.io/{version}"


@pytest.mark.parametrize("kind", ["CloneSet", "StatefulSet"])
def test_created_claim_templates_carry_the_defaults(kind: str) -> None:
    stored = admit(workload(kind, volumeClaimTemplates=copy.deepcopy(CLAIMS)))
    assert stored["spec"]["volumeClaimTemplates"] == default_volume_claim_templates(CLAIMS)
    assert stored["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"] == "Filesystem"


def test_the_same_template_sent_again_is_stored_exactly_as_before() -> None:
    """kubectl replace / a PUT of the original YAML: the template differs from the stored one, is defaulted
    again and comes out equal, so the revision does not change."""
    first = admit(workload("CloneSet"))
    again = admit(workload("CloneSet"), old=first)
    assert again["spec"] == first["spec"]


def test_an_update_that_keeps_the_template_leaves_it_as_stored() -> None:
    """As OpenKruise: templates are defaulted only when they change, so one stored without defaults (the gate
    was on) keeps its hash when replicas change."""
    plain = admit(workload("CloneSet"), gates=NO_DEFAULTS)
    assert plain["spec"]["template"] == POD_TEMPLATE
    scaled = copy.deepcopy(plain)
    scaled["spec"]["replicas"] = 7
    assert admit(scaled, old=plain)["spec"]["template"] == POD_TEMPLATE
    changed = copy.deepcopy(plain)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "i:2"
    assert admit(changed, old=plain)["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_an_image_change_keeps_the_other_defaults() -> None:
    stored = admit(workload("StatefulSet", "v1beta1"))
    changed = copy.deepcopy(stored)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "i:2"
    after = admit(changed, old=stored)
    assert after["spec"]["template"] == changed["spec"]["template"], "already defaulted: nothing to add"


def test_template_no_defaults_stores_templates_as_given() -> None:
    stored = admit(workload("CloneSet", volumeClaimTemplates=copy.deepcopy(CLAIMS)), gates=NO_DEFAULTS)
    assert stored["spec"]["template"] == POD_TEMPLATE and stored["spec"]["volumeClaimTemplates"] == CLAIMS
    assert stored["spec"]["replicas"] == 1, "the workload's own defaults still apply"


def test_v1alpha1_statefulset_update_compares_templates_across_versions() -> None:
    stored = admit(workload("StatefulSet", "v1alpha1"))
    assert admit(workload("StatefulSet", "v1alpha1"), old=stored)["spec"] == stored["spec"]


def test_every_united_deployment_template_kind() -> None:
    templates = {
        "statefulSetTemplate": {"spec": {"template": copy.deepcopy(POD_TEMPLATE),
                                         "volumeClaimTemplates": copy.deepcopy(CLAIMS)}},
        "advancedStatefulSetTemplate": {"spec": {"selector": {"matchLabels": {"app": "a"}},
                                                 "template": copy.deepcopy(POD_TEMPLATE),
                                                 "volumeClaimTemplates": copy.deepcopy(CLAIMS)}},
        "cloneSetTemplate": {"spec": {"selector": {"matchLabels": {"app": "a"}},
                                      "template": copy.deepcopy(POD_TEMPLATE),
                                      "volumeClaimTemplates": copy.deepcopy(CLAIMS)}},
        "deploymentTemplate": {"spec": {"template": copy.deepcopy(POD_TEMPLATE)}},
    }
    for name, template in templates.items():
        ud = {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "UnitedDeployment", "metadata": {"name": "u"},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "a"}}, "template": {name: template},
                       "topology": {"subsets": [{"name": "s"}]}}}
        stored = admit(ud)["spec"]["template"][name]["spec"]
        assert stored["template"] == default_pod_template(POD_TEMPLATE), name
        if "volumeClaimTemplates" in template["spec"]:
            assert stored["volumeClaimTemplates"] == default_volume_claim_templates(CLAIMS), name


def test_sidecarsets_default_containers_and_volumes_whatever_the_gate() -> None:
    spec = schema.default_schema().version("SidecarSet", "v1beta1")["templateDefaults"]
    assert "podTemplates" not in spec and "unlessFeatureGate" not in spec and spec["always"] is True


def test_schema_level_function_matches_the_webhook() -> None:
    obj = workload("CloneSet")
    defaulted = schema.apply_template_defaults(obj)
    assert defaulted["spec"]["template"] == default_pod_template(POD_TEMPLATE)
    assert obj["spec"]["template"] == POD_TEMPLATE, "the input is not modified"
    assert schema.apply_template_defaults(obj, feature_gates=NO_DEFAULTS) == obj
