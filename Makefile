# The two quickstart commands: `make serve` and `make test`. Both install everything first.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: install serve test lint typecheck unit bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

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

test: lint typecheck
	$(BIN)/pytest

bench: install
	$(BIN)/python -m bench.gateway $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
