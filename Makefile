# One entry point for people and CI. Everything installs itself into .venv.
#   make render   - set up and run the main job: compile examples/ into Kubernetes objects
#   make test     - set up and run the whole suite (lint, types, generated-file drift, unit,
#                   integration against a real kube-apiserver/etcd/Metacontroller built by testbed/)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: all setup render test lint typecheck generate unit integration testbed bench clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)

render: setup
	$(BIN)/lattice render -f examples/

generate: setup
	$(BIN)/python -m crds.generate

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

# Builds the upstream binaries the tests run (kube, etcd, Metacontroller, Cluster API managers, KWOK,
# Hydra; docs/testbed.md) into a cache outside the repo (first run: many minutes; afterwards: a second).
testbed:
	bash testbed/build.sh

unit: setup
	$(BIN)/pytest -m "not integration" tests

integration: setup testbed
	$(BIN)/pytest -m integration tests

test: setup lint typecheck testbed
	$(BIN)/python -m crds.generate --check
	$(MAKE) bench
	$(BIN)/pytest tests

# Benchmarks are not timed tests: CI runs each once in --quick mode as a smoke check (it must run
# and print its figures); the figures themselves are recorded in docs/benchmarks.md.
bench: setup
	@for b in bench/*.py; do \
	  echo "== $$b --quick"; \
	  $(BIN)/python $$b --quick > .bench.log 2>&1 || { cat .bench.log; exit 1; }; \
	  tail -n 3 .bench.log; \
	done; rm -f .bench.log

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
