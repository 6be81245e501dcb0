"""Prometheus metrics in the text exposition format, with the names controller-runtime uses, so the
dashboards written for OpenKruise's manager work unchanged:

- controller_runtime_reconcile_total{controller, result}
- controller_runtime_reconcile_errors_total{controller}
- controller_runtime_reconcile_time_seconds{controller} (histogram)
- workqueue_depth{name}
- controller_runtime_webhook_requests_total{webhook, code}
- leader_election_master_status{name}
- rest_client_requests_total{code, method, client} (requests sent through kube.KubeClient; a watch
  counts as method WATCH; kopf's own list/watch connections are not included). `client` is ours: `controllers`
  (reconciles), `leader-election` (the Lease), `webhooks` (what admissions read: they serve every pod of the
  cluster, a Deployment's too; and the webhooks' certificate upkeep, once a minute) or `daemon`
- ack_kruise_status_writes_held_total{controller} (ours: status writes of counters only that a round held back
  for a later one, `controllers/runtime/pacing.py`)

Small on purpose: counters, gauges and histograms are all a manager needs.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from typing import Callable, Iterable

Labels = tuple[tuple[str, str], ...]
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def _labels(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def _fmt(labels: Labels, extra: Iterable[tuple[str, str]] = ()) -> str:
    items = list(labels) + list(extra)
    if not items:
        return ""
    return "{" + ",".join(f'{k}="{v}"' for k, v in items) + "}"


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._help: dict[str, tuple[str, str]] = {}
        self._values: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._hist: dict[str, dict[Labels, list[float]]] = defaultdict(dict)

    def describe(self, name: str, kind: str, text: str) -> None:
        self._help[name] = (kind, text)

    def inc(self, metric: str, amount: float = 1.0, **labels: str) -> None:
        key = _labels(labels)
        with self._lock:
            self._values[metric][key] = self._values[metric].get(key, 0.0) + amount

    def set(self, metric: str, value: float, **labels: str) -> None:
        with self._lock:
            self._values[metric][_labels(labels)] = value

    def observe(self, metric: str, value: float, **labels: str) -> None:
        key = _labels(labels)
        with self._lock:
            counts = self._hist[metric].setdefault(key, [0.0] * (len(BUCKETS) + 2))  # buckets.., count, sum
            for i, bound in enumerate(BUCKETS):
                if value <= bound:
                    counts[i] += 1
            counts[-2] += 1
            counts[-1] += value

    def value(self, metric: str, **labels: str) -> float:
        return self._values.get(metric, {}).get(_labels(labels), 0.0)

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            for name in sorted(set(self._values) | set(self._hist) | set(self._help)):
                kind, text = self._help.get(name, ("untyped", ""))
                lines.append(f"# HELP {name} {text}")
                lines.append(f"# TYPE {name} {kind}")
                for labels, v in sorted(self._values.get(name, {}).items()):
                    lines.append(f"{name}{_fmt(labels)} {v:g}")
                for labels, counts in sorted(self._hist.get(name, {}).items()):
                    for i, bound in enumerate(BUCKETS):
                        lines.append(f"{name}_bucket{_fmt(labels, [('le', f'{bound:g}')])} {counts[i]:g}")
                    lines.append(f"{name}_bucket{_fmt(labels, [('le', '+Inf')])} {counts[-2]:g}")
                    lines.append(f"{name}_count{_fmt(labels)} {counts[-2]:g}")
                    lines.append(f"{name}_sum{_fmt(labels)} {counts[-1]:g}")
        return "\n".join(lines) + "\n"


REGISTRY = Registry()
REGISTRY.describe("controller_runtime_reconcile_total", "counter", "Reconciliations per controller and result.")
REGISTRY.describe("controller_runtime_reconcile_errors_total", "counter", "Reconciliations that failed.")
REGISTRY.describe("controller_runtime_reconcile_time_seconds", "histogram", "Time per reconciliation.")
REGISTRY.describe("workqueue_depth", "gauge", "Objects waiting to be reconciled.")
REGISTRY.describe("controller_runtime_webhook_requests_total", "counter", "Admission and conversion requests.")
REGISTRY.describe("leader_election_master_status", "gauge", "1 while this replica leads.")
REGISTRY.describe("ack_kruise_status_writes_held_total", "counter",
                  "Workload status writes of counters only held back for the next round (controllers/runtime/pacing.py).")
REGISTRY.describe("rest_client_requests_total", "counter",
                  "API requests sent, by HTTP status code, method and client (controllers, leader-election, webhooks, daemon).")


def request_counter(client: str) -> Callable[[str, str, object, int], None]:
    """A `kube.KubeClient` request hook: rest_client_requests_total{code, method, client}."""
    def count(method: str, path: str, body: object, status: int) -> None:
        REGISTRY.inc("rest_client_requests_total", code=str(status), method=method, client=client)
    return count
