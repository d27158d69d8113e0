# The two set-up commands of the README, plus the developer's helpers.
# Every target installs what it is missing first, so a fresh Debian machine works.

VENV   ?= .venv
# Debian's python3 when there is one: www-data (the uWSGI user of `make run` as root and
# of the service) can run it, unlike a Python installed under a private home.
PYTHON ?= $(firstword $(wildcard /usr/bin/python3) python3)
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: run dev test lint bench clean

# The virtualenv is rebuilt only when pyproject.toml changes.
$(STAMP): pyproject.toml
	deploy/bootstrap $(if $(filter /usr/bin/python3,$(PYTHON)),system-python,python)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# No wheel cache: a uWSGI built earlier for another Python would link that one.
	$(BIN)/pip install -q --no-cache-dir -e '.[test]'
	touch $@

# The production stack in the foreground: nginx on 127.0.0.1 (GATEWAY_PORT) -> uWSGI.
run: $(STAMP)
	deploy/bootstrap serve
	GATEWAY_VENV=$(VENV) deploy/run

# Werkzeug's dev server with reloader, debugger and the toolbar on both apps (port 5000).
dev: $(STAMP)
	$(BIN)/gateway run

lint: $(STAMP)
	$(BIN)/ruff check gateway frontend_app backend_app tests bench deploy
	$(BIN)/ruff format --check gateway frontend_app backend_app tests bench deploy
	$(BIN)/mypy gateway frontend_app backend_app tests bench
	$(BIN)/lint-imports --no-cache

# The integration tests run real nginx, uWSGI (PyPI's in .venv, Debian's for the installed
# service) and load generators, all installed here when missing.
test: lint
	deploy/bootstrap serve service system-python test
	$(BIN)/pytest

# The served stack beside its references (wrk, ab), written to BENCHMARKS.md; about 6 min,
# BENCH_QUICK=1 about 2.
bench: $(STAMP)
	deploy/bootstrap serve test
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
