# Every target sets up what it needs: a fresh clone runs `make run` or `make test` directly.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format typecheck pytest bench fuzz clean catalog-lock

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: check a worked example plan and answer a reconstitution question
run: $(STAMP)
	-$(BIN)/bontrack check examples/preempt-after-spasticity.json
	$(BIN)/bontrack reconstitute --product onabotulinumtoxinA --vial 200 --diluent 4 \
		--protocol preempt-155 --reconstituted-at 2026-11-25T09:00:00+00:00

## test: lint, type-check the domain core, run the test suite
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check bontrack tests bench
	$(BIN)/ruff format --check bontrack tests bench

format: $(STAMP)
	$(BIN)/ruff check --fix bontrack tests bench
	$(BIN)/ruff format bontrack tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict bontrack/domain

pytest: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

## bench: benchmarks that print ratios measured in one run
bench: $(STAMP)
	$(BIN)/python bench/check.py

## fuzz: longer property-based runs than the test suite does
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -p no:cacheprovider tests/domain tests/cli

clean:
	rm -rf $(VENV) build *.egg-info

## catalog-lock: record the catalog data's hash after bumping its version
catalog-lock: $(STAMP)
	$(BIN)/python -m bontrack.catalog_lock
