"""Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics.

kopf's peering is not leader election (equal-priority peers "warn and freeze"), so the manager elects a
leader itself and runs the controllers only while it leads. Optimistic concurrency (the Lease's
resourceVersion) makes two candidates that race on an expired lease agree: one update wins, the other
gets 409 and stays a follower.

Timings follow controller-runtime's defaults: a 15 s lease, renewed every 2 s, given up when it could not
be renewed for 10 s. A follower takes over at most lease_duration after the leader stopped renewing.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from .client import ApiError, KubeClient, resource_path

log = logging.getLogger(__name__)


@dataclass
class ElectionSettings:
    namespace: str
    name: str = "kruise-manager"
    identity: str = ""
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(s: str | None) -> datetime | None:
    if not s:
        return None
    s = s.rstrip("Z")
    fmt = "%Y-%m-%dT%H:%M:%S.%f" if "." in s else "%Y-%m-%dT%H:%M:%S"
    return datetime.strptime(s, fmt).replace(tzinfo=timezone.utc)


class LeaderElector:
    def __init__(self, client: KubeClient, settings: ElectionSettings):
        self.client, self.s = client, settings
        self.api_version = "coordination.k8s.io/v1"
        self.path = resource_path(self.api_version, "leases", settings.namespace)
        self.is_leader = asyncio.Event()
        self.lost = asyncio.Event()
        self.transitions = 0

    def _spec(self, lease: dict | None, now: datetime) -> dict:
        old = (lease or {}).get("spec") or {}
        taking_over = old.get("holderIdentity") != self.s.identity
        spec = {
            "holderIdentity": self.s.identity,
            "leaseDurationSeconds": int(self.s.lease_duration),
            "renewTime": _fmt(now),
            "acquireTime": _fmt(now) if taking_over else old.get("acquireTime", _fmt(now)),
            "leaseTransitions": old.get("leaseTransitions", 0) + (1 if taking_over and old else 0),
        }
        return spec

    async def _pick_api_version(self) -> None:
        """Leases are coordination.k8s.io/v1 from Kubernetes 1.14; 1.13 serves only v1beta1."""
        try:
            await self.client.get("/apis/coordination.k8s.io/v1")
        except ApiError as e:
            if not e.not_found:
                raise
            self.api_version = "coordination.k8s.io/v1beta1"
            self.path = resource_path(self.api_version, "leases", self.s.namespace)

    async def try_acquire_or_renew(self) -> bool:
        now = _now()
        lease = await self.client.get_or_none(f"{self.path}/{self.s.name}")
        if lease is None:
            body = {"apiVersion": self.api_version, "kind": "Lease",
                    "metadata": {"name": self.s.name, "namespace": self.s.namespace}, "spec": self._spec(None, now)}
            try:
                await self.client.create(self.path, body)
                return True
            except ApiError as e:
                if e.conflict:
                    return False
                raise
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        renewed = _parse(spec.get("renewTime"))
        duration = spec.get("leaseDurationSeconds") or self.s.lease_duration
        if holder and holder != self.s.identity and renewed and (now - renewed).total_seconds() < duration:
            return False  # someone else holds a live lease
        lease["spec"] = self._spec(lease, now)
        try:
            await self.client.replace(f"{self.path}/{self.s.name}", lease)  # carries resourceVersion
            return True
        except ApiError as e:
            if e.conflict:
                return False
            raise

    async def run(self) -> None:
        """Campaign until leading, then keep renewing; sets `lost` when leadership cannot be kept."""
        while True:
            try:
                await self._pick_api_version()
                break
            except Exception as e:
                log.warning("leader election: %s", e)
                await asyncio.sleep(self.s.retry_period)
        while not self.is_leader.is_set():
            try:
                if await self.try_acquire_or_renew():
                    self.is_leader.set()
                    log.info("became leader of lease %s/%s as %s", self.s.namespace, self.s.name, self.s.identity)
                    break
            except Exception as e:  # API server briefly unreachable: keep campaigning
                log.warning("leader election: %s", e)
            await asyncio.sleep(self.s.retry_period)
        loop = asyncio.get_running_loop()
        last_renew = loop.time()
        while True:
            await asyncio.sleep(self.s.retry_period)
            try:
                # Each attempt ends a retry period before the Lease expires: a request that hangs (the API server
                # cut off, its answers held) must not keep a leader that can no longer renew believing it leads
                # past the moment another candidate may take the Lease over. (controller-runtime bounds it by the
                # shorter renew deadline; a single-threaded manager starved of CPU on a busy machine then gave up
                # within seconds of starting.)
                left = self.s.lease_duration - self.s.retry_period - (loop.time() - last_renew)
                if await asyncio.wait_for(self.try_acquire_or_renew(), max(left, 0.0)):
                    last_renew = loop.time()
                    continue
                log.error("lease %s/%s was taken by another candidate", self.s.namespace, self.s.name)
            except Exception as e:
                log.warning("renewing the lease failed: %r", e)
                if loop.time() - last_renew < self.s.renew_deadline:
                    continue
            self.is_leader.clear()
            self.lost.set()
            return

    async def release(self) -> None:
        """Give the lease up on a clean shutdown, so that a follower takes over at once."""
        if not self.is_leader.is_set():
            return
        try:
            lease = await self.client.get_or_none(f"{self.path}/{self.s.name}")
            if lease and (lease.get("spec") or {}).get("holderIdentity") == self.s.identity:
                lease["spec"]["holderIdentity"] = ""
                lease["spec"]["leaseDurationSeconds"] = 1
                await self.client.replace(f"{self.path}/{self.s.name}", lease)
        except Exception as e:
            log.warning("releasing the lease failed: %s", e)
