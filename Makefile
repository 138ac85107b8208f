# The README's two commands: `make demo` (set up, run a real episode) and `make test` (set up, lint,
# types, the whole test suite). Both are idempotent and fast once set up: every step checks first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
RFX := $(VENV)/bin/rfx
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml clients/python/pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)

.PHONY: help host venv sandbox model demo test lint types pytest clean

help:
	@echo "make demo   set everything up and run a real Reflexion episode"
	@echo "make test   set everything up and run ruff, mypy --strict and the whole test suite"

host:
	@scripts/setup-host $(SETUP_FLAGS)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo "installing the project into $(VENV)" >&2
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' $(if $(wildcard clients/python/pyproject.toml),-e clients/python,) 2>$(VENV)/pip.log || { cat $(VENV)/pip.log >&2; exit 1; }
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

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
