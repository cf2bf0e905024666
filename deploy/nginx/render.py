"""Renders the nginx edge (deploy/nginx/templates) for Debian's nginx on this machine.

The templates use envsubst semantics, exactly as the official nginx image applies them
in docker-compose.yml: only ``${SNAPFIX_EDGE_*}`` is replaced, nginx's own ``$vars``
stay. This module also makes the local certificate authority and the edge's
certificate (openssl), and builds the nginx command line. Used by deploy/local/stack.py
(``up --edge``) and by tests/e2e/test_edge.py; by hand:

    python deploy/nginx/render.py --state .stack/edge --gateway 127.0.0.1:8000 --gateway 127.0.0.1:8010
    nginx -p .stack/edge -c .stack/edge/nginx.conf -g 'daemon off;'
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
_VARIABLE = re.compile(r"\$\{(SNAPFIX_EDGE_[A-Z0-9_]+)\}")

# Passive health checks of each gateway replica: two errors or timeouts within 10 s take
# it out for 10 s, then one real request probes it (retried elsewhere if it fails).
# docker-compose.yml spells the same parameters in SNAPFIX_EDGE_GATEWAYS.
MAX_FAILS = 2
FAIL_TIMEOUT = "10s"


class RenderError(RuntimeError):
    """A template names a variable that was not given, or openssl/nginx failed."""


def substitute(template: str, values: Mapping[str, str]) -> str:
    """``${SNAPFIX_EDGE_X}`` -> ``values["SNAPFIX_EDGE_X"]``; a missing one is an error, not an empty string."""
    missing = sorted({name for name in _VARIABLE.findall(template) if name not in values})
    if missing:
        raise RenderError(f"no value for {', '.join(missing)}")
    return _VARIABLE.sub(lambda m: values[m.group(1)], template)


def upstream_servers(gateways: Sequence[str]) -> str:
    """The ``server`` lines of the gateway upstream, one per replica (``host:port``)."""
    return " ".join(f"server {g} max_fails={MAX_FAILS} fail_timeout={FAIL_TIMEOUT};" for g in gateways)


@dataclass(frozen=True)
class Edge:
    """One rendered edge: its folder, listen ports and the CA clients must trust."""

    state: Path
    https_port: int
    http_port: int
    purge_port: int
    ca: Path

    @property
    def conf(self) -> Path:
        return self.state / "nginx.conf"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def access_log(self) -> Path:
        return self.state / "access.log"

    @property
    def error_log(self) -> Path:
        return self.state / "error.log"

    def command(self, nginx: str | None = None) -> list[str]:
        """Runs in the foreground (the caller owns the process), with this folder as its prefix."""
        binary = nginx or shutil.which("nginx") or "/usr/sbin/nginx"
        return [binary, "-p", str(self.state), "-c", str(self.conf), "-g", "daemon off;"]


def render(
    state: Path,
    *,
    gateways: Sequence[str],
    https_port: int,
    http_port: int,
    purge_port: int,
    rate: str = "200r/s",
    burst: int = 400,
    bind: str = "127.0.0.1",
) -> Edge:
    """Writes nginx.conf and snapfix.conf (and, once, the certificates) into ``state``."""
    if not gateways:
        raise RenderError("at least one gateway replica is needed")
    state.mkdir(parents=True, exist_ok=True)
    # nginx workers run as an unprivileged user when started as root: they must reach this folder.
    state.chmod(0o755)
    ca, cert, key = certificates(state / "tls")
    values = {
        "SNAPFIX_EDGE_GATEWAYS": upstream_servers(gateways),
        "SNAPFIX_EDGE_HTTPS_LISTEN": f"{bind}:{https_port}",
        "SNAPFIX_EDGE_HTTP_LISTEN": f"{bind}:{http_port}",
        "SNAPFIX_EDGE_PURGE_LISTEN": f"127.0.0.1:{purge_port}",
        "SNAPFIX_EDGE_PUBLIC_URL": f"https://{bind}:{https_port}",
        "SNAPFIX_EDGE_CERT": str(cert),
        "SNAPFIX_EDGE_KEY": str(key),
        "SNAPFIX_EDGE_STATE": str(state),
        "SNAPFIX_EDGE_CONF_DIR": str(state),
        "SNAPFIX_EDGE_RATE": rate,
        "SNAPFIX_EDGE_BURST": str(burst),
        "SNAPFIX_EDGE_ACCESS_LOG": str(state / "access.log"),
        "SNAPFIX_EDGE_ERROR_LOG": str(state / "error.log"),
    }
    for name in ("nginx.conf", "snapfix.conf"):
        text = substitute((TEMPLATES / f"{name}.template").read_text(), values)
        (state / name).write_text(text)
    return Edge(state, https_port, http_port, purge_port, ca)


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60)
    if result.returncode != 0:
        raise RenderError(f"openssl {args[0]} failed: {result.stderr.strip()[-2000:]}")


def certificates(folder: Path, hosts: Sequence[str] = ("localhost", "127.0.0.1", "::1")) -> tuple[Path, Path, Path]:
    """A local CA and a server certificate it signed for ``hosts`` (kept once made): (ca, cert, key).

    A separate CA (rather than one self-signed leaf) is what strict verifiers accept:
    the CA has keyUsage keyCertSign, the leaf is CA:FALSE with serverAuth and the SANs.
    """
    ca, ca_key, cert, key = (folder / n for n in ("ca.pem", "ca-key.pem", "edge.pem", "edge-key.pem"))
    if ca.exists() and cert.exists() and key.exists():
        return ca, cert, key
    if shutil.which("openssl") is None:
        raise RenderError("openssl is not on PATH (Debian package openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl(
        "req", "-x509", *ec, "-keyout", ca_key.name, "-out", ca.name, "-days", "825",
        "-subj", "/CN=SnapFix local edge CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    san = ",".join(f"IP:{h}" if re.fullmatch(r"[0-9.:]+", h) else f"DNS:{h}" for h in hosts)
    (folder / "edge.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName={san}\n"
    )
    _openssl("req", "-new", *ec, "-keyout", key.name, "-out", "edge.csr", "-subj", f"/CN={hosts[0]}", cwd=folder)
    _openssl(
        "x509", "-req", "-in", "edge.csr", "-CA", ca.name, "-CAkey", ca_key.name, "-CAcreateserial",
        "-out", cert.name, "-days", "397", "-extfile", "edge.ext",
        cwd=folder,
    )  # fmt: skip
    for private in (ca_key, key):
        private.chmod(0o600)
    return ca, cert, key


def check(edge: Edge, nginx: str | None = None) -> None:
    """``nginx -t`` on the rendered configuration."""
    result = subprocess.run(
        [*edge.command(nginx)[:-2], "-t", "-q"], capture_output=True, text=True, check=False, timeout=30
    )
    if result.returncode != 0:
        raise RenderError(f"nginx -t failed for {edge.conf}:\n{result.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", type=Path, required=True, help="writable folder for the rendered edge")
    parser.add_argument("--gateway", action="append", required=True, help="host:port of a gateway replica")
    parser.add_argument("--https-port", type=int, default=8443)
    parser.add_argument("--http-port", type=int, default=8080)
    parser.add_argument("--purge-port", type=int, default=8081)
    parser.add_argument("--rate", default="200r/s")
    parser.add_argument("--burst", type=int, default=400)
    args = parser.parse_args()
    edge = render(
        args.state.resolve(),
        gateways=args.gateway,
        https_port=args.https_port,
        http_port=args.http_port,
        purge_port=args.purge_port,
        rate=args.rate,
        burst=args.burst,
    )
    check(edge)
    print(f"rendered {edge.conf}; clients trust {edge.ca}; run: {' '.join(edge.command())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
