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
	@$(KFCHECK_CACHE)/venv/bin/ruff check kfcheck radish tests images
	@$(KFCHECK_CACHE)/venv/bin/ruff format --check kfcheck radish tests images

unit-tests: setup
	@$(PYTHON) -m pytest -q tests --ignore=tests/cluster

cluster-tests: up
	@KUBECONFIG=$(KFCHECK_STATE)/kubeconfig $(PYTHON) -m pytest -q tests/cluster

# The project's tests: lint, unit tests, the real cluster's tests, then the full radish run (make validate).
test: lint unit-tests cluster-tests
	@$(MAKE) --no-print-directory validate KUBECONFIG=$(KFCHECK_STATE)/kubeconfig

# The main job: the embedded cluster unless KUBECONFIG names one, then every feature, with reports.
REPORTS ?= reports
RADISH_ARGS ?=
validate: setup
	@if [ -z "$$KUBECONFIG" ]; then $(MAKE) --no-print-directory up; fi
	@mkdir -p $(REPORTS)
	@KUBECONFIG=$${KUBECONFIG:-$(KFCHECK_STATE)/kubeconfig} $(KFCHECK_CACHE)/venv/bin/radish features/ -b radish \
	  --cucumber-json $(REPORTS)/cucumber.json --junit-xml $(REPORTS)/junit.xml $(RADISH_ARGS); \
	status=$$?; \
	$(PYTHON) -m kfcheck report $(REPORTS)/cucumber.json; \
	echo "reports: $(REPORTS)/cucumber.json (cucumber JSON), $(REPORTS)/junit.xml (JUnit XML), $(REPORTS)/cucumber.html"; \
	exit $$status
