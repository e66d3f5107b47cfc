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

# Legacy sources generated into demo/data, fake WeCom/DingTalk/Fxiaoke/Kingdee servers started (and
# stopped), every source of demo/hub.yaml run into warehouse/demo.duckdb.
demo: install
	BIN=$(BIN) scripts/demo.sh

test: install
	scripts/run-tests.sh

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python -m bench
	$(BIN)/python -m bench.predict

# The steward console and match API on http://127.0.0.1:8000 (add a user first:
# .venv/bin/hub users add -c demo/hub.yaml NAME --role admin).
chaos: install
	$(BIN)/python -m bench.chaos

ui: install
	$(BIN)/hub ui -c $(DEMO_CONFIG)

clean:
	rm -rf demo/data warehouse/*.duckdb warehouse/*.wal .pytest_cache

lock: install
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	( echo "# Exact versions every install uses (pip install -c constraints.txt). Regenerate with: make lock"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -iv 'customer.hub' ) > constraints.txt
