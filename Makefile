# Bayesian multilevel analysis of health-record uptake among China's internal migrants.
# `make fit` then `make test` is the whole set-up. `make help` lists every target.

.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV ?= .venv
PYTHON ?= $(VENV)/bin/python
RESULTS ?= results
SEED ?= 20150501
N ?= 3158
SAMPLER ?= nutpie
CHAINS ?= 4
DRAWS ?= 1000
TUNE ?= 1000
MODELS ?= model1 model2
ACCEPT_CONVERGENCE_FAILURE ?=

# With the default PYTHON the project's own .venv is created on first use;
# `make fit PYTHON=/path/to/python` uses an environment you already have (e.g. conda's).
ifeq ($(PYTHON),$(VENV)/bin/python)
ENV_READY := $(VENV)/.installed
else
ENV_READY :=
endif

DATA_FILE := $(RESULTS)/data/analysis_data.parquet
FIT_FILES := $(foreach m,$(MODELS),$(RESULTS)/fits/$(m).nc)
SAMPLER_ARGS := --sampler $(SAMPLER) --chains $(CHAINS) --draws $(DRAWS) --tune $(TUNE) --seed $(SEED)

.PHONY: help env data fit summarize test test-fast lint format clean clean-fits

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'
	@echo "  Variables: PYTHON=$(PYTHON) SEED=$(SEED) N=$(N) SAMPLER=$(SAMPLER) DRAWS=$(DRAWS) TUNE=$(TUNE) MODELS='$(MODELS)'"

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[dev]"
	touch $@

env: $(ENV_READY) ## Create .venv and install the project with its dependencies

data: $(DATA_FILE) ## Write the analysis data set (embedded synthetic default data)

$(DATA_FILE): $(ENV_READY) $(wildcard data_prep/*.py data_prep/*.csv data_prep/*.yaml)
	$(PYTHON) -m data_prep --out $(RESULTS)/data --seed $(SEED) --n $(N)

$(RESULTS)/fits/%.nc: $(DATA_FILE) models/specs/%.yaml $(wildcard models/*.py)
	$(PYTHON) -m models --data $(DATA_FILE) --spec $* --out $(RESULTS)/fits $(SAMPLER_ARGS)

fit: $(FIT_FILES) summarize ## Data, both model fits (frequentist + Bayesian) and the odds-ratio comparison

summarize: $(ENV_READY) ## Odds-ratio tables, convergence checks and forest plots from existing fits
	$(PYTHON) -m analysis --fits $(RESULTS)/fits --out $(RESULTS) --models $(MODELS) \
		$(if $(ACCEPT_CONVERGENCE_FAILURE),--accept-convergence-failure)

test: $(ENV_READY) ## Run the whole test suite (about 5 minutes on 2 cores)
	$(PYTHON) -m pytest

test-fast: $(ENV_READY) ## Run the tests that do not sample (under a minute)
	$(PYTHON) -m pytest -m "not slow"

lint: $(ENV_READY) ## ruff lint and format check
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

format: $(ENV_READY) ## Apply ruff's formatting and safe fixes
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

clean-fits: ## Delete the fits so the next `make fit` samples again
	rm -rf $(RESULTS)/fits

clean: ## Delete everything under results/
	rm -rf $(RESULTS)
