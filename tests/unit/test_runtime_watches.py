"""The runtime wires each kind from what it declares: every kopf handler is `async def`, and each sort of watch
wakes the right workloads and hands the reconcile the right objects. Driven by calling the registered
handlers (kopf's for the workloads, the shared watches' fan-out for the rest) over in-memory indexes shaped like
the runtime's (key → objects)."""
from __future__ import annotations

import asyncio
import inspect

import kopf

from controllers.cloneset.handlers import KIND as CLONESET
from controllers.common.actions import PODS, PVCS, REVISIONS, Plan
from controllers.runtime.workload import _SHARED, WorkloadController, WorkloadKind, cluster, owned, selected
from controllers.statefulset.handlers import KIND as STATEFULSET


def nothing(workload, observed, context) -> Plan:
    return Plan()


SIDECARS = WorkloadKind("sidecarset", "sidecarsets.apps.kruise.io", nothing,
                        watches=[selected(PODS), owned(REVISIONS)])
DAEMONS = WorkloadKind("daemonset", "daemonsets.apps.kruise.io", nothing,
                       watches=[owned(PODS, claim=True), cluster("nodes"), owned(REVISIONS)])
UNITED = WorkloadKind("uniteddeployment", "uniteddeployments.apps.kruise.io", nothing,
                      watches=[owned("deployments.apps"), owned("clonesets.apps.kruise.io"), owned(REVISIONS)])


def wired(kind: WorkloadKind) -> tuple[WorkloadController, kopf.OperatorRegistry]:
    registry = kopf.OperatorRegistry()
    return WorkloadController(kind, client=None).register(registry), registry


def handler(registry: kopf.OperatorRegistry, suffix: str):
    """A kopf event handler by id suffix; `watch_<resource>_event`: the shared watch's fan-out to every
    controller's handler (what an event does once the watch has indexed it)."""
    if suffix.startswith("watch_") and suffix.endswith("_event"):
        [watch] = [w for w in _SHARED[registry].values() if w.index_id == suffix.removesuffix("_event")]

        async def fan_out(body: dict, uid: str, type: str, namespace: str | None) -> None:
            await watch._fan_out(body, uid, type, False)
        return fan_out
    [found] = [h.fn for h in registry._watching.get_all_handlers() if h.id.endswith(suffix)]
    return found


async def deliver(on_event, body: dict, type: str = "MODIFIED") -> None:
    """An event as kopf hands it to an on.event handler."""
    await on_event(body=body, uid=body["metadata"]["uid"], type=type, namespace=body["metadata"].get("namespace"))


def obj(name: str, namespace: str | None = "default", labels: dict | None = None, owner: dict | None = None) -> dict:
    meta = {"name": name, "uid": f"uid-{name}", "labels": labels or {}}
    if namespace:
        meta["namespace"] = namespace
    if owner:
        meta["ownerReferences"] = [{**owner, "controller": True}]
    return {"metadata": meta}


def workload(name: str, namespace: str | None, api_version: str, kind: str, selector: dict | None = None) -> dict:
    body = obj(name, namespace)
    body.update(apiVersion=api_version, kind=kind, spec={"selector": {"matchLabels": selector or {}}})
    return body


def drained(controller: WorkloadController) -> set[str]:
    woken = set(controller.queue._dirty)
    controller.queue._dirty.clear()
    return woken


def test_every_handler_is_async_so_kopf_runs_none_in_its_thread_pool():
    for kind in (CLONESET, STATEFULSET, SIDECARS, DAEMONS, UNITED):
        _, registry = wired(kind)
        handlers = [*registry._indexing.get_all_handlers(), *registry._watching.get_all_handlers(),
                    *registry._activities.get_all_handlers()]
        assert handlers and all(inspect.iscoroutinefunction(h.fn) for h in handlers), kind.name


def test_cluster_objects_wake_every_workload_and_reach_the_reconcile():
    controller, registry = wired(DAEMONS)
    a = workload("a", "ns1", "apps.kruise.io/v1alpha1", "DaemonSet")
    b = workload("b", "ns2", "apps.kruise.io/v1alpha1", "DaemonSet")
    node = obj("node-1", None)
    controller.indices = {"workloads": {"uid-a": [a], "uid-b": [b]}, "nodes": {"": [node]}, PODS: {},
                          REVISIONS: {}, "orphans": {}}

    async def scenario() -> set[str]:
        await deliver(handler(registry, "watch_nodes_event"), node)
        return drained(controller)

    assert asyncio.run(scenario()) == {"uid-a", "uid-b"}
    _, observed = controller._observed("uid-a")
    assert observed == {PODS: [], "nodes": [node], REVISIONS: []}


def test_a_cluster_watch_with_relevant_wakes_only_for_changes_that_matter():
    from controllers.daemonset.handlers import KIND as REAL_DAEMONS
    controller, registry = wired(REAL_DAEMONS)
    a = workload("a", "ns1", "apps.kruise.io/v1beta1", "DaemonSet")
    controller.indices = {"workloads": {"uid-a": [a]}, "nodes": {}, PODS: {}, REVISIONS: {}, "orphans": {}}
    node = {**obj("node-1", None), "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    beat = {**node, "metadata": {**node["metadata"], "resourceVersion": "9"},
            "status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "t2"}]}}
    labelled = {**beat, "metadata": {**beat["metadata"], "labels": {"x": "y"}}}
    on_node = handler(registry, "watch_nodes_event")

    async def scenario() -> list[set[str]]:
        woken = []
        for body, type in ((node, "ADDED"), (beat, "MODIFIED"), (labelled, "MODIFIED"), (labelled, "DELETED")):
            await deliver(on_node, body, type)
            woken.append(drained(controller))
        return woken

    assert asyncio.run(scenario()) == [{"uid-a"}, set(), {"uid-a"}, {"uid-a"}]


def test_selected_objects_wake_who_selects_them_now_and_who_did_before_and_are_never_claimed():
    controller, registry = wired(SIDECARS)
    web = workload("web", None, "apps.kruise.io/v1alpha1", "SidecarSet", {"app": "web"})
    db = workload("db", None, "apps.kruise.io/v1alpha1", "SidecarSet", {"app": "db"})
    pod = obj("p", "team-a", {"app": "web"}, owner={"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet",
                                                    "uid": "cloneset-uid"})
    other = obj("q", "team-b", {"app": "db"})
    controller.indices = {"workloads": {"uid-web": [web], "uid-db": [db]},
                          PODS: {"team-a": [pod], "team-b": [other]}, REVISIONS: {}}
    on_pod = handler(registry, "watch_pods_event")

    async def scenario() -> list[set[str]]:
        await deliver(on_pod, pod, "ADDED")
        first = drained(controller)
        relabelled = {**pod, "metadata": {**pod["metadata"], "labels": {"app": "db"}}}
        await deliver(on_pod, relabelled)
        second = drained(controller)
        await deliver(on_pod, relabelled, "DELETED")
        return [first, second, drained(controller)]

    assert asyncio.run(scenario()) == [{"uid-web"}, {"uid-web", "uid-db"}, {"uid-db"}]
    _, observed = controller._observed("uid-web")
    assert observed[PODS] == [pod], "across namespaces, whoever owns it"
    assert "orphans" not in controller.indices and not any(w.claim for w in SIDECARS.watches)


def test_objects_found_by_name_wake_the_namespace_and_are_narrowed_by_the_kind():
    controller, registry = wired(STATEFULSET)
    sts = workload("web", "ns1", "apps.kruise.io/v1beta1", "StatefulSet", {"app": "web"})
    sts["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}}]
    mine, theirs = obj("data-web-0", "ns1"), obj("data-db-0", "ns1")
    controller.indices = {"workloads": {"uid-web": [sts]}, PVCS: {"ns1": [mine, theirs]}, PODS: {},
                          REVISIONS: {}, "orphans": {}}

    async def scenario() -> set[str]:
        await handler(registry, "statefulset_event")(type="ADDED", uid="uid-web", namespace="ns1")
        drained(controller)
        await deliver(handler(registry, "watch_persistentvolumeclaims_event"), theirs)
        return drained(controller)

    assert asyncio.run(scenario()) == {"uid-web"}
    assert controller._observed("uid-web")[1][PVCS] == [mine]


def test_owned_objects_of_other_kinds_wake_their_owner_only():
    controller, registry = wired(UNITED)
    owner = {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "UnitedDeployment", "uid": "uid-ud"}
    subset = obj("ud-a", "ns1", owner=owner)
    stranger = obj("lone", "ns1", owner={**owner, "kind": "CloneSet", "uid": "uid-cs"})

    async def scenario() -> list[set[str]]:
        on_deployment = handler(registry, "watch_deployments_apps_event")
        await deliver(on_deployment, subset)
        first = drained(controller)
        await deliver(on_deployment, stranger)
        return [first, drained(controller)]

    assert asyncio.run(scenario()) == [{"uid-ud"}, set()]


def test_the_indexes_keep_objects_without_managed_fields():
    from controllers.runtime.workload import cached
    pod = {"metadata": {"name": "p", "labels": {"a": "b"}, "managedFields": [{"manager": "kubelet"}]},
           "spec": {"nodeName": "n"}}
    kept = cached(pod)
    assert kept == {"metadata": {"name": "p", "labels": {"a": "b"}}, "spec": {"nodeName": "n"}}
    assert "managedFields" in pod["metadata"], "the event's own body is left as it is"


def test_a_gated_watch_exists_only_with_its_gate_on():
    """The CloneSet's ImagePullJobs are watched only with PreDownloadImageForInPlaceUpdate (the chart grants the
    RBAC only then); with it off the reconcile finds no entry for them."""
    from types import SimpleNamespace

    from controllers.common.predownload import IMAGE_PULL_JOBS

    registry = kopf.OperatorRegistry()
    off = WorkloadController(CLONESET, client=None).register(registry)
    assert IMAGE_PULL_JOBS not in {w.resource for w in off.watches}
    assert IMAGE_PULL_JOBS not in _SHARED[registry]
    registry = kopf.OperatorRegistry()
    settings = SimpleNamespace(feature_gates={"PreDownloadImageForInPlaceUpdate": True})
    on = WorkloadController(CLONESET, client=None, settings=settings).register(registry)
    assert IMAGE_PULL_JOBS in {w.resource for w in on.watches}
    assert IMAGE_PULL_JOBS in _SHARED[registry]


def test_controllers_share_one_watch_per_resource_outside_kopf():
    """kopf's cost per event is 6x a list+watch of our own (bench/event_cost.py): every controller watching pods
    shares one `SharedWatch`, and kopf has no pod handler at all. Driven through the watch's own event and listing
    paths: each controller still sees only its own pods, its orphans, and is woken only by them; a deleted pod
    leaves every index; a relist that finds a pod gone delivers its deletion, and one that finds nothing changed
    wakes nobody."""
    from kopf._cogs.structs import references

    registry = kopf.OperatorRegistry()
    clonesets = WorkloadController(CLONESET, client=None).register(registry)
    statefulsets = WorkloadController(STATEFULSET, client=None).register(registry)
    sidecars = WorkloadController(SIDECARS, client=None).register(registry)
    pods = references.Resource(group="", version="v1", plural="pods", kind="Pod", namespaced=True, preferred=True,
                               verbs=["list", "watch", "patch", "get"])
    assert not [h.id for reg in (registry._indexing, registry._watching) for h in reg.get_all_handlers()
                if h.selector is not None and h.selector.check(pods)]
    watch = _SHARED[registry][PODS]
    assert watch.path == "/api/v1/pods" and len(watch.handlers) == 5  # three owned/selected, two orphans

    cs = workload("web", "ns1", "apps.kruise.io/v1alpha1", "CloneSet", {"app": "web"})
    sts = workload("db", "ns1", "apps.kruise.io/v1beta1", "StatefulSet", {"app": "db"})
    sidecar = workload("log", None, "apps.kruise.io/v1alpha1", "SidecarSet", {"app": "web"})
    mine = obj("web-1", "ns1", {"app": "web"}, owner={"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet",
                                                      "uid": "uid-web"})
    mine["metadata"].update(managedFields=[{"manager": "x"}], resourceVersion="7")
    theirs = obj("db-0", "ns1", {"app": "db"}, owner={"apiVersion": "apps.kruise.io/v1beta1", "kind": "StatefulSet",
                                                      "uid": "uid-db"})
    orphan = obj("lone", "ns1", {"app": "web"})

    async def scenario() -> list:
        for controller, wl in ((clonesets, cs), (statefulsets, sts), (sidecars, sidecar)):
            controller.bind(controller._index_ids, {controller._index_ids["workloads"]: {wl["metadata"]["uid"]: [wl]}})
            controller._namespaces["ns1"] = {wl["metadata"]["uid"]}

        def all_woken() -> list:
            return [drained(c) for c in (clonesets, statefulsets, sidecars)]

        woken = []
        await watch.listed([mine])
        woken.append(all_woken())
        for type, body in (("ADDED", theirs), ("ADDED", orphan)):
            await watch.changed(type, body)
            woken.append(all_woken())
        observed = [c._observed(uid)[1] for c, uid in ((clonesets, "uid-web"), (statefulsets, "uid-db"),
                                                        (sidecars, "uid-log"))]
        orphans = clonesets.indices["orphans"].get("ns1")
        # Only the resourceVersion and managedFields move: nothing a reconcile reads, nobody is woken; unless the
        # owner waits for the event of a write of its own.
        rewritten = {**mine, "metadata": {**mine["metadata"], "resourceVersion": "8", "managedFields": []}}
        await watch.changed("MODIFIED", rewritten)
        woken.append(all_woken())
        clonesets.expectations.expect_updated("uid-web", PODS, "web-1", "9", "ns1")
        await watch.changed("MODIFIED", {**rewritten, "metadata": {**rewritten["metadata"], "resourceVersion": "9"}})
        woken.append(all_woken())
        relabelled = {**rewritten, "metadata": {**rewritten["metadata"], "labels": {"app": "web", "x": "y"}}}
        await watch.changed("MODIFIED", relabelled)
        woken.append(all_woken())
        await watch.changed("DELETED", relabelled)
        woken.append(all_woken())
        after_delete = clonesets._observed("uid-web")[1][PODS]
        # The watch was down: a relist finds the StatefulSet's pod unchanged (it wakes nobody) and the orphan gone
        # (that wakes the namespace's workloads and whoever selected it, as its deletion event would have).
        await watch.listed([theirs])
        woken.append(all_woken())
        return [woken, observed, orphans, after_delete, clonesets.indices["orphans"].get("ns1"), dict(watch.index)]

    woken, observed, orphans, after_delete, orphans_after, index = asyncio.run(scenario())
    assert woken == [[{"uid-web"}, set(), {"uid-log"}], [set(), {"uid-db"}, set()],
                     [{"uid-web"}, {"uid-db"}, {"uid-log"}],
                     [set(), set(), set()], [{"uid-web"}, set(), set()], [{"uid-web"}, set(), {"uid-log"}],
                     [{"uid-web"}, set(), {"uid-log"}], [{"uid-web"}, {"uid-db"}, {"uid-log"}]]
    trimmed = {**mine, "metadata": {k: v for k, v in mine["metadata"].items() if k != "managedFields"}}
    assert observed[0][PODS] == [trimmed] and observed[1][PODS] == [theirs]
    assert observed[2][PODS] == [trimmed, orphan], "the SidecarSet selects by label, owned or not"
    assert orphans == [orphan]
    assert after_delete == [] and orphans_after is None
    assert index == {("statefulset_owned", "uid-db"): {"uid-db-0": theirs},
                     ("sidecarset_selected", "ns1"): {"uid-db-0": theirs}}, "nothing else is left behind"


def test_a_controllers_workers_wait_for_its_watches_first_listing():
    """A reconcile that ran before the pod watch had listed would see no pods and create them all again."""
    from controllers.runtime.workload import SharedWatch

    class Listing:
        """A client whose list of pods answers when the test says so; its watch then stays open."""

        def __init__(self) -> None:
            self.answer = asyncio.Event()

        async def get(self, path: str, **_: object) -> dict:
            await self.answer.wait()
            return {"metadata": {"resourceVersion": "5"}, "items": []}

        async def watch(self, path: str, rv: str, **_: object):
            await asyncio.Event().wait()
            yield

    async def scenario() -> list[str]:
        client = Listing()
        registry = kopf.OperatorRegistry()
        controller = WorkloadController(CLONESET, client=client).register(registry)
        watches = [w for w in _SHARED[registry].values()]
        assert all(isinstance(w, SharedWatch) for w in watches)
        synced: list[str] = []

        async def sync(uid: str) -> None:
            synced.append(uid)
        controller.sync = sync  # type: ignore[method-assign]
        controller.bind(controller._index_ids, {controller._index_ids["workloads"]: {}})
        tasks = [asyncio.create_task(w.run()) for w in watches]
        worker = asyncio.create_task(controller._work())
        controller.queue.add("uid-web")
        await asyncio.sleep(0.2)
        before = list(synced)
        client.answer.set()
        for _ in range(100):
            if synced:
                break
            await asyncio.sleep(0.01)
        for t in (*tasks, worker):
            t.cancel()
        await asyncio.gather(*tasks, worker, return_exceptions=True)
        return [before, synced]

    assert asyncio.run(scenario()) == [[], ["uid-web"]]


def test_what_the_cache_drops_no_controller_reads():
    """The indexes drop `metadata.managedFields` (`cached`); a reconcile or webhook that read it would read
    nothing. Every place in controllers/ that names it (a string constant) must only be leaving it out."""
    import ast
    from pathlib import Path

    import controllers
    from controllers.runtime.workload import cached

    allowed = {("daemonset/eligibility.py", "excluded when comparing nodes"), ("runtime/workload.py", "the trim")}
    root = Path(controllers.__file__).parent
    naming = set()
    for path in root.rglob("*.py"):
        if "_generated" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value == "managedFields":
                naming.add(str(path.relative_to(root)))
    assert naming == {where for where, _ in allowed}
    body = {"metadata": {"name": "p", "managedFields": [{"manager": "x"}], "labels": {"a": "b"}}, "spec": {}}
    assert cached(body) == {"metadata": {"name": "p", "labels": {"a": "b"}}, "spec": {}}
    assert body["metadata"]["managedFields"], "the event's body is left as it was"
