# kfcheck — see README.md. Caches live in $(KFCHECK_CACHE) (default ~/.cache/kfcheck), cluster state
# in $(KFCHECK_STATE) (default ~/.local/state/kfcheck).
SHELL := /bin/bash
export KFCHECK_CACHE ?= $(HOME)/.cache/kfcheck
export KFCHECK_STATE ?= $(HOME)/.local/state/kfcheck
PYTHON := $(KFCHECK_CACHE)/venv/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: setup build up down status test unit-tests cluster-tests lint validate

setup:
	@cluster/setup-host.sh

build: setup
	@cluster/build-binaries.sh

up: build
	@$(PYTHON) -m kfcheck.embedded up --no-build

down:
	@$(PYTHON) -m kfcheck.embedded down

status:
	@$(PYTHON) -m kfcheck.embedded status

lint: setup
	@$(KFCHECK_CACHE)/venv/bin/ruff check kfcheck radish tests images components bench
	@$(KFCHECK_CACHE)/venv/bin/ruff format --check kfcheck radish tests images components bench
	@$(KFCHECK_CACHE)/venv/bin/mypy

unit-tests: setup
	@cluster/build-binaries.sh cucumber_json_formatter
	@$(PYTHON) -m pytest -q tests --ignore=tests/cluster

cluster-tests: up
	@KUBECONFIG=$(KFCHECK_STATE)/kubeconfig $(PYTHON) -m pytest -q tests/cluster

# The project's tests: lint, unit tests, the real cluster's tests, then the full radish run (make validate).
test: lint unit-tests cluster-tests
	@$(MAKE) --no-print-directory validate KUBECONFIG=$(KFCHECK_STATE)/kubeconfig

# The main job: the embedded cluster unless KUBECONFIG names one, then every feature, with reports: the run
# as Cucumber Messages (messages.ndjson) and, made from them, cucumber.json, junit.xml and cucumber.html, also
# when the run cannot start (`kfcheck run`; see kfcheck/reports.py).
REPORTS ?= reports
RADISH_ARGS ?= $(if $(CI),--no-ansi --no-line-jump,)
validate: setup
	@cluster/build-binaries.sh cucumber_json_formatter
	@if [ -z "$$KUBECONFIG" ]; then $(MAKE) --no-print-directory up; fi
	@KUBECONFIG=$${KUBECONFIG:-$(KFCHECK_STATE)/kubeconfig} $(PYTHON) -m kfcheck run --reports $(REPORTS) \
	  features/ -b radish $(RADISH_ARGS)

# The release gate: validate, upgrade the Kubeflow release (UPGRADE_SET, e.g.
# "--set componentResources.limits.memory=2Gi"), validate again, then compare the two cucumber reports.
# Exits non-zero when a scenario that passed before fails after. The @upgrade feature is left out of
# both runs (it upgrades by itself).
UPGRADE_SET ?= --set componentResources.limits.memory=2Gi
GATE_TAGS ?= not upgrade
upgrade-gate: setup
	@cluster/build-binaries.sh cucumber_json_formatter
	@if [ -z "$$KUBECONFIG" ]; then $(MAKE) --no-print-directory up; fi
	@export KUBECONFIG=$${KUBECONFIG:-$(KFCHECK_STATE)/kubeconfig}; \
	$(PYTHON) -m kfcheck run --reports $(REPORTS)/before features/ -b radish --tags "$(GATE_TAGS)" $(RADISH_ARGS); \
	$(KFCHECK_CACHE)/bin/helm-*/helm upgrade kubeflow $(KFCHECK_STATE)/chart/kubeflow -n kubeflow --reuse-values $(UPGRADE_SET) --wait --timeout 1200s || exit 1; \
	$(PYTHON) -m kfcheck run --reports $(REPORTS)/after features/ -b radish --tags "$(GATE_TAGS)" $(RADISH_ARGS); \
	$(PYTHON) -m kfcheck gate $(REPORTS)/before/messages.ndjson $(REPORTS)/after/messages.ndjson
