"""Consumer lag as a Prometheus gauge: how far each group of this process is behind its topics.

``snapfix_consumer_lag{topic, group}`` is the sum, over the partitions assigned to this
process, of the partition's high-water mark minus the consumer's position (both as of
the last fetch). Summed over the pods of a group it is the group's lag: what the lag
alerts and the lag-based autoscaler read. It is computed at scrape time from what the
consumers already know, so it costs no request to the brokers. The brokers' own view
(Strimzi's Kafka Exporter, ``kafka_consumergroup_lag``) also covers a group with no
live consumer at all; this one is the service's own and works everywhere.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any
from weakref import WeakSet

from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


def _consumers(subscriber: Any) -> Iterable[Any]:
    group = getattr(subscriber, "consumer_subgroup", None)
    if group:
        return list(group)
    consumer = getattr(subscriber, "consumer", None)
    return [consumer] if consumer is not None else []


def _partition_lag(consumer: Any, tp: Any) -> int | None:
    """High-water mark minus position, or None while either is still unknown."""
    highwater = consumer.highwater(tp)
    # aiokafka's public ``position()`` is a coroutine that may wait; the scrape must not,
    # so read the position the consumer already holds.
    state = consumer._subscription.subscription.assignment.state_value(tp)
    if highwater is None or state is None or not state.has_valid_position:
        return None
    return max(0, int(highwater) - int(state.position))


class ConsumerLagCollector(Collector):
    def __init__(self) -> None:
        self.brokers: WeakSet[KafkaBroker] = WeakSet()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "snapfix_consumer_lag",
            "Records not yet consumed by this process's consumers (high-water mark minus position)",
            labels=["topic", "group"],
        )
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for broker in list(self.brokers):
            for subscriber in broker.subscribers:
                group = str(getattr(subscriber, "group_id", None) or "")
                if not group:
                    continue
                for consumer in _consumers(subscriber):
                    try:
                        for tp in consumer.assignment():
                            lag = _partition_lag(consumer, tp)
                            if lag is not None:
                                totals[(tp.topic, group)] += lag
                    except Exception:  # a consumer mid-rebalance or stopping: no sample
                        log.debug("consumer lag unavailable for group %s", group, exc_info=True)
        for (topic, group), lag in sorted(totals.items()):
            family.add_metric([topic, group], lag)
        yield family


_COLLECTOR = ConsumerLagCollector()
REGISTRY.register(_COLLECTOR)


def track(broker: KafkaBroker) -> None:
    """Report the lag of every consumer group ``broker`` runs (while the broker lives)."""
    _COLLECTOR.brokers.add(broker)
