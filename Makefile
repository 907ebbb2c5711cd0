# Two commands do all set-up on a fresh machine with Python 3.11:
#   make demo   bootstraps .venv and runs the main scenario on the embedded default
#   make test   bootstraps .venv and runs every check and test
# For development, `make test-fast` runs the checks and the tests without the process-level
# tests (tests/process/, marked `process`) and the slow scenarios (marked `slow`).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv test test-fast lint typecheck unit unit-fast demo bench clean

venv: $(STAMP)

# Reinstall whenever the declared dependencies change.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[node,dev]'
	@touch $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q -n 2

unit-fast: venv
	$(BIN)/pytest -q -n 2 -m "not process and not slow"

test: lint typecheck unit

test-fast: lint typecheck unit-fast

demo: venv
	$(BIN)/mvote demo

bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
