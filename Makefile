# ovtool: `make install` then `make test`. Everything (packages and real assets) is fetched here.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install assets test test-fast lint demo clean

install: $(BIN)/ovtool assets

$(BIN)/ovtool: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,ray]'
	touch $@

assets: $(BIN)/ovtool
	$(BIN)/python scripts/fetch_assets.py
	$(BIN)/python scripts/finetune_minilm.py

test: install
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q

test-fast: install
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -m "not slow"

lint:
	$(BIN)/ruff check ovtool tests scripts
	$(BIN)/lint-imports --no-cache  # the layer rules in .importlinter (DESIGN.md)

demo: install
	HF_HUB_OFFLINE=1 $(BIN)/ovtool run recipes/smollm2-int4-quickstart.yaml --overwrite

clean:
	rm -rf runs .pytest_cache
