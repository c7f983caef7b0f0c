# kubenova's commands. The README's two: `make run` (the product, locally) and `make test`
# (every test). Everything else is a step of those two.
#
# The Python project lives in operator/; the control plane's binaries are built once into
# ~/.cache/kubenova (KUBENOVA_CACHE), outside the repository.

SHELL := /bin/bash
PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
OP := operator
PYTEST_ARGS ?=

.PHONY: run test venv tools lint unit integration crds bench clean

# The virtualenv, (re)made when the dependencies change.
$(BIN)/kubenova: $(OP)/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e "$(OP)[dev]"
	touch $@

venv: $(BIN)/kubenova

## tools: build etcd, kube-apiserver, kube-controller-manager, kubectl, kwok and helm (once).
tools: venv
	cd $(OP) && $(BIN)/python -m kubenova.devcluster build

## run: a local control plane with simulated hosts, the CRDs, the operator and the examples.
run: tools
	cd $(OP) && exec $(BIN)/python -m kubenova.devcluster run

## test: lint, types, architecture, CRD drift, then every unit and integration test.
test: lint tools
	cd $(OP) && $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	cd $(OP) && $(BIN)/ruff check . && $(BIN)/ruff format --check .
	cd $(OP) && $(BIN)/mypy
	cd $(OP) && $(BIN)/lint-imports
	cd $(OP) && $(BIN)/python -m kubenova.api.crds --check

unit: venv
	cd $(OP) && $(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: tools
	cd $(OP) && $(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

## crds: regenerate operator/crds/ from the models in kubenova/api/.
crds: venv
	cd $(OP) && $(BIN)/python -m kubenova.api.crds

## bench: the benchmarks in operator/bench/, each printing JSON.
bench: tools
	cd $(OP) && for b in bench/[a-z]*.py; do $(BIN)/python -m bench.$$(basename $$b .py) || exit 1; done

clean:
	rm -rf $(VENV) $(OP)/.mypy_cache $(OP)/.ruff_cache $(OP)/.pytest_cache
