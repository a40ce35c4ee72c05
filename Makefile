# One entry point for people and CI. Everything installs itself into .venv, from the lock.
#   make render   - set up and run the main job: compile examples/ into Kubernetes objects
#                   (stdout is exactly the objects: `make render > out.yaml`; setup and notes go to stderr)
#   make test     - set up and run the whole suite (lint, types, generated-file drift, every bench once
#                   with --quick, unit, integration against a real kube-apiserver/etcd/Metacontroller
#                   built by testbed/)
#   make lock     - re-resolve requirements/*.txt after changing pyproject.toml (keeps existing pins);
#                   make lock-upgrade moves every pin to the newest release pyproject.toml allows
#
# The lock (requirements/dev.txt: runtime + test + build tools; requirements/runtime.txt: what the
# product needs to install and run) is hashed pins for CPython 3.11 on Linux x86_64. Setup installs it
# with plain pip (--require-hashes --no-deps), then Lattice itself (editable, no build isolation, so
# nothing is fetched unpinned). The venv is rebuilt whenever the lock or pyproject.toml changes, so it
# holds exactly the lock.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
LOCK   := requirements/dev.txt
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | sha256sum | cut -c1-12)
PIP    := $(BIN)/python -m pip --quiet --disable-pip-version-check --no-input
PIP_LOCKED := $(PIP) install --require-hashes --no-deps --only-binary :all:

.PHONY: all setup render test lint typecheck generate unit integration testbed bench lock lock-upgrade clean

all: test

# The stamp's name is the hash of what it installed (no file prerequisites: a touched but unchanged
# file rebuilds nothing). Everything setup prints goes to stderr: `make render > out.yaml` stays clean.
$(STAMP):
	@$(PYTHON) -c 'import platform as p, sys; sys.exit(not (p.python_implementation() == "CPython" and sys.version_info[:2] == (3, 11) and p.system() == "Linux" and p.machine() == "x86_64"))' || { \
	  echo "error: $(LOCK) is locked for CPython 3.11 on Linux x86_64, and $(PYTHON) is not that." >&2; \
	  echo "  Point PYTHON at one (make PYTHON=/path/to/python3.11 ...), or install unlocked: pip install -e '.[test]'" >&2; \
	  exit 1; }
	@echo "setting up $(VENV) from $(LOCK) ..." >&2
	@if [ -e $(VENV) ] && [ ! -f $(VENV)/pyvenv.cfg ]; then echo "error: $(VENV) is not a venv; not replacing it" >&2; exit 1; fi
	@rm -rf $(VENV)
	@$(PYTHON) -m venv $(VENV)
	@$(PIP_LOCKED) -r $(LOCK) >&2
	@$(PIP) install --no-deps --no-build-isolation -e . >&2
	@$(PIP) check >&2 || { echo "error: $(LOCK) does not satisfy pyproject.toml; run: make lock" >&2; exit 1; }
	@touch $@

setup: $(STAMP)

render: setup
	@$(BIN)/lattice render -f examples/

generate: setup
	$(BIN)/python -m crds.generate

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

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
	@$(MAKE) --no-print-directory bench
	$(BIN)/pytest tests

# Benchmarks are not timed tests: CI runs each once in --quick mode as a smoke check (it must run
# and print its figures); the figures themselves are recorded in docs/benchmarks.md.
bench: setup
	@for b in bench/*.py; do \
	  echo "== $$b --quick"; \
	  $(BIN)/python $$b --quick > .bench.log 2>&1 || { cat .bench.log; exit 1; }; \
	  tail -n 3 .bench.log; \
	done; rm -f .bench.log

# The lock's compiler (uv) comes from the lock itself; installed alone here when the venv is missing,
# because a full setup refuses a lock that no longer satisfies a changed pyproject.toml.
UV_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" $(LOCK_FLAGS)

$(BIN)/uv:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PIP_LOCKED) -r $(LOCK) >&2

lock: $(BIN)/uv
	$(UV_COMPILE) pyproject.toml --extra test requirements/build.in requirements/tools.in -o requirements/dev.txt
	$(UV_COMPILE) pyproject.toml requirements/build.in -c requirements/dev.txt -o requirements/runtime.txt

lock-upgrade: LOCK_FLAGS = --upgrade
lock-upgrade: lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
