# Zephyr: `make run` starts the system, `make test` runs every test. Both set themselves up.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif

.PHONY: help bootstrap services browser run deploy migrate test lint typecheck unit e2e fault soak \
	bench bench-quick docs audit clean

help:
	@echo "make run          install, migrate, start the four services (Ctrl-C stops them)"
	@echo "make deploy       rolling update of the running \`make run\` to the code checked out now"
	@echo "make test         install, lint, type-check and run every test"
	@echo "make bench        full benchmark suite (writes bench/results/*.json)"
	@echo "make bench-quick  every benchmark scenario, small"
	@echo "make soak         the fault suite with a long load (ZEPHYR_SOAK=1)"
	@echo "make audit        vulnerability scan of the locked dependencies (pip-audit)"
	@echo "make docs         regenerate docs/asyncapi, docs/ws-frames.schema.json, docs/openapi.json"

bootstrap:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		python3 -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --all-packages --locked --quiet

services:
	@bash infra/scripts/ensure_services.sh

# Debian's Chromium for the browser tests (tests/browser/); installed when missing.
browser:
	@bash infra/scripts/ensure_browser.sh

migrate: bootstrap services
	@$(UV) run --no-sync python infra/scripts/devstack.py migrate

run: bootstrap services
	@$(UV) run --no-sync python infra/scripts/devstack.py run

# One service at a time, each checked (ready, smoke check) before the old one drains; rolls
# back by itself on a failure (docs/operations.md, "Rolling update"). DEPLOY_ARGS, e.g.
# "--only ws-gateway --env ws-gateway:WS_GATEWAY_LOG_LEVEL=DEBUG".
deploy: bootstrap
	@$(UV) run --no-sync python infra/scripts/deploy.py $(DEPLOY_ARGS)

lint: bootstrap
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .

typecheck: bootstrap
	$(UV) run --no-sync mypy

test: bootstrap services browser lint typecheck
	@bash infra/scripts/ensure_prometheus.sh
	@bash infra/scripts/ensure_actionlint.sh
	$(UV) run --no-sync pytest

e2e: bootstrap services
	$(UV) run --no-sync pytest -m e2e

fault: bootstrap services
	$(UV) run --no-sync pytest -m fault -s

soak: bootstrap services
	ZEPHYR_SOAK=1 $(UV) run --no-sync pytest -m fault -s

# Benchmarks (docs/performance.md): the real services on private resources, load from
# 127.0.0.1. `bench` writes bench/results/*.json (medians of BENCH_REPEAT runs); `bench-quick`
# runs every scenario small (CI) into .run/bench-quick/. HAProxy is installed if missing.
BENCH_REPEAT ?= 3
bench: bootstrap services
	$(UV) run --no-sync python -m bench.run --repeat $(BENCH_REPEAT)
	$(UV) run --no-sync python -m bench.report --update-doc

bench-quick: bootstrap services
	$(UV) run --no-sync python -m bench.run --quick

# Known vulnerabilities in uv.lock (pip-audit, strict); the audit workflow runs it on PRs and daily.
audit: bootstrap
	@UV="$(UV)" bash infra/scripts/audit.sh

# The AsyncAPI, WebSocket frame and OpenAPI documents in docs/, generated from the code.
docs: bootstrap
	$(UV) run --no-sync python infra/scripts/gen_docs.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache .run
