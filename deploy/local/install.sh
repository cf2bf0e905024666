#!/usr/bin/env bash
# Installs what SnapFix needs on a fresh machine: uv, the Debian packages (Redis,
# PostgreSQL as FerretDB's backend, docker-compose for validating the compose file,
# Chromium for the web app's browser tests) and the Python workspace from uv.lock.
# Node.js 20.19+ with npm (the web app's build) must be there already.
# Kafka (Maven) and FerretDB (Go) are fetched and built by stack.py when first started.
set -euo pipefail
cd "$(dirname "$0")/../.."

step() { echo "[install] $*"; }
fail() { echo "[install] FAILED: $*" >&2; exit 1; }

for tool in java mvn go; do
  command -v "$tool" >/dev/null || fail "'$tool' is not on PATH (this machine kind ships OpenJDK 17, Maven and Go)"
done
# The web app (web/, Vite) builds with Node.js 20.19 or later and npm.
command -v node >/dev/null || fail "'node' is not on PATH: the web app needs Node.js 20.19+ with npm"
command -v npm >/dev/null || fail "'npm' is not on PATH: the web app needs Node.js 20.19+ with npm"
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' \
  || fail "Node.js $(node --version) is too old: the web app (Vite) needs Node.js 20.19+"

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
# PostgreSQL: FerretDB's backend for `make run` (stack.py runs a server of its own; Debian keeps
# the server's programs in /usr/lib/postgresql/<major>/bin, off PATH).
compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || missing+=(postgresql)
command -v docker-compose >/dev/null || missing+=(docker-compose)
# nginx: the TLS edge in front of the gateways (tests/e2e/test_edge.py, `stack.py up --edge`);
# openssl makes its local certificates.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v openssl >/dev/null || missing+=(openssl)
# promtool (from Debian's prometheus package) checks and unit-tests the alert rules in make test.
command -v promtool >/dev/null || missing+=(prometheus)
# Chromium: the browser of the web app's browser tests (Debian's; never a Playwright download).
[ -x /usr/bin/chromium ] || missing+=(chromium)
# Noto's Devanagari faces: Hindi screens render (and are screenshotted) in the browser tests.
[ -e /usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf ] || missing+=(fonts-noto-core)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "need root to apt-get install ${missing[*]}"
  step "apt-get install ${missing[*]}"
  apt-get update -qq || fail "apt-get update"
  # The packages' own services (nginx on port 80, a system Redis, PostgreSQL's "main" cluster)
  # must not start: the stack runs its own instances on its own ports. policy-rc.d 101 = "do not start".
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1
  fi
  status=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  [ "$own_policy" = 1 ] && rm -f "$policy"
  [ "$status" = 0 ] || fail "apt-get install ${missing[*]}"
fi

if ! command -v uv >/dev/null; then
  step "pip install uv"
  python3 -m pip install -q 'uv>=0.5' || fail "pip install uv"
fi

# kustomize renders deploy/k8s overlays in make test: built from the Go module proxy into
# the ignored .stack/artifacts/bin (the version is in the file name, so a bump rebuilds it).
KUSTOMIZE_VERSION=v5.8.2  # v5.8.3 needs Go 1.27
tools_bin="${SNAPFIX_STACK_DIR:-.stack}/artifacts/bin"
if [ ! -x "$tools_bin/kustomize-$KUSTOMIZE_VERSION" ]; then
  step "go install kustomize $KUSTOMIZE_VERSION (Go module proxy)"
  mkdir -p "$tools_bin"
  gobin=$(mktemp -d)
  (cd "$gobin" && CGO_ENABLED=0 GOBIN="$gobin" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION") \
    || fail "go install sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  mv "$gobin/kustomize" "$tools_bin/kustomize-$KUSTOMIZE_VERSION"
  rm -rf "$gobin"
fi
ln -sf "kustomize-$KUSTOMIZE_VERSION" "$tools_bin/kustomize"

# Strimzi's CRD validators (npm, generated from Strimzi's published CRDs) for the same checks.
validators="${SNAPFIX_STACK_DIR:-.stack}/artifacts/strimzi-validators"
validators_src=deploy/k8s/schemas/strimzi
if ! cmp -s "$validators_src/package-lock.json" "$validators/.lock-stamp"; then
  command -v npm >/dev/null || fail "'npm' is not on PATH (this machine kind ships Node.js and npm)"
  step "npm ci Strimzi CRD validators (npm registry)"
  rm -rf "$validators" && mkdir -p "$validators"
  cp "$validators_src/package.json" "$validators_src/package-lock.json" "$validators/"
  (cd "$validators" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || fail "npm ci (Strimzi CRD validators)"
  cp "$validators_src/package-lock.json" "$validators/.lock-stamp"
fi
cp "$validators_src/validate.mjs" "$validators/validate.mjs"

step "uv sync (Python workspace from uv.lock)"
uv sync --frozen --all-packages -q || fail "uv sync --frozen"
