# Mayak CRM — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
TSTAMP := $(VENV)/.test-installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run install test lint translations compile-translations clean

run: install
	HOST=$(HOST) PORT=$(PORT) $(BIN)/mayak serve

install: $(STAMP) compile-translations
	$(BIN)/mayak db upgrade
	$(BIN)/mayak users ensure-admin

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(VENV)/bin/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	rm -f $(VENV)/.installed-*
	touch $@

$(TSTAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.test-installed-*
	touch $@

compile-translations: $(STAMP)
	$(BIN)/python -m core.i18n_tools compile

translations: $(STAMP)
	$(BIN)/python -m core.i18n_tools extract

lint: $(TSTAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: $(TSTAMP) compile-translations
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance/mayak.db*
