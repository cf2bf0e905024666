"""The properties the design depends on, asserted on the rendered Kubernetes manifests per overlay:
durable topics, Kafka in KRaft with replication 3, TLS and backups in prod, hardened and scaled
processes, network policies, the ingress's routes and limits, and a shard decision per collection.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest
import yaml

from snapfix_shared.settings import HttpSettings
from snapfix_shared.topics import TOPIC_SPECS
from tests.deploy.k8s import K8S, OVERLAYS, PROCESSES, of_kind, one, render

pytestmark = pytest.mark.deploy


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_topic_of_the_catalogue_is_declared_durable(overlay: str) -> None:
    topics = {t["spec"]["topicName"]: t["spec"] for t in of_kind(render(overlay), "KafkaTopic")}
    assert set(topics) == {str(name) for name in TOPIC_SPECS}
    for name, spec in TOPIC_SPECS.items():
        declared = topics[str(name)]
        assert declared["partitions"] == spec.partitions
        assert declared["replicas"] == 3
        assert declared["config"] == {"min.insync.replicas": "2", **spec.config}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_is_kraft_with_replication_3_and_no_unclean_elections(overlay: str) -> None:
    docs = render(overlay)
    kafka = one(docs, "Kafka", "snapfix-kafka")
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3
    assert config["min.insync.replicas"] == 2
    assert config["unclean.leader.election.enable"] is False
    assert config["auto.create.topics.enable"] is False
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    pools = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "KafkaNodePool")}
    assert pools["controllers"]["roles"] == ["controller"]
    assert pools["controllers"]["replicas"] == 3
    assert pools["brokers"]["roles"] == ["broker"]
    assert pools["brokers"]["replicas"] >= 3
    assert any(listener["tls"] for listener in kafka["spec"]["kafka"]["listeners"])


def test_prod_uses_tls_everywhere_and_encrypted_volumes() -> None:
    docs = render("prod")
    kafka = one(docs, "Kafka", "snapfix-kafka")
    assert all(listener["tls"] for listener in kafka["spec"]["kafka"]["listeners"])
    # Generated with a content hash in its name, so that a change rolls the Deployments.
    (config,) = (c["data"] for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"].startswith("snapfix-config-"))
    tls_port = next(lst["port"] for lst in kafka["spec"]["kafka"]["listeners"])
    assert config["SNAPFIX_KAFKA_BOOTSTRAP_SERVERS"].endswith(f":{tls_port}")
    assert config["SNAPFIX_KAFKA_SECURITY_PROTOCOL"] == "SSL"
    mongo = next(of_kind(docs, "PerconaServerMongoDB"))["spec"]
    assert mongo["tls"]["mode"] == "requireTLS"
    assert mongo["sharding"]["enabled"] is True
    assert mongo["secrets"]["encryptionKey"]
    assert all("enableEncryption: true" in rs["configuration"] for rs in mongo["replsets"])
    redis = next(of_kind(docs, "RedisCluster"))["spec"]
    assert redis["TLS"]["secret"]["secretName"]

    encrypted = {
        sc["metadata"]["name"] for sc in of_kind(docs, "StorageClass") if sc["parameters"].get("encrypted") == "true"
    }
    classes = [v["class"] for p in of_kind(docs, "KafkaNodePool") for v in p["spec"]["storage"]["volumes"]]
    classes += [rs["volumeSpec"]["persistentVolumeClaim"]["storageClassName"] for rs in mongo["replsets"]]
    classes.append(mongo["sharding"]["configsvrReplSet"]["volumeSpec"]["persistentVolumeClaim"]["storageClassName"])
    classes.append(redis["storage"]["volumeClaimTemplate"]["spec"]["storageClassName"])
    classes += [pvc["spec"]["storageClassName"] for pvc in of_kind(docs, "PersistentVolumeClaim")]
    assert encrypted
    assert set(classes) <= encrypted, f"unencrypted volumes: {set(classes) - encrypted}"

    for deployment in (one(docs, "Deployment", p) for p in PROCESSES):
        mounts = deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        assert any(m["mountPath"] == "/etc/snapfix/ca" for m in mounts)


def test_prod_backs_up_every_service_database() -> None:
    cron = one(render("prod"), "CronJob", "snapfix-mongodump")
    script = " ".join(cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"])
    assert "mongodump" in script
    for process in PROCESSES:
        assert f"snapfix_{process}" in script
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_is_deployed_hardened_and_scaled(overlay: str) -> None:
    docs = render(overlay)
    for process in PROCESSES:
        deployment = one(docs, "Deployment", process)
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["startupProbe"]["httpGet"]["path"] == "/livez"
        assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
        assert pod["terminationGracePeriodSeconds"] > int(container["lifecycle"]["preStop"]["exec"]["command"][1])
        assert container["resources"]["requests"]["cpu"]
        assert container["resources"]["limits"]["memory"]
        env = {e["name"] for e in container["env"]}
        assert {"OTEL_SERVICE_NAME", "SNAPFIX_HTTP_PORT"} <= env
        assert container["image"].startswith("registry.example.com/snapfix/")

        hpa = one(docs, "HorizontalPodAutoscaler", process)
        assert hpa["spec"]["scaleTargetRef"]["name"] == process
        assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
        if overlay == "prod":  # with a PDB of maxUnavailable 1, a drain never empties a process
            assert hpa["spec"]["minReplicas"] >= 2
        kinds = {m["type"] for m in hpa["spec"]["metrics"]}
        assert "Resource" in kinds
        if process != "gateway":
            assert "External" in kinds, f"{process} does not scale on consumer lag"
        one(docs, "PodDisruptionBudget", process)
        one(docs, "Service", process)
    secrets = {
        e["valueFrom"]["secretKeyRef"]["key"]
        for e in one(docs, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]["env"]
        if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]
    }
    assert "JWT_SECRET" in secrets


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default_and_only_the_gateway_is_reachable_from_outside(overlay: str) -> None:
    docs = render(overlay)
    deny = one(docs, "NetworkPolicy", "default-deny")
    assert deny["spec"]["podSelector"] == {}
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    for process in PROCESSES:
        policy = one(docs, "NetworkPolicy", process)
        sources = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
        from_ingress = any(
            p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == "ingress-nginx"
            for p in sources
        )
        assert from_ingress == (process == "gateway")
        if process != "gateway":
            callers = {p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in sources if "podSelector" in p}
            assert "gateway" in callers
        assert policy["spec"]["egress"], f"{process} has no egress allowance"
    ingress = one(docs, "Ingress", "gateway")
    backends = {p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert backends == {"gateway"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_believes_x_forwarded_for_from_the_ingress_controller_only(overlay: str) -> None:
    """Else every client is the ingress pod's address, and the per-IP limits throttle the whole city."""
    docs = render(overlay)
    env = {
        e["name"]: e.get("value")
        for e in one(docs, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    trusted = HttpSettings(forwarded_allow_ips=env["SNAPFIX_FORWARDED_ALLOW_IPS"]).forwarded_allow_ips
    assert "*" not in trusted
    networks = [ipaddress.ip_network(item.strip()) for item in trusted.split(",")]
    # Pod addresses of common pod networks (kubeadm/flannel, k3s, Calico, an AWS VPC).
    for pod in ("10.244.3.17", "10.42.0.9", "192.168.12.4", "172.20.1.5"):
        assert any(ipaddress.ip_address(pod) in network for network in networks), pod
    for public in ("203.0.113.5", "8.8.8.8", "2001:db8::1"):
        assert not any(ipaddress.ip_address(public) in network for network in networks), public
    # Only the gateway stands behind the ingress: the services believe no one's header.
    config = next(c["data"] for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"].startswith("snapfix-config-"))
    assert "SNAPFIX_FORWARDED_ALLOW_IPS" not in config
    for process in PROCESSES[1:]:
        container = one(docs, "Deployment", process)["spec"]["template"]["spec"]["containers"][0]
        assert "SNAPFIX_FORWARDED_ALLOW_IPS" not in {e["name"] for e in container["env"]}


def ingress_paths(docs: tuple[dict[str, Any], ...]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, pathType, the Ingress) of every path routed to the gateway."""
    return [
        (path["path"], path["pathType"], ingress)
        for ingress in of_kind(docs, "Ingress")
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]


def routed(docs: tuple[dict[str, Any], ...], url_path: str) -> dict[str, Any] | None:
    """The Ingress that serves ``url_path`` (the longest matching path, as ingress-nginx picks), or None."""
    matches = [
        (len(path), ingress)
        for path, kind, ingress in ingress_paths(docs)
        if url_path == path or (kind == "Prefix" and (path == "/" or url_path.startswith(path.rstrip("/") + "/")))
    ]
    return max(matches, key=lambda match: match[0])[1] if matches else None


def refuses_everyone(ingress: dict[str, Any] | None) -> bool:
    """The controller answers 403 to every client address (ingress-nginx's denylist-source-range)."""
    denied = (
        (ingress or {})
        .get("metadata", {})
        .get("annotations", {})
        .get("nginx.ingress.kubernetes.io/denylist-source-range", "")
    )
    return {part.strip() for part in denied.split(",")} >= {"0.0.0.0/0", "::/0"}


def body_size(ingress: dict[str, Any]) -> int:
    value = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    return int(value[:-1]) * {"k": 1024, "m": 1024 * 1024}[value[-1]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_routes_the_public_api_and_not_metrics_or_health(overlay: str) -> None:
    from snapfix_gateway.app import create_app
    from snapfix_gateway.config import GatewaySettings

    docs = render(overlay)
    api = create_app(GatewaySettings(live_updates=False)).openapi()["paths"]
    public = [re.sub(r"\{[^}]+\}", "x", path) for path in api] + [
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/openapi.json",
    ]
    assert len(public) > 40
    # The web app, which the gateway serves at every path that is not the API's.
    public += ["/", "/assets/index-Ab12.js", "/config.json", "/issues/x", "/staff", "/favicon.svg"]
    unrouted = [path for path in public if routed(docs, path) is None or refuses_everyone(routed(docs, path))]
    assert not unrouted, f"public paths the ingress does not route: {unrouted}"
    for internal in ("/metrics", "/readyz", "/livez", "/metrics/", "/readyz/x"):
        found = routed(docs, internal)
        assert found is None or refuses_everyone(found), (
            f"{internal} is reachable through Ingress/{found and found['metadata']['name']}"
        )
    assert {
        i["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] for i in of_kind(docs, "Ingress")
    } == {"gateway"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_photo_uploads_may_send_large_bodies_through_the_ingress(overlay: str) -> None:
    from snapfix_gateway.config import GatewaySettings

    docs = render(overlay)
    defaults = GatewaySettings()
    upload = routed(docs, "/v1/media/0192f6a8-3c1e-7d2a-9b4e-5f6a7b8c9d0e/upload")
    assert upload is not None
    assert defaults.max_upload_bytes < body_size(upload) <= 16 * 1024 * 1024
    for path in ("/v1/issues", "/v1/auth/register", "/open311/v2/requests.json", "/v1/issues/x/comments"):
        ingress = routed(docs, path)
        assert ingress is not None
        # Above the gateway's own cap (which answers a problem+json 413), far below a photo's.
        assert defaults.max_body_bytes <= body_size(ingress) <= 1024 * 1024, path
    # Every Ingress of the host is served with the certificate, over HTTPS only.
    for ingress in of_kind(docs, "Ingress"):
        assert ingress["spec"]["tls"][0]["secretName"] == "snapfix-api-tls"
        assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"


def beanie_collections() -> set[str]:
    """``<database>.<collection>`` of every Beanie document the five processes define."""
    import importlib

    from beanie import Document

    for process in PROCESSES:
        importlib.import_module(f"snapfix_{process}.app")
    found: set[str] = set()
    pending = list(Document.__subclasses__())
    while pending:
        model = pending.pop()
        pending += model.__subclasses__()
        package = model.__module__.split(".")[0]
        name = getattr(getattr(model, "Settings", None), "name", None)
        if package.startswith("snapfix_") and name:
            found.add(f"{package}.{name}")
    return found


def test_every_collection_has_a_shard_decision_and_every_decision_a_collection() -> None:
    """A new collection needs a shard key or a reason to stay whole; a renamed one is caught too."""
    script = yaml.safe_load((K8S / "data" / "mongo-shard-keys.yaml").read_text().split("---")[0])["data"]
    keyed = set(re.findall(r'"(snapfix_[a-z]+\.[a-z_.0-9]+)":', script["shard-keys.js"]))
    listed = script["shard-keys.js"].split("const unsharded = [")[1].split("]")[0]
    unsharded = set(re.findall(r'"(snapfix_[a-z]+\.[a-z_.0-9]+)"', listed))
    assert len(keyed) > 10
    assert not keyed & unsharded
    gridfs = {"snapfix_media.fs.files", "snapfix_media.fs.chunks"}  # GridFsStore's, not Beanie documents
    defined = beanie_collections()
    unknown = (keyed | unsharded) - defined - gridfs
    assert not unknown, f"shard decisions for collections no service defines: {sorted(unknown)}"
    undecided = defined - keyed - unsharded
    assert not undecided, f"collections without a shard key or an 'unsharded' line: {sorted(undecided)}"
