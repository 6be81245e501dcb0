"""What one pod watch event costs the manager before any reconcile: the pods' `SharedWatch` as shipped (every
controller the manager runs, registered as `controllers.runtime.run_kopf` registers them), against kopf's pipeline
doing the same job through one kopf index and one event handler (the manager's design until 2026-12-04), and
against the least the job takes (parse, keep in a by-owner index, enqueue the owner).

    python -m bench.event_cost [N]      # N distinct pods (default 1000), each sent as ADDED then 3 × MODIFIED

No cluster: watch events are parsed from JSON text, as the watch stream delivers them; kopf's own
`process_resource_event` is driven with them for its figures. The pods are CloneSet pods shaped as a v1.20 API
server sends them (defaults, token volume, tolerations, managedFields of three managers, a Ready status). Figures
are CPU time per event (`time.process_time`), the best of three passes, so that a loaded machine shows less in them.
"""
from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
import uuid
from typing import Any

import kopf
from kopf._cogs.structs import ephemera, references
from kopf._core.actions import lifecycles
from kopf._core.engines import indexing
from kopf._core.reactor import inventory, processing

from controllers.manager import CONTROLLER_MODULES
from controllers.runtime import kopf_settings
from controllers.common.actions import PODS as PODS_KEY
from controllers.runtime.workload import _SHARED, WorkloadController, cached
from controllers.settings import ManagerSettings
from kube.workqueue import WorkQueue

NAMESPACE, OWNER = "bench", "8b7c0f0e-5a5e-4c55-9a3e-3a1f0c1d2e3f"
PODS = references.Resource(group="", version="v1", plural="pods", kind="Pod", namespaced=True, preferred=True,
                           verbs=["list", "watch", "patch", "get"])


def _condition(kind: str) -> dict:
    return {"type": kind, "status": "True", "lastProbeTime": None, "lastTransitionTime": "2026-12-02T01:00:02Z"}


def _managed(manager: str, fields: dict) -> dict:
    return {"manager": manager, "operation": "Update", "apiVersion": "v1", "time": "2026-12-02T01:00:02Z",
            "fieldsType": "FieldsV1", "fieldsV1": fields}


def pod(i: int, resource_version: int) -> dict:
    """A CloneSet pod as the API server sends it once it is Ready (about 5 KB of JSON, 2.4 KB managedFields)."""
    name = f"cloneset-{uuid.UUID(int=i).hex[-5:]}"
    conditions = {f'k:{{"type":"{t}"}}': {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {},
                                            "f:status": {}, "f:type": {}}
                  for t in ("InPlaceUpdateReady", "KruisePodReady", "Ready", "ContainersReady", "Initialized")}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "generateName": "cloneset-", "namespace": NAMESPACE,
            "uid": str(uuid.UUID(int=10**9 + i)), "resourceVersion": str(resource_version),
            "creationTimestamp": "2026-12-02T01:00:01Z", "selfLink": f"/api/v1/namespaces/{NAMESPACE}/pods/{name}",
            "labels": {"bench.ack-kruise.io/app": "cloneset", "apps.kruise.io/cloneset-instance-id": name[-5:],
                       "controller-revision-hash": "cloneset-6d8f7b9c5", "pod-template-hash": "6d8f7b9c5",
                       "lifecycle.apps.kruise.io/state": "Normal"},
            "annotations": {"lifecycle.apps.kruise.io/timestamp": "2026-12-02T01:00:02Z"},
            "ownerReferences": [{"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "name": "cloneset",
                                 "uid": OWNER, "controller": True, "blockOwnerDeletion": True}],
            "managedFields": [
                _managed("ack-kruise", {"f:metadata": {"f:labels": {".": {}}, "f:annotations": {".": {}},
                                                       "f:ownerReferences": {".": {}}},
                                        "f:spec": {"f:containers": {'k:{"name":"app"}': {".": {}, "f:image": {},
                                                                                          "f:name": {}}},
                                                   "f:readinessGates": {}, "f:restartPolicy": {}},
                                        "f:status": {"f:conditions": conditions}}),
                _managed("kube-scheduler", {"f:status": {"f:conditions": {".": {}, **conditions}}}),
                _managed("nodesim", {"f:status": {"f:conditions": conditions, "f:containerStatuses": {},
                                                  "f:hostIP": {}, "f:phase": {}, "f:podIP": {}, "f:startTime": {}}}),
            ],
        },
        "spec": {
            "volumes": [{"name": "default-token-x7k2p",
                         "secret": {"secretName": "default-token-x7k2p", "defaultMode": 420}}],
            "containers": [{"name": "app", "image": "localhost:5000/ack-kruise/testapp:v1",
                            "resources": {}, "imagePullPolicy": "IfNotPresent",
                            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                            "volumeMounts": [{"name": "default-token-x7k2p", "readOnly": True,
                                              "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "serviceAccount": "default", "nodeName": f"sim-node-{i % 3}",
            "securityContext": {}, "schedulerName": "default-scheduler", "priority": 0,
            "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
            "readinessGates": [{"conditionType": "InPlaceUpdateReady"}, {"conditionType": "KruisePodReady"}],
            "tolerations": [{"key": f"node.kubernetes.io/{k}", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 300} for k in ("not-ready", "unreachable")],
        },
        "status": {
            "phase": "Running", "hostIP": f"10.0.0.{i % 3}", "podIP": f"10.1.{i // 250}.{i % 250}",
            "podIPs": [{"ip": f"10.1.{i // 250}.{i % 250}"}], "startTime": "2026-12-02T01:00:01Z",
            "qosClass": "BestEffort",
            "conditions": [_condition(t) for t in ("InPlaceUpdateReady", "KruisePodReady", "Initialized", "Ready",
                                                   "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0, "started": True,
                                   "image": "localhost:5000/ack-kruise/testapp:v1",
                                   "imageID": "localhost:5000/ack-kruise/testapp@sha256:" + "0" * 64,
                                   "containerID": f"containerd://{i:064x}",
                                   "state": {"running": {"startedAt": "2026-12-02T01:00:02Z"}},
                                   "lastState": {}}],
        },
    }


def events(n: int) -> list[tuple[str, str]]:
    """(type, JSON text): every pod ADDED, then MODIFIED three times (a new resourceVersion each)."""
    out = [("ADDED", json.dumps(pod(i, 20000 + i))) for i in range(n)]
    for round_ in range(1, 4):
        out += [("MODIFIED", json.dumps(pod(i, 20000 + round_ * n + i))) for i in range(n)]
    return out


class _NoClient:
    config = None


def _wired() -> tuple[kopf.OperatorRegistry, Any]:
    """Every controller the manager runs, registered as `run_kopf` registers them; the pods' shared watch."""
    registry = kopf.OperatorRegistry()
    controllers = [WorkloadController(importlib.import_module(module).KIND, _NoClient(), ManagerSettings())
                   .register(registry) for module in CONTROLLER_MODULES.values()]
    for controller in controllers:  # what their startup handler does (no workloads: the kopf index is empty)
        controller.bind(controller._index_ids, {controller._index_ids["workloads"]: {}})
    return registry, _SHARED[registry][PODS_KEY]


async def kopf_per_event(texts: list[tuple[str, str]], diffbase: bool = False) -> tuple[float, int]:
    """CPU seconds per event through kopf's pipeline, with one kopf index and one event handler doing the shared
    watch's job (the manager's design until 2026-12-04); and how many controllers one pod event reaches."""
    registry, watch = _wired()

    @kopf.index("v1", "pods", id="watch_pods", registry=registry)
    async def index(body: kopf.Body, uid: str, **_: Any) -> dict:
        watch._reindex(uid, body)
        return {}

    @kopf.on.event("v1", "pods", id="watch_pods_event", registry=registry)
    async def on_event(body: kopf.Body, uid: str, type: str, **_: Any) -> None:
        await watch._fan_out(body, uid, type, False)

    settings = kopf_settings(ManagerSettings())
    if diffbase:  # kopf's default, for comparison
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage()
    settings.posting.enabled = False
    indexers = indexing.OperatorIndexers()
    indexers.ensure(registry._indexing.get_all_handlers())
    memories, memobase = inventory.ResourceMemories(), ephemera.AnyMemo(ephemera.Memo())
    queue: asyncio.Queue = asyncio.Queue()
    lifecycle = lifecycles.get_default_lifecycle()
    started = time.process_time()
    for kind, text in texts:
        await processing.process_resource_event(
            lifecycle=lifecycle, indexers=indexers, registry=registry, settings=settings, memories=memories,
            memobase=memobase, resource=PODS, raw_event={"type": kind, "object": json.loads(text)},
            event_queue=queue, no_throttling=True)
    return (time.process_time() - started) / len(texts), len(watch.handlers)


async def shipped_per_event(texts: list[tuple[str, str]]) -> float:
    """The manager as shipped: the pods' `SharedWatch` parses, trims, indexes and wakes every controller."""
    _, watch = _wired()
    started = time.process_time()
    for kind, text in texts:
        await watch.changed(kind, json.loads(text))
    return (time.process_time() - started) / len(texts)


async def lean_per_event(texts: list[tuple[str, str]]) -> float:
    """The least the job takes: parse, drop managedFields (`cached`), index by owner, enqueue the owner."""
    queue: WorkQueue[str] = WorkQueue()
    by_owner: dict[str, dict[str, dict]] = {}
    started = time.process_time()
    for _, text in texts:
        obj = cached(json.loads(text))
        owner = next((r["uid"] for r in obj["metadata"].get("ownerReferences") or () if r.get("controller")), None)
        if owner is not None:
            by_owner.setdefault(owner, {})[obj["metadata"]["uid"]] = obj
            queue.add(owner)
    return (time.process_time() - started) / len(texts)


async def main(n: int) -> None:
    texts = events(n)
    parse = min(_timed(lambda: [json.loads(t) and None for _, t in texts]) for _ in range(3)) / len(texts)
    runs = [await kopf_per_event(texts) for _ in range(3)]
    through_kopf, handlers = min(r[0] for r in runs), runs[0][1]
    default = min([(await kopf_per_event(texts, diffbase=True))[0] for _ in range(3)])
    shipped = min([await shipped_per_event(texts) for _ in range(3)])
    lean = min([await lean_per_event(texts) for _ in range(3)])
    print(f"{len(texts)} pod events ({n} pods), each handed to {handlers} controller event handlers")
    print(f"  json.loads only                                      {parse * 1e3:6.3f} ms CPU per event")
    print(f"  kopf index + event handler, kopf's diff base          {default * 1e3:6.3f} ms")
    print(f"  kopf index + event handler, NoDiffBase (until 12-04)  {through_kopf * 1e3:6.3f} ms")
    print(f"  SharedWatch, as shipped                               {shipped * 1e3:6.3f} ms")
    print(f"  the least: parse, trim, index by owner, enqueue       {lean * 1e3:6.3f} ms")


def _timed(fn: Any) -> float:
    started = time.process_time()
    fn()
    return time.process_time() - started


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
