# ovtool: `make install` then `make test`. Everything (packages and real assets) is fetched here.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The tested set of every package (all extras + dev), made by `make lock`; installs use it as constraints.
LOCK := requirements/lock.txt

.PHONY: install assets warm lock wheel test test-fast lint demo clean

install: $(BIN)/ovtool assets $(VENV)/.nncf-kernels

# Everything (core + hf + train + ray + dev) so CI runs every test; pinned by the lock.
$(BIN)/ovtool: pyproject.toml $(LOCK)
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c $(LOCK) -e '.[all,dev]'
	# an editable install leaves ovtool's own modules uncompiled (a wheel install compiles them); where
	# PYTHONDONTWRITEBYTECODE=1 is set, every run would compile ~70 modules again (~0.05-0.1 s)
	$(BIN)/python -m compileall -q ovtool
	touch $@

# Regenerate the lock after changing pyproject.toml: keeps the current pins that still fit;
# `make lock UPGRADE=1` moves every pin to the newest release the ranges allow. uv comes from [dev].
lock:
	test -x $(BIN)/uv || $(BIN)/pip install -q 'uv>=0.9,<1'
	$(BIN)/uv pip compile pyproject.toml --extra all --extra dev --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -c requirements/lock-constraints.in -o $(LOCK) \
		$(if $(UPGRADE),--upgrade)

# NNCF compiles its torch CPU kernels on first use (minutes on a busy machine): do it now, not in a test.
# (If the compiled kernels are deleted later, ovtool compiles them again itself, saying so on stderr.)
warm $(VENV)/.nncf-kernels: $(BIN)/ovtool
	$(BIN)/python scripts/warm_nncf.py
	touch $(VENV)/.nncf-kernels

# The wheel ovtool ships (recipe starters and schema inside) into dist/
wheel: $(BIN)/ovtool
	$(BIN)/python -m build --wheel --outdir dist .

assets: $(BIN)/ovtool
	$(BIN)/python scripts/fetch_assets.py
	$(BIN)/python scripts/finetune_minilm.py
	$(BIN)/python scripts/train_lora.py

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
	rm -rf runs .pytest_cache dist build
