"""A process's workload resources: its ServiceAccount, Deployment (probes, resources, security context,
graceful shutdown, OTel), Service, HorizontalPodAutoscaler and PodDisruptionBudget."""

from __future__ import annotations

from typing import Any

from .processes import APP_NAMESPACE, PRESTOP_SLEEP_S, SHARED_SECRETS, TERMINATION_GRACE_S, Process, labels, selector


def http_probe(path: str, **timing: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, **timing}


def deployment(p: Process) -> dict[str, Any]:
    env: list[dict[str, Any]] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "SNAPFIX_HTTP_HOST", "value": "0.0.0.0"},  # noqa: S104 - inside the pod's own network namespace
        {"name": "SNAPFIX_HTTP_PORT", "value": str(p.port)},
        {"name": "SNAPFIX_MONGO_DATABASE", "value": f"snapfix_{p.name}"},
        {"name": "OTEL_SERVICE_NAME", "value": f"snapfix-{p.name}"},
        {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": "service.instance.id=$(POD_NAME),k8s.pod.name=$(POD_NAME)"},
    ]
    env += [
        {"name": f"SNAPFIX_{key}", "valueFrom": {"secretKeyRef": {"name": "snapfix-secrets", "key": key}}}
        for key in (*SHARED_SECRETS, *p.secrets)
    ]
    env += [{"name": k, "value": v} for k, v in sorted(p.extra_env.items())]
    container = {
        "name": p.name,
        "image": f"snapfix-{p.name}",
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": p.port, "protocol": "TCP"}],
        "envFrom": [
            {"configMapRef": {"name": "snapfix-config"}},
            # SNAPFIX_MONGO_URL and SNAPFIX_REDIS_URL with this service's own credentials
            # (its own Mongo user on its own database).
            {"secretRef": {"name": f"snapfix-{p.name}-datastores"}},
        ],
        "env": env,
        "resources": {
            # No CPU limit: CFS throttling would break the 100 ms latency objective;
            # requests reserve the CPU, the HPA adds pods, memory is capped.
            "requests": {"cpu": p.cpu, "memory": p.memory},
            "limits": {"memory": p.memory_limit},
        },
        "startupProbe": http_probe("/livez", periodSeconds=2, timeoutSeconds=2, failureThreshold=30),
        "livenessProbe": http_probe("/livez", periodSeconds=10, timeoutSeconds=3, failureThreshold=3),
        "readinessProbe": http_probe(
            "/readyz", periodSeconds=5, timeoutSeconds=3, failureThreshold=2, successThreshold=1
        ),
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_SLEEP_S)]}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - a private emptyDir
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": p.name, "namespace": APP_NAMESPACE, "labels": labels(p.name)},
        "spec": {
            # No `replicas`: the HPA owns the count (an apply would otherwise reset it).
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(p.name)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {
                    "labels": labels(p.name),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(p.port),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "serviceAccountName": p.name,
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_S,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,  # the Dockerfile's unprivileged user
                        "runAsGroup": 10001,
                        "fsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "topology.kubernetes.io/zone",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": selector(p.name)},
                        },
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": selector(p.name)},
                        },
                    ],
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": p.tmp_size}}],
                },
            },
        },
    }


def service(p: Process) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": p.name, "namespace": APP_NAMESPACE, "labels": labels(p.name)},
        "spec": {
            "selector": selector(p.name),
            "ports": [{"name": "http", "port": p.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def autoscaler(p: Process) -> dict[str, Any]:
    metrics: list[dict[str, Any]] = [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 65}}}
    ]
    # One External metric per consumer group: the HPA takes the largest proposal.
    # `snapfix_consumer_lag` comes from every pod's /metrics, summed per group by
    # prometheus-adapter (deploy/k8s/monitoring/prometheus-adapter.yaml).
    metrics += [
        {
            "type": "External",
            "external": {
                "metric": {"name": "snapfix_consumer_lag", "selector": {"matchLabels": {"group": group}}},
                "target": {"type": "AverageValue", "averageValue": str(p.lag_target_per_pod)},
            },
        }
        for group in p.lag_groups
    ]
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": p.name, "namespace": APP_NAMESPACE, "labels": labels(p.name)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": p.name},
            "minReplicas": p.min_replicas,
            "maxReplicas": p.max_replicas,
            "metrics": metrics,
            "behavior": {
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 30}],
                },
                # Scaling in rebalances the consumer groups: do it slowly.
                "scaleDown": {
                    "stabilizationWindowSeconds": 300,
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                },
            },
        },
    }


def disruption_budget(p: Process) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": p.name, "namespace": APP_NAMESPACE, "labels": labels(p.name)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(p.name)}},
    }


def service_account(p: Process) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": p.name, "namespace": APP_NAMESPACE, "labels": labels(p.name)},
        "automountServiceAccountToken": False,
    }
