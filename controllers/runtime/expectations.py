"""Expectations: what a reconcile wrote and the in-memory index has not shown yet.

The index lags the API server by a watch event. Reconciling from it right after creating five pods would
see none of them and create five more. So every write is recorded, and a workload is reconciled again only
once the index reflects all of its writes (or they time out, in which case the index is trusted again: a
lost watch event must not wedge a workload forever). This is OpenKruise's ScaleExpectations plus
ResourceVersionExpectations (`pkg/util/expectations`), in one place.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable

DEFAULT_TIMEOUT = 300.0  # OpenKruise's --expectation-timeout default (5 min)


def _key(namespace: str, name: str) -> str:
    """Objects by namespace and name: a cluster-scoped workload (SidecarSet) writes pods of many namespaces."""
    return f"{namespace}/{name}"


@dataclass
class _Pending:
    created: dict[str, float] = field(default_factory=dict)  # namespace/name → when
    deleted: dict[str, tuple[str, float]] = field(default_factory=dict)  # name → (uid, when)
    updated: dict[str, tuple[int, float]] = field(default_factory=dict)  # name → (resourceVersion, when)


class Expectations:
    def __init__(self, timeout: float = DEFAULT_TIMEOUT, clock=time.monotonic):
        self.timeout, self.clock = timeout, clock
        self._by_owner: dict[str, dict[str, _Pending]] = {}  # owner uid → resource kind → pending

    def _pending(self, owner: str, resource: str) -> _Pending:
        return self._by_owner.setdefault(owner, {}).setdefault(resource, _Pending())

    def expect_created(self, owner: str, resource: str, name: str, namespace: str = "") -> None:
        self._pending(owner, resource).created[_key(namespace, name)] = self.clock()

    def expect_deleted(self, owner: str, resource: str, name: str, uid: str, namespace: str = "") -> None:
        self._pending(owner, resource).deleted[_key(namespace, name)] = (uid, self.clock())

    def expect_updated(self, owner: str, resource: str, name: str, resource_version: str,
                       namespace: str = "") -> None:
        try:
            rv = int(resource_version)
        except (TypeError, ValueError):
            return
        self._pending(owner, resource).updated[_key(namespace, name)] = (rv, self.clock())

    def cancel_created(self, owner: str, resource: str, name: str, namespace: str = "") -> None:
        """The create failed: nothing will appear."""
        self._pending(owner, resource).created.pop(_key(namespace, name), None)

    def cancel_deleted(self, owner: str, resource: str, name: str, namespace: str = "") -> None:
        self._pending(owner, resource).deleted.pop(_key(namespace, name), None)

    def pending(self, owner: str | None = None) -> bool:
        """Whether `owner` (None: any owner) has writes whose events have not been seen yet."""
        if owner is None:
            return any(self._by_owner.values())
        return bool(self._by_owner.get(owner))

    def forget(self, owner: str) -> None:
        self._by_owner.pop(owner, None)

    def unsatisfied(self, owner: str, observed: dict[str, Iterable[dict]]) -> list[str]:
        """What the index (`observed`: resource kind → objects) has not shown yet; satisfied or expired
        expectations are dropped as a side effect. An empty list means: reconcile now."""
        pending_by_resource = self._by_owner.get(owner)
        if not pending_by_resource:
            return []
        now = self.clock()
        waiting: list[str] = []
        for resource, pending in pending_by_resource.items():
            objects = {_key(o["metadata"].get("namespace") or "", o["metadata"]["name"]): o
                       for o in observed.get(resource, ())}
            for name, since in list(pending.created.items()):
                if name in objects or now - since > self.timeout:
                    del pending.created[name]
                else:
                    waiting.append(f"create {resource}/{name}")
            for name, (uid, since) in list(pending.deleted.items()):
                obj = objects.get(name)
                gone = obj is None or obj["metadata"].get("uid") != uid or obj["metadata"].get("deletionTimestamp")
                if gone or now - since > self.timeout:
                    del pending.deleted[name]
                else:
                    waiting.append(f"delete {resource}/{name}")
            for name, (rv, since) in list(pending.updated.items()):
                obj = objects.get(name)
                seen = obj is None or int(obj["metadata"].get("resourceVersion") or 0) >= rv
                if seen or now - since > self.timeout:
                    del pending.updated[name]
                else:
                    waiting.append(f"update {resource}/{name}")
        if not waiting:
            self._by_owner.pop(owner, None)
        return waiting
