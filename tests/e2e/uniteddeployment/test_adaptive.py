"""The Adaptive schedule strategy on the sandbox (openkruise-1.9/daemonset-uniteddeployment.md B8, B12 #3-#6):
pods the scheduler cannot place (PodScheduled=False/Unschedulable) for rescheduleCriticalSeconds make their
subset unschedulable for unschedulableDuration, and the replicas move to the next subsets; with
reserveUnschedulablePods the pending pods are kept (labelled reserved) and temporary ones run elsewhere.

A subset is made unschedulable either as upstream does (a node-selector term on a label of the test's own that
no node has yet, `unreachable`; "fixed" by labelling a zone's nodes), or by cordoning its zone's nodes."""
from __future__ import annotations

import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Callable


from tests.kube import Cluster, wait_for

from .helpers import STATELESS_KINDS, TEMPLATE_KINDS, TESTAPP, ZONE, Uds, label_term, united_deployment, zone_term


def adaptive(critical: int, unschedulable: int, reserve: bool = False) -> dict:
    timers: dict = {"rescheduleCriticalSeconds": critical, "unschedulableDuration": unschedulable}
    if reserve:
        timers["reserveUnschedulablePods"] = True
    return {"type": "Adaptive", "adaptive": timers}


def create(uds: Uds, name: str, kind: str, subsets: list[dict], replicas: int, strategy: dict) -> None:
    ud = united_deployment(name, kind, subsets, replicas=replicas)
    ud["spec"]["topology"]["scheduleStrategy"] = strategy
    uds.create(ud)


def wait_state(uds: Uds, name: str, subsets: list[str], pods: list[int], unschedulable: list[bool] | None = None,
               reserved: list[int] | None = None, timeout: float = 120) -> None:
    def seen() -> tuple:
        return (uds.pods_per_subset(name, subsets), uds.unschedulable(name, subsets) if unschedulable else None,
                uds.reserved_per_subset(name, subsets) if reserved is not None else None)
    want = (pods, unschedulable if unschedulable else None, reserved)
    wait_for(lambda: seen() == want, timeout, f"pods {pods}, unschedulable {unschedulable}, reserved {reserved}",
             interval=0.5, describe=seen)


SHORT = {"cloneSetTemplate": "clone", "advancedStatefulSetTemplate": "asts", "statefulSetTemplate": "sts",
         "deploymentTemplate": "deploy"}


def each_kind(cluster: Cluster, namespace: str, kinds: list[str], scenario: Callable[[Uds, str], None]) -> None:
    """`scenario` for every subset kind at once, each in a namespace of its own. These cases wait on Adaptive's
    timers (pods Pending for rescheduleCriticalSeconds, subsets unschedulable for unschedulableDuration), not on
    the CPU, so the kinds overlap: one case's time instead of four (the suite's 45-minute budget). Their node
    labels carry the namespace, so they do not meet; a failure names its kind."""
    runs = {kind: Uds(cluster, f"{namespace}-{SHORT[kind]}") for kind in kinds}
    for uds in runs.values():
        cluster.create_namespace(uds.ns)

    def run(kind: str) -> str | None:
        try:
            scenario(runs[kind], kind)
            return None
        except Exception:
            return traceback.format_exc()
    try:
        with ThreadPoolExecutor(len(kinds)) as pool:
            failures = {kind: error for kind, error in zip(kinds, pool.map(run, kinds)) if error}
    finally:
        for uds in runs.values():
            uds.restore_nodes()
            cluster.delete_namespace(uds.ns, wait=False)
    assert not failures, "\n".join(f"[{kind}] {error}" for kind, error in failures.items())


def unreachable(uds: Uds) -> tuple[str, dict]:
    """A node-selector term no node matches until `uds.label_nodes(key, "haha", zone)`."""
    key = f"ud-e2e.example.io/{uds.ns[-20:].lstrip('-')}"
    return key, label_term(key, "haha")


def test_adaptive_basic(cluster: Cluster, namespace: str) -> None:
    """B12 #3 "adaptive united deployment basic" (critical 10 s, unschedulable 10 s; s0 max 2, s1 max 2 on no node,
    s2 unlimited): R=3 → {2,0,1} with s1 unschedulable; R=5 → {2,0,3}; R=4 → {2,0,2}; recovered → {2,0,2}; R=5 →
    {2,1,2}; R=4 → {2,0,2}; R=3 → {2,0,1}; s3 (min 2) added, R=6 → {2,0,2,2} all schedulable; s1's nodes labelled,
    s3 dropped → {2,2,2} (s1's pods come back); R=3 → {2,1,0}; R=5 → {2,2,1}."""
    each_kind(cluster, namespace, TEMPLATE_KINDS, _adaptive_basic)


def _adaptive_basic(uds: Uds, kind: str) -> None:
    key, term = unreachable(uds)
    names = ["s0", "s1", "s2"]
    subsets = [{"name": "s0", "nodeSelectorTerm": zone_term("zone-a"), "maxReplicas": 2},
               {"name": "s1", "nodeSelectorTerm": term, "maxReplicas": 2},
               {"name": "s2", "nodeSelectorTerm": zone_term("zone-c")}]
    create(uds, "basic", kind, subsets, 3, adaptive(10, 10))
    wait_state(uds, "basic", names, [2, 0, 1], [False, True, False])
    uds.scale("basic", 5)
    wait_state(uds, "basic", names, [2, 0, 3])
    uds.scale("basic", 4)
    wait_state(uds, "basic", names, [2, 0, 2])
    wait_state(uds, "basic", names, [2, 0, 2], [False, False, False])  # recovered after unschedulableDuration
    uds.scale("basic", 5)
    uds.wait_subset_replicas("basic", {"s0": 2, "s1": 1, "s2": 2})
    wait_state(uds, "basic", names, [2, 1, 2])
    uds.scale("basic", 4)
    wait_state(uds, "basic", names, [2, 0, 2])  # the pending pod goes first
    uds.scale("basic", 3)
    wait_state(uds, "basic", names, [2, 0, 1])
    # s3 (min 2) added with R=6: s1's new pod times out again, then recovers: {2,0,2,2}, all schedulable
    s3 = {"name": "s3", "nodeSelectorTerm": zone_term("zone-a"), "minReplicas": 2}
    uds.patch("basic", {"spec": {"replicas": 6, "topology": {"subsets": subsets + [s3]}}})
    wait_state(uds, "basic", names + ["s3"], [2, 0, 2, 2], [False, False, False, False], timeout=180)
    # s1's nodes labelled and s3 dropped: {2,2,2}; R=3 → {2,1,0}; R=5 → {2,2,1}
    uds.label_nodes(key, "haha", "zone-b")
    uds.patch("basic", {"spec": {"topology": {"subsets": subsets}}})
    wait_state(uds, "basic", names, [2, 2, 2])
    uds.wait_pods("basic", names, [2, 2, 2], ready=True)
    uds.scale("basic", 3)
    wait_state(uds, "basic", names, [2, 1, 0])
    uds.scale("basic", 5)
    wait_state(uds, "basic", names, [2, 2, 1])
    uds.wait_pods("basic", names, [2, 2, 1], ready=True)


def test_adaptive_with_min_replicas(cluster: Cluster, namespace: str) -> None:
    """B12 #4 "adaptive united deployment with min replicas" (critical 10 s, unschedulable 20 s; s0 min 1 max 2 on
    no node, s1 unlimited): R=3 → s0 unschedulable, pods {1,2} (its pending pod kept: never below min); R=4 →
    {1,3}; R=3 → {1,2}; s0's nodes labelled, recovered → {1,2}; R=5 → {2,3}."""
    each_kind(cluster, namespace, TEMPLATE_KINDS, _adaptive_with_min_replicas)


def _adaptive_with_min_replicas(uds: Uds, kind: str) -> None:
    key, term = unreachable(uds)
    names = ["s0", "s1"]
    subsets = [{"name": "s0", "nodeSelectorTerm": term, "minReplicas": 1, "maxReplicas": 2},
               {"name": "s1", "nodeSelectorTerm": zone_term("zone-b")}]
    create(uds, "minimum", kind, subsets, 3, adaptive(10, 20))
    wait_state(uds, "minimum", names, [1, 2], [True, False])
    uds.scale("minimum", 4)
    wait_state(uds, "minimum", names, [1, 3])
    uds.scale("minimum", 3)
    wait_state(uds, "minimum", names, [1, 2])
    uds.label_nodes(key, "haha", "zone-a")
    wait_state(uds, "minimum", names, [1, 2], [False, False])
    uds.wait_pods("minimum", names, [1, 2], ready=True)
    uds.scale("minimum", 5)
    wait_state(uds, "minimum", names, [2, 3])
    uds.wait_pods("minimum", names, [2, 3], ready=True)


def test_adaptive_moves_pods_out_of_a_cordoned_zone_and_back(uds: Uds, cluster: Cluster, namespace: str) -> None:
    """Beyond upstream's cases, with a real cause: zone-b's nodes cordoned. Its new pods stay Pending, the
    subset becomes unschedulable and its replicas run in zone-c; zone-b uncordoned and recovered, a scale-down
    and up brings them back to zone-b, Running there. The four kinds at once, zone-b uncordoned once all of
    them moved out (`uds`, the test's own, cordons and restores the nodes)."""
    names = ["zone-a", "zone-b", "zone-c"]
    subsets = [{"name": "zone-a", "nodeSelectorTerm": zone_term("zone-a"), "maxReplicas": 1},
               {"name": "zone-b", "nodeSelectorTerm": zone_term("zone-b"), "maxReplicas": 2},
               {"name": "zone-c", "nodeSelectorTerm": zone_term("zone-c")}]
    uds.cordon_zone("zone-b")
    all_moved_out = threading.Barrier(len(TEMPLATE_KINDS), action=lambda: uds.uncordon_zone("zone-b"))

    def scenario(kind_uds: Uds, kind: str) -> None:
        try:
            create(kind_uds, "cordoned", kind, subsets, 3, adaptive(5, 10))
            wait_state(kind_uds, "cordoned", names, [1, 0, 2], [False, True, False])
            kind_uds.wait_pods("cordoned", names, [1, 0, 2], ready=True)
        except Exception:
            all_moved_out.abort()  # the other kinds stop waiting for this one
            raise
        all_moved_out.wait(timeout=240)
        wait_for(lambda: not any(kind_uds.unschedulable("cordoned", names)), 60, "zone-b recovered")
        kind_uds.scale("cordoned", 1)  # running pods are kept while the quota allows: make room first
        wait_state(kind_uds, "cordoned", names, [1, 0, 0])
        kind_uds.scale("cordoned", 3)
        kind_uds.wait_subset_replicas("cordoned", {"zone-a": 1, "zone-b": 2, "zone-c": 0})
        kind_uds.wait_pods("cordoned", names, [1, 2, 0], ready=True)
        nodes = {n["metadata"]["name"]: n["metadata"]["labels"].get(ZONE) for n in kind_uds.nodes()}  # real node: none
        zones = sorted(nodes[p["spec"]["nodeName"]] for p in kind_uds.pods("cordoned"))
        assert zones == ["zone-a", "zone-b", "zone-b"]

    each_kind(cluster, namespace, TEMPLATE_KINDS, scenario)


def test_adaptive_with_unschedulable_pods_reserved(cluster: Cluster, namespace: str) -> None:
    """B12 #5 "adaptive united deployment with unschedulable pods reserved" (critical 20 s, unschedulable 1 s;
    s0, s1 on no node, s2 free): R=2 → unschedulable (T,T,F), pods {2,2,2}, reserved {2,2,0}; R=4 → {2,2,4};
    R=2 → {2,2,2}; R=4 → {2,2,4}; a new image reaches every pod with the counts unchanged; s0's nodes labelled →
    {4,0,0}, nothing reserved; R=5 → {5,0,0}."""
    each_kind(cluster, namespace, STATELESS_KINDS, _adaptive_with_unschedulable_pods_reserved)


def _adaptive_with_unschedulable_pods_reserved(uds: Uds, kind: str) -> None:
    key, term = unreachable(uds)
    names = ["s0", "s1", "s2"]
    subsets = [{"name": "s0", "nodeSelectorTerm": term}, {"name": "s1", "nodeSelectorTerm": label_term(key, "never")},
               {"name": "s2", "nodeSelectorTerm": zone_term("zone-c")}]
    create(uds, "reserved", kind, subsets, 2, adaptive(20, 1, reserve=True))
    wait_state(uds, "reserved", names, [2, 2, 2], [True, True, False], [2, 2, 0])
    assert uds.get("reserved")["status"]["labelSelector"] == (
        "app=reserved,apps.kruise.io/united-deployment-reserved-pod=false")
    uds.scale("reserved", 4)
    wait_state(uds, "reserved", names, [2, 2, 4], reserved=[2, 2, 0])
    uds.scale("reserved", 2)
    wait_state(uds, "reserved", names, [2, 2, 2], reserved=[2, 2, 0])
    uds.scale("reserved", 4)
    wait_state(uds, "reserved", names, [2, 2, 4], reserved=[2, 2, 0])
    uds.patch("reserved", {"spec": {"template": {kind: {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": f"{TESTAPP}:v2"}]}}}}}}})
    wait_for(lambda: all(p["spec"]["containers"][0]["image"].endswith(":v2") for p in uds.pods("reserved")), 120,
             "every pod on the new image")
    wait_state(uds, "reserved", names, [2, 2, 4], reserved=[2, 2, 0])
    uds.label_nodes(key, "haha", "zone-a")
    wait_state(uds, "reserved", names, [4, 0, 0], reserved=[0, 0, 0], timeout=180)
    uds.scale("reserved", 5)
    wait_state(uds, "reserved", names, [5, 0, 0], reserved=[0, 0, 0])


def test_adaptive_with_reserved_pods_and_min_replicas(cluster: Cluster, namespace: str) -> None:
    """B12 #6 "adaptive united deployment with reserved pods and min replicas" (critical 10 s, unschedulable 1 s;
    s0 min 1 and s1 min 1 on no node, s2 free): (T,T,F), pods {1,1,2}, reserved {1,1,0}; R=4 → {1,1,4}; R=2 →
    {1,1,2}; R=4 → {1,1,4}; a new image everywhere; s0's nodes labelled → (F,T,F), {4,1,0}, reserved {0,1,0};
    R=5 → {5,1,0}."""
    each_kind(cluster, namespace, STATELESS_KINDS, _adaptive_with_reserved_pods_and_min_replicas)


def _adaptive_with_reserved_pods_and_min_replicas(uds: Uds, kind: str) -> None:
    key, term = unreachable(uds)
    names = ["s0", "s1", "s2"]
    subsets = [{"name": "s0", "nodeSelectorTerm": term, "minReplicas": 1},
               {"name": "s1", "nodeSelectorTerm": label_term(key, "never"), "minReplicas": 1},
               {"name": "s2", "nodeSelectorTerm": zone_term("zone-c")}]
    create(uds, "minreserved", kind, subsets, 2, adaptive(10, 1, reserve=True))
    wait_state(uds, "minreserved", names, [1, 1, 2], [True, True, False], [1, 1, 0])
    uds.scale("minreserved", 4)
    wait_state(uds, "minreserved", names, [1, 1, 4], reserved=[1, 1, 0])
    uds.scale("minreserved", 2)
    wait_state(uds, "minreserved", names, [1, 1, 2], reserved=[1, 1, 0])
    uds.scale("minreserved", 4)
    wait_state(uds, "minreserved", names, [1, 1, 4], reserved=[1, 1, 0])
    uds.patch("minreserved", {"spec": {"template": {kind: {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": f"{TESTAPP}:v2"}]}}}}}}})
    wait_for(lambda: all(p["spec"]["containers"][0]["image"].endswith(":v2") for p in uds.pods("minreserved")), 120,
             "every pod on the new image")
    uds.label_nodes(key, "haha", "zone-a")
    wait_state(uds, "minreserved", names, [4, 1, 0], [False, True, False], [0, 1, 0], timeout=180)
    uds.scale("minreserved", 5)
    wait_state(uds, "minreserved", names, [5, 1, 0], reserved=[0, 1, 0])
