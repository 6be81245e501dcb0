"""Ports for the servers the suite starts (etcd, kube-apiserver, the kubelet, kruise-manager, proxies), chosen
below the kernel's ephemeral range.

`bind(0)` gets a port from the ephemeral range (`net.ipv4.ip_local_port_range`, 32768-60999 here), the range
the kernel also takes the local port of every outgoing connection from. Between choosing a port and the server
binding it, a connection could take it: kube-apiserver then exited with `bind: address already in use` (seen
once, a real-node sandbox started right after a full CI run). Below that range the kernel never hands a port to
a connection, so a port free when chosen stays free unless another server binds it; ports this process gave out
are not given again, so one sandbox's servers never meet.
"""
from __future__ import annotations

import random
import socket
import threading

# How far below the ephemeral range ports are drawn (20000-32767 with Linux's default range).
SPAN = 12768
_FALLBACK_RANGE = (32768, 60999)

_lock = threading.Lock()
_given: set[int] = set()


def ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
        return low, high
    except (OSError, ValueError):
        return _FALLBACK_RANGE


def _bindable(port: int) -> bool:
    """Nothing holds `port` on any address, not even a closed connection in TIME_WAIT (no SO_REUSEADDR here)."""
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port no server listens on and no connection uses, below the ephemeral range; the kernel's choice when
    that range starts too low to leave room below it."""
    low, _ = ephemeral_range()
    first = max(1024, low - SPAN)
    if low - first >= 1000:
        with _lock:
            if len(_given) > (low - first) // 2:
                _given.clear()  # a long session: ports given out long ago are free again
            for _ in range(200):
                port = random.randrange(first, low)
                if port not in _given and _bindable(port):
                    _given.add(port)
                    return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
