# The two commands: `make run` (the service on its embedded defaults) and `make test`.
# `make db` prepares the local PostgreSQL that `make test` uses (role and database `test`).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
STAMP  := $(VENV)/.installed
# -qq: pip's own progress and this machine's index notices are noise for a first run; errors show.
PIP    := $(VENV)/bin/pip install -qq

.PHONY: run test bench db clean

$(STAMP): pyproject.toml setup.py Makefile sip/media/_core.c
	@echo "cti: installing into $(VENV) (first run only, about a minute)"
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) --upgrade pip
	@$(PIP) -e '.[test,fast]'
	@touch $(STAMP)

run: $(STAMP)
	@$(VENV)/bin/cti db upgrade
	@$(VENV)/bin/cti serve

# Two worker processes, a test file's tests together: most of the suite waits on real peers,
# browsers and timers (one process: 13 min on a slow 2-core machine, two: 7.6 min).
test: $(STAMP)
	$(VENV)/bin/pytest -n 2 --dist loadfile

bench: $(STAMP)
	for b in bench/bench_*.py; do $(VENV)/bin/python $$b || exit 1; done

db:
	@sh tests/postgres-test-db.sh

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
