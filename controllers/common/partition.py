"""Partition maths shared by the workloads (`pkg/util/tools.go CalculatePartitionReplicas`).

A partition is the number of pods kept at the OLD revision: CloneSet's is an int or a percentage, Advanced
StatefulSet's an int (SidecarSet's will be either), all read here. A percentage rounds up (so any partition above
"0%" keeps at least one old pod), but a percentage other than "100%" with more than one replica is capped at
replicas-1 so that at least one pod is updated: "99%" of 4 is ceil(3.96) = 4, capped to 3.
"""
from __future__ import annotations

from .intstr import scaled_value


def partition_replicas(partition: int | str | None, replicas: int | None) -> int:
    """The absolute partition in [0, replicas]. Raises ValueError for a malformed value."""
    if partition is None:
        return 0
    total = 1 if replicas is None else int(replicas)
    value = scaled_value(partition, total, round_up=True)
    if total > 1 and value == total and isinstance(partition, str) and partition.strip() != "100%":
        value = total - 1
    return max(min(value, total), 0)


def resolve_partition(partition: int | str | None, replicas: int | None) -> int:
    """`partition_replicas`, or 0 for a malformed value (upstream logs the illegal value and carries on)."""
    try:
        return partition_replicas(partition, replicas)
    except ValueError:
        return 0
