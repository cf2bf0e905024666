# SnapFix: the documented entry points. `make run` and `make test` do all set-up themselves (install:
# root for apt-get); `make venv` is the Python workspace alone, with no root: lint, typecheck, imports
# and test-unit need only that.
SHELL := /bin/bash
STACK := uv run --frozen python deploy/local/stack.py
PROFILE ?= run

.PHONY: asyncapi openapi help venv install run demo stop stack-up stack-down stack-status lint typecheck imports compose-check check test test-unit test-deploy bench chaos

help: ## List the targets and what each does
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

venv: ## The Python workspace from uv.lock into .venv, no root needed (uv from PyPI with pip --user when missing)
	@command -v uv >/dev/null || python3 -m pip install --user -q 'uv>=0.5' \
	  || { echo "venv: uv is missing and pip could not install it: see https://docs.astral.sh/uv/ (e.g. pipx install uv)" >&2; exit 1; }
	@command -v uv >/dev/null || { echo "venv: uv was installed into ~/.local/bin: put it on PATH and run make again" >&2; exit 1; }
	uv sync --frozen --all-packages --all-groups

install: ## Install uv, Debian packages and the Python workspace
	@deploy/local/install.sh

run: install ## Start the local stack and all five processes, then print the URLs
	@$(STACK) up --profile run --apps

demo: ## Seed a demo city (Bengaluru, ~5,000 reports over 90 days) into the running stack (make run first)
	@uv run --frozen python deploy/local/demo.py --profile $(PROFILE) $(DEMO_ARGS)

stop: ## Stop everything `make run` started
	@$(STACK) down --profile run

stack-up: install ## Start Kafka, FerretDB and Redis (PROFILE=run|test, KAFKA_NODES=1|3)
	@$(STACK) up --profile $(PROFILE) $(if $(KAFKA_NODES),--kafka-nodes $(KAFKA_NODES))

stack-down: ## Stop the local stack of PROFILE
	@$(STACK) down --profile $(PROFILE)

stack-status: ## Show what runs in the local stack of PROFILE
	@$(STACK) status --profile $(PROFILE)

lint: venv ## ruff lint and format check
	uv run --frozen ruff check .
	uv run --frozen ruff format --check .

typecheck: venv ## mypy (strict for shared/)
	uv run --frozen mypy

imports: venv ## import-linter: services and gateway never import each other; shared imports none of them
	uv run --frozen lint-imports

compose-check: ## Validate docker-compose.yml (no Docker engine needed)
	SNAPFIX_JWT_SECRET=compose-check-placeholder SNAPFIX_UPLOAD_SECRET=compose-check-placeholder SNAPFIX_UNSUBSCRIBE_SECRET=compose-check-placeholder SNAPFIX_PSEUDONYM_SECRET=compose-check-placeholder SNAPFIX_INTERNAL_TOKEN_SECRET=compose-check-placeholder SNAPFIX_LINK_SEAL_KEY=compose-check-placeholder docker-compose -f docker-compose.yml config -q

check: lint typecheck imports compose-check ## All static checks: lint, typecheck, imports, compose-check

test: install ## Install, start the test stack, run every check and test tier, stop what was started
	@deploy/local/test.sh

test-unit: venv ## Unit tests only (no stack, no root: the Python workspace and openssl)
	uv run --frozen pytest -m unit

test-deploy: install ## Offline checks of deploy/ (kustomize overlays vs Kubernetes schemas, promtool rules and tests, dashboard)
	uv run --frozen pytest -m deploy

bench: install ## Benchmarks; results under bench/results/
	@deploy/local/bench.sh

chaos: install ## Fault suite (brokers, consumers, Redis, the store, a gateway killed under load); CHAOS_FAULTS="broker notify" for a subset; results in bench/results/chaos.md
	@deploy/local/chaos.sh

asyncapi: ## Regenerate docs/asyncapi.yaml (the topics and their contracts) from the code
	uv run --frozen python -m snapfix_shared.asyncapi > docs/asyncapi.yaml

openapi: ## Regenerate docs/openapi.json (the gateway's HTTP API, with what the edge answers) from the code
	uv run --frozen python -m snapfix_gateway.openapi docs/openapi.json
