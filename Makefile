# Two commands do all set-up: `make run` and `make test` create .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCREENSHOTS := build/screenshots

.PHONY: run test lint screenshots bench-ingest bench-dashboard clean

# tierwatch depends on tierwatch-sdk: it is installed from sdk/ first, so pip finds it satisfied.
$(STAMP): pyproject.toml sdk/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./sdk
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The demo: server on SQLite, a simulated fleet with a scheduled degradation, an alert hook.
run: $(STAMP)
	$(BIN)/tierwatch demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# The browser tests write their screenshots to build/; this copies a fresh set into docs/.
screenshots: $(STAMP)
	rm -rf $(SCREENSHOTS)
	$(BIN)/pytest tests/dashboard/test_browser.py
	cp $(SCREENSHOTS)/*.png docs/screenshots/

bench-ingest: $(STAMP)
	$(BIN)/python benchmarks/ingest.py --backend sqlite
	$(BIN)/python benchmarks/ingest.py --backend postgresql

# The overview in headless Chromium over 10 million attempts (Debian's chromium and chromium-driver).
bench-dashboard: $(STAMP)
	$(BIN)/python benchmarks/dashboard.py --backend sqlite

clean:
	rm -rf $(VENV) build *.egg-info sdk/build sdk/src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
