# Two commands do all the set-up on a machine with only Python 3.10+ and make:
#   make demo   seeds the demo tenants on the embedded PostgreSQL and runs the main job
#   make test   runs the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test dev lint e2e clean stop

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/wiring-pipeline demo

test: $(STAMP)
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

e2e: $(STAMP)
	$(BIN)/python -m pytest -m e2e $(PYTEST_ARGS)

dev: $(STAMP)
	$(BIN)/wiring-pipeline dev

lint: $(STAMP)
	$(BIN)/ruff check wiring_pipeline wiring_pipeline_tests
	$(BIN)/ruff format --check wiring_pipeline wiring_pipeline_tests

stop:
	-$(BIN)/wiring-pipeline db stop

clean: stop
	rm -rf $(VENV) .wiring
