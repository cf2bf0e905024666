# SnapFix: the documented entry points. `make run` and `make test` do all set-up themselves.
SHELL := /bin/bash
STACK := uv run --frozen python deploy/local/stack.py
PROFILE ?= run

.PHONY: asyncapi openapi help install run stop stack-up stack-down stack-status lint typecheck imports compose-check check test test-unit test-deploy bench chaos

help:
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/'

install: ## Install uv, Debian packages and the Python workspace
	@deploy/local/install.sh

run: install ## Start the local stack and all five processes, then print the URLs
	@$(STACK) up --profile run --apps

stop: ## Stop everything `make run` started
	@$(STACK) down --profile run

stack-up: install ## Start Kafka, FerretDB and Redis (PROFILE=run|test, KAFKA_NODES=1|3)
	@$(STACK) up --profile $(PROFILE) $(if $(KAFKA_NODES),--kafka-nodes $(KAFKA_NODES))

stack-down: ## Stop the local stack of PROFILE
	@$(STACK) down --profile $(PROFILE)

stack-status: ## Show what runs in the local stack of PROFILE
	@$(STACK) status --profile $(PROFILE)

lint: ## ruff lint and format check
	uv run --frozen ruff check .
	uv run --frozen ruff format --check .

typecheck: ## mypy (strict for shared/)
	uv run --frozen mypy

imports: ## import-linter: services and gateway never import each other; shared imports none of them
	uv run --frozen lint-imports

compose-check: ## Validate docker-compose.yml (no Docker engine needed)
	SNAPFIX_JWT_SECRET=compose-check-placeholder SNAPFIX_UPLOAD_SECRET=compose-check-placeholder SNAPFIX_UNSUBSCRIBE_SECRET=compose-check-placeholder SNAPFIX_PSEUDONYM_SECRET=compose-check-placeholder SNAPFIX_INTERNAL_TOKEN_SECRET=compose-check-placeholder SNAPFIX_LINK_SEAL_KEY=compose-check-placeholder docker-compose -f docker-compose.yml config -q

check: lint typecheck imports compose-check

test: install ## Install, start the test stack, run every check and test tier, stop what was started
	@deploy/local/test.sh

test-unit: install ## Unit tests only (no stack)
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
