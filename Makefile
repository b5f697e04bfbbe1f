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
	@echo "==> Starting Mayak on http://$(HOST):$(PORT)/"
	HOST=$(HOST) PORT=$(PORT) $(BIN)/mayak serve

install: $(STAMP) compile-translations
	@echo "==> Applying database migrations"
	$(BIN)/mayak db upgrade
	@echo "==> Checking for the first administrator"
	$(BIN)/mayak users ensure-admin

$(VENV)/bin/python:
	@echo "==> Creating the Python environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(VENV)/bin/python pyproject.toml
	@echo "==> Installing Mayak and its libraries into $(VENV) (1-3 minutes the first time; pip lists them below)"
	@{ $(BIN)/pip install --progress-bar off -e . 2>&1; echo $$? > $(VENV)/.pip-status; } \
	  | grep --line-buffered -E '^(Collecting|Successfully installed|ERROR)' || true
	@test "$$(cat $(VENV)/.pip-status)" = 0 || { echo "pip failed: run $(BIN)/pip install -e . to see the whole error"; exit 1; }
	rm -f $(VENV)/.installed-*
	touch $@

# Mayak and the test tools in one pip run (resolving the same libraries twice cost half a minute); it stands for
# the plain install too.
$(TSTAMP): $(VENV)/bin/python pyproject.toml
	@echo "==> Installing Mayak and the test tools into $(VENV)"
	$(BIN)/pip install --quiet --progress-bar off -e '.[test]'
	rm -f $(VENV)/.test-installed-* $(VENV)/.installed-*
	touch $@ $(STAMP)

compile-translations: $(STAMP)
	@echo "==> Compiling translations"
	$(BIN)/python -m core.i18n_tools compile

translations: $(STAMP)
	$(BIN)/python -m core.i18n_tools extract

lint: $(TSTAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Three pytest workers on two cores: many tests wait on a subprocess, a server or a browser, and a third worker
# fills those waits. The multi-host fault scenario spends its three minutes mostly waiting out the outages it
# causes: it runs as a pytest of its own beside the rest, and both must pass.
test: $(TSTAMP) compile-translations
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	@log=$$(mktemp); \
	$(BIN)/python -m pytest -m several_hosts tests/faults/test_several_hosts.py $(PYTEST_ARGS) >$$log 2>&1 & hosts=$$!; \
	$(BIN)/python -m pytest -n 3 --dist loadgroup -m "not several_hosts" $(PYTEST_ARGS); rest=$$?; \
	wait $$hosts; several=$$?; echo "==> the multi-host fault scenario (tests/faults/test_several_hosts.py)"; \
	cat $$log; rm -f $$log; \
	for status in $$rest $$several; do test $$status = 0 || test $$status = 5 || exit 1; done  # 5: none selected

clean:
	rm -rf $(VENV) instance/mayak.db*
