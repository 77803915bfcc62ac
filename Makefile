# Two commands for people: `make run` and `make test`. The rest are steps they depend on.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INDEX := var/definitions/r4-index.json
TERMINOLOGY := var/definitions/terminology-index.json
export EHR_PORT ?= 8000

.PHONY: run test serve venv definitions migrate demo lint bench ci clean

# Demo mode: the sign-in page lists the demo accounts (synthetic data only).
run: $(STAMP) $(INDEX) $(TERMINOLOGY) migrate demo
	EHR_DEMO=1 $(BIN)/ehr serve

venv: $(STAMP)
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

definitions: $(INDEX) $(TERMINOLOGY)
$(INDEX): $(STAMP) src/ehr/fhir/definitions/build.py
	$(BIN)/python -m ehr.fhir.definitions.build

# Value sets and code systems (R4, its expansions, HL7 Terminology) for binding checks.
$(TERMINOLOGY): $(STAMP) $(INDEX) $(wildcard src/ehr/terminology/*.py)
	$(BIN)/python -m ehr.terminology.build

migrate: $(STAMP) $(INDEX) $(TERMINOLOGY)
	$(BIN)/ehr migrate

# Demo data is loaded once, on the first start of a new database.
demo: migrate
	$(BIN)/ehr demo-data --patients 60 --seed 1 --if-empty

test: $(STAMP) $(INDEX) $(TERMINOLOGY)
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: $(STAMP) $(INDEX) $(TERMINOLOGY)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf var/ehr.sqlite3* var/ehr.sqlite3.writer-lock
