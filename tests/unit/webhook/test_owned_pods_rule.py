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


def test_the_webhook_reads_only_the_pods_newly_named():
    """Only the names an update adds to podsToDelete are looked up, by name: a scale or a template change reads
    no pod (listing the namespace's pods on every CloneSet update cost ~100 MB of peak RSS at 5,000 pods)."""
    import asyncio

    from controllers import schema
    from controllers.webhook import admission

    def cloneset(replicas: int, to_delete: list[str]) -> dict:
        return schema.apply_defaults({
            "apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet",
            "metadata": {"name": "c", "namespace": "n", "uid": "cs-uid"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "a"}},
                     "scaleStrategy": {"podsToDelete": to_delete},
                     "template": {"metadata": {"labels": {"app": "a"}},
                                  "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}}, {})
    asked: list[tuple[str, list[str]]] = []

    async def pods(namespace: str, names: list[str]) -> dict[str, dict]:
        asked.append((namespace, names))
        return {n: pod(n, "cs-uid") for n in names if n != "gone"}

    def answer(new: dict, old: dict | None) -> dict:
        request = {"uid": "1", "operation": "UPDATE" if old else "CREATE", "object": new, "oldObject": old}
        return asyncio.run(admission.validate({"request": request}, pods=pods, feature_gates={}))["response"]

    assert answer(cloneset(3, []), None)["allowed"] and asked == []
    assert answer(cloneset(9, ["a"]), cloneset(3, ["a"]))["allowed"] and asked == []      # a scale
    assert answer(cloneset(3, ["a", "c", "b"]), cloneset(3, ["a"]))["allowed"]
    assert asked == [("n", ["b", "c"])]
    refused = answer(cloneset(3, ["a", "gone"]), cloneset(3, ["a"]))
    assert not refused["allowed"] and 'pods "gone" not found' in refused["status"]["message"], refused
    assert asked[-1] == ("n", ["gone"])
