"""The TLS edge (``--edge``): nginx (deploy/nginx) in front of the gateway and a second replica of it."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from .layout import ROOT, WEB, Layout, local_secret
from .processes import StepFailed, http_ok, log, port_open, spawn, wait_until


def load_edge_render():  # a module loaded from its file
    import importlib.util

    name = "snapfix_edge_render"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "deploy" / "nginx" / "render.py")
    assert spec is not None
    assert spec.loader is not None
    render = importlib.util.module_from_spec(spec)
    sys.modules[name] = render  # its dataclasses look their module up there
    spec.loader.exec_module(render)
    return render


# With --edge: nginx (deploy/nginx, TLS 1.3) in front of the gateway and a second replica.
EDGE_PORTS = {"https": 8443, "http": 8080, "purge": 8081, "gateway-2": 8010}


def edge_url(layout: Layout) -> str:
    return f"https://127.0.0.1:{EDGE_PORTS['https'] + layout.base}"


def start_edge(layout: Layout) -> None:
    render = load_edge_render()
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        raise StepFailed("step 'edge': nginx is not installed (deploy/local/install.sh installs it)")
    second = EDGE_PORTS["gateway-2"] + layout.base
    env = {
        **layout.env(),
        "SNAPFIX_HTTP_PORT": str(second),
        "OTEL_SERVICE_NAME": "snapfix-gateway",
        "SNAPFIX_JWT_SECRET": local_secret(layout, "jwt-secret"),  # the replicas accept each other's tokens
        "SNAPFIX_PUBLIC_BASE_URL": edge_url(layout),
        "SNAPFIX_WEB_DIST": os.environ.get("SNAPFIX_WEB_DIST", str(WEB / "dist")),  # as start_apps
        "SNAPFIX_WEB_BASE_URL": edge_url(layout),
    }
    spawn("gateway-2", [sys.executable, "-m", "snapfix_gateway"], layout.dir / "apps", env)
    url = f"http://127.0.0.1:{second}/readyz"
    wait_until(f"gateway-2 ready ({url})", lambda: http_ok(url), 60, layout.dir / "apps" / "gateway-2.log")
    try:
        edge = render.render(
            layout.dir / "edge",
            gateways=[f"127.0.0.1:{layout.app_port('gateway')}", f"127.0.0.1:{second}"],
            https_port=EDGE_PORTS["https"] + layout.base,
            http_port=EDGE_PORTS["http"] + layout.base,
            purge_port=EDGE_PORTS["purge"] + layout.base,
        )
        render.check(edge)
    except render.RenderError as exc:
        raise StepFailed(f"step 'edge render': {exc}") from exc
    spawn("edge", edge.command(), edge.state)
    wait_until("edge start", lambda: port_open(edge.https_port), 20, edge.error_log)
    log(f"edge: {edge.url} (TLS 1.3; trust {edge.ca}, e.g. curl --cacert)")
