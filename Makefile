# Two commands: `make run` serves the product, `make test` runs the suite.
# Both create the virtual environment from requirements.lock when it is missing.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format lock bench faults

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(PY) manage.py run_platform

test: $(STAMP)
	CHROMIUM_PATH="$$(scripts/find-chromium)" $(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Refresh the lock after changing pyproject.toml's pins.
lock: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | grep -v '^uv==' > requirements.lock

# Benchmark and fault runs: not part of the suite. Each starts its own PostgreSQL and
# Redis on loopback ports (18700-18799) and removes them; results on stdout, progress on
# stderr. BENCH_ARGS=--quick or FAULTS_ARGS="--quick worker-kill" for shorter runs.
bench: $(STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

faults: $(STAMP)
	$(PY) bench/faults.py $(FAULTS_ARGS)
