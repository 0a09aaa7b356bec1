# Two entry points: `make demo` (the main job, offline) and `make test`.
# Both create or reuse .venv; torch is pinned to the CPU wheel first so nothing pulls CUDA.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
PIP_CONSTRAINT_FILE := constraints.txt

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c $(PIP_CONSTRAINT_FILE) -e .
	touch $@

$(DEVSTAMP): $(STAMP)
	$(BIN)/pip install -q -c $(PIP_CONSTRAINT_FILE) -e ".[dev]"
	touch $@

.PHONY: install demo test lint bench clean
install: $(STAMP)

demo: $(STAMP)
	$(BIN)/flankit demo $(DEMO_ARGS)

test: $(DEVSTAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEVSTAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
