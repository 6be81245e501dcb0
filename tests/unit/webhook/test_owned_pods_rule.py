"""The ownedPods admission rule (CloneSet scaleStrategy.podsToDelete): only pods this workload controls."""
from controllers.webhook.rules import CHECKS, RuleContext

RULE = {"check": "ownedPods", "field": "spec.scaleStrategy.podsToDelete"}


def pod(name: str, controller_uid: str | None, **meta) -> dict:
    refs = [{"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "node-uid"}]
    if controller_uid:
        refs.append({"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "name": "c",
                     "uid": controller_uid, "controller": True})
    return {"metadata": {"name": name, "ownerReferences": refs, **meta}}


def test_only_pods_the_workload_controls_may_be_listed():
    obj = {"metadata": {"uid": "cs-uid"}, "spec": {"scaleStrategy": {"podsToDelete": ["ours", "other", "orphan",
                                                                                      "gone", "going"]}}}
    pods = {p["metadata"]["name"]: p for p in (pod("ours", "cs-uid"), pod("other", "x-uid"), pod("orphan", None),
                                               pod("going", "cs-uid", deletionTimestamp="2024-05-01T12:00:00Z"))}
    errors = CHECKS["ownedPods"](RULE, RuleContext("CloneSet", obj, None, "CREATE", pods, {}))
    # validateScaleStrategy's words (upstream names the list, the item is named here).
    assert [(e.path, e.message) for e in errors] == [
        ("spec.scaleStrategy.podsToDelete[1]", 'Invalid value: "other": find pod other owner is not this CloneSet'),
        ("spec.scaleStrategy.podsToDelete[2]", 'Invalid value: "orphan": find pod orphan owner is not this CloneSet'),
        ("spec.scaleStrategy.podsToDelete[3]", 'Invalid value: "gone": find pod gone failed: pods "gone" not found'),
        ("spec.scaleStrategy.podsToDelete[4]", 'Invalid value: "going": find pod going already terminating')]
