# One image recipe for the five SnapFix processes, chosen with the build argument SERVICE:
#
#     docker build --build-arg SERVICE=issues -t snapfix-issues .
#
# SERVICE is one of: gateway | issues | media | notify | analytics.
# The builder stage resolves the committed uv.lock into /app/.venv (only what the chosen
# workspace member needs, installed as ordinary wheels, not editable); the web stage builds
# the web app (web/, `npm ci && npm run build`) for the gateway, which serves it; the runtime
# stage is the bare Python image plus that venv (and the app's files), run by an unprivileged user.

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:22-bookworm-slim

# --------------------------------------------------------------------------- web
FROM ${NODE_IMAGE} AS web

ARG SERVICE=gateway
WORKDIR /web
# Dependencies first (from the committed lock file): rebuilt only when it changes.
COPY web/package.json web/package-lock.json ./
RUN if [ "${SERVICE}" = gateway ]; then npm ci --no-audit --no-fund --loglevel=error; fi
COPY web/ ./
# Only the gateway serves the app; the other images get an empty folder.
RUN if [ "${SERVICE}" = gateway ]; then npm run build && test -f dist/index.html; else mkdir -p dist; fi

# --------------------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Declared after the uv install so that layer is shared by all five services.
ARG SERVICE=gateway
RUN case "${SERVICE}" in \
      gateway|issues|media|notify|analytics) ;; \
      *) echo "SERVICE must be gateway|issues|media|notify|analytics, got '${SERVICE}'" >&2; exit 1 ;; \
    esac

# 1) Third-party dependencies only, from the workspace manifests and the lock file:
#    this layer is rebuilt only when a pyproject.toml or uv.lock changes.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/
COPY gateway/pyproject.toml gateway/
COPY services/issues/pyproject.toml services/issues/
COPY services/media/pyproject.toml services/media/
COPY services/notify/pyproject.toml services/notify/
COPY services/analytics/pyproject.toml services/analytics/
COPY cli/pyproject.toml cli/
RUN uv sync --frozen --no-dev --no-install-workspace --package "snapfix-${SERVICE}"

# 2) The workspace members themselves, as regular (non-editable) installs so the runtime
#    stage needs nothing but the venv.
COPY shared/src shared/src
COPY gateway/src gateway/src
COPY services/issues/src services/issues/src
COPY services/media/src services/media/src
COPY services/notify/src services/notify/src
COPY services/analytics/src services/analytics/src
COPY cli/src cli/src
RUN uv sync --frozen --no-dev --no-editable --package "snapfix-${SERVICE}" \
 && /app/.venv/bin/python -c "import importlib; importlib.import_module('snapfix_${SERVICE}')"

# --------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

ARG SERVICE=gateway

RUN groupadd --system --gid 10001 snapfix \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin snapfix

# Owned by root and read-only for the service user; bytecode is precompiled.
COPY --from=builder /app/.venv /app/.venv
# The built web app (index.html, assets/), served by the gateway (SNAPFIX_WEB_DIST; the others ignore it).
COPY --from=web /web/dist /app/web

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SNAPFIX_SERVICE=${SERVICE} \
    SNAPFIX_HTTP_HOST=0.0.0.0 \
    SNAPFIX_WEB_DIST=/app/web \
    OTEL_SERVICE_NAME=snapfix-${SERVICE}

WORKDIR /app
USER 10001:10001

# Each service has its own default port (gateway 8000, issues 8001, media 8002,
# notify 8003, analytics 8004); SNAPFIX_HTTP_PORT overrides it.
EXPOSE 8000 8001 8002 8003 8004

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; ports = {'gateway': 8000, 'issues': 8001, 'media': 8002, 'notify': 8003, 'analytics': 8004}; port = os.environ.get('SNAPFIX_HTTP_PORT') or ports[os.environ['SNAPFIX_SERVICE']]; urllib.request.urlopen(f'http://127.0.0.1:{port}/livez', timeout=4)"]

STOPSIGNAL SIGTERM
# exec: the Python process is PID 1 and receives SIGTERM for its graceful shutdown.
CMD ["sh", "-c", "exec python -m \"snapfix_${SNAPFIX_SERVICE}\""]
