# xbar-dse: `make run` starts the service, `make test` runs the test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export XBAR_DATABASE_URL ?= sqlite:///./xbar.db

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/alembic upgrade head
	$(VENV)/bin/xbar serve --no-migrate

test: install
	$(VENV)/bin/pytest -q -ra --durations=15

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) bench/simulator.py --quick
	$(VENV)/bin/xbar bench optimizer --quick

clean:
	rm -rf $(VENV) xbar.db xbar.db-wal xbar.db-shm .pytest_cache
