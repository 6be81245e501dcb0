"""Freed memory handed back to the operating system after a burst.

A burst of work (a Deployment's 1000 pods admitted at QPS 500, each admission a TLS connection's buffers and a
parsed review) leaves glibc's heap with tens of MB freed but kept: free chunks between live ones, which glibc
returns only from the top of the heap. kruise-manager stayed at 148 MB after such a burst, 96 MB once
`malloc_trim(0)` (which also releases free pages in the middle of the heap) had run (`bench/results.md`, "What
kruise-manager costs"). So the manager trims whenever its RSS has grown by TRIM_AFTER_GROWTH since the last
trim, checking every CHECK_SECONDS: at most one trim (a few milliseconds) per check while it grows, none while
it is steady. Without glibc (musl), nothing is done.
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
from typing import Callable

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
TRIM_AFTER_GROWTH = 8 << 20  # bytes
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(pid: int | str = "self") -> int:
    """A process's resident memory (this one's by default); the bench reads the manager's with it."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)


async def keep_trimmed(trim: Callable[[int], int] | None = None, rss: Callable[[], int] = rss_bytes,
                       check_seconds: float = CHECK_SECONDS, growth: int = TRIM_AFTER_GROWTH) -> None:
    """Runs until cancelled."""
    trim = trim or malloc_trim()
    if trim is None:
        log.info("no malloc_trim in this C library: freed memory stays with the process")
        return
    floor = rss()
    while True:
        await asyncio.sleep(check_seconds)
        now = rss()
        if now - floor >= growth:
            trim(0)
            floor = rss()
        else:
            floor = min(floor, now)
