# Quick start: `make run` (set up, then the main job) and `make test` (set up, then the test suite).
# The venv gets the CPU build of torch pinned first, so the open torch range in pyproject.toml is already
# satisfied and pip never pulls the multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
EXTRAS ?= train,dev,solver

.PHONY: setup run test lint bench bench-peers clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

run: setup
	$(BIN)/python train.py --config configs/tictactoe-tiny-cpu.yaml

# pytest exits 5 when it collects no test: that is a failure here, not a pass.
test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -ra; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/report.py

bench-peers: setup
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python benchmarks/bench_peers.py
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
