# One entry point for people and CI. `make run` and `make test` set everything up first.

# Python keeps the bytecode it compiles (a machine whose environment says not to would compile
# every module again in every process: the suite starts ~40 servers and ~3 test processes).
unexport PYTHONDONTWRITEBYTECODE
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup run test pure lint format types pytest bench corpus evaluate report-png clean

# The engine's sources: a compiled module is imported before its source, so a change to one must
# be built again before it is run. Which of them are compiled is setup.py's list (COMPILED).
ENGINE := $(wildcard app/engine/*.py app/engine/*.c)

$(STAMP): pyproject.toml setup.py $(ENGINE)
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## Run the service on its embedded defaults (in-memory store and bus) at http://127.0.0.1:8000
run: setup
	$(BIN)/huashu serve

## The engine interpreted (no mypyc), for a debugger or a profiler that needs Python frames; the
## next `make setup`, `run` or `test` compiles it again
pure:
	rm -f app/engine/*.so *__mypyc.*.so $(STAMP)
	HUASHU_PURE_PYTHON=1 $(BIN)/python -m pip install --quiet -e '.[dev]'

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

types: setup
	$(BIN)/mypy app

## Two processes (the machine's two cores: servers start, wait and compile side by side), each
## test file in one of them; the schema fuzzer's tests share node ids, which pytest-xdist cannot
## schedule, so they run after, in one process (tests/conftest.py refuses any other such test)
pytest: setup
	$(BIN)/pytest -q -n 2 --dist loadfile --ignore tests/e2e/test_fuzz_rest.py
	$(BIN)/pytest -q tests/e2e/test_fuzz_rest.py

## Everything CI checks: lint, types, the whole test suite
test: lint types pytest

## Engine, load at 1,000 calls, capacity and idle memory, Huashu against a bare echo, and offline
## checking: tables on stdout, JSON in bench/results/ (sizes and repeats: see bench/__main__.py)
bench: setup
	$(BIN)/python -m bench $(or $(BENCH),engine load capacity memory offline)

## Rebuild the labelled evaluation corpus (tests/corpus/*.tsv) from the lexicon and hand-written lists
corpus: setup
	$(BIN)/python -m tests.corpus.build

## Recall and false alarms on the corpus and on the real text in ../shared/data/real; then the
## customer-intent precision and recall on each of our labelled sets (intent_dev2 among them) and on the
## independent ones
evaluate: setup
	$(BIN)/python -m tests.corpus.evaluate
	$(BIN)/python -m tests.corpus.evaluate_intent

## docs/report.png: huashu check's page for the sample calls and the real SereTOD calls, in
## headless Chromium (Debian's /usr/bin/chromium)
report-png: setup
	$(BIN)/python -m tests.check.browser

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build data/cache
	rm -f app/engine/*.so *__mypyc.*.so
