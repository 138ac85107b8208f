# The README's two commands: `make demo` (set up, run a real episode) and `make test` (set up, lint,
# types, the whole test suite). Both are idempotent and fast once set up: every step checks first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
RFX := $(VENV)/bin/rfx
LOCK := requirements/dev.txt
STAMP := $(VENV)/.installed-$(shell cat $(LOCK) pyproject.toml clients/python/pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)
PIP := $(PY) -m pip install -q --disable-pip-version-check --no-input

.PHONY: help host venv sandbox model demo test lint types pytest lock upgrade clean

help:
	@echo "make demo   set everything up and run a real Reflexion episode"
	@echo "make test   set everything up and run ruff, mypy --strict and the whole test suite"
	@echo "make lock   re-resolve requirements/ after editing pyproject.toml (other pins kept)"
	@echo "make upgrade  move every locked dependency to its newest allowed version; then make test"

host:
	@scripts/setup-host $(SETUP_FLAGS)

# Only the exact, hash-checked versions of the lock; the project and the client are then installed
# editable without dependencies, built by the lock's own setuptools (no build isolation, no index).
$(STAMP): $(LOCK) pyproject.toml clients/python/pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo "installing the locked dependencies and the project into $(VENV)" >&2
	@{ $(PIP) --require-hashes -r $(LOCK) \
	  && $(PIP) --no-deps --no-build-isolation -e . -e clients/python; } >$(VENV)/pip.log 2>&1 \
	  || { cat $(VENV)/pip.log >&2; exit 1; }
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

sandbox: host venv
	@$(RFX) sandbox build >/dev/null

model: venv
	@$(RFX) model install

demo: host venv sandbox model
	@$(PY) scripts/demo.py

lint: venv
	$(VENV)/bin/ruff check app sandbox tests bench scripts clients/python
	$(VENV)/bin/ruff format --check app tests bench scripts clients/python

types: venv
	$(VENV)/bin/mypy app

pytest: venv
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

test: SETUP_FLAGS = --browser
test: host venv sandbox model lint types pytest

lock: venv
	@scripts/lock

upgrade: venv
	@scripts/lock --upgrade

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
