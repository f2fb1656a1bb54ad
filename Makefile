# The two commands a newcomer needs: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENDOR := src/chanye/web/static/vendor
PY_STAMP := $(VENV)/.installed
ASSET_STAMP := $(VENDOR)/.installed
PIP := $(BIN)/pip --disable-pip-version-check -q

.PHONY: run test bench lint install clean

install: $(PY_STAMP) $(ASSET_STAMP)

$(PY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[dev]'
	touch $@

# Front-end libraries come from the npm registry at install time and are served locally.
$(ASSET_STAMP): frontend/package.json frontend/package-lock.json
	npm ci --prefix frontend --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp frontend/node_modules/echarts/dist/echarts.min.js $(VENDOR)/
	cp frontend/node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/
	cp frontend/node_modules/swagger-ui-dist/swagger-ui-bundle.js $(VENDOR)/
	cp frontend/node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/
	touch $@

run: install
	$(BIN)/chanye demo

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src benchmarks
	$(BIN)/lint-imports --no-cache

test: lint
	@command -v chromium >/dev/null || echo "NOTE: no chromium on this machine: the browser tests will be skipped (apt-get install chromium)."
	# The suite starts `chanye` as a process a few hundred times: compile the sources once, so that
	# no start-up compiles them again where PYTHONDONTWRITEBYTECODE is set.
	$(BIN)/python -m compileall -q src >/dev/null
	# Two processes, each test file in one of them (its fixtures and servers stay together).
	$(BIN)/pytest -n 2 --dist loadfile

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(VENDOR) frontend/node_modules .chanye .pytest_cache .mypy_cache .ruff_cache
