"""Building and observing Advanced DaemonSets (and their native apps/v1 twins) in e2e tests.

Nodes are shared by the whole session: a test that labels or taints one uses a key of its own (`node_key`) and
takes it off again (`Daemons.label_node`, `Daemons.taint_node` undo themselves at the end of the test)."""
from __future__ import annotations

import copy
import json
import threading
import time
import urllib.request
from typing import Any

from tests.kube import ON_REAL_NODE, ON_SIMULATED_NODES, Cluster, is_ready, wait_for

TESTAPP = "localhost:5000/ack-kruise/testapp"
API = "daemonsets.v1beta1.apps.kruise.io"
NATIVE = "daemonsets.v1.apps"
REAL_NODE = "real-node-0"
TOLERATE_SIMULATED = {"tolerations": copy.deepcopy(ON_SIMULATED_NODES["tolerations"])}
READINESS = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}


def daemonset(name: str, image: str = f"{TESTAPP}:v1", *, placement: dict | None = None, rolling: dict | None = None,
              strategy: str = "RollingUpdate", api: str = "apps.kruise.io/v1beta1", labels: dict | None = None,
              **spec: Any) -> dict:
    """An Advanced DaemonSet selected by app=name. `placement`: pod spec fields choosing the nodes (default:
    tolerate the simulated nodes' taint, so every node of the sandbox runs one)."""
    placement = TOLERATE_SIMULATED if placement is None else placement
    update: dict = {"type": strategy}
    if strategy == "RollingUpdate":
        update["rollingUpdate"] = rolling or {}
    return {
        "apiVersion": api, "kind": "DaemonSet", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name, **(labels or {})}},
                              "spec": {**copy.deepcopy(placement), "terminationGracePeriodSeconds": 5,
                                       "containers": [{"name": "main", "image": image,
                                                       "readinessProbe": dict(READINESS)}]}},
                 "updateStrategy": update, **spec},
    }


def native(obj: dict) -> dict:
    """The apps/v1 DaemonSet of the same template (app label `<name>-native`), for side-by-side tests."""
    twin = copy.deepcopy(obj)
    name = f"{obj['metadata']['name']}-native"
    twin["apiVersion"], twin["metadata"]["name"] = "apps/v1", name
    twin["spec"]["selector"] = {"matchLabels": {"app": name}}
    twin["spec"]["template"]["metadata"]["labels"]["app"] = name
    twin["spec"]["updateStrategy"] = {"type": "RollingUpdate"}
    return twin


def node_of(pod: dict) -> str:
    return pod["spec"].get("nodeName") or ""


def image_of(pod: dict) -> str:
    return pod["spec"]["containers"][0]["image"]


def state_of(pod: dict) -> str:
    return pod["metadata"]["labels"].get("lifecycle.apps.kruise.io/state", "")


def columns(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


class Daemons:
    def __init__(self, cluster: Cluster, namespace: str):
        self.c, self.ns = cluster, namespace
        self._undo: list[tuple[str, ...]] = []

    @property
    def node_key(self) -> str:
        """A node label or taint key of this test's own."""
        return f"e2e.ack-kruise.io/{self.ns[-40:].strip('-.')}"

    # -- objects
    def create(self, obj: dict) -> str:
        return self.c.kubectl("create", "-f", "-", input=json.dumps(obj), namespace=self.ns).stdout.strip()

    def get(self, name: str, api: str = API) -> dict:
        return json.loads(self.c.kubectl("get", api, name, "-o", "json", namespace=self.ns).stdout)

    def status(self, name: str, api: str = API) -> dict:
        return self.get(name, api).get("status") or {}

    def patch(self, name: str, patch, kind: str = "merge", api: str = API) -> None:
        self.c.kubectl("patch", api, name, f"--type={kind}", "-p", json.dumps(patch), namespace=self.ns)

    def set_image(self, name: str, image: str, api: str = API) -> None:
        self.patch(name, [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}], "json",
                   api)

    def rolling(self, name: str, **fields) -> None:
        self.patch(name, {"spec": {"updateStrategy": {"rollingUpdate": fields}}})

    def pods(self, name: str, include_terminating: bool = False) -> list[dict]:
        return [p for p in self.c.pods(self.ns, f"app={name}")
                if include_terminating or not p["metadata"].get("deletionTimestamp")]

    def by_node(self, name: str, include_terminating: bool = False) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for pod in self.pods(name, include_terminating):
            out.setdefault(node_of(pod), []).append(pod)
        return out

    # -- nodes
    def node_names(self) -> list[str]:
        return sorted(n.metadata.name for n in self.c.core.list_node().items)

    def simulated_nodes(self) -> list[str]:
        return sorted(n.metadata.name for n in self.c.core.list_node(
            label_selector="node.ack-kruise.io/simulated=true").items)

    def label_node(self, node: str, value: str = "true") -> None:
        self.c.kubectl("label", "node", node, f"{self.node_key}={value}", "--overwrite")
        self._undo.append(("label", "node", node, f"{self.node_key}-"))

    def unlabel_node(self, node: str) -> None:
        self.c.kubectl("label", "node", node, f"{self.node_key}-")

    def taint_node(self, node: str, effect: str = "NoExecute") -> None:
        self.c.kubectl("taint", "node", node, f"{self.node_key}=true:{effect}", "--overwrite")
        self._undo.append(("taint", "node", node, f"{self.node_key}-"))

    def untaint_node(self, node: str) -> None:
        self.c.kubectl("taint", "node", node, f"{self.node_key}-")

    def add_node(self) -> str:
        """A Ready node of this test's own, with room for pods and no kubelet: the scheduler binds pods to it, and
        they stay Pending. Taken away at the end of the test with the pods bound to it."""
        name = f"added-{self.ns[-40:].strip('-.')}"
        self.c.kubectl("create", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}}}))
        self._undo.append(("delete", "pods", "--all-namespaces", "--field-selector", f"spec.nodeName={name}",
                           "--grace-period=0", "--force"))
        self._undo.append(("delete", "node", name, "--ignore-not-found", "--wait=false"))
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        room = {"cpu": "8", "memory": "16Gi", "pods": "110"}
        self.c.core.patch_node_status(name, {"status": {"capacity": room, "allocatable": room, "conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "added by the test",
             "lastHeartbeatTime": now, "lastTransitionTime": now}]}})
        # The API server taints a new node not-ready (NoSchedule, which daemon pods do not tolerate); the node
        # lifecycle controller, off in the sandbox, takes the taint away once the node is Ready.
        self.c.kubectl("taint", "node", name, "node.kubernetes.io/not-ready:NoSchedule-")
        return name

    def placed(self, name: str) -> list[str]:
        """The nodes the DaemonSet's (non-terminating) pods are bound to, one entry per pod, Ready or not."""
        return sorted(node_of(p) or "(unscheduled)" for p in self.pods(name))

    def restore_nodes(self) -> None:
        for args in reversed(self._undo):
            self.c.kubectl(*args, check=False)
        self._undo.clear()

    # -- waits
    def wait_on_nodes(self, name: str, nodes: list[str], image: str | None = None, timeout: float = 90,
                      api: str = API) -> dict[str, dict]:
        """Exactly one Ready pod on each of `nodes` (at `image`), none elsewhere, and the status says so."""
        def done():
            by_node = self.by_node(name, include_terminating=True)
            if sorted(by_node) != sorted(nodes) or any(len(p) != 1 for p in by_node.values()):
                return None
            pods = {n: p[0] for n, p in by_node.items()}
            if not all(is_ready(p) and not p["metadata"].get("deletionTimestamp") for p in pods.values()):
                return None
            if image and any(image_of(p) != image for p in pods.values()):
                return None
            s = self.status(name, api)
            counts = (s.get("desiredNumberScheduled"), s.get("currentNumberScheduled"), s.get("numberReady"),
                      s.get("updatedNumberScheduled"), s.get("numberAvailable"))
            return pods if counts == (len(nodes),) * 5 else None
        return wait_for(done, timeout, f"{name}: one Ready pod on each of {nodes}",
                        describe=lambda: ({n: [(p["metadata"]["name"], image_of(p), is_ready(p)) for p in ps]
                                           for n, ps in self.by_node(name, True).items()}, self.status(name, api)))

    def wait_observed(self, name: str, timeout: float = 30) -> dict:
        """The controller has seen the latest spec (observedGeneration caught up)."""
        def seen():
            obj = self.get(name)
            return obj.get("status") if (obj.get("status") or {}).get("observedGeneration") == \
                obj["metadata"]["generation"] else None
        return wait_for(seen, timeout, f"{name}: observedGeneration")


class AppProbe:
    """While open, asks the app every `interval` seconds over HTTP (`GET :8080/healthz` on each pod IP the DaemonSet
    has on `node`, terminating pods included): a round succeeds when any of them answers 200. What a client of the
    node's daemon sees, measured, not inferred from the Ready condition."""

    def __init__(self, daemons: "Daemons", name: str, node: str, interval: float = 0.05):
        self.daemons, self.name, self.node, self.interval = daemons, name, node, interval
        self.rounds: list[tuple[float, bool, int]] = []  # (time, answered, pod IPs tried)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._error: BaseException | None = None

    def __enter__(self) -> "AppProbe":
        self._thread.start()
        wait_for(lambda: self.rounds, 10, "the first probe round")
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self._error and not exc[0]:
            raise AssertionError(f"the probe failed: {self._error!r}")

    @staticmethod
    def _answers(ip: str) -> bool:
        try:
            with urllib.request.urlopen(f"http://{ip}:8080/healthz", timeout=0.5) as r:
                return r.status == 200
        except OSError:
            return False

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                ips = [p["status"].get("podIP") for p in self.daemons.by_node(self.name, True).get(self.node, [])]
                ips = [ip for ip in ips if ip]
                self.rounds.append((time.monotonic(), any(self._answers(ip) for ip in ips), len(ips)))
                self._stop.wait(self.interval)
        except BaseException as e:  # surfaced by __exit__: a silent prober would make the assertion vacuous
            self._error = e

    def failures(self) -> list[tuple[float, bool, int]]:
        return [r for r in self.rounds if not r[1]]


__all__ = ["AppProbe", "ON_REAL_NODE", "REAL_NODE", "TESTAPP", "Daemons", "daemonset", "native", "columns", "image_of",
           "node_of", "state_of"]
