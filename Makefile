# Two commands do all their own set-up: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.vqr1-installed

# Offline by design, nothing phones home.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export DVC_NO_ANALYTICS := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export AWS_EC2_METADATA_DISABLED := true
export TOKENIZERS_PARALLELISM := false
export PATH := $(abspath $(BIN)):$(PATH)
PY_DIRS := $(wildcard src tests flows scripts)

.PHONY: setup lint format test test-fast demo learn control ablation bench reliability gpu-setup gpu-check gpu-wheels gpu-check-node clean

setup: $(STAMP)

# torch + torchvision first, in their own pip call (see docs/environment.md), then the exact lock.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	@touch $@

lint: setup
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)

format: setup
	$(BIN)/ruff check --fix $(PY_DIRS)
	$(BIN)/ruff format $(PY_DIRS)

# The suite runs on TEST_WORKERS pytest-xdist workers: the two learning controls each hold one for minutes of
# CPU-bound training at low priority (nice), and the other two run the rest, which mostly waits on servers and
# subprocesses, so the controls take the CPU the rest leaves. Its wall time is recorded for `make bench`
# (build/test-wall-time.json), and the slowest tests are listed.
TEST_WORKERS ?= 4
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=8

test: lint
	@mkdir -p build; start=$$(date +%s); $(PYTEST); rc=$$?; \
	echo "{\"seconds\": $$(( $$(date +%s) - start )), \"exit_code\": $$rc, \"cores\": $$(nproc), \"workers\": $(TEST_WORKERS), \"method\": \"wall clock of pytest over the whole suite in make test\"}" > build/test-wall-time.json; \
	exit $$rc

test-fast: setup
	$(PYTEST) -m "not slow"

demo: setup
	$(BIN)/vqr1 demo

# Does GRPO teach the tiny model on the CPU? Held-out SRCC over seeds, with a positive and a negative
# control (docs/learning.md); build/learn/result.json and curves.png.
learn: setup
	$(BIN)/python scripts/learn.py

# How often the positive control learns over seeds, 1 and 2 threads and other CPUs' kernel sets
# (ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS, ONEDNN_MAX_CPU_ISA): build/control/result.json, table.md.
control: setup
	$(BIN)/python scripts/control.py

# The ranking reward and K as DVC experiments (dvc exp run --queue, dvc queue start): a CPU analogue of the
# paper's ablations (docs/learning.md); build/ablation/result.json, table.md and ablation.png.
ablation: setup
	$(BIN)/python scripts/ablation.py

# Every benchmark, one table, docs/benchmarks.md + docs/benchmarks.json.
bench: setup
	$(BIN)/python scripts/bench_all.py

# Fault-injection and hostile-input suite with its printed scorecard (also part of `make test`).
reliability: setup
	$(BIN)/python -m pytest -q tests/reliability

# The GPU environment beside .venv: vLLM pins its own torch/transformers/numpy (docs/gpu.md), so it cannot
# share the project's pins; the code runs from src/ (PYTHONPATH), not installed with the project's pins.
GPU_VENV ?= .venv-gpu
GPU_STAMP := $(GPU_VENV)/.vqr1-installed
GPU_CHECK_ARGS ?=

gpu-setup: $(GPU_STAMP)

$(GPU_STAMP): requirements-gpu.lock
	@test -x $(GPU_VENV)/bin/python || $(PYTHON) -m venv $(GPU_VENV)
	$(GPU_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(GPU_VENV)/bin/python -m pip install --quiet -r requirements-gpu.lock
	$(GPU_VENV)/bin/python -m pip check
	@touch $@

# One-shot GPU check (one GPU, about 8 minutes, random 7B-shaped weights): build/gpu-check.json.
gpu-check: gpu-setup
	PYTHONPATH=$(abspath src) $(GPU_VENV)/bin/python scripts/gpu_check.py $(GPU_CHECK_ARGS)

# The same check on an offline GPU node's own Python (PyTorch image, no registry; docs/gpu.md):
# `make gpu-wheels` where PyPI is reachable (build/gpu-wheels, about 9 MiB), carry it with the checkout,
# then `make gpu-check-node` there (NODE_PYTHON: the image's interpreter).
NODE_PYTHON ?= python3

gpu-wheels:
	scripts/gpu_wheels.sh

gpu-check-node:
	$(NODE_PYTHON) scripts/gpu_check.py --system-python $(GPU_CHECK_ARGS)

clean:
	rm -rf build .pytest_cache .ruff_cache
