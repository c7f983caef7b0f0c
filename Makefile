# kubenova's commands. The README's two: `make run` (the product, locally) and `make test`
# (every test). Everything else is a step of those two.
#
# Everything runs from the repository's root: the package is operator/kubenova, the dev control
# plane hack/devcluster; the control plane's binaries are built once into ~/.cache/kubenova
# (KUBENOVA_CACHE), outside the repository.

SHELL := /bin/bash
PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test venv tools lint unit integration crds bench tempest clean

# The virtualenv, (re)made when the dependencies change.
$(BIN)/kubenova: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

venv: $(BIN)/kubenova

## tools: build etcd, kube-apiserver, kube-controller-manager, kubectl, kwok and helm (once).
tools: venv
	$(BIN)/python -m hack.devcluster build

## run: a local control plane with simulated hosts, the CRDs, the operator and the examples.
run: tools
	exec $(BIN)/python -m hack.devcluster run

## test: lint, types, architecture, CRD drift, then every unit and integration test (tempest's
## fast compute part among them: tests/integration/test_tempest.py).
test: lint tools $(CURDIR)/.venv-tempest/bin/tempest
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m kubenova.api.crds --check

unit: venv
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: tools $(CURDIR)/.venv-tempest/bin/tempest
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

## crds: regenerate crds/ and charts/kubenova/templates/crds/ from the models in operator/kubenova/api/.
crds: venv
	$(BIN)/python -m kubenova.api.crds

## bench: every benchmark in bench/ in one run, one JSON document (BENCH_ARGS="--servers 1000" to scale).
BENCH_ARGS ?=
bench: tools
	$(BIN)/python -m bench $(BENCH_ARGS)

## tempest: OpenStack's tempest (pinned in pyproject.toml's tempest extra, in its own venv) run
## against `kubenova api` on a dev cluster: the compute API subset, then passed/skipped/failed.
TEMPEST_VENV := $(CURDIR)/.venv-tempest
TEMPEST_ARGS ?=
$(TEMPEST_VENV)/bin/tempest: pyproject.toml | $(BIN)/kubenova
	$(PYTHON) -m venv $(TEMPEST_VENV)
	$(TEMPEST_VENV)/bin/pip install --quiet --upgrade pip
	$(TEMPEST_VENV)/bin/pip install --quiet "$$($(BIN)/python -m hack.tempest --requirement)"
	touch $@

tempest: tools $(TEMPEST_VENV)/bin/tempest
	$(BIN)/python -m hack.tempest $(TEMPEST_ARGS)

clean:
	rm -rf $(VENV) $(TEMPEST_VENV) .mypy_cache .ruff_cache .pytest_cache
