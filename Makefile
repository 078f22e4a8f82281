# The two commands: `make run` runs the whole platform, `make test` passes the tests.
# Both set everything up from a fresh clone and are safe to run again.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The exact versions the suite passed with (every dependency, dev tools included); `make lock`
# refreshes it from the ranges in pyproject.toml.
LOCK := requirements.lock
LOCK_VENV := .lock-venv

.PHONY: run test setup setup-test lint format loadtest benchmark lock clean

$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check  # a dependency in pyproject.toml that the lock lacks fails here
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

# Against a RUNNING stack (`make run`): `make loadtest PROFILE=promotion USERS=200 RUN_TIME=60`.
# PROFILE is day (default), promotion or mixed; the others default to the profile's own;
# RATE caps the tasks per second in all; OUT keeps the CSV, HTML report and plot there.
PROFILE ?= day
LOADTEST_ARGS = --profile $(PROFILE) $(if $(USERS),--users $(USERS)) \
	$(if $(SPAWN_RATE),--spawn-rate $(SPAWN_RATE)) $(if $(RUN_TIME),--run-time $(RUN_TIME)) \
	$(if $(RATE),--rate $(RATE)) $(if $(OUT),--out-dir $(OUT))
loadtest: $(STAMP)
	$(PY) -m loadtest $(LOADTEST_ARGS)

# The read benchmark drives its load with wrk (Debian's package), installed here when missing;
# the mixed load (tests/benchmarks/test_mixed_load.py) with Locust, profile mixed.
benchmark: setup-test
	command -v wrk >/dev/null || apt-get install -y -q wrk || (apt-get update -q && apt-get install -y -q wrk)
	$(PY) -m pytest -m benchmark -s -p no:randomly tests/benchmarks

# The newest versions pyproject.toml allows, resolved in a throw-away virtualenv and pinned.
# Then `make test` (it reinstalls from the new lock) and commit the lock if it passes.
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet -e '.[dev]'
	{ echo "# Written by make lock from pyproject.toml: refresh with make lock, do not edit."; \
	  $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable; } > $(LOCK)
	rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) $(LOCK_VENV) .pytest_cache .ruff_cache
