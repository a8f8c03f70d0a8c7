# The two commands of the README. Both build .venv from scratch when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: reproduce test install report clean

$(BIN)/snakemake: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/snakemake

## the default reproduction: data -> models -> metrics.csv -> figures -> report.html
reproduce: install
	$(BIN)/snakemake --cores all
	$(BIN)/snakemake --report results/report.html

## the test suite (what CI runs)
test: install
	$(BIN)/python -m pytest

clean:
	rm -rf results .snakemake
