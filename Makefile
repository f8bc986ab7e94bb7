# feedbot's developer workflow. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFIG ?= config/feedbot.toml

.PHONY: help deps run test lint fmt bench check build clean constraints container-test docs

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

deps: $(STAMP) ## Create .venv and install the pinned dependencies

# rss-parser, the JavaScript feed reader tests/publish/test_naive_readers.py reads our feeds with
NODE_STAMP := tests/node/node_modules/.installed
$(NODE_STAMP): tests/node/package-lock.json
	npm ci --prefix tests/node --no-audit --no-fund --silent
	@touch $(NODE_STAMP)

run: $(STAMP) ## Start the daemon on seeds/ with config/feedbot.toml
	$(VENV)/bin/feedbot --config $(CONFIG) run

# Parallel pytest workers (pytest-xdist): the suite waits on daemons, servers and timers far
# more than it computes, so more workers than cores pays. One at a time: `make test WORKERS=0`.
WORKERS ?= 3

test: $(STAMP) $(NODE_STAMP) lint ## Lint, type-check and run the whole test suite (WORKERS parallel workers)
	$(PY) -m pytest -q -n $(WORKERS) --dist load --maxschedchunk 1

lint: $(STAMP) ## ruff (lint + format check) and mypy --strict
	$(VENV)/bin/ruff check feedbot tests bench
	$(VENV)/bin/ruff format --check feedbot tests bench
	$(VENV)/bin/mypy

fmt: $(STAMP) ## Format and autofix
	$(VENV)/bin/ruff format feedbot tests bench
	$(VENV)/bin/ruff check --fix feedbot tests bench

bench: $(STAMP) ## Run the benchmarks and print a table
	$(PY) -m bench

check: $(STAMP) ## Check every article in the index
	$(VENV)/bin/feedbot --config $(CONFIG) check

build: $(STAMP) ## Write the static site to site/
	$(VENV)/bin/feedbot --config $(CONFIG) build --out site

constraints: ## Re-pin constraints.txt from the current .venv (after changing pyproject.toml)
	$(PY) -m pip freeze --exclude-editable --disable-pip-version-check | grep -v '^feedbot' > constraints.txt

container-test: ## Build the image with podman and test the daemon in a container (root; installs podman on first use)
	$(PYTHON) tests/container/run_container.py

docs: $(STAMP) ## Regenerate docs/configuration.md from the settings model
	$(VENV)/bin/feedbot config-docs > docs/configuration.md

clean: ## Remove the venv, caches and local data
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis var site
