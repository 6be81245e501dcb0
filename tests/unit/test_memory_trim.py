"""The manager hands freed memory back after a burst: a trim whenever its RSS grew by the threshold since the last
one, none while it is steady or shrinking."""
from __future__ import annotations

import asyncio

from controllers.memory import keep_trimmed, malloc_trim, rss_bytes


def test_a_trim_follows_growth_only():
    MB = 1 << 20
    readings = iter([100 * MB,               # at start: the floor
                     104 * MB,               # +4: below the threshold
                     110 * MB, 101 * MB,     # +10: trim, then read again: the new floor
                     105 * MB,               # +4 over the new floor: nothing
                     90 * MB,                # shrinking: the floor follows it down
                     99 * MB, 97 * MB])      # +9 over 90: trim
    trims: list[int] = []

    async def scenario() -> None:
        task = asyncio.create_task(keep_trimmed(trims.append, lambda: next(readings), check_seconds=0, growth=8 * MB))
        for _ in range(50):
            await asyncio.sleep(0)
            if len(trims) == 2:
                break
        task.cancel()

    asyncio.run(scenario())
    assert trims == [0, 0]


def test_this_machines_c_library_trims_for_real():
    trim = malloc_trim()
    assert trim is not None, "glibc: the image and this machine run Debian"
    blocks = [bytearray(4096) for _ in range(20000)]  # 80 MB of small chunks, then every other one freed
    del blocks[::2]
    before = rss_bytes()
    trim(0)
    assert rss_bytes() < before
