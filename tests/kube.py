"""Test-side access to the sandbox: the official client for assertions, kubectl for what users type,
and `wait_for`, which polls a condition instead of sleeping a fixed time."""
from __future__ import annotations

import subprocess
import time
from typing import Any, Callable, TypeVar

import kubernetes
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
    def static_volumes(self, namespace: str, count: int) -> list[dict]:
        """`count` statically provisioned PersistentVolumes in a storage class named after the namespace, for
        claims to bind to (the sandbox has no provisioner), and the volumeClaimTemplates that use them.
        Remove them with `kubectl delete pv -l test=<namespace>`."""
        for i in range(count):
            self.kubectl("apply", "-f", "-", input=f"""
apiVersion: v1
kind: PersistentVolume
metadata: {{name: {namespace}-pv{i}, labels: {{test: {namespace}}}}}
spec:
  capacity: {{storage: 1Gi}}
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


def container_status(pod: dict, name: str | None = None) -> dict:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    for s in statuses:
        if name is None or s["name"] == name:
            return s
    return {}
