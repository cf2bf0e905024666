"""The five SnapFix processes, the web app they serve (built with npm) and the SMTP sink notify sends to."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .layout import APPS, HERE, WEB, Layout, external_smtp, local_secret
from .processes import StepFailed, http_ok, log, port_open, run_step, spawn, wait_until

NODE_MIN = (20, 19)  # Vite's floor (web/package.json "engines")


ADMIN_EMAIL = "admin@snapfix.example"  # a .local address is refused (special-use name)


def start_smtp_sink(layout: Layout) -> None:
    """Keeps every email notify sends as an .eml file under ``<profile>/mail/`` (nothing leaves the machine)."""
    if external_smtp():
        log(f"smtp: notify sends through {os.environ['NOTIFY_SMTP_HOST']} (NOTIFY_SMTP_HOST); no local sink")
        return
    home = layout.dir / "smtp-sink"
    mail = layout.dir / "mail"
    cmd = [sys.executable, str(HERE / "smtp_sink.py"), "--dir", str(mail), "--port", str(layout.smtp_port)]
    spawn("smtp-sink", cmd, home)
    wait_until("smtp sink start", lambda: port_open(layout.smtp_port), 30, home / "smtp-sink.log")
    log(f"smtp: every email is kept under {mail}")


def check_node() -> None:
    """Node.js >= 20.19 and npm, which build the web app."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if path is None)
        raise StepFailed(
            f"step 'web': {missing} not on PATH; the web app needs Node.js {'.'.join(map(str, NODE_MIN))}+ with npm"
        )
    found = subprocess.run([node, "--version"], check=False, capture_output=True, text=True, timeout=30).stdout.strip()
    try:
        version = tuple(int(part) for part in found.removeprefix("v").split(".")[:2])
    except ValueError:
        version = ()
    if version < NODE_MIN:
        need = ".".join(map(str, NODE_MIN))
        raise StepFailed(f"step 'web': Node.js {found or '?'} is too old; the web app (Vite) needs Node.js {need}+")


def newest_mtime(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        files = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def build_web() -> Path:
    """``npm ci`` when package-lock.json is newer than what node_modules was installed from, and
    ``npm run build`` when a source is newer than the last build. Returns the built app (web/dist)."""
    check_node()
    lock, installed = WEB / "package-lock.json", WEB / "node_modules" / ".package-lock.json"
    if not installed.exists() or lock.stat().st_mtime > installed.stat().st_mtime:
        run_step("web: npm ci", ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], WEB)
        installed.touch()  # npm keeps the file's time when nothing changed
    else:
        log("web: node_modules up to date with package-lock.json")
    dist = WEB / "dist"
    sources = [WEB / name for name in ("src", "public", "index.html", "package.json", "package-lock.json")]
    sources += [*WEB.glob("vite.config.*"), *WEB.glob("tsconfig*.json")]
    built = dist / "index.html"
    if built.exists() and built.stat().st_mtime >= newest_mtime([p for p in sources if p.exists()]):
        log(f"web: {dist} is newer than its sources")
    else:
        run_step("web: npm run build", ["npm", "run", "build"], WEB)
        built.touch()  # the build's time, whatever the bundler copied
    return dist


def start_apps(layout: Layout) -> None:
    web_dist = os.environ.get("SNAPFIX_WEB_DIST")
    if web_dist is None:
        web_dist = str(build_web())
    else:  # a build made elsewhere (or "" for none): served as it is
        log(f"web: SNAPFIX_WEB_DIST={web_dist!r} is served as it is (not built here)")
    start_smtp_sink(layout)
    home = layout.dir / "apps"
    gateway_url = f"http://127.0.0.1:{layout.app_port('gateway')}"
    identity = {
        "SNAPFIX_JWT_SECRET": local_secret(layout, "jwt-secret"),
        "SNAPFIX_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
        "SNAPFIX_BOOTSTRAP_ADMIN_PASSWORD": local_secret(layout, "admin-password"),
        "SNAPFIX_PUBLIC_BASE_URL": gateway_url,
        # The gateway serves the app; e-mailed links (gateway and notify) open its pages.
        "SNAPFIX_WEB_DIST": web_dist,
        "SNAPFIX_WEB_BASE_URL": gateway_url,
    }
    for app, (module, _) in APPS.items():
        env = {**layout.env(), "SNAPFIX_HTTP_PORT": str(layout.app_port(app)), "OTEL_SERVICE_NAME": f"snapfix-{app}"}
        if app == "gateway":
            env |= identity
        if app == "media":
            env["SNAPFIX_UPLOAD_SECRET"] = local_secret(layout, "upload-secret")
            if layout.s3:
                env["SNAPFIX_STORAGE_BACKEND"] = "s3"
        if app == "notify":  # links in emails point at the gateway; unsubscribe links are signed
            env["SNAPFIX_PUBLIC_BASE_URL"] = env["SNAPFIX_WEB_BASE_URL"] = gateway_url
            env["SNAPFIX_UNSUBSCRIBE_SECRET"] = local_secret(layout, "unsubscribe-secret")
        spawn(app, [sys.executable, "-m", module], home, env)
    for app in APPS:
        url = f"http://127.0.0.1:{layout.app_port(app)}/readyz"
        wait_until(f"{app} ready ({url})", lambda url=url: http_ok(url), 60, home / f"{app}.log")
