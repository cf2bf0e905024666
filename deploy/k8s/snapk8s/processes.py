"""The five processes, described once (``PROCESSES``), with the namespaces, the shutdown timings and the
labels every resource of a process carries."""

from __future__ import annotations

from dataclasses import dataclass, field

APP_NAMESPACE = "snapfix"
DATA_NAMESPACE = "snapfix-data"
KAFKA_CLUSTER = "snapfix-kafka"

# preStop sleep: the endpoints controller and every ingress/kube-proxy need a few seconds
# to stop sending new requests to a terminating pod; only then does SIGTERM start the
# graceful shutdown (uvicorn finishes in-flight requests, consumers commit, the producer flushes).
PRESTOP_SLEEP_S = 5
# sleep + uvicorn's grace (SNAPFIX_SHUTDOWN_GRACE_S, 10 s) + the rest of the stop (at most
# 8 s: runtime.STOP_BUDGET_S) + margin; past it the kubelet sends SIGKILL.
TERMINATION_GRACE_S = 45
# Keys of ``snapfix-secrets`` every process gets: the gateway signs internal tokens, every service verifies them.
SHARED_SECRETS = ("INTERNAL_TOKEN_SECRET",)
# The networks a cluster's pod addresses come from (RFC 1918), where the ingress controller's pods are.
GATEWAY_TRUSTED_PROXIES = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"


@dataclass(frozen=True)
class Process:
    name: str
    port: int
    cpu: str
    memory: str
    memory_limit: str
    min_replicas: int
    max_replicas: int
    # Consumer groups this process runs whose lag should add replicas (records per pod).
    lag_groups: tuple[str, ...] = ()
    lag_target_per_pod: int = 1000
    # Keys of the Secret ``snapfix-secrets`` this process gets, as SNAPFIX_<KEY> (besides SHARED_SECRETS).
    secrets: tuple[str, ...] = ()
    # Other SnapFix processes this one calls over HTTP (egress allowed to them).
    calls: tuple[str, ...] = ()
    # Processes allowed to call this one (the gateway for all; issues calls media).
    callers: tuple[str, ...] = ("gateway",)
    # TCP ports this process may reach on public addresses (webhooks, push providers,
    # the mail relay, S3-compatible object storage).
    public_egress: tuple[int, ...] = ()
    tmp_size: str = "64Mi"
    extra_env: dict[str, str] = field(default_factory=dict)


PROCESSES = (
    Process(
        "gateway",
        8000,
        cpu="500m",
        memory="384Mi",
        memory_limit="768Mi",
        min_replicas=3,
        max_replicas=30,
        secrets=("JWT_SECRET", "LINK_SEAL_KEY"),
        calls=("issues", "media", "notify", "analytics"),
        callers=(),
        extra_env={
            # Argon2id hashing takes ~64 MiB each; bounded by SNAPFIX_PASSWORD_HASH_CONCURRENCY.
            "SNAPFIX_PASSWORD_HASH_CONCURRENCY": "2",
            # Whose X-Forwarded-For names the client (the per-IP limits count it): the ingress
            # controller's pods. The gateway's NetworkPolicy admits only ingress-nginx (and
            # Prometheus), so trusting the private ranges a pod network lies in trusts the ingress
            # controller alone; a cluster may narrow it to its pod CIDR (docs/operations.md).
            "SNAPFIX_FORWARDED_ALLOW_IPS": GATEWAY_TRUSTED_PROXIES,
        },
    ),
    Process(
        "issues",
        8001,
        cpu="500m",
        memory="384Mi",
        memory_limit="768Mi",
        min_replicas=2,
        max_replicas=24,  # issues.commands.v1 has 24 partitions: more consumers would idle
        lag_groups=("issues", "issues-media"),
        lag_target_per_pod=5000,
        calls=("media",),
    ),
    Process(
        "media",
        8002,
        cpu="1",
        memory="768Mi",
        memory_limit="2Gi",
        min_replicas=2,
        max_replicas=24,
        lag_groups=("media",),
        lag_target_per_pod=50,  # image processing: each record is seconds of CPU
        secrets=("UPLOAD_SECRET",),
        callers=("gateway", "issues"),
        tmp_size="512Mi",
        public_egress=(443,),  # photos in S3 when SNAPFIX_STORAGE_BACKEND=s3
        extra_env={"SNAPFIX_PROCESS_WORKERS": "2"},
    ),
    Process(
        "notify",
        8003,
        cpu="250m",
        memory="256Mi",
        memory_limit="512Mi",
        min_replicas=2,
        max_replicas=24,
        lag_groups=("notify-issues", "notify-users", "notify-webhooks"),
        secrets=("UNSUBSCRIBE_SECRET", "LINK_SEAL_KEY"),
        public_egress=(443, 587),
    ),
    Process(
        "analytics",
        8004,
        cpu="250m",
        memory="384Mi",
        memory_limit="768Mi",
        min_replicas=2,
        max_replicas=24,
        lag_groups=("analytics-issues",),
        lag_target_per_pod=5000,
        secrets=("PSEUDONYM_SECRET",),
    ),
)
PORTS = {p.name: p.port for p in PROCESSES}


def labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "snapfix"}


def selector(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name}
