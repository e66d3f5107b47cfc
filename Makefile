# customer hub — the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_CONFIG := demo/hub.yaml

.PHONY: demo test install lint bench bench-scale chaos mutation coverage ui fakes clean lock

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11+ needed"'
	$(PYTHON) -m venv $(VENV) || { $(PYTHON) -m pip install --user -q virtualenv && $(PYTHON) -m virtualenv $(VENV); }

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,console,dagster,demo,spark]'
	@touch $@

install: $(STAMP)

# Legacy sources generated into demo/data, fake WeCom/DingTalk/Fxiaoke/Kingdee servers started (and
# stopped), every source of demo/hub.yaml run into warehouse/demo.duckdb.
demo: install
	BIN=$(BIN) scripts/demo.sh

test: install
	scripts/run-tests.sh

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,spark,bench]'
	$(BIN)/python -m bench
	$(BIN)/python -m bench.predict
	$(BIN)/python -m bench.bulk_sync --rows 1000000
	$(BIN)/python -m bench.spark_match --records 1000000
	$(BIN)/python -m bench.spark_b2b

# Runs at scale, the README's table (about 70 minutes on 2 cores, 16 GB of memory, 25 GB of disk): 1M, 3M and 10M
# records, first run, no-change, 1% changed, 0.1% deleted, the 1M on PostgreSQL too, Splink 5 on the same files.
bench-scale: install
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,spark,bench]'
	$(BIN)/python -m bench.scale --records 1000000,3000000,10000000 --postgres

chaos: install
	$(BIN)/python -m bench.chaos

# Mutation testing of the core modules (hours: not part of `make test`); one module:
# .venv/bin/python -m bench.mutation 'mdm.cluster*'. Score and survivors in docs/testing.md.
mutation: install
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,spark,mutation]'
	$(BIN)/python -m bench.mutation

# The test suite with line and branch coverage (a report, not a target).
coverage: install
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,spark,mutation]'
	scripts/coverage.sh

# The steward console and match API on http://127.0.0.1:8000 (add a user first:
# .venv/bin/hub users add -c demo/hub.yaml NAME --role admin).
ui: install
	$(BIN)/hub ui -c $(DEMO_CONFIG)

clean:
	rm -rf demo/data warehouse/*.duckdb warehouse/*.wal .pytest_cache mutants

lock: install
	$(BIN)/python -m pip install -q -e '.[dev,console,dagster,demo,spark,bench,mutation]'
	( echo "# Exact versions every install uses (pip install -c constraints.txt). Regenerate with: make lock"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -iv 'customer.hub' ) > constraints.txt
