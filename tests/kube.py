"""Test-side access to the sandbox: the official client for assertions, kubectl for what users type,
and `wait_for`, which polls a condition instead of sleeping a fixed time."""
from __future__ import annotations

import subprocess
import threading
import time
import urllib.request
from typing import Any, Callable, TypeVar

import kubernetes
import kubernetes.watch
import yaml
from kubernetes.client.rest import ApiException

from sandbox import tools

T = TypeVar("T")

# Pod spec fields that place a pod on the simulated nodes: they are tainted while the real node runs.
ON_SIMULATED_NODES = {
    "nodeSelector": {"node.ack-kruise.io/simulated": "true"},
    "tolerations": [{"key": "node.ack-kruise.io/simulated", "operator": "Exists", "effect": "NoSchedule"}],
}
# And on the real node (kubelet + containerd), for behaviour that must be shown with real containers.
ON_REAL_NODE = {"nodeSelector": {"kubernetes.io/hostname": "real-node-0"}}
# Images the real node runs (sandbox/images.py): the seed's guestbook and the test app, each answering
# GET / with its name and version, so a test can tell which version a container serves.
GUESTBOOK = "registry.cn-hangzhou.aliyuncs.com/kruise-test/guestbook"
TESTAPP = "localhost:5000/ack-kruise/testapp"


class WaitTimeout(AssertionError):
    pass


def wait_for(check: Callable[[], T], timeout: float = 30, what: str = "condition",
             interval: float = 0.1, describe: Callable[[], Any] | None = None) -> T:
    """Poll `check` until it returns something truthy; fail with `what` and the last state seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            result = check()
            last = result
        except ApiException as e:
            result, last = None, f"API error {e.status}: {e.reason}"
        if result:
            return result
        if time.monotonic() > deadline:
            detail = describe() if describe else last
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {detail}")
        time.sleep(interval)


class Cluster:
    def __init__(self, kubeconfig: str):
        self.kubeconfig = kubeconfig
        self.api = kubernetes.config.new_client_from_config(config_file=kubeconfig)
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.apps = kubernetes.client.AppsV1Api(self.api)
        self.custom = kubernetes.client.CustomObjectsApi(self.api)

    # ---- kubectl, as users run it -------------------------------------------------------
    def kubectl(self, *args: str, input: str | None = None, check: bool = True, namespace: str | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess:
        argv = [tools.find("kubectl"), "--kubeconfig", self.kubeconfig]
        if namespace:
            argv += ["-n", namespace]
        proc = subprocess.run([*argv, *args], input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def apply(self, manifest: str | dict | list, namespace: str) -> None:
        text = manifest if isinstance(manifest, str) else yaml.safe_dump_all(
            manifest if isinstance(manifest, list) else [manifest])
        self.kubectl("apply", "-f", "-", input=text, namespace=namespace)

    # ---- namespaces -----------------------------------------------------------------------
    def create_namespace(self, name: str) -> None:
        self.core.create_namespace({"metadata": {"name": name}})
        # The ServiceAccount admission refuses pods until the namespace's `default` account exists.
        wait_for(lambda: self._exists(lambda: self.core.read_namespaced_service_account("default", name)),
                 30, f"ServiceAccount default in namespace {name}")

    def delete_namespace(self, name: str, wait: bool = True, timeout: float = 60) -> None:
        try:
            self.core.delete_namespace(name)
        except ApiException as e:
            if e.status != 404:
                raise
        if wait:
            wait_for(lambda: not self._exists(lambda: self.core.read_namespace(name)),
                     timeout, f"namespace {name} to be deleted")

    @staticmethod
    def _exists(read: Callable[[], Any]) -> bool:
        try:
            read()
            return True
        except ApiException as e:
            if e.status == 404:
                return False
            raise

    # ---- storage --------------------------------------------------------------------------
    def static_volumes(self, namespace: str, count: int, capacity: str = "1Gi") -> list[dict]:
        """`count` statically provisioned PersistentVolumes in a storage class named after the namespace, for
        claims to bind to (the sandbox has no provisioner), and the volumeClaimTemplates that use them (asking
        for 1Gi; a larger `capacity` lets claims that ask for more bind too).
        Remove them with `kubectl delete pv -l test=<namespace>`."""
        for i in range(count):
            self.kubectl("apply", "-f", "-", input=f"""
apiVersion: v1
kind: PersistentVolume
metadata: {{name: {namespace}-pv{i}, labels: {{test: {namespace}}}}}
spec:
  capacity: {{storage: {capacity}}}
  accessModes: [ReadWriteOnce]
  storageClassName: {namespace}
  persistentVolumeReclaimPolicy: Delete
  hostPath: {{path: /tmp/{namespace}-pv{i}}}
""")
        return [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": namespace,
                                                        "resources": {"requests": {"storage": "1Gi"}}}}]

    # ---- pods -----------------------------------------------------------------------------
    def pods(self, namespace: str, selector: str = "") -> list[dict]:
        items = self.core.list_namespaced_pod(namespace, label_selector=selector).items
        return [self.api.sanitize_for_serialization(p) for p in items]

    def pod(self, namespace: str, name: str) -> dict:
        return self.api.sanitize_for_serialization(self.core.read_namespaced_pod(name, namespace))


def is_ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def ready_pod(cluster: "Cluster", namespace: str, name: str, timeout: float = 60) -> dict:
    """The pod once Ready (on the real node: its containers started and passed their probes)."""
    return wait_for(lambda: (p := cluster.pod(namespace, name)) and is_ready(p) and p, timeout, f"pod {name} ready")


def http_get(url: str) -> str | None:
    """The body a container serves at `url`, or None if nothing answers (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def controller_of(cluster: Cluster, namespace: str, pod: str) -> str | None:
    """The uid in the pod's controller ownerReference, or None (an orphan)."""
    refs = cluster.pod(namespace, pod)["metadata"].get("ownerReferences") or []
    return next((r["uid"] for r in refs if r.get("controller")), None)


def container_status(pod: dict, name: str | None = None) -> dict:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    for s in statuses:
        if name is None or s["name"] == name:
            return s
    return {}


class PodWatch:
    """Every pod event in a namespace, from a watch started before the change under test.

    Polling samples the pod list and can miss a state that lasts less than one poll (a surge pod on the
    simulated nodes is created, Ready and replaced within a few hundred ms). A watch sees every change the
    API server stores, so the questions below have exact answers. Use as a context manager:

        with PodWatch(cluster, ns, "app=web") as w:
            ...change the workload, wait for the result...
        assert w.most_pods() == 4
    """

    def __init__(self, cluster: Cluster, namespace: str, selector: str = ""):
        self.cluster, self.namespace, self.selector = cluster, namespace, selector
        self.events: list[tuple[str, dict]] = []   # (ADDED|MODIFIED|DELETED, pod), in the order stored
        self.received: list[float] = []  # time.monotonic() when each event arrived, for durations between events
        self.initial: list[dict] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> "PodWatch":
        listed = self.cluster.core.list_namespaced_pod(self.namespace, label_selector=self.selector)
        self.initial = [self.cluster.api.sanitize_for_serialization(p) for p in listed.items]
        version = listed.metadata.resource_version
        self._thread = threading.Thread(target=self._run, args=(version,), daemon=True)
        self._thread.start()
        return self

    def _run(self, version: str) -> None:
        w = kubernetes.watch.Watch()
        try:
            while not self._stop.is_set():
                # Short server-side timeouts so that __exit__ never waits long; resume from the last version.
                for event in w.stream(self.cluster.core.list_namespaced_pod, self.namespace,
                                      label_selector=self.selector, resource_version=version,
                                      timeout_seconds=1, _request_timeout=5):
                    pod = self.cluster.api.sanitize_for_serialization(event["object"])
                    version = pod["metadata"]["resourceVersion"]
                    self.received.append(time.monotonic())
                    self.events.append((event["type"], pod))
                    if self._stop.is_set():
                        break
        except BaseException as e:  # surfaced by __exit__: a silent watcher would make assertions vacuous
            self._error = e

    def __exit__(self, *exc) -> None:
        if not exc[0]:
            # Catch up before answering: the watch has seen everything once its pods, at their versions,
            # are what a fresh list returns.
            def caught_up() -> bool:
                now = self.cluster.core.list_namespaced_pod(self.namespace, label_selector=self.selector).items
                return self._error is not None or {(p.metadata.uid, p.metadata.resource_version) for p in now} == {
                    (p["metadata"]["uid"], p["metadata"]["resourceVersion"]) for p in self._live().values()}
            wait_for(caught_up, 30, "the pod watch to catch up with the API server")
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        if self._error and not exc[0]:
            raise AssertionError(f"the pod watch failed: {self._error!r}")

    def _replay(self):
        """The pods that existed after each event, by UID."""
        live = {p["metadata"]["uid"]: p for p in self.initial}
        for kind, pod in list(self.events):
            if kind == "DELETED":
                live.pop(pod["metadata"]["uid"], None)
            else:
                live[pod["metadata"]["uid"]] = pod
            yield live

    def _live(self) -> dict[str, dict]:
        live = {p["metadata"]["uid"]: p for p in self.initial}
        for live in self._replay():
            pass
        return dict(live)

    def counts(self, include_terminating: bool = False) -> list[int]:
        """How many pods existed after each event (terminating ones only if asked)."""
        return [sum(1 for p in live.values() if include_terminating or not p["metadata"].get("deletionTimestamp"))
                for live in self._replay()]

    def fewest_ready(self) -> int:
        """The fewest Ready, non-terminating pods at any moment while watching."""
        def ready(live: dict) -> int:
            return sum(1 for p in live.values() if is_ready(p) and not p["metadata"].get("deletionTimestamp"))
        return min([ready({p["metadata"]["uid"]: p for p in self.initial}), *map(ready, self._replay())])

    def most(self, predicate: Callable[[dict], bool]) -> int:
        """The most non-terminating pods for which `predicate` held at one moment while watching."""
        def count(live: dict) -> int:
            return sum(1 for p in live.values() if predicate(p) and not p["metadata"].get("deletionTimestamp"))
        return max([count({p["metadata"]["uid"]: p for p in self.initial}), *map(count, self._replay())])
    def largest(self, count: Callable[[list[dict]], int]) -> int:
        """The largest `count(pods)` at any moment while watching, terminating pods included (e.g. of pods not
        Ready)."""
        return max([count(self.initial), *(count(list(live.values())) for live in self._replay())])

    def first(self, predicate: Callable[[str, dict], bool]) -> tuple[int, float] | None:
        """(index, arrival time) of the first event `predicate(type, pod)` accepts, or None."""
        for i, (kind, pod) in enumerate(list(self.events)):
            if predicate(kind, pod):
                return i, self.received[i]
        return None

    def most_pods(self, include_terminating: bool = False) -> int:
        return max([len(self.initial), *self.counts(include_terminating)])

    def deleted(self) -> list[dict]:
        """Pods present when the watch began, in the order their deletion started."""
        known = {p["metadata"]["uid"] for p in self.initial}
        out, seen = [], set()
        for kind, pod in self.events:
            uid = pod["metadata"]["uid"]
            if uid in known and uid not in seen and (kind == "DELETED" or pod["metadata"].get("deletionTimestamp")):
                seen.add(uid)
                out.append(pod)
        return out

    def created(self) -> list[dict]:
        """Pods created while watching, in creation order."""
        known = {p["metadata"]["uid"] for p in self.initial}
        out = []
        for kind, pod in self.events:
            if pod["metadata"]["uid"] not in known:
                known.add(pod["metadata"]["uid"])
                out.append(pod)
        return out
