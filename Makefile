# Two commands for a newcomer: `make run` (set up, build the index, serve the chat) and
# `make test` (set up with test tools, run the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 7860
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test build lint bench-quality bench-speed clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

# torch first: the pinned CPU build, so sentence-transformers does not pull CUDA packages.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -c constraints.txt -e ".[test]"
	touch $@

run: $(VENV)/.installed
	$(BIN)/qa serve --host $(HOST) --port $(PORT)

build: $(VENV)/.installed
	$(BIN)/qa build

lint: $(VENV)/.installed-test
	$(BIN)/ruff check qa ui tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

bench-quality: $(VENV)/.installed
	$(BIN)/python benchmarks/quality.py

bench-speed: $(VENV)/.installed
	$(BIN)/python benchmarks/speed.py

clean:
	rm -rf index .pytest_cache .mypy_cache .ruff_cache
