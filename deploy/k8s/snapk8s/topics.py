"""A Strimzi ``KafkaTopic`` for every topic of the catalogue (``snapfix_shared.topics.TOPIC_SPECS``)."""

from __future__ import annotations

from typing import Any

from snapfix_shared.topics import TOPIC_SPECS

from .processes import DATA_NAMESPACE, KAFKA_CLUSTER


def kafka_topics() -> list[dict[str, Any]]:
    docs = []
    for name, spec in sorted((str(n), s) for n, s in TOPIC_SPECS.items()):
        docs.append(
            {
                "apiVersion": "kafka.strimzi.io/v1beta2",
                "kind": "KafkaTopic",
                # Our topic names are valid resource names (DNS subdomains); topicName says it anyway.
                "metadata": {
                    "name": name,
                    "namespace": DATA_NAMESPACE,
                    "labels": {"strimzi.io/cluster": KAFKA_CLUSTER, "app.kubernetes.io/part-of": "snapfix"},
                },
                "spec": {
                    "topicName": name,
                    "partitions": spec.partitions,
                    "replicas": 3,
                    "config": {"min.insync.replicas": "2", **spec.config},
                },
            }
        )
    return docs
