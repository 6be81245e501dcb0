"""GetPodFromTemplate, written once for every kind (`common/newpods.py`)."""
from datetime import datetime, timezone

from controllers.common.newpods import claim_volumes, pod_from_template

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
OWNER = {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "DaemonSet",
         "metadata": {"name": "ds", "namespace": "ns", "uid": "ds-uid"}}
TEMPLATE = {"metadata": {"labels": {"app": "a", "v": "template"}, "annotations": {"note": "x"}, "finalizers": ["f"]},
            "spec": {"containers": [{"name": "main", "image": "i"}],
                     "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cache", "emptyDir": {}}]}}


def test_a_pod_from_a_template_carries_the_owner_the_labels_and_the_state():
    pod = pod_from_template(OWNER, TEMPLATE, api_version="apps.kruise.io/v1alpha1", kind="DaemonSet", name="ds-x",
                            labels={"v": "kind", "controller-revision-hash": "ds-1"}, now=NOW, state="PreparingNormal")
    meta = pod["metadata"]
    assert (pod["apiVersion"], pod["kind"], meta["name"], meta["generateName"], meta["namespace"]) == \
        ("v1", "Pod", "ds-x", "ds-", "ns")
    assert meta["labels"] == {"app": "a", "v": "kind", "controller-revision-hash": "ds-1",
                              "lifecycle.apps.kruise.io/state": "PreparingNormal"}
    assert meta["annotations"] == {"note": "x", "lifecycle.apps.kruise.io/timestamp": "2024-05-01T12:00:00Z"}
    assert meta["finalizers"] == ["f"]
    assert meta["ownerReferences"] == [{"apiVersion": "apps.kruise.io/v1alpha1", "kind": "DaemonSet", "name": "ds",
                                        "uid": "ds-uid", "controller": True, "blockOwnerDeletion": True}]
    assert pod["spec"] == TEMPLATE["spec"] and pod["spec"] is not TEMPLATE["spec"]


def test_claims_replace_template_volumes_and_gates_are_added_once():
    pod = pod_from_template(OWNER, TEMPLATE, api_version="v", kind="K", name="ds-x", labels={}, now=NOW,
                            claims=[("data", "data-ds-x")], readiness_gates=("InPlaceUpdateReady",))
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-ds-x"}},
                                      {"name": "cache", "emptyDir": {}}]
    assert pod["spec"]["readinessGates"] == [{"conditionType": "InPlaceUpdateReady"}]
    assert "lifecycle.apps.kruise.io/state" not in pod["metadata"]["labels"]
    again = pod_from_template(OWNER, pod, api_version="v", kind="K", name="ds-x", labels={}, now=NOW,
                              readiness_gates=("InPlaceUpdateReady",))
    assert again["spec"]["readinessGates"] == [{"conditionType": "InPlaceUpdateReady"}]
    assert TEMPLATE["spec"]["volumes"][0] == {"name": "data", "emptyDir": {}}, "the template is not modified"
    assert claim_volumes([], [{"name": "v"}, "junk"]) == [{"name": "v"}]
