"""Pod identities: names, ordinals, reserved ordinals and the ordinal range of an Advanced StatefulSet
(`stateful_set_utils.go getParentNameAndOrdinal/getStatefulSetReplicasRange`, `pkg/util/api/asts.go`).

`replicas` counts only ordinals that are not reserved: with start 0, replicas 3 and reserveOrdinals [1] the
pods are 0, 2 and 3, and the range is [0, 4). Reserved ordinals are kept as intervals, so that a range such as
"0-1000000000" costs nothing.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Iterator

_POD_NAME = re.compile(r"^(.*)-([0-9]+)$")
_RANGE = re.compile(r"^\s*([0-9]+)\s*-\s*([0-9]+)\s*$")
_MAX_INT32 = 2**31 - 1


def parent_and_ordinal(name: str) -> tuple[str, int]:
    """getParentNameAndOrdinal: ("", -1) when the name has no numeric suffix (or it overflows int32)."""
    m = _POD_NAME.match(name or "")
    if not m:
        return "", -1
    ordinal = int(m.group(2))
    return m.group(1), ordinal if ordinal <= _MAX_INT32 else -1


def pod_name(set_name: str, ordinal: int) -> str:
    return f"{set_name}-{ordinal}"


@dataclass(frozen=True)
class ReservedOrdinals:
    """A set of ordinals as sorted, disjoint, closed intervals."""

    intervals: tuple[tuple[int, int], ...] = ()

    @classmethod
    def parse(cls, raw: Any) -> "ReservedOrdinals":
        """GetReserveOrdinalIntSet: integers and "a-b" ranges (both ends included).

        Upstream drops the whole list when one entry is malformed (and so recreates every reserved pod); here
        only the malformed entry is ignored. A plain number written as a string ("3") is read as that number."""
        spans: list[tuple[int, int]] = []
        for item in raw if isinstance(raw, list) else []:
            if isinstance(item, bool):
                continue
            if isinstance(item, int):
                if item >= 0:
                    spans.append((item, item))
            elif isinstance(item, str):
                text = item.strip()
                if text.isdigit():
                    spans.append((int(text), int(text)))
                elif (m := _RANGE.match(text)) and int(m.group(1)) <= int(m.group(2)):
                    spans.append((int(m.group(1)), int(m.group(2))))
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(spans):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        return cls(tuple(merged))

    def __contains__(self, ordinal: object) -> bool:
        if not isinstance(ordinal, int):
            return False
        i = bisect_right(self.intervals, (ordinal, _MAX_INT32 * 4)) - 1
        return i >= 0 and self.intervals[i][0] <= ordinal <= self.intervals[i][1]

    def _interval_at_or_after(self, ordinal: int) -> tuple[int, int] | None:
        for lo, hi in self.intervals:
            if hi >= ordinal:
                return lo, hi
        return None

    def walk(self, start: int, count: int) -> Iterator[int]:
        """The first `count` ordinals from `start` (included) that are not reserved, in increasing order."""
        ordinal, left = start, count
        while left > 0:
            nxt = self._interval_at_or_after(ordinal)
            if nxt is not None and nxt[0] <= ordinal:
                ordinal = nxt[1] + 1
                continue
            stop = nxt[0] if nxt is not None else ordinal + left
            while ordinal < stop and left > 0:
                yield ordinal
                ordinal += 1
                left -= 1


@dataclass(frozen=True)
class OrdinalRange:
    """getStatefulSetReplicasRange: pods belong in [start, end) minus the reserved ordinals."""

    start: int
    end: int
    reserved: ReservedOrdinals
    ordinals: tuple[int, ...]  # the `replicas` ordinals that should run, increasing

    @classmethod
    def of(cls, start: int, replicas: int, reserved: ReservedOrdinals) -> "OrdinalRange":
        ordinals = tuple(reserved.walk(start, replicas))
        end = ordinals[-1] + 1 if ordinals else start
        return cls(start, end, reserved, ordinals)

    def __contains__(self, ordinal: object) -> bool:
        """podInOrdinalRange."""
        return isinstance(ordinal, int) and self.start <= ordinal < self.end and ordinal not in self.reserved
