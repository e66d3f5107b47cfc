# customer hub — the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_CONFIG := demo/hub.yaml

.PHONY: demo test install lint bench chaos ui fakes clean lock

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11+ needed"'
	$(PYTHON) -m venv $(VENV) || { $(PYTHON) -m pip install --user -q virtualenv && $(PYTHON) -m virtualenv $(VENV); }

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

install: $(STAMP)

demo: install
	$(BIN)/hub demo generate --out demo/data
	$(BIN)/hub run -c $(DEMO_CONFIG)
	@echo
	@echo "marts.dim_customer (first rows):"
	@$(BIN)/hub show -c $(DEMO_CONFIG) marts.dim_customer --limit 8
	@echo
	@echo "Warehouse: $(CURDIR)/warehouse/demo.duckdb  (schemas raw, staging, mdm, marts)"
	@echo "Look inside: $(BIN)/hub show -c $(DEMO_CONFIG) marts.fct_sales_orders   or any DuckDB client."

test: install
	scripts/run-tests.sh

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf demo/data warehouse/*.duckdb warehouse/*.wal .pytest_cache

lock: install
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	( echo "# Exact versions every install uses (pip install -c constraints.txt). Regenerate with: make lock"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -iv 'customer.hub' ) > constraints.txt
