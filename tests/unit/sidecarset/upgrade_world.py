"""Plain-dict SidecarSets and injected pods for the upgrade and revision tests (sidecarset.md §5, §4), and a
tiny store that applies a plan's revision actions and a kubelet that restarts changed containers."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from types import SimpleNamespace

from controllers.common import actions as A
from controllers.common.keys import POD_READY
from controllers.sidecarset import annotations as keys
from controllers.sidecarset.reconcile import reconcile

NOW = datetime(2026, 7, 1, 8, 0, 0, tzinfo=timezone.utc)
INSTALL_NS = "kruise-system"
SETTINGS = SimpleNamespace(namespace=INSTALL_NS)


def sidecar(name="nginx-sidecar", image="nginx:1", hot=False, empty="busybox:empty", **extra):
    c = {"name": name, "image": image, "podInjectPolicy": "BeforeAppContainer",
         "upgradeStrategy": {"upgradeType": "HotUpgrade" if hot else "ColdUpgrade"},
         "shareVolumePolicy": {"type": "disabled"}, **extra}
    if hot:
        c["upgradeStrategy"]["hotUpgradeEmptyImage"] = empty
    return c


def sidecarset(name="ss", containers=None, strategy=None, hash_="h1", hwi="w1", **spec):
    """A defaulted v1beta1 SidecarSet with its hash annotations (the SidecarSet webhook writes them)."""
    body = {"selector": {"matchLabels": {"app": "sidecarset"}},
            "containers": containers if containers is not None else [sidecar()],
            "updateStrategy": {"type": "RollingUpdate", "partition": 0, "maxUnavailable": 1, **(strategy or {})},
            "revisionHistoryLimit": 10, **spec}
    return {"apiVersion": "apps.kruise.io/v1beta1", "kind": "SidecarSet",
            "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "100", "generation": 1,
                         "annotations": {keys.HASH: hash_, keys.HASH_WITHOUT_IMAGE: hwi}},
            "spec": body, "status": {}}


def injected_pod(name, ss, images=None, hash_=None, hwi=None, namespace="ns", ready=True, labels=None,
                 created="2026-07-01T07:00:00Z", cid=1):
    """A pod as injection leaves it (§2.11) and the kubelet runs it: `images` by sidecar container (default the
    SidecarSet's), an app container `main`."""
    ann = ss["metadata"]["annotations"]
    containers, working = [], {}
    for sc in ss["spec"]["containers"]:
        if sc["upgradeStrategy"]["upgradeType"] == "HotUpgrade":
            one, two = f"{sc['name']}-1", f"{sc['name']}-2"
            containers += [{"name": one, "image": (images or {}).get(one, sc["image"])},
                           {"name": two, "image": (images or {}).get(two, sc["upgradeStrategy"]["hotUpgradeEmptyImage"])}]
            working[sc["name"]] = one
        else:
            containers.append({"name": sc["name"], "image": (images or {}).get(sc["name"], sc["image"])})
    containers.append({"name": "main", "image": "busybox:latest"})

    def spec_entry(h):
        return {"updateTimestamp": "2026-07-01T07:00:00Z", "hash": h, "sidecarSetName": ss["metadata"]["name"],
                "sidecarList": sorted(c["name"] for c in ss["spec"]["containers"])}
    annotations = {keys.HASH: json.dumps({ss["metadata"]["name"]: spec_entry(hash_ or ann[keys.HASH])}),
                   keys.HASH_WITHOUT_IMAGE: json.dumps({ss["metadata"]["name"]:
                                                        spec_entry(hwi or ann[keys.HASH_WITHOUT_IMAGE])}),
                   keys.INJECTED_LIST: ss["metadata"]["name"]}
    if working:
        annotations[keys.WORKING_HOT_UPGRADE_CONTAINER] = json.dumps(working)
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "resourceVersion": "1",
                        "creationTimestamp": created, "labels": {"app": "sidecarset", **(labels or {})},
                        "annotations": annotations},
           "spec": {"nodeName": "node-1", "containers": containers}, "status": {}}
    run(pod, ready=ready, cid=cid)
    return pod


def run(pod, ready=True, cid=1, restart=(), unready=()):
    """The kubelet's view: one status per container; `restart` names containers the kubelet restarted (a new
    containerID and the spec image); a container not yet restarted keeps its recorded image. `unready`
    containers are not ready (an image that does not pull), and the pod with them."""
    ready = ready and not unready
    old = {cs["name"]: cs for cs in (pod.get("status") or {}).get("containerStatuses") or []}
    statuses = []
    for c in pod["spec"]["containers"]:
        prev = old.get(c["name"])
        if prev is None or c["name"] in restart:
            n = int(prev["containerID"].rsplit("-", 1)[1]) + 1 if prev else cid
            statuses.append({"name": c["name"], "image": c["image"], "imageID": f"{c['image']}@sha256:x",
                             "containerID": f"containerd://{c['name']}-{n}",
                             "ready": ready or (bool(unready) and c["name"] not in unready),
                             "restartCount": (prev or {}).get("restartCount", -1) + 1 if prev else 0})
        else:
            statuses.append({**prev, "ready": ready or (bool(unready) and c["name"] not in unready)})
    pod["status"] = {"phase": "Running", "containerStatuses": statuses,
                     "conditions": [{"type": POD_READY, "status": "True" if ready else "False",
                                     "lastTransitionTime": "2026-07-01T07:00:10Z"}]}
    return pod


def context(now=NOW):
    return A.Context(now, settings=SETTINGS)


def plan_for(ss, pods=(), revisions=(), namespaces=()):
    return reconcile(ss, {"pods": list(pods), "controllerrevisions.apps": list(revisions),
                          "namespaces": list(namespaces)}, context())


def apply_pod_patches(plan, pods):
    """The plan's pod patches applied as a strategic merge would (containers by name, annotations merged)."""
    by_name = {p["metadata"]["name"]: p for p in pods}
    for a in plan.of_type(A.Patch, "pods"):
        pod = by_name[a.name]
        for c in (a.body.get("spec") or {}).get("containers") or []:
            next(x for x in pod["spec"]["containers"] if x["name"] == c["name"])["image"] = c["image"]
        pod["metadata"]["annotations"].update((a.body["metadata"].get("annotations") or {}))
    for a in plan.of_type(A.Patch, "pods", "status"):
        pod = by_name[a.name]
        for c in a.body["status"]["conditions"]:
            pod["status"]["conditions"] = [x for x in pod["status"]["conditions"] if x["type"] != c["type"]] + [c]


class RevisionStore:
    """Applies a plan's revision actions, as the API server would (a uid per create)."""

    def __init__(self):
        self.revisions: dict[str, dict] = {}
        self.count = 0

    def apply(self, plan):
        for a in plan.actions:
            if getattr(a, "resource", None) != "controllerrevisions.apps":
                continue
            if isinstance(a, A.Create):
                self.count += 1
                body = copy.deepcopy(a.body)
                body["metadata"]["uid"] = f"rev-uid-{self.count}"
                self.revisions[a.name] = body
            elif isinstance(a, A.Patch):
                r = self.revisions[a.name]
                if "revision" in a.body:
                    r["revision"] = a.body["revision"]
                r["metadata"].setdefault("labels", {}).update((a.body.get("metadata") or {}).get("labels") or {})
            elif isinstance(a, A.Delete):
                del self.revisions[a.name]

    def numbers(self):
        return sorted(r["revision"] for r in self.revisions.values())

    def list(self):
        return list(self.revisions.values())
