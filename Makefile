# hybridnodes.eks: set-up, tests, the lab and the demo.
# Every target that needs tools depends on `setup`, which is idempotent.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
HOSTS ?= 3
# The lab's profile for lab-up (docs/lab.md): light (the stand-ins) or real (the real nodeadm and kubelet).
PROFILE ?= light
HOST ?= edge01
SCENARIO ?= default
SLICE_HOSTS ?= 9
SCALE_HOSTS ?= 50
BENCH_SIZES ?= 5 20 50
BENCH_ARGS ?=
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help setup test unit sanity lint changelog-lint collection-check lab-test \
        demo ee-context molecule molecule-all awx-slices-test lab-up lab-down lab-status lab-restart lab-scale-test \
        bench bench-quick clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

setup: ## Build the development environment (idempotent).
	@scripts/setup.sh

test: setup ## The whole suite: unit, sanity, lint, changelog lint, the built collection, the lab tests.
	@scripts/run-tests.sh

unit: setup ## Unit tests (ansible-test units).
	@scripts/ansible-test.sh units --local --python 3.11 --color no

sanity: setup ## ansible-test sanity, offline, with no ignore entries.
	@scripts/ansible-test.sh sanity --venv --requirements --python 3.11 --color no

lint: setup ## ansible-lint, production profile.
	@$(BIN)/ansible-lint

changelog-lint: setup ## antsibull-changelog lint of changelogs/fragments and changelogs/changelog.yaml.
	@$(BIN)/antsibull-changelog lint && $(BIN)/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml

collection-check: setup ## Build the collection tarball, install it, render every module with ansible-doc.
	@scripts/collection-check.sh

demo: setup ## Start the lab and run the workflow over it.
	@scripts/demo.sh

molecule: setup ## Molecule on the lab, one scenario (SCENARIO=default; also host_prep, routes, upgrade).
	@scripts/molecule.sh $(SCENARIO)

molecule-all: setup ## Every Molecule scenario, one after the other (each on a lab of its own).
	@scripts/molecule.sh default host_prep routes upgrade

awx-slices-test: setup ## AWX job slicing on a lab of SLICE_HOSTS (9) edge hosts: 3 ansible-runner slices of join.yml at once.
	@HNLAB_TEST_HOSTS=$(SLICE_HOSTS) scripts/lab-tests.sh tests/collection/test_awx_slices.py tests/zz/test_zz_lab_down.py

ee-context: setup ## The execution environment's build context in build/ee/context (needs EE_BASE_IMAGE_SHA256).
	@scripts/ee-context.sh

lab-up: setup ## Start the lab with HOSTS edge hosts (default 3), in PROFILE (light, or real).
	@$(PY) tests/lab/labctl.py up --hosts $(HOSTS) --profile $(PROFILE)

lab-down: setup ## Stop the lab; leaves nothing behind.
	@$(PY) tests/lab/labctl.py down

lab-status: setup ## Show what of the lab runs.
	@$(PY) tests/lab/labctl.py status

lab-scale-test: setup ## The lab's own tests on a 50-host lab (SCALE_HOSTS=50) in the light profile, then down and the leak check.
	@HNLAB_TEST_HOSTS=$(SCALE_HOSTS) HNLAB_TEST_PROFILE=light scripts/lab-tests.sh tests/lab/test_lab_site.py tests/zz/test_zz_lab_down.py

lab-restart: setup ## Reboot one edge host (HOST=edge01).
	@$(PY) tests/lab/labctl.py restart --host $(HOST)

bench: setup ## site.yml performance on a lab of each of BENCH_SIZES (5 20 50) edge hosts; table + benchmarks/results/.
	@$(PY) benchmarks/bench.py $(BENCH_ARGS) $(BENCH_SIZES)

bench-quick: setup ## The benchmark on one lab of 5 edge hosts (BENCH_ARGS=--reuse: the running lab, left as found).
	@$(PY) benchmarks/bench.py $(BENCH_ARGS) 5

clean: ## Remove build output (not the venv, not the lab caches).
	rm -rf build tests/output
