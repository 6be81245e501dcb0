"""Simulated nodes: registers Ready nodes across zones and plays the kubelet for the pods bound to them.

Runs as its own process, started and stopped by `ack-kruise sandbox`. What a kubelet would report is
decided by the pure `kubelet_model.observe`; this module only registers nodes, keeps heartbeats, watches
pods and writes what the model says. Node and pod IPs come from 198.18.0.0/15 (RFC 2544's benchmarking
range), which no real network here uses, so a simulated address can never shadow a real one.
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import sys
from dataclasses import dataclass

import aiohttp

from kube import ApiError, Informer, KubeClient, STRATEGIC_MERGE_PATCH, load_config, resource_path
from kube.workqueue import WorkQueue

from . import kubelet_model

log = logging.getLogger("nodesim")

SIMULATED_LABEL = "node.ack-kruise.io/simulated"
SIMULATED_TAINT = {"key": SIMULATED_LABEL, "value": "true", "effect": "NoSchedule"}
POD_NETWORK = ipaddress.ip_network("198.18.0.0/15")
PODS_PER_NODE_BLOCK = 1024  # each node gets a /22 of the pod network: 100 nodes fit below NODE_IP_BASE
NODE_IP_BASE = ipaddress.ip_address("198.19.255.1")
# What the API server's restart looks like from here (the chaos suite restarts it): refused or reset connections.
# A kubelet rides it out and tries again; so does the simulator, instead of exiting.
UNREACHABLE = (aiohttp.ClientError, OSError, asyncio.TimeoutError)
LEASE_SECONDS = 40
LEASE_RENEW_SECONDS = 10
STATUS_HEARTBEAT_SECONDS = 60


@dataclass
class SimulatorSettings:
    nodes: int = 3
    zones: tuple[str, ...] = ("zone-a", "zone-b", "zone-c")
    name_prefix: str = "sim-node-"
    tainted: bool = False
    """Tainted nodes take only pods that tolerate `node.ack-kruise.io/simulated` (when a real node exists)."""
    workers: int = 32
    """Concurrent status writes: enough to keep the API server, not the simulator, the bottleneck."""


def node_names(settings: SimulatorSettings) -> list[str]:
    return [f"{settings.name_prefix}{i}" for i in range(settings.nodes)]


def node_object(settings: SimulatorSettings, index: int) -> dict:
    name = f"{settings.name_prefix}{index}"
    zone = settings.zones[index % len(settings.zones)]
    resources = {"cpu": "64", "memory": "256Gi", "pods": "2000", "ephemeral-storage": "500Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": zone,
                "topology.kubernetes.io/region": "sim-region",
                "failure-domain.beta.kubernetes.io/zone": zone,
                "failure-domain.beta.kubernetes.io/region": "sim-region",
                SIMULATED_LABEL: "true",
            },
        },
        "spec": {"taints": [SIMULATED_TAINT] if settings.tainted else []},
        "status": {"capacity": resources, "allocatable": resources},
    }


def node_status(settings: SimulatorSettings, index: int) -> dict:
    now = kubelet_model.fmt_time(kubelet_model.now_utc())
    name = f"{settings.name_prefix}{index}"

    def cond(ctype: str, status: str, reason: str, message: str) -> dict:
        return {"type": ctype, "status": status, "reason": reason, "message": message,
                "lastHeartbeatTime": now, "lastTransitionTime": now}

    return {
        "status": {
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status (simulated)"),
            ],
            "addresses": [{"type": "InternalIP", "address": str(NODE_IP_BASE + index)},
                          {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": f"sim-{index}", "systemUUID": f"sim-{index}", "bootID": f"sim-{index}",
                "kernelVersion": "simulated", "osImage": "ack-kruise node simulator",
                "containerRuntimeVersion": "sim://1.0", "kubeletVersion": "v1.20.2",
                "kubeProxyVersion": "v1.20.2", "operatingSystem": "linux", "architecture": "amd64",
            },
        }
    }


class PodAddresses:
    """Hands out pod IPs per node from its /20, reusing the addresses of pods that are gone."""

    def __init__(self, node_index: dict[str, int]):
        self.node_index = node_index
        self.by_pod: dict[str, str] = {}  # pod uid → ip
        self.used: set[str] = set()
        self.next_offset: dict[str, int] = {n: 1 for n in node_index}

    def adopt(self, uid: str, ip: str) -> None:
        self.by_pod[uid] = ip
        self.used.add(ip)

    def ip_for(self, uid: str, node: str) -> str:
        if uid in self.by_pod:
            return self.by_pod[uid]
        base = int(POD_NETWORK.network_address) + self.node_index[node] * PODS_PER_NODE_BLOCK
        for _ in range(PODS_PER_NODE_BLOCK):
            offset = self.next_offset[node]
            self.next_offset[node] = offset % (PODS_PER_NODE_BLOCK - 2) + 1
            ip = str(ipaddress.ip_address(base + offset))
            if ip not in self.used:
                self.adopt(uid, ip)
                return ip
        raise RuntimeError(f"node {node} has no free pod address left")

    def release(self, uid: str) -> None:
        ip = self.by_pod.pop(uid, None)
        if ip:
            self.used.discard(ip)


class NodeSimulator:
    def __init__(self, client: KubeClient, settings: SimulatorSettings):
        self.client, self.settings = client, settings
        self.names = node_names(settings)
        self.node_index = {n: i for i, n in enumerate(self.names)}
        self.addresses = PodAddresses(self.node_index)
        self.queue: WorkQueue[tuple[str, str]] = WorkQueue()
        self.pods = Informer(client, resource_path("v1", "pods"), self._on_pod)
        self.uid_of: dict[tuple[str, str], str] = {}

    def _on_pod(self, key: tuple[str, str], pod: dict | None) -> None:
        if pod is None:
            uid = self.uid_of.pop(key, None)
            if uid:
                self.addresses.release(uid)
            return
        if pod["spec"].get("nodeName") not in self.node_index:
            return
        uid = pod["metadata"]["uid"]
        old_uid = self.uid_of.get(key)
        if old_uid and old_uid != uid:
            self.addresses.release(old_uid)
        self.uid_of[key] = uid
        ip = (pod.get("status") or {}).get("podIP")
        if ip and uid not in self.addresses.by_pod:
            self.addresses.adopt(uid, ip)  # a restarted simulator keeps the addresses it gave out
        self.queue.add(key)

    async def register_nodes(self) -> None:
        for i, name in enumerate(self.names):
            body = node_object(self.settings, i)
            try:
                await self.client.create(resource_path("v1", "nodes"), body)
            except ApiError as e:
                if not e.conflict:
                    raise
                await self.client.patch(resource_path("v1", "nodes", name=name),
                                        {"metadata": {"labels": body["metadata"]["labels"]}})
            await self.client.patch(resource_path("v1", "nodes", name=name, subresource="status"),
                                    node_status(self.settings, i), STRATEGIC_MERGE_PATCH)
            # The TaintNodesByCondition admission adds the not-ready taint on create; the node
            # lifecycle controller would lift it once Ready. That controller does not run in the
            # sandbox, so the node sets its own taints, as a kubelet with --register-with-taints does.
            await self.client.patch(resource_path("v1", "nodes", name=name),
                                    {"spec": {"taints": body["spec"]["taints"] or None}})
        log.info("registered %d simulated nodes: %s", len(self.names), ", ".join(self.names))

    async def heartbeat(self) -> None:
        beats = 0
        while True:
            try:
                await self._beat(beats)
            except (ApiError, *UNREACHABLE) as e:
                log.warning("heartbeat: %r", e)
            beats += 1
            await asyncio.sleep(LEASE_RENEW_SECONDS)

    async def _beat(self, beats: int) -> None:
        """Renew every node's Lease; every STATUS_HEARTBEAT_SECONDS also post its status."""
        now = kubelet_model.now_utc().strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        for name in self.names:
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": name, "namespace": "kube-node-lease"},
                     "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": now}}
            path = resource_path("coordination.k8s.io/v1", "leases", "kube-node-lease")
            try:
                await self.client.patch(f"{path}/{name}", {"spec": lease["spec"]})
            except ApiError as e:
                if e.not_found:
                    await self.client.create(path, lease)
                else:
                    log.warning("lease %s: %s", name, e)
        if (beats + 1) % (STATUS_HEARTBEAT_SECONDS // LEASE_RENEW_SECONDS) == 0:
            for i, name in enumerate(self.names):
                await self.client.patch(resource_path("v1", "nodes", name=name, subresource="status"),
                                        node_status(self.settings, i), STRATEGIC_MERGE_PATCH)

    async def sync_pod(self, key: tuple[str, str]) -> None:
        pod = self.pods.cache.get(key)
        if pod is None or pod["spec"].get("nodeName") not in self.node_index:
            return
        node = pod["spec"]["nodeName"]
        host_ip = str(NODE_IP_BASE + self.node_index[node])
        view = kubelet_model.observe(pod, host_ip, self.addresses.ip_for(pod["metadata"]["uid"], node))
        ns, name = key
        try:
            if view.remove:
                await self.client.delete(
                    resource_path("v1", "pods", ns, name),
                    {"gracePeriodSeconds": 0, "preconditions": {"uid": pod["metadata"]["uid"]}})
            elif view.status:
                await self.client.patch(resource_path("v1", "pods", ns, name, "status"), view.status,
                                        STRATEGIC_MERGE_PATCH)
        except ApiError as e:
            if e.not_found or e.conflict:
                return  # gone or replaced by a pod of the same name: its own events will follow
            log.warning("pod %s/%s: %s", ns, name, e)
            self.queue.add_after(key, 1.0)
            return
        except UNREACHABLE as e:
            log.warning("pod %s/%s: API server unreachable: %r", ns, name, e)
            self.queue.add_after(key, 1.0)
            return
        if view.wake_after is not None:
            self.queue.add_after(key, view.wake_after)

    async def run(self) -> None:
        await self.register_nodes()
        tasks = [asyncio.create_task(self.heartbeat()),
                 asyncio.create_task(self.pods.run()),
                 asyncio.create_task(self.queue.run_workers(self.settings.workers, self.sync_pod))]
        await self.pods.synced.wait()
        log.info("watching pods; simulator ready")
        await asyncio.gather(*tasks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.nodesim", description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--tainted", action="store_true")
    parser.add_argument("--name-prefix", default="sim-node-")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = SimulatorSettings(nodes=args.nodes, tainted=args.tainted, name_prefix=args.name_prefix)

    async def go() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        async with KubeClient(load_config(args.kubeconfig), user_agent="ack-kruise-nodesim") as client:
            try:
                await NodeSimulator(client, settings).run()
            except asyncio.CancelledError:
                log.info("stopping")

    asyncio.run(go())
    return 0


if __name__ == "__main__":
    sys.exit(main())
