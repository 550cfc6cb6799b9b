# The README's two commands: `make demo` (install, build the default encoder once, index,
# serve) and `make test`. `.[dev]` includes the train extra that builds the encoder.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test lint clean

# torch goes first, pinned to the CPU build: a looser pin would pull CUDA packages. setuptools
# warns on every editable install about same-named folders in the working directory
# (tinyseek/ is the package itself): nothing a user can act on, so it is filtered.
$(BIN)/tinyseek: pyproject.toml
	@echo "installing tinyseek into $(VENV): PyTorch (CPU build) first, then the project and its extras (about 2 minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/tinyseek

demo: install
	$(BIN)/tinyseek build-model --default
	$(BIN)/tinyseek demo --catalog sample_data/corpus.jsonl --port $(PORT)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info
