# `make demo` and `make test` each build .venv from nothing when it is missing
# or older than pyproject.toml, then run.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test test-slow lint bench clean-venv

# Browser libraries the web app serves (pinned in package-lock.json; no CDN).
NODE_STAMP := node_modules/.package-lock.json

$(STAMP): pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first, so nothing later pulls a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package-lock.json
	npm ci --silent --no-audit --no-fund

demo: $(STAMP) $(NODE_STAMP)
	$(BIN)/quartet demo

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest

test-slow: $(STAMP) $(NODE_STAMP)
	$(BIN)/pytest -m slow

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean-venv:
	rm -rf $(VENV)
