# The two quickstart commands: `make serve` and `make test`. Both install everything first.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: install browser serve test lint typecheck unit bench clean

# constraints.txt pins every dependency to the versions the suite last passed with: botocore's
# models change weekly, and the rules files are checked against the installed model.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

# Debian's Chromium for the console's browser tests (Playwright never downloads its own).
browser:
	bash scripts/install-browser.sh

install: $(VENV)/.installed

serve: install
	$(BIN)/trailkeeper serve $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit

test: lint typecheck browser
	$(BIN)/pytest

bench: install
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
