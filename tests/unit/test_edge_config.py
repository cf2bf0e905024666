"""The deployment files of the edge and the compose picture agree with each other.

docker-compose.yml renders deploy/nginx/templates with the official image's envsubst, the
local stack with deploy/nginx/render.py; the collector and Prometheus configs are mounted
by path. A variable or a path that one side renames breaks the other only at start-up,
on a machine with Docker: these checks catch it here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from snapfix_shared.settings import HttpSettings
from tests.stack import load_script

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
APPS = ("gateway", "issues", "media", "notify", "analytics")


render = load_script("deploy/nginx/render.py", "snapfix_edge_render")


def _interpolate(value: str) -> str:
    """Compose's ${VAR:-default} / ${VAR-default} / ${VAR:?err}, as if no variable were set."""
    return re.sub(r"\$\{\w+(?::?-([^}]*))?(?::?\?[^}]*)?\}", lambda m: m.group(1) or "", value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {k: _interpolate(str(v)) for k, v in (service.get("environment") or {}).items()}


def test_the_compose_edge_gives_every_template_variable(compose: dict[str, Any]) -> None:
    env = _env(compose["services"]["edge"])
    for template in sorted((ROOT / "deploy" / "nginx" / "templates").glob("*.template")):
        rendered = render.substitute(template.read_text(), env)  # raises on a missing one
        assert re.search(r"\$\{SNAPFIX_EDGE_[A-Z0-9_]+\}", rendered) is None, template.name
    assert env["NGINX_ENVSUBST_OUTPUT_DIR"] == "/etc/nginx"  # nginx.conf.template replaces the image's
    assert env["SNAPFIX_EDGE_CONF_DIR"] == "/etc/nginx"


def test_compose_and_the_local_stack_use_the_same_passive_health_checks(compose: dict[str, Any]) -> None:
    gateways = _env(compose["services"]["edge"])["SNAPFIX_EDGE_GATEWAYS"]
    assert f"max_fails={render.MAX_FAILS} fail_timeout={render.FAIL_TIMEOUT};" in gateways
    assert "server gateway:8000 resolve" in gateways  # every replica behind one name, re-resolved
    assert "zone " in gateways  # `resolve` needs a shared-memory upstream
    assert render.upstream_servers(["127.0.0.1:1"]) == (
        f"server 127.0.0.1:1 max_fails={render.MAX_FAILS} fail_timeout={render.FAIL_TIMEOUT};"
    )


def test_a_missing_template_variable_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(render.RenderError, match="SNAPFIX_EDGE_NOPE"):
        render.substitute("listen ${SNAPFIX_EDGE_NOPE}; set $host_name $host;", {})
    # nginx's own variables are left alone.
    assert render.substitute("${SNAPFIX_EDGE_X} $host ${host}", {"SNAPFIX_EDGE_X": "1"}) == "1 $host ${host}"


def test_the_locally_rendered_edge_passes_nginx_t(tmp_path: Path) -> None:
    """Debian's nginx (installed by deploy/local/install.sh) accepts what the local stack renders."""
    edge = render.render(
        tmp_path / "edge", gateways=["127.0.0.1:1", "127.0.0.1:2"], https_port=8443, http_port=8080, purge_port=8081
    )
    render.check(edge)  # raises with nginx's message
    conf = (tmp_path / "edge" / "snapfix.conf").read_text()
    assert "ssl_protocols TLSv1.3;" in conf
    assert "server 127.0.0.1:2 max_fails" in conf
    # The edge's CA signed its certificate, for the names clients use.
    assert edge.ca.read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_two_gateway_replicas_sit_behind_the_edge_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["gateway"]["deploy"]["replicas"] == 2
    assert "ports" not in services["gateway"]  # reached through the edge only
    assert services["edge"]["depends_on"]["gateway"]["condition"] == "service_healthy"
    assert any(p.endswith(":443") for p in services["edge"]["ports"])
    assert "healthcheck" in services["edge"]
    script = ROOT / "deploy" / "nginx" / "docker-entrypoint.d" / "15-snapfix-edge-cert.sh"
    assert os.access(script, os.X_OK), "the nginx image runs only executable entrypoint scripts"


def test_the_compose_gateways_believe_the_edges_x_forwarded_for(compose: dict[str, Any]) -> None:
    env = _env(compose["services"]["gateway"])
    assert "FORWARDED_ALLOW_IPS" not in env  # uvicorn's own variable: serve.py passes the setting instead
    trusted = HttpSettings(forwarded_allow_ips=env["SNAPFIX_FORWARDED_ALLOW_IPS"]).forwarded_allow_ips
    assert trusted != "127.0.0.1"  # the edge is another container


def test_every_process_sends_its_spans_to_the_collector(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for app in APPS:
        env = _env(services[app])
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318", app
        assert env["OTEL_SERVICE_NAME"] == f"snapfix-{app}"
    collector = yaml.safe_load((ROOT / "deploy" / "otel" / "collector.yaml").read_text())
    assert set(collector["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")


def test_the_collector_pipelines_name_only_defined_components() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "otel" / "collector.yaml").read_text())
    defined = {kind: set(config.get(kind) or {}) for kind in ("receivers", "processors", "exporters", "connectors")}
    pipelines = config["service"]["pipelines"]
    for name, pipeline in pipelines.items():
        assert set(pipeline["receivers"]) <= defined["receivers"] | defined["connectors"], name
        assert set(pipeline.get("processors", [])) <= defined["processors"], name
        assert set(pipeline["exporters"]) <= defined["exporters"] | defined["connectors"], name
        assert pipeline.get("processors", ["memory_limiter"])[0] == "memory_limiter", name
    assert set(config["service"]["extensions"]) <= set(config["extensions"])
    # Traces reach Jaeger; the span metrics connector is both an exporter and a receiver.
    assert "otlp/jaeger" in pipelines["traces"]["exporters"]
    assert "spanmetrics" in pipelines["traces"]["exporters"]
    assert "spanmetrics" in pipelines["metrics"]["receivers"]
    assert "prometheus" in pipelines["metrics"]["exporters"]


def test_the_files_compose_mounts_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in prometheus["scrape_configs"]}
    assert {"snapfix-gateway", "otel-collector"} <= jobs
