"""The relay's partitioner puts every keyed event where aiokafka's default partitioner
(the Java client's murmur2) puts it: partners rely on a case's events sharing a partition."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from chainkit.relay import KeyPartitioner


def test_a_key_lands_where_the_default_partitioner_puts_it() -> None:
    default = DefaultPartitioner()
    ours = KeyPartitioner(keep=100)  # small, so the kept hashes are dropped on the way
    keys = [str(2600000001 + n).encode() for n in range(1_000)] + [b"coa", b"", b"\xff" * 7]
    for partitions in ([0], [0, 1, 2], list(range(12)), [3, 5, 8]):
        for key in keys * 2:  # the second time from the kept hashes
            assert ours(key, partitions, partitions) == default(key, partitions, partitions)


def test_an_event_without_a_key_goes_to_an_available_partition() -> None:
    ours = KeyPartitioner()
    assert {ours(None, [0, 1, 2], [2]) for _ in range(20)} == {2}
    assert ours(None, [0, 1, 2], []) in {0, 1, 2}
