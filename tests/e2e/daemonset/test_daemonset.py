"""Advanced DaemonSet against the real API server: one pod per node over the real node and the simulated ones,
side by side with kube-controller-manager's DaemonSet through node changes, a node-label canary updated in place
on the real node, surge on the real node, partition and paused, OnDelete, the preDelete hook.

Each test names the upstream e2e case it follows (spec A17, `test/e2e/apps/v1alpha1/daemonset.go`)."""
from __future__ import annotations

import pytest

from tests.kube import ON_REAL_NODE, Cluster, PodWatch, container_status, is_ready, wait_for

from .helpers import (NATIVE, REAL_NODE, TESTAPP, AppProbe, Daemons, columns, daemonset, image_of, native, node_of,
                      state_of)

pytestmark = pytest.mark.usefixtures("kruise")


def test_one_pod_on_each_node_and_kubectl_columns(cluster: Cluster, daemons: Daemons):
    """A17 #1 "should run and stop simple daemon": a pod on every node; a deleted pod is replaced on its node."""
    nodes = daemons.node_names()
    assert len(nodes) == 4 and REAL_NODE in nodes
    assert daemons.create(daemonset("simple")) == "daemonset.apps.kruise.io/simple created"
    pods = daemons.wait_on_nodes("simple", nodes)
    table = columns(cluster.kubectl("get", "ads", namespace=daemons.ns).stdout)
    assert table[0][:6] == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE"]
    assert table[1][:6] == ["simple", "4", "4", "4", "4", "4"]
    pod = pods[REAL_NODE]
    owner = pod["metadata"]["ownerReferences"][0]
    assert (owner["apiVersion"], owner["kind"], owner["controller"], owner["blockOwnerDeletion"]) == \
        ("apps.kruise.io/v1beta1", "DaemonSet", True, True)
    assert pod["metadata"]["generateName"] == "simple-"
    assert pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [REAL_NODE]}]}]}
    gone = pods[daemons.simulated_nodes()[0]]["metadata"]["name"]
    cluster.kubectl("delete", "pod", gone, "--wait=false", namespace=daemons.ns)
    after = daemons.wait_on_nodes("simple", nodes)
    assert after[daemons.simulated_nodes()[0]]["metadata"]["name"] != gone


def test_same_nodes_as_the_native_daemonset_through_label_and_taint_changes_and_a_node_added(daemons: Daemons):
    """A17 #2 "should run and stop complex daemon" (node labels steer the pods), compared with apps/v1: a node
    labelled out of the required affinity loses its pod, a node tainted NoExecute too, and both come back; a node
    added (one without a kubelet, so its pods stay Pending) gets a pod from both."""
    ads = daemonset("twin")
    ads["spec"]["template"]["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": daemons.node_key, "operator": "NotIn",
                                                     "values": ["off"]}]}]}}}
    twin = native(ads)
    daemons.create(ads)
    daemons.create(twin)
    nodes = daemons.node_names()
    daemons.wait_on_nodes("twin", nodes)
    daemons.wait_on_nodes("twin-native", nodes, api=NATIVE)
    sim = daemons.simulated_nodes()
    daemons.label_node(sim[1], "off")
    daemons.taint_node(sim[2], "NoExecute")
    expected = [n for n in nodes if n not in (sim[1], sim[2])]
    daemons.wait_on_nodes("twin", expected)
    daemons.wait_on_nodes("twin-native", expected, api=NATIVE)
    daemons.unlabel_node(sim[1])
    daemons.untaint_node(sim[2])
    daemons.wait_on_nodes("twin", nodes)
    daemons.wait_on_nodes("twin-native", nodes, api=NATIVE)
    added = daemons.add_node()
    expected = sorted([*nodes, added])
    wait_for(lambda: daemons.placed("twin") == expected, 30, f"twin: a pod on {added} too",
             describe=lambda: daemons.placed("twin"))
    wait_for(lambda: daemons.placed("twin-native") == expected, 30, f"twin-native: a pod on {added} too",
             describe=lambda: daemons.placed("twin-native"))
    # The status follows (a write that only moves counters may wait a second behind a burst: runtime/pacing.py).
    def counted(status: dict) -> bool:
        return (status.get("desiredNumberScheduled"), status.get("currentNumberScheduled")) == (len(expected),) * 2
    wait_for(lambda: counted(daemons.status("twin")), 30, f"twin: status counts {len(expected)} nodes",
             describe=lambda: daemons.status("twin"))


def test_node_label_canary_in_place_on_the_real_node(daemons: Daemons):
    """A17 #4 "should only inplace image if update daemonset image with inplace update strategy", narrowed by
    rollingUpdate.selector to the real node: its pod keeps UID and IP, its container restarts once; the simulated
    nodes' pods stay at v1."""
    daemons.label_node(REAL_NODE, "canary")
    daemons.create(daemonset("canary", rolling={
        "rollingUpdateType": "InPlaceIfPossible", "maxUnavailable": 4,
        "selector": {"matchLabels": {daemons.node_key: "canary"}}}))
    nodes = daemons.node_names()
    before = daemons.wait_on_nodes("canary", nodes)
    assert all({"conditionType": "InPlaceUpdateReady"} in p["spec"]["readinessGates"] for p in before.values())
    old = before[REAL_NODE]
    daemons.set_image("canary", f"{TESTAPP}:v2")

    def updated():
        pods = daemons.by_node("canary", include_terminating=True)
        pod = pods.get(REAL_NODE, [None])[0]
        if pod is None or image_of(pod) != f"{TESTAPP}:v2" or not is_ready(pod):
            return None
        status = container_status(pod)
        return pod if status.get("restartCount") == 1 and status.get("ready") else None
    pod = wait_for(updated, 90, "the real node's pod updated in place")
    assert pod["metadata"]["uid"] == old["metadata"]["uid"]
    assert pod["status"]["podIP"] == old["status"]["podIP"]
    assert container_status(pod)["containerID"] != container_status(old)["containerID"]
    wait_for(lambda: daemons.status("canary").get("updatedNumberScheduled") == 1
             and daemons.status("canary").get("numberAvailable") == 4, 30, "status: 1 updated, 4 available")
    for node, pods in daemons.by_node("canary").items():
        if node != REAL_NODE:
            assert [image_of(p) for p in pods] == [f"{TESTAPP}:v1"]
            assert pods[0]["metadata"]["uid"] == before[node]["metadata"]["uid"]


def test_in_place_for_an_image_change_and_recreated_for_anything_else(daemons: Daemons):
    """A17 #5 "Should upgrade inplace if update image and recreate if update others": InPlaceIfPossible,
    maxUnavailable 20. Case A, an image change: the same pods (UIDs), their container restarted once. Case B, an
    env var added (and the image changed back): new pods. After each, every pod is on the new template with the
    InPlaceUpdateReady gate, and desired == updated."""
    sim = daemons.simulated_nodes()
    placement = {"nodeSelector": {"node.ack-kruise.io/simulated": "true"},
                 "tolerations": daemonset("x")["spec"]["template"]["spec"]["tolerations"]}
    daemons.create(daemonset("inplace", placement=placement,
                             rolling={"rollingUpdateType": "InPlaceIfPossible", "maxUnavailable": 20}))
    before = daemons.wait_on_nodes("inplace", sim)
    uids = {n: p["metadata"]["uid"] for n, p in before.items()}
    gate = {"conditionType": "InPlaceUpdateReady"}

    daemons.set_image("inplace", f"{TESTAPP}:v2")
    case_a = daemons.wait_on_nodes("inplace", sim, image=f"{TESTAPP}:v2")
    assert {n: p["metadata"]["uid"] for n, p in case_a.items()} == uids, "case A: not recreated"
    assert all(container_status(p)["restartCount"] == 1 and gate in p["spec"]["readinessGates"]
               for p in case_a.values())
    status = daemons.status("inplace")
    assert status["updatedNumberScheduled"] == status["desiredNumberScheduled"] == len(sim)

    daemons.patch("inplace", [{"op": "add", "path": "/spec/template/spec/containers/0/env",
                               "value": [{"name": "foo", "value": "bar"}]},
                              {"op": "replace", "path": "/spec/template/spec/containers/0/image",
                               "value": f"{TESTAPP}:v1"}], "json")
    case_b = daemons.wait_on_nodes("inplace", sim, image=f"{TESTAPP}:v1")
    assert all(case_b[n]["metadata"]["uid"] != uids[n] for n in sim), "case B: every pod recreated"
    assert all(p["spec"]["containers"][0]["env"] == [{"name": "foo", "value": "bar"}]
               and gate in p["spec"]["readinessGates"] for p in case_b.values())
    status = daemons.status("inplace")
    assert status["updatedNumberScheduled"] == status["desiredNumberScheduled"] == len(sim)


def test_surge_on_the_real_node_never_leaves_it_without_a_ready_pod(cluster: Cluster, daemons: Daemons):
    """A17 #7 "should successfully surging update daemonset with minReadySeconds", on the real node: maxSurge 1,
    maxUnavailable 0: the new pod starts next to the old one, which goes once the new one is available. The app
    on the node, asked over HTTP every 50 ms throughout, answers every time."""
    daemons.create(daemonset("surge", placement=ON_REAL_NODE, rolling={"maxSurge": 1, "maxUnavailable": 0},
                             minReadySeconds=1))
    old = daemons.wait_on_nodes("surge", [REAL_NODE])[REAL_NODE]
    with AppProbe(daemons, "surge", REAL_NODE) as probe, PodWatch(cluster, daemons.ns, "app=surge") as watch:
        daemons.set_image("surge", f"{TESTAPP}:v2")
        new = daemons.wait_on_nodes("surge", [REAL_NODE], image=f"{TESTAPP}:v2")[REAL_NODE]
    assert new["metadata"]["name"] != old["metadata"]["name"]
    assert watch.most_pods() == 2, "two pods on the node during the handover"
    assert watch.fewest_ready() == 1, "never zero ready"
    assert [p["metadata"]["name"] for p in watch.deleted()] == [old["metadata"]["name"]]
    assert max(tried for _, _, tried in probe.rounds) == 2, "the probe asked both pods during the handover"
    assert len(probe.rounds) >= 20 and probe.failures() == [], \
        f"the app did not answer in {len(probe.failures())} of {len(probe.rounds)} rounds"


def test_partition_and_paused(daemons: Daemons):
    """A17 #4's rollout, held by rollingUpdate.partition (nodes kept at the old revision, highest names updated
    first) and by paused."""
    sim = daemons.simulated_nodes()
    placement = {"nodeSelector": {"node.ack-kruise.io/simulated": "true"},
                 "tolerations": daemonset("x")["spec"]["template"]["spec"]["tolerations"]}
    daemons.create(daemonset("part", placement=placement, rolling={"partition": 2, "maxUnavailable": 3}))
    daemons.wait_on_nodes("part", sim)
    daemons.set_image("part", f"{TESTAPP}:v2")
    wait_for(lambda: daemons.status("part").get("updatedNumberScheduled") == 1
             and daemons.status("part").get("numberAvailable") == 3, 60, "one node updated")
    images = {n: image_of(p[0]) for n, p in daemons.by_node("part").items()}
    assert images == {sim[0]: f"{TESTAPP}:v1", sim[1]: f"{TESTAPP}:v1", sim[2]: f"{TESTAPP}:v2"}
    daemons.rolling("part", paused=True, partition=0)
    status = daemons.wait_observed("part")
    assert status["updatedNumberScheduled"] == 1
    assert {n: image_of(p[0]) for n, p in daemons.by_node("part").items()} == images, "paused: nothing moves"
    daemons.rolling("part", paused=False)
    daemons.wait_on_nodes("part", sim, image=f"{TESTAPP}:v2")


def test_on_delete_updates_only_deleted_pods(cluster: Cluster, daemons: Daemons):
    """A17 #1's "a deleted pod is replaced on its node", under updateStrategy OnDelete: a template change moves
    no pod; a pod deleted by hand comes back at the new revision."""
    sim = daemons.simulated_nodes()
    placement = {"nodeSelector": {"node.ack-kruise.io/simulated": "true"},
                 "tolerations": daemonset("x")["spec"]["template"]["spec"]["tolerations"]}
    daemons.create(daemonset("ondel", placement=placement, strategy="OnDelete"))
    before = daemons.wait_on_nodes("ondel", sim)
    daemons.set_image("ondel", f"{TESTAPP}:v2")
    status = daemons.wait_observed("ondel")
    assert status["updatedNumberScheduled"] == 0
    assert {n: p[0]["metadata"]["uid"] for n, p in daemons.by_node("ondel").items()} == \
        {n: p["metadata"]["uid"] for n, p in before.items()}
    cluster.kubectl("delete", "pod", before[sim[0]]["metadata"]["name"], "--wait=false", namespace=daemons.ns)

    def replaced():
        pods = daemons.by_node("ondel").get(sim[0]) or []
        return len(pods) == 1 and image_of(pods[0]) == f"{TESTAPP}:v2" and is_ready(pods[0])
    wait_for(replaced, 60, "the deleted pod replaced at v2")
    wait_for(lambda: daemons.status("ondel").get("updatedNumberScheduled") == 1, 30, "status: 1 updated")
    assert all(image_of(p[0]) == f"{TESTAPP}:v1" for n, p in daemons.by_node("ondel").items() if n != sim[0])


def test_pre_delete_hook_holds_a_pod_in_preparing_delete(cluster: Cluster, daemons: Daemons):
    """A17 #6 "should upgrade one by one on steps if there is pre-delete hook": maxUnavailable 1 and a change
    that recreates: exactly one pod in PreparingDelete and none deleted until its hook label is removed."""
    sim = daemons.simulated_nodes()
    placement = {"nodeSelector": {"node.ack-kruise.io/simulated": "true"},
                 "tolerations": daemonset("x")["spec"]["template"]["spec"]["tolerations"]}
    daemons.create(daemonset("hook", placement=placement, labels={"my-pre-delete": "true"},
                             rolling={"maxUnavailable": 1},
                             lifecycle={"preDelete": {"labelsHandler": {"my-pre-delete": "true"}}}))
    before = daemons.wait_on_nodes("hook", sim)
    names = sorted(p["metadata"]["name"] for p in before.values())
    daemons.patch("hook", [{"op": "add", "path": "/spec/template/spec/containers/0/env",
                            "value": [{"name": "FOO", "value": "bar"}]}], "json")

    def held():
        pods = daemons.pods("hook", include_terminating=True)
        preparing = [p for p in pods if state_of(p) == "PreparingDelete"]
        return preparing if len(preparing) == 1 else None
    preparing = wait_for(held, 30, "one pod in PreparingDelete")[0]
    daemons.wait_observed("hook")
    assert sorted(p["metadata"]["name"] for p in daemons.pods("hook", include_terminating=True)) == names
    assert len([p for p in daemons.pods("hook") if state_of(p) == "PreparingDelete"]) == 1
    cluster.kubectl("label", "pod", preparing["metadata"]["name"], "my-pre-delete-", namespace=daemons.ns)
    wait_for(lambda: preparing["metadata"]["name"] not in
             [p["metadata"]["name"] for p in daemons.pods("hook", include_terminating=True)], 60, "the pod deleted")
    node = node_of(preparing)

    def replaced():
        pods = daemons.by_node("hook").get(node) or []
        return len(pods) == 1 and any(e.get("name") == "FOO" for e in pods[0]["spec"]["containers"][0].get("env") or [])
    wait_for(replaced, 60, "its node gets a pod at the new revision")
    first = preparing["metadata"]["name"]
    wait_for(lambda: (held() or [{"metadata": {"name": first}}])[0]["metadata"]["name"] != first, 30,
             "the next pod waits in PreparingDelete in turn")


def test_a_failed_pod_is_replaced_on_its_node(cluster: Cluster, daemons: Daemons):
    """A17 #3 "Should retry creating failed daemon pods": a pod that fails (evicted: phase Failed, written through
    the status subresource) is deleted with a FailedDaemonPod event and a new one runs on its node (the per-node
    back-off the runtime keeps in the workload's memory lets the first retry through at once)."""
    nodes = daemons.node_names()
    daemons.create(daemonset("failing"))
    pods = daemons.wait_on_nodes("failing", nodes)
    node = daemons.simulated_nodes()[0]
    failed = pods[node]["metadata"]
    cluster.core.patch_namespaced_pod_status(failed["name"], daemons.ns, {"status": {
        "phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}})
    wait_for(lambda: all(p["metadata"]["uid"] != failed["uid"] for p in daemons.pods("failing", True)), 60,
             "the failed pod deleted", describe=lambda: daemons.by_node("failing", True))
    after = daemons.wait_on_nodes("failing", nodes)
    assert after[node]["metadata"]["uid"] != failed["uid"]
    events = cluster.core.list_namespaced_event(daemons.ns, field_selector="involvedObject.name=failing").items
    assert any(e.reason == "FailedDaemonPod" and failed["name"] in e.message for e in events), \
        [(e.reason, e.message) for e in events]


def test_pre_delete_mark_pod_not_ready_takes_the_held_pod_out_of_ready(cluster: Cluster, daemons: Daemons):
    """A13 (syncWithPreparingDelete) with `markPodNotReady`, A17 #6's set-up: the pod held in PreparingDelete
    gets KruisePodReady False, so it leaves its Services before it goes. OpenKruise's pod webhook gives every
    daemon pod the KruisePodReady gate; ours get none from it yet (README), so the template carries the gate
    here. The manager sets it True on each new pod (the podreadiness controller's job), or no pod would be
    Ready."""
    sim = daemons.simulated_nodes()
    placement = {"nodeSelector": {"node.ack-kruise.io/simulated": "true"},
                 "tolerations": daemonset("x")["spec"]["template"]["spec"]["tolerations"]}
    ds = daemonset("drain", placement=placement, labels={"hold": "true"}, rolling={"maxUnavailable": 1},
                   lifecycle={"preDelete": {"labelsHandler": {"hold": "true"}, "markPodNotReady": True}})
    ds["spec"]["template"]["spec"]["readinessGates"] = [{"conditionType": "KruisePodReady"}]
    daemons.create(ds)
    before = daemons.wait_on_nodes("drain", sim)
    assert all(condition_status(p, "KruisePodReady") == "True" for p in before.values())
    daemons.patch("drain", [{"op": "add", "path": "/spec/template/spec/containers/0/env",
                             "value": [{"name": "FOO", "value": "bar"}]}], "json")

    def held():
        pods = [p for p in daemons.pods("drain", True) if state_of(p) == "PreparingDelete"]
        return pods[0] if len(pods) == 1 and condition_status(pods[0], "KruisePodReady") == "False" else None
    pod = wait_for(held, 30, "one pod in PreparingDelete with KruisePodReady False",
                   describe=lambda: [(p["metadata"]["name"], state_of(p), condition_status(p, "KruisePodReady"))
                                     for p in daemons.pods("drain", True)])
    assert not is_ready(pod), "out of its Services before it is deleted"
    assert pod["metadata"]["uid"] in {p["metadata"]["uid"] for p in before.values()}, "not deleted yet"
    cluster.kubectl("label", "pod", pod["metadata"]["name"], "hold-", namespace=daemons.ns)
    wait_for(lambda: pod["metadata"]["uid"] not in {p["metadata"]["uid"] for p in daemons.pods("drain", True)}, 60,
             "the released pod deleted")


def condition_status(pod: dict, ctype: str) -> str | None:
    return next((c.get("status") for c in (pod.get("status") or {}).get("conditions") or []
                 if c.get("type") == ctype), None)
