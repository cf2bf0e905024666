"""The deployed edge for a benchmark phase: Debian's nginx (deploy/nginx, TLS 1.3) in front of one gateway.

Rendered into a folder of its own with the shield's per-IP rate set out of the way (all the load
comes from one address); everything else (caching what the gateway marks public, keep-alive
to the upstream, compression) is the deployment's configuration as rendered for production.
"""

from __future__ import annotations

import contextlib
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.stack import free_port, load_script


@contextlib.contextmanager
def nginx_edge(gateway_url: str) -> Iterator[tuple[str, dict[str, int]]]:
    """nginx in front of ``gateway_url``: its https URL, and its master's pid (``bench.cpu`` pins
    and meters a process with its workers)."""
    render: Any = load_script("deploy/nginx/render.py", "snapfix_edge_render")
    state = Path(tempfile.mkdtemp(prefix="snapfix-bench-edge-"))  # not 0700: nginx's workers read it
    edge = render.render(
        state,
        gateways=[gateway_url.removeprefix("http://")],
        https_port=free_port(),
        http_port=free_port(),
        purge_port=free_port(),
        rate="1000000r/s",
        burst=1000000,
    )
    render.check(edge)
    with (state / "nginx.out").open("wb") as out:
        nginx = subprocess.Popen(edge.command(), stdout=out, stderr=subprocess.STDOUT)
    try:
        context = ssl.create_default_context(cafile=str(edge.ca))
        deadline = time.monotonic() + 15
        while not _healthy(edge.url, context):
            if nginx.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {(state / 'error.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield edge.url, {"nginx": nginx.pid}
    finally:
        nginx.terminate()
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
        shutil.rmtree(state, ignore_errors=True)


def _healthy(url: str, context: ssl.SSLContext) -> bool:
    try:
        return httpx.get(f"{url}/healthz", verify=context, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
