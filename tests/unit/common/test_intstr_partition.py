import pytest
from hypothesis import given, strategies as st

from controllers.common.intstr import scaled_value, scaled_value_or
from controllers.common.partition import partition_replicas, resolve_partition


@pytest.mark.parametrize("value,total,up,expected", [
    (3, 10, True, 3), ("20%", 5, True, 1), ("20%", 4, True, 1), ("20%", 4, False, 0), ("25%", 10, True, 3),
    ("25%", 10, False, 2), ("100%", 7, False, 7), ("0%", 7, True, 0), ("3%", 100, True, 3),
])
def test_scaled_value(value, total, up, expected):
    assert scaled_value(value, total, up) == expected


@pytest.mark.parametrize("bad", ["20", "abc", "%", 1.5, True, None])
def test_scaled_value_rejects_what_intstr_rejects(bad):
    with pytest.raises(ValueError):
        scaled_value(bad, 10, True)
    assert scaled_value_or(bad, 10, True, 42) == 42


@pytest.mark.parametrize("partition,replicas,expected", [
    ("99%", 4, 3),  # ceil(3.96) = 4, capped at replicas-1 so one pod updates (e2e "partition 99%")
    ("100%", 4, 4), ("1%", 4, 1),  # any percentage above 0% keeps at least one old pod
    ("0%", 4, 0), ("50%", 1, 1), ("99%", 1, 1),  # replicas=1: no cap
    (2, 4, 2), (9, 4, 4), (-1, 4, 0), (None, 4, 0), ("99%", 0, 0),
])
def test_partition_replicas(partition, replicas, expected):
    assert partition_replicas(partition, replicas) == expected


@given(percent=st.integers(0, 100), replicas=st.integers(0, 500))
def test_percentage_partition_properties(percent, replicas):
    p = partition_replicas(f"{percent}%", replicas)
    assert 0 <= p <= replicas
    if percent > 0 and replicas > 0:
        assert p >= 1  # something stays at the old revision
    if percent < 100 and replicas > 1:
        assert p <= replicas - 1  # something gets updated
    if percent == 100:
        assert p == replicas
    # never more than the exact share rounded up
    assert p <= -(-percent * replicas // 100)


@given(value=st.integers(-5, 1000), replicas=st.integers(0, 500))
def test_integer_partition_is_clamped(value, replicas):
    assert partition_replicas(value, replicas) == max(min(value, replicas), 0)


def test_resolve_partition_reads_a_malformed_value_as_zero():
    assert resolve_partition("lots", 4) == 0 and resolve_partition(True, 4) == 0
    assert resolve_partition("50%", 4) == partition_replicas("50%", 4) == 2 and resolve_partition(7, 4) == 4


@pytest.mark.parametrize("partition, desired, expected", [
    (None, 5, 0), (2, 5, 2), ("50%", 5, 2), ("99%", 4, 3), ("100%", 4, 4), ("10%", 5, 0),
    (9, 5, 9),  # not capped: the update compares it with the node count of the moment
])
def test_advanced_daemonset_partition_rounds_down_uncapped(partition, desired, expected):
    """A16 #2: "50%" of desiredNumberScheduled 5 is floor(2.5) = 2 nodes kept at the old revision."""
    assert partition_replicas(partition, desired, round_down_uncapped=True) == expected
    with pytest.raises(ValueError):
        partition_replicas("half", desired, round_down_uncapped=True)
