# The two README commands: `make run` and `make test`. Both create .venv if missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench load audit install train clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstall only when the packaging or the pins change.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test,spark,bench]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/dermcoder serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py

# 50 clients for 60 s against a real uvicorn on 127.0.0.1 (temporary store); see docs/hardening.md.
load: $(STAMP)
	$(BIN)/python bench/load.py --clients 50 --seconds 60

# Known vulnerabilities of every pin in constraints.txt. --strict: a pin that could not be
# checked is a failure, not a silent pass (see docs/hardening.md for what this needs).
audit: $(STAMP)
	$(BIN)/pip-audit -r constraints.txt --no-deps --disable-pip --strict --progress-spinner off

# Rebuilds the shipped scorer byte for byte (fixed seeds; see models/derm-lr-v1/MODEL_CARD.md).
train: $(STAMP)
	$(BIN)/dermcoder train corpus/sample/notes.jsonl --name derm-lr-v1 --change "$(or $(CHANGE),rebuilt by make train)"

clean:
	rm -rf $(VENV) .pytest_cache
