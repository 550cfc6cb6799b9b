# The README's two commands: `make demo` (install, build the default encoder once, index,
# serve) and `make test`. The demo installs the project with the train extra (what builds the
# default encoder); tests and linters add `.[dev]` (every extra: eval, ray, s3, deploy, tools).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# setuptools warns on every editable install about same-named folders in the working
# directory (tinyseek/ is the package itself): nothing a user can act on, so it is filtered.
PIP_INSTALL := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet

.PHONY: install demo test lint clean

# torch goes first, pinned to the CPU build: a looser pin would pull CUDA packages.
$(BIN)/tinyseek: pyproject.toml
	@echo "installing tinyseek and its train extra into $(VENV): PyTorch (CPU build) first (about 2 minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(PIP_INSTALL) -e ".[train]"
	touch $@

$(VENV)/.dev-extras: $(BIN)/tinyseek
	@echo "installing the test and lint tools and the other extras into $(VENV) (a few minutes the first time)"
	$(PIP_INSTALL) -e ".[dev]"
	touch $@

install: $(VENV)/.dev-extras

demo: $(BIN)/tinyseek
	$(BIN)/tinyseek build-model --default
	$(BIN)/tinyseek demo --catalog sample_data/corpus.jsonl --port $(PORT)

test: $(VENV)/.dev-extras
	$(BIN)/python -m pytest

lint: $(VENV)/.dev-extras
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info
