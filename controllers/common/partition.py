"""Partition maths shared by the workloads (`pkg/util/tools.go CalculatePartitionReplicas`).

A partition is the number of pods kept at the OLD revision: CloneSet's is an int or a percentage, Advanced
StatefulSet's an int (SidecarSet's will be either), Advanced DaemonSet's an int or a percentage of nodes, all
read here. A percentage rounds up (so any partition above "0%" keeps at least one old pod), but a percentage
other than "100%" with more than one replica is capped at replicas-1 so that at least one pod is updated: "99%"
of 4 is ceil(3.96) = 4, capped to 3. Advanced DaemonSet rounds down instead (`round_down_uncapped`).
"""
from __future__ import annotations

from .intstr import scaled_value


def partition_replicas(partition: int | str | None, replicas: int | None, *, round_down_uncapped: bool = False
                       ) -> int:
    """The absolute partition in [0, replicas]. Raises ValueError for a malformed value.

    `round_down_uncapped` is Advanced DaemonSet's rule (its partition counts nodes, `replicas` is the stored
    desiredNumberScheduled): a percentage rounds down, and the value is neither capped nor clamped, since the
    update compares it with the node count of the moment, which the stored figure may trail."""
    if partition is None:
        return 0
    total = 1 if replicas is None else int(replicas)
    if round_down_uncapped:
        return scaled_value(partition, total, round_up=False)
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
