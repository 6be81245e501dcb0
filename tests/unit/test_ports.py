"""sandbox.ports: the suite's servers get ports below the ephemeral range, never one that is taken, never the same
one twice."""
from __future__ import annotations

import socket

from sandbox import ports


def test_ports_come_from_below_the_ephemeral_range_and_are_not_given_twice() -> None:
    low, _ = ports.ephemeral_range()
    given = [ports.free_port() for _ in range(200)]
    assert len(set(given)) == len(given)
    assert all(max(1024, low - ports.SPAN) <= p < low for p in given)


def test_a_port_something_holds_is_skipped(monkeypatch) -> None:
    held = socket.socket()
    held.bind(("127.0.0.1", ports.free_port()))  # a listener on one address holds the port on 0.0.0.0 too
    held.listen()
    try:
        taken = held.getsockname()[1]
        real = ports.random.randrange
        draws = iter([taken, taken])  # the held port first, twice, then the real draws
        monkeypatch.setattr(ports.random, "randrange", lambda a, b: next(draws, None) or real(a, b))
        monkeypatch.setattr(ports, "_given", set())
        assert ports.free_port() != taken
    finally:
        held.close()


def test_the_kernels_choice_when_the_range_leaves_no_room_below(monkeypatch) -> None:
    monkeypatch.setattr(ports, "ephemeral_range", lambda: (1500, 60999))
    port = ports.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # free
    assert port >= 1024
