# The two commands: `make run` runs the whole platform, `make test` passes the tests.
# Both set everything up from a fresh clone and are safe to run again.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test setup setup-test lint format loadtest benchmark clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)
	$(PY) -m scripts.setup

setup-test: $(STAMP)
	$(PY) -m scripts.setup --test

run: setup
	$(PY) -m scripts.run

test: setup-test
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

loadtest: $(STAMP)
	$(PY) -m loadtest

benchmark: setup-test
	$(PY) -m pytest -m benchmark -s tests/benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
