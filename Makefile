# Every target creates or updates the environments it needs: a fresh clone runs
# `make test` (or `make demo`) and nothing else.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12, like the Lambda runtime: python3.12 on PATH, else pyenv's.
PYTHON ?= $(shell for p in python3.12 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.12*/bin/python3.12 2>/dev/null | sort -V | tail -1); do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { command -v $$p; break; }; done)
VENV := .venv
SAM_VENV := .venv-sam
SDK_VENV := .venv-sdk
CHECKOV_VENV := .venv-checkov
TOOLKIT_VENV := .venv-toolkit
# pip itself, pinned like everything it installs.
PIP_VERSION := 26.3
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

CHROMIUM := /usr/bin/chromium

.PHONY: help test lint lock demo up build validate check-ruff check-types check-cfn-lint check-sam check-checkov check-image-uris image-uris bench bench-gpu load train-example screenshots clean

help:
	@echo "make test        lint, type check, template checks + the whole test suite (creates .venv*)"
	@echo "make demo        the end-to-end demo in local mode: train, serve, classify, show results"
	@echo "make up          the local cloud in the foreground (then: .venv/bin/vista --help)"
	@echo "make build       sam build, without Docker"
	@echo "make lock        the Lambda packages' lock files (every version pinned, with hashes) from their requirements.txt"
	@echo "make image-uris  rewrite template.yaml's TensorFlow image mapping from the SageMaker SDK"
	@echo "make bench       every benchmark against same-run baselines: tables + build/benchmarks.json"
	@echo "make bench-gpu   on a GPU machine: ResNet-50 at 224 px images/s, float32 / mixed precision, each with XLA"
	@echo "make load        1,000 images dropped into the local inbox at once (benchmarks/load.py)"
	@echo "make train-example  fine_cnn on a 600-image synthetic scene set, on this CPU"
	@echo "make screenshots the web console's pages at desktop and phone widths, into docs/screenshots/"

define make_venv
	@test -n "$(PYTHON)" || { echo "Python 3.12 is needed (python3.12 on PATH or under pyenv)"; exit 1; }
	@test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(1)/bin/pip install -q pip==$(PIP_VERSION)
	$(1)/bin/pip install -q -r $(2)
	@touch $@
endef

$(VENV)/.stamp: requirements/dev.txt training_job/export-requirements.txt requirements/cli.txt functions/requirements.txt layers/imaging/requirements.txt layers/reporting/requirements.txt pyproject.toml
	$(call make_venv,$(VENV),requirements/dev.txt)
	$(VENV)/bin/pip install -q --no-deps -e .

$(SAM_VENV)/.stamp: requirements/sam.txt
	$(call make_venv,$(SAM_VENV),requirements/sam.txt)

$(SDK_VENV)/.stamp: requirements/sdk.txt
	$(call make_venv,$(SDK_VENV),requirements/sdk.txt)

$(CHECKOV_VENV)/.stamp: requirements/checkov.txt
	$(call make_venv,$(CHECKOV_VENV),requirements/checkov.txt)

$(TOOLKIT_VENV)/.stamp: requirements/toolkit.txt
	$(call make_venv,$(TOOLKIT_VENV),requirements/toolkit.txt)

# Each check a target of its own, so that `make -j` runs them side by side.
lint: check-ruff check-types
validate: check-cfn-lint check-sam check-checkov check-image-uris

check-ruff: $(VENV)/.stamp
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

check-types: $(VENV)/.stamp
	$(VENV)/bin/mypy

check-cfn-lint: $(VENV)/.stamp
	$(VENV)/bin/cfn-lint template.yaml

check-sam: $(SAM_VENV)/.stamp
	$(SAM_VENV)/bin/sam validate --lint --region us-east-1

check-checkov: $(CHECKOV_VENV)/.stamp
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml --file template.yaml

check-image-uris: $(SDK_VENV)/.stamp
	$(SDK_VENV)/bin/python tools/image_uris.py --check

# The browser tests drive Debian's Chromium (Playwright never downloads a browser of its own here).
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "the browser tests need Chromium at $(CHROMIUM) (Debian: apt-get install chromium)"; exit 1; }
	$$(test "$$(id -u)" = 0 || echo sudo) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $$(test "$$(id -u)" = 0 || echo sudo) apt-get install -y -qq chromium >/dev/null

# The checks side by side, then the suite.
test: $(VENV)/.stamp $(SAM_VENV)/.stamp $(SDK_VENV)/.stamp $(CHECKOV_VENV)/.stamp $(TOOLKIT_VENV)/.stamp $(CHROMIUM)
	$(MAKE) --no-print-directory -j2 --output-sync=target lint validate
	$(VENV)/bin/pytest

# sam build needs a python3.12 on PATH (the functions' runtime); no Docker.
build: $(SAM_VENV)/.stamp
	PATH="$(dir $(PYTHON)):$$PATH" $(SAM_VENV)/bin/sam build

# What deploys is installed from these locks with --require-hashes (functions/Makefile, layers/Makefile):
# every transitive version pinned, for every platform (the functions' arm64 and this machine's).
LOCKED := functions layers/imaging layers/reporting
lock: $(VENV)/.stamp
	for folder in $(LOCKED); do (cd $$folder && $(CURDIR)/$(VENV)/bin/uv pip compile requirements.txt --universal \
		--python-version 3.12 --generate-hashes --no-header -q -o requirements.lock) || exit 1; done

image-uris: $(SDK_VENV)/.stamp
	$(SDK_VENV)/bin/python tools/image_uris.py

bench: $(VENV)/.stamp $(SAM_VENV)/.stamp
	TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=functions:training_job $(VENV)/bin/python -m benchmarks

# On a machine with a GPU: ResNet-50 at 224 px, float32 and mixed precision, each with and without XLA,
# and the input pipeline alone and feeding the fastest of them (tables; the rows in build/bench-gpu.json).
bench-gpu: $(VENV)/.stamp
	TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=functions:training_job $(VENV)/bin/python -m benchmarks.training_throughput \
		--architectures resnet50 --image-size 224 --batch-size 256 --steps 30 --input-pipeline --json build/bench-gpu.json

load: $(VENV)/.stamp $(SAM_VENV)/.stamp
	TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=functions:training_job $(VENV)/bin/python -m benchmarks.load --images 1000

# 6 classes x (80 train + 20 test) synthetic scenes; train.py carves 15% of train for validation.
train-example: $(VENV)/.stamp
	rm -rf build/example && $(VENV)/bin/python training_job/synthetic.py build/example/data \
		--train-per-class 80 --test-per-class 20 --seed 7
	cd build/example && time TF_CPP_MIN_LOG_LEVEL=2 ../../$(VENV)/bin/python ../../training_job/train.py \
		--train data/seg_train --test data/seg_test --model-dir model --output-data-dir output \
		--architecture fine_cnn --epochs 30 --image-size 96 --early-stopping-patience 8 --weights none

demo: $(VENV)/.stamp $(SAM_VENV)/.stamp
	$(VENV)/bin/vista demo

up: $(VENV)/.stamp $(SAM_VENV)/.stamp
	$(VENV)/bin/vista up

screenshots: $(VENV)/.stamp $(SAM_VENV)/.stamp $(CHROMIUM)
	VISTA_SCREENSHOTS=docs/screenshots $(VENV)/bin/pytest -q tests/e2e/test_console.py -k "trains or batch"

clean:
	rm -rf $(VENV) $(SAM_VENV) $(SDK_VENV) .aws-sam .pytest_cache .ruff_cache
