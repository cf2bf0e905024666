"""A process's NetworkPolicy: what it may reach (its peers, the data namespace's stores) and who may reach it."""

from __future__ import annotations

from typing import Any

from .processes import APP_NAMESPACE, DATA_NAMESPACE, KAFKA_CLUSTER, PORTS, Process, labels, selector


def data_peer(component: dict[str, str], *ports: int) -> dict[str, Any]:
    return {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": DATA_NAMESPACE}},
                "podSelector": {"matchLabels": component},
            }
        ],
        "ports": [{"protocol": "TCP", "port": port} for port in ports],
    }


def network_policy(p: Process) -> dict[str, Any]:
    """Ingress only from the named callers (and Prometheus); egress only to what the process uses.

    DNS egress and the default deny are in ``base/network/``; this adds the allowances.
    """
    ingress: list[dict[str, Any]] = [
        # Prometheus scrapes /metrics on the app port.
        {
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            "ports": [{"protocol": "TCP", "port": p.port}],
        }
    ]
    if p.name == "gateway":
        ingress.append(
            {
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}],
                "ports": [{"protocol": "TCP", "port": p.port}],
            }
        )
    if p.callers:
        ingress.append(
            {
                "from": [{"podSelector": {"matchLabels": selector(caller)}} for caller in p.callers],
                "ports": [{"protocol": "TCP", "port": p.port}],
            }
        )
    egress: list[dict[str, Any]] = [
        data_peer({"strimzi.io/cluster": KAFKA_CLUSTER, "strimzi.io/kind": "Kafka"}, 9092, 9093),
        data_peer({"app.kubernetes.io/instance": "snapfix-mongo", "app.kubernetes.io/component": "mongos"}, 27017),
        data_peer({"app": "snapfix-redis-leader"}, 6379),
        data_peer({"app": "snapfix-redis-follower"}, 6379),
        {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}}],
            "ports": [{"protocol": "TCP", "port": 4318}],  # OTLP/HTTP to the collector
        },
    ]
    egress += [
        {
            "to": [{"podSelector": {"matchLabels": selector(callee)}}],
            "ports": [{"protocol": "TCP", "port": PORTS[callee]}],
        }
        for callee in p.calls
    ]
    if p.public_egress:
        egress.append(
            {
                # Public addresses only: never a way around the policies to in-cluster peers.
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
                "ports": [{"protocol": "TCP", "port": port} for port in p.public_egress],
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": p.name, "namespace": APP_NAMESPACE, "labels": labels(p.name)},
        "spec": {
            "podSelector": {"matchLabels": selector(p.name)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }
