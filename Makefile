# The README's two commands: `make demo` and `make test`. Each creates the virtual
# environment on first use (and again whenever pyproject.toml or constraints.txt change).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt
DEMO_STAMP := $(VENV)/.stamp-demo
DEV_STAMP := $(VENV)/.stamp-dev
BENCH_STAMP := $(VENV)/.stamp-bench

.PHONY: demo test lint typecheck pytest chromium bench clean

demo: $(DEMO_STAMP)
	$(BIN)/devora demo

test: $(DEV_STAMP) lint typecheck pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/lint-imports

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP) chromium
	$(BIN)/pytest

# The dashboard's browser test drives Debian's chromium through Playwright (never
# `playwright install`, which downloads). Installed here when missing and running as root;
# otherwise the test says why it skips, and fails under CI=true.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update && apt-get install -y chromium; \
	  else \
	    echo "chromium is missing (apt-get install chromium): the dashboard's browser test skips, or fails under CI=true"; \
	  fi; }

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/llm_overhead.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip

$(DEMO_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(PIP_INSTALL) -e '.[all]'
	touch $@

$(DEV_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(PIP_INSTALL) -e '.[dev]'
	touch $@ $(DEMO_STAMP)

$(BENCH_STAMP): $(DEV_STAMP)
	$(PIP_INSTALL) -e '.[dev,bench]'
	touch $@

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
