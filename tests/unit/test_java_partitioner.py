"""``java_partitioner`` puts every keyed record in the partition aiokafka's (and Java's) default puts it."""

from __future__ import annotations

import random
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.protocol.metadata import MetadataResponse_v0

from snapfix_shared.kafka import java_partitioner, partition_of

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("partitions", [1, 3, 24, 100])
def test_the_same_partition_as_aiokafkas_for_every_key(partitions: int) -> None:
    rng = random.Random(partitions)
    all_partitions = list(range(partitions))
    keys = [str(uuid.UUID(int=rng.getrandbits(128))).encode() for _ in range(2000)]
    # Every length up to 40 bytes: murmur2 mixes the last 1-3 bytes of a key apart.
    keys += [rng.randbytes(n) for n in range(41) for _ in range(20)]
    for key in keys:
        assert java_partitioner(key, all_partitions, all_partitions) == DefaultPartitioner()(
            key, all_partitions, all_partitions
        ), key


# Java's Utils.murmur2 of these keys (Kafka's own UtilsTest vectors).
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize("partitions", [7, 24])
def test_the_partition_javas_producer_computes(partitions: int) -> None:
    all_partitions = list(range(partitions))
    for key, murmur2 in JAVA_MURMUR2.items():  # Utils.toPositive(murmur2) % partitions
        assert java_partitioner(key, all_partitions, all_partitions) == (murmur2 & 0x7FFFFFFF) % partitions, key


def test_an_unkeyed_record_goes_to_an_available_partition() -> None:
    assert java_partitioner(None, [0, 1, 2], [2]) == 2


async def test_partition_of_is_the_partition_the_producer_would_pick() -> None:
    """The edge picks a keyed record's partition itself (``partition_of``): the one aiokafka's own
    partitioning (with ``java_partitioner``) picks, partitions without a leader included."""
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", partitioner=java_partitioner)
    leaders = {partition: (-1 if partition % 5 == 0 else 0) for partition in range(24)}
    producer.client.cluster.update_metadata(
        MetadataResponse_v0(
            [(0, "127.0.0.1", 1)], [(0, "t", [(0, p, leader, [0], [0]) for p, leader in leaders.items()])]
        )
    )
    rng = random.Random(24)
    keys = [str(uuid.UUID(int=rng.getrandbits(128))).encode() for _ in range(2000)]
    try:
        picked = {partition_of(producer, "t", key) for key in keys}
        assert picked == set(range(24))  # every partition, those without a leader too
        for key in keys:
            assert partition_of(producer, "t", key) == producer._partition("t", None, None, None, key, b"{}"), key
        assert partition_of(producer, "not-known-yet", b"k") is None  # aiokafka waits for it, then picks
    finally:
        await producer.stop()  # never started: nothing to flush, no connection
