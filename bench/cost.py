"""What a process costs, read from /proc: CPU seconds (user + system) and resident memory; and the API
requests the manager reports on its /metrics (`rest_client_requests_total`)."""
from __future__ import annotations

import asyncio
import os
import re
import time
import urllib.request
from dataclasses import dataclass

from controllers.memory import rss_bytes

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (its threads included), in seconds."""
    stat = open(f"/proc/{pid}/stat").read()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS




@dataclass
class Usage:
    seconds: float      # wall time of the window
    cpu_seconds: float
    rss_peak: int       # bytes, highest sample
    rss_end: int

    @property
    def cores(self) -> float:
        return self.cpu_seconds / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {"seconds": self.seconds, "cpu_seconds": self.cpu_seconds, "cores": self.cores,
                "rss_peak_mb": self.rss_peak / 2**20, "rss_end_mb": self.rss_end / 2**20}


class Sampler:
    """CPU seconds over a window and the peak RSS sampled every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.25):
        self.pid, self.interval = pid, interval
        self._task: asyncio.Task | None = None
        self._t0 = self._cpu0 = 0.0
        self._peak = 0

    def start(self) -> "Sampler":
        self._t0, self._cpu0 = time.monotonic(), cpu_seconds(self.pid)
        self._peak = rss_bytes(self.pid)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self._peak = max(self._peak, rss_bytes(self.pid))

    async def stop(self) -> Usage:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        rss = rss_bytes(self.pid)
        return Usage(time.monotonic() - self._t0, cpu_seconds(self.pid) - self._cpu0, max(self._peak, rss), rss)


async def settle(pid: int, quiet_cores: float = 0.02, window: float = 1.0, windows: int = 2,
                 timeout: float = 60) -> float:
    """Waits until the process used less than `quiet_cores` in `windows` consecutive windows (the tail of the
    previous run: status updates, events); returns the seconds waited."""
    t0 = time.monotonic()
    quiet = 0
    while quiet < windows and time.monotonic() - t0 < timeout:
        before = cpu_seconds(pid)
        await asyncio.sleep(window)
        quiet = quiet + 1 if (cpu_seconds(pid) - before) / window < quiet_cores else 0
    return time.monotonic() - t0


async def idle_usage(pid: int, seconds: float) -> Usage:
    sampler = Sampler(pid, interval=0.5).start()
    await asyncio.sleep(seconds)
    return await sampler.stop()


_SAMPLE = re.compile(r'^(\w+)\{([^}]*)\}\s+([0-9.eE+-]+)$')


def parse_metrics(text: str, metric: str, label: str, **where: str) -> dict[str, float]:
    """Sum of `metric` per value of `label`, from the Prometheus text format; `where`: only the samples with
    these label values."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line.strip())
        if not m or m.group(1) != metric:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if any(labels.get(k) != v for k, v in where.items()):
            continue
        key = labels.get(label, "")
        out[key] = out.get(key, 0.0) + float(m.group(3))
    return out


def manager_counters(metrics_port: int) -> dict[str, dict[str, float]]:
    """The manager's counters: its controllers' API requests by method, its webhooks' (what admissions read, for
    every pod created, a Deployment's too) apart, webhook calls by webhook, reconciles and their time by
    controller."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {"requests": parse_metrics(text, "rest_client_requests_total", "method", client="controllers"),
            "webhook_requests": parse_metrics(text, "rest_client_requests_total", "method", client="webhooks"),
            "webhooks": parse_metrics(text, "controller_runtime_webhook_requests_total", "webhook"),
            # Attribution of the manager's CPU: how many reconciles, and how long they took, per controller.
            "reconciles": parse_metrics(text, "controller_runtime_reconcile_total", "controller"),
            "reconcile_seconds": parse_metrics(text, "controller_runtime_reconcile_time_seconds_sum", "controller")}


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0)}
