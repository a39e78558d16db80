# The two-command quick start: `make demo` and `make test`. Both create .venv if it is
# missing and install the project into it first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.fusionrank-installed

.PHONY: install demo test lint typecheck imports clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/fusionrank demo

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/python scripts/typecheck.py

# lint-imports (import-linter) over the package's link tree: layers only look down.
imports: $(STAMP)
	$(BIN)/python scripts/lint_imports.py

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache
