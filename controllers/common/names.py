"""Random instance ids and Kubernetes' "safe" encoding (`k8s.io/apimachinery/pkg/util/rand`).

The alphabet has no vowels and no 0, 1, 3 so that generated names never spell words.
"""
from __future__ import annotations

import random
from typing import Iterable, Iterator, Protocol

ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
INSTANCE_ID_LENGTH = 5  # sync/cloneset_scale.go LengthOfInstanceID


class NameSource(Protocol):
    """Where a reconcile gets random name suffixes; injectable so tests are deterministic."""

    def suffix(self) -> str:
        """A fresh random suffix of INSTANCE_ID_LENGTH characters from ALPHANUMS."""
        ...


class RandomNames:
    """The production NameSource (rand.String(5))."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.SystemRandom()

    def suffix(self) -> str:
        return "".join(self._rng.choice(ALPHANUMS) for _ in range(INSTANCE_ID_LENGTH))


class SequenceNames:
    """A deterministic NameSource for tests: yields the given suffixes, then counts in the alphabet."""

    def __init__(self, suffixes: Iterable[str] = ()) -> None:
        self._given: Iterator[str] = iter(suffixes)
        self._count = 0

    def suffix(self) -> str:
        for s in self._given:
            return s
        n, chars = self._count, []
        self._count += 1
        for _ in range(INSTANCE_ID_LENGTH):
            n, r = divmod(n, len(ALPHANUMS))
            chars.append(ALPHANUMS[r])
        return "".join(reversed(chars))


def safe_encode(s: str) -> str:
    """rand.SafeEncodeString: map every character onto the alphabet."""
    return "".join(ALPHANUMS[ord(c) % len(ALPHANUMS)] for c in s)


def unique_suffix(names: NameSource, taken: set[str]) -> str:
    """A suffix not in `taken` (getOrGenInstanceID); adds it to `taken`."""
    for _ in range(10_000):
        s = names.suffix()
        if s not in taken:
            taken.add(s)
            return s
    raise RuntimeError("the NameSource keeps returning suffixes already in use")
