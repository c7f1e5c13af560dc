# Bayesian multilevel analysis of health-record uptake among China's internal migrants.
# `make fit` then `make test` is the whole set-up. `make help` lists every target.

.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV ?= .venv
PYTHON ?= $(VENV)/bin/python
# Which study to run: studies/$(STUDY)/study.yaml. jing2019 (the default) is the chain below;
# another study runs `python -m data_prep --study` then `python -m analysis study` into
# results/$(STUDY) (see ARCHITECTURE.md, "Studies").
STUDY ?= jing2019
STUDY_DIR := studies/$(STUDY)
ifeq ($(STUDY),jing2019)
RESULTS ?= results
N ?= 3158
else
RESULTS ?= results/$(STUDY)
# empty: the study's own sample size
N ?=
endif
SEED ?= 20150501
WAVE_N ?= 206000
# Pooled synthetic waves (make pooled): respondents over all waves, and the waves.
POOLED_N ?= 1500000
POOLED_WAVES ?= 2011-2018
SAMPLER ?= auto
# Empty: each spec's own sampler settings, else 4 chains x 1000 draws after 500 warm-up.
CHAINS ?=
DRAWS ?=
TUNE ?=
MODELS ?= model1 model2 model2_pooled model2_slopes model2_weighted
# `make fit` runs the comparison when two or more of COMPARE are among MODELS.
COMPARE ?= model2_pooled model2 model2_slopes
MAIN_MODEL ?= model2
# Proportional change in variance along these fits (the first is the reference)
PCV ?= model0 model1 model2
SPECS_DIR ?= models/specs
ACCEPT_CONVERGENCE_FAILURE ?=
# Your own data: DATA=file.sav|.dta (raw survey, read through CODEBOOK) or file.csv|.parquet (coded,
# its columns declared in DICTIONARY=dict.yaml; `python -m data_prep describe FILE` writes a starter)
DATA ?=
CODEBOOK ?=
DICTIONARY ?=
ENCODING ?=
# Batches of fits (make validate, make grid) run as Dask tasks: SCHEDULER=local (a LocalCluster of
# WORKERS processes, default one per core), tcp://host:port (a running cluster) or serial.
SCHEDULER ?= local
WORKERS ?=
# `make fit` runs its analysis steps after summarize (the convergence gate) in up to this many
# processes at once: auto (one per CPU core) or a number; 1 runs them one after another.
ANALYSIS_JOBS ?= auto
GRID ?= grids/example.yaml
BATCH_ARGS = --scheduler $(SCHEDULER) $(if $(WORKERS),--workers $(WORKERS))

# With the default PYTHON the project's own .venv is created on first use;
# `make fit PYTHON=/path/to/python` uses an environment you already have (e.g. conda's).
ifeq ($(PYTHON),$(VENV)/bin/python)
ENV_READY := $(VENV)/.installed
else
ENV_READY :=
endif

DATA_FILE := $(RESULTS)/data/analysis_data.parquet
# Records where the data came from; rewritten only when that changes, so switching DATA refits.
# It lives outside results/ so that rejected input leaves results/ exactly as it was.
DATA_SOURCE := .make-state/$(subst /,_,$(abspath $(RESULTS)))-data-source.txt
DATA_DESCRIPTION := data=$(or $(DATA),synthetic n=$(N) seed=$(SEED)) codebook=$(CODEBOOK) dictionary=$(DICTIONARY) encoding=$(ENCODING) models=$(MODELS)
ifeq ($(STUDY),jing2019)
STUDY_ARGS := $(foreach m,$(MODELS),--spec $(SPECS_DIR)/$(m).yaml)
STUDY_FILES :=
else
DATA_DESCRIPTION += study=$(STUDY)
STUDY_ARGS := --study $(STUDY_DIR)
STUDY_FILES := $(wildcard $(STUDY_DIR)/*.yaml $(STUDY_DIR)/specs/*.yaml)
endif
DATA_ARGS := $(if $(DATA),--input $(DATA)) $(if $(CODEBOOK),--codebook $(CODEBOOK)) \
	$(if $(DICTIONARY),--dictionary $(DICTIONARY)) \
	$(if $(ENCODING),--encoding $(ENCODING)) $(STUDY_ARGS)
# The PCV chain is fitted beside MODELS (its reference, model0, too, though not summarised) when
# MODELS holds one of its models after the first, and only from specs that SPECS_DIR has: your
# own MODELS and SPECS_DIR fit nothing else.
PCV_USED := $(if $(filter $(wordlist 2,$(words $(PCV)),$(PCV)),$(MODELS)),$(foreach m,$(PCV),$(if $(wildcard $(SPECS_DIR)/$(m).yaml),$(m))))
FIT_SPECS := $(foreach m,$(MODELS) $(filter-out $(MODELS),$(PCV_USED)),$(SPECS_DIR)/$(m).yaml)
SAMPLER_ARGS := --sampler $(SAMPLER) --seed $(SEED) $(if $(CHAINS),--chains $(CHAINS)) \
	$(if $(DRAWS),--draws $(DRAWS)) $(if $(TUNE),--tune $(TUNE)) $(if $(REFIT),--refit)

.PHONY: heterogeneity effects help env data fit summarize ppc compare weights report validate grid bench wave pooled examples test test-fast lint format clean clean-fits FORCE

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'
	@echo "Variables (make fit VAR=value):"
	@echo "  STUDY=$(STUDY)   the study to run: $$(ls studies | tr '\n' ' ')(studies/<name>/study.yaml)"
	@echo "  DATA=file  CODEBOOK=file  DICTIONARY=file  ENCODING=gb18030   your survey file (.sav/.dta via a codebook;"
	@echo "             coded .csv/.parquet, with a DICTIONARY of its columns)"
	@echo "  MODELS='$(MODELS)'"
	@echo "  COMPARE='$(COMPARE)'  MAIN_MODEL=$(MAIN_MODEL)  SPECS_DIR=$(SPECS_DIR)"
	@echo "  SEED=$(SEED)  N=$(N)  WAVE_N=$(WAVE_N)  SAMPLER=$(SAMPLER) (auto|compiled|nutpie|pymc|jax)"
	@echo "  POOLED_N=$(POOLED_N)  POOLED_WAVES=$(POOLED_WAVES)   (make pooled)"
	@echo "  DRAWS=  TUNE=  CHAINS=   (empty: each spec's own; else 1000 draws, 500 warm-up, 4 chains)"
	@echo "  REFIT=1   refit even when nothing changed;  ACCEPT_CONVERGENCE_FAILURE=1  exit 0 despite a failed gate"
	@echo "  GRID=$(GRID) (grid)  SCHEDULER=$(SCHEDULER) (local|serial|tcp://host:port)  WORKERS= (validate, grid)"
	@echo "  ANALYSIS_JOBS=$(ANALYSIS_JOBS)   processes for make fit's analysis steps after the gate (1: in order)"
	@echo "  RESULTS=$(RESULTS)  REPLICATES= (validate)  BENCH_REPEATS=  BENCH_NO_WAVE=1  BENCH_NO_POOLED=1  BENCH_NO_MAKE_FIT=1 (bench)"
	@echo "  PYTHON3=/path/to/python3.12  interpreter for .venv (default: found by tools/find-python)"
	@echo "  PYTHON=$(PYTHON)  VENV=$(VENV)  (PYTHON=/path/to/env/python uses an environment you have)"
	@echo "  EXTRAS=$(EXTRAS)  extras installed into .venv (EXTRAS=dev,jax adds JAX for SAMPLER=jax)"

# The interpreter .venv is made from: found by tools/find-python (3.12+: python3.13, python3.12,
# python3 when new enough, pyenv's versions), or named with PYTHON3=/path/to/python3.12.
PYTHON3 ?=
# Optional extras installed into .venv beside the project: EXTRAS=dev,jax adds JAX for
# SAMPLER=jax (not by default: with JAX installed, ArviZ imports it in every fit process).
EXTRAS ?= dev

$(VENV)/.installed: pyproject.toml
	@interpreter=$$(sh tools/find-python $(PYTHON3)) || exit 2; \
	echo "creating $(VENV) with $$interpreter ($$($$interpreter --version))"; \
	rm -rf $(VENV) && $$interpreter -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

env: $(ENV_READY) ## Create .venv and install the project with its dependencies

data: $(DATA_FILE) ## Write the analysis data set (embedded synthetic default data)

$(DATA_SOURCE): FORCE
	@mkdir -p $(@D)
	@echo '$(DATA_DESCRIPTION)' | cmp -s - $@ || echo '$(DATA_DESCRIPTION)' > $@

$(DATA_FILE): $(ENV_READY) $(DATA_SOURCE) $(DATA) $(CODEBOOK) $(DICTIONARY) $(STUDY_FILES) \
		$(wildcard cmds_common/*.py cmds_common/*.csv data_prep/*.py data_prep/*.csv data_prep/*.yaml data_prep/codebooks/*.yaml)
	$(PYTHON) -m data_prep --out $(RESULTS)/data --seed $(SEED) $(if $(N),--n $(N)) $(DATA_ARGS)

# Always asks python -m models, which skips a spec whose saved fit has the same fit key
# (data, spec, sampler settings, seed, versions): so DRAWS=... or a changed spec refits, and
# nothing else does.
# Every file is written atomically (complete or not at all), so make must not delete a target
# when it is interrupted: the file there is the previous or the new complete one.
.PRECIOUS: $(RESULTS)/fits/%.nc $(DATA_FILE)

$(RESULTS)/fits/%.nc: $(DATA_FILE) $(SPECS_DIR)/%.yaml FORCE
	$(PYTHON) -m models --data $(DATA_FILE) --spec $(SPECS_DIR)/$*.yaml --out $(RESULTS)/fits $(SAMPLER_ARGS)

ifeq ($(STUDY),jing2019)
# All fits in one process (python -m models fits its --spec list in order, skipping those whose
# key is unchanged): one start-up and one import of the stack instead of one per model.
fit: $(DATA_FILE) $(FIT_SPECS) ## Data, every model fit, odds ratios, predictive checks, provinces, LOO comparison, effects
	$(PYTHON) -m models --data $(DATA_FILE) $(addprefix --spec ,$(FIT_SPECS)) \
		--out $(RESULTS)/fits $(SAMPLER_ARGS)
	$(PYTHON) -m analysis --jobs $(ANALYSIS_JOBS) $(SUMMARIZE_ARGS) --then $(PPC_ARGS) \
		$(if $(word 2,$(filter $(COMPARE),$(MODELS))),--then $(COMPARE_ARGS)) --then $(EFFECTS_ARGS) \
		$(if $(filter model2_weighted,$(MODELS)),--then $(WEIGHTS_ARGS))
else
# Another study: its data, then its whole analysis (fits are skipped when their key is unchanged).
fit: $(DATA_FILE)
	$(PYTHON) -m analysis study --study $(STUDY_DIR) --data $(DATA_FILE) --out $(RESULTS) \
		$(SAMPLER_ARGS) $(if $(ACCEPT_CONVERGENCE_FAILURE),--accept-convergence-failure)
endif

# The analysis steps' arguments: each has its own target, and `make fit` runs them all in one
# process (python -m analysis STEP ... --then STEP ...).
SUMMARIZE_ARGS = summarize --data $(DATA_FILE) --fits $(RESULTS)/fits --out $(RESULTS) --models $(MODELS) \
	$(if $(ACCEPT_CONVERGENCE_FAILURE),--accept-convergence-failure)
PPC_ARGS = ppc --data $(DATA_FILE) --fits $(RESULTS)/fits --out $(RESULTS) --models $(MODELS)
COMPARE_ARGS = compare --fits $(RESULTS)/fits --data $(DATA_FILE) --out $(RESULTS) --models $(COMPARE)
EFFECTS_ARGS = effects --data $(DATA_FILE) --fits $(RESULTS)/fits --out $(RESULTS) --models $(MODELS) \
	--pcv $(PCV_USED) --profiles studies/jing2019/profiles.yaml
WEIGHTS_ARGS = weights --fits $(RESULTS)/fits --data $(DATA_FILE) --out $(RESULTS)

summarize: $(ENV_READY) ## Tables 1-2, odds-ratio tables, convergence checks and forest plots
	$(PYTHON) -m analysis $(SUMMARIZE_ARGS)

ppc: $(ENV_READY) ## Posterior predictive checks and provincial variation of the fits
	$(PYTHON) -m analysis $(PPC_ARGS)

compare: $(ENV_READY) ## PSIS-LOO comparison of pooled, random-intercept and random-slope models
	$(PYTHON) -m analysis $(COMPARE_ARGS)

effects: $(ENV_READY) ## Average marginal effects; contextual measures (ICC, MOR, IOR-80, PCV from model0 when fitted)
	$(PYTHON) -m analysis $(EFFECTS_ARGS)

weights: $(ENV_READY) ## Survey-weighted (model2_weighted) against unweighted (model2) posteriors
	$(PYTHON) -m analysis $(WEIGHTS_ARGS)

ifeq ($(STUDY),jing2019)
report: $(ENV_READY) ## Self-contained HTML report of the last `make fit` (results/report.html)
	$(PYTHON) -m analysis report --results $(RESULTS) --models $(MODELS) --main-model $(MAIN_MODEL)
else
report:
	@echo "$(RESULTS)/report.html is written by: make fit STUDY=$(STUDY)"
endif

heterogeneity: ## The third study (integration and health by sex x age x education): make fit STUDY=heterogeneity
	$(MAKE) --no-print-directory fit STUDY=heterogeneity

validate: $(DATA_FILE) ## Simulation-based calibration: 100 simulated data sets fitted (~10 min on 2 cores, not in CI)
	$(PYTHON) -m analysis validate --data $(DATA_FILE) --out $(RESULTS) --seed $(SEED) \
		$(if $(REPLICATES),--replicates $(REPLICATES)) $(BATCH_ARGS)

grid: $(DATA_FILE) ## Robustness grid (GRID=file.yaml): specs x outcomes x data x seeds as Dask tasks, table + curve
	$(PYTHON) -m analysis grid --grid $(GRID) --out $(RESULTS) $(BATCH_ARGS) $(if $(REFIT),--refit)

bench: $(ENV_READY) ## Time Model 2 per engine, other specs, a 206,000-row fit, 1.5 M pooled rows + glmer: results/bench.csv
	$(PYTHON) -m devtools.bench --out $(RESULTS) --seed $(SEED) \
		$(if $(BENCH_REPEATS),--repeats $(BENCH_REPEATS)) $(if $(BENCH_NO_WAVE),--no-wave) \
		$(if $(BENCH_NO_POOLED),--no-pooled) $(if $(BENCH_NO_MAKE_FIT),--no-make-fit)

wave: $(ENV_READY) ## Fit Model 2 on a 206,000-row all-ages synthetic sample (whole-wave size, ~3 min)
	$(PYTHON) -m data_prep --out $(RESULTS)/wave/data --seed $(SEED) --n $(WAVE_N) --population all_ages
	$(PYTHON) -m models --data $(RESULTS)/wave/data/analysis_data.parquet \
		--spec $(SPECS_DIR)/model2.yaml --out $(RESULTS)/wave/fits $(SAMPLER_ARGS)
	$(PYTHON) -m analysis --data $(RESULTS)/wave/data/analysis_data.parquet \
		--fits $(RESULTS)/wave/fits --out $(RESULTS)/wave --models model2

pooled: $(ENV_READY) ## Fit wave effects + province and province-by-wave intercepts to 1.5 M pooled synthetic rows
	$(PYTHON) -m data_prep --out $(RESULTS)/pooled/data --seed $(SEED) --n $(POOLED_N) --waves $(POOLED_WAVES)
	$(PYTHON) -m models --data $(RESULTS)/pooled/data/analysis_data.parquet \
		--spec $(SPECS_DIR)/pooled_waves.yaml --out $(RESULTS)/pooled/fits $(SAMPLER_ARGS)

examples: $(ENV_READY) ## Write example raw .sav/.dta files, their codebook and a coded .csv to examples/
	$(PYTHON) -m data_prep.raw_example --out examples

test: $(ENV_READY) ## Run the whole test suite (about 20 minutes on 2 cores)
	$(PYTHON) -m pytest

test-fast: $(ENV_READY) ## Run the tests that do not sample (under a minute)
	$(PYTHON) -m pytest -m "not slow"

lint: $(ENV_READY) ## ruff lint and format check; import layers (analysis -> models -> data_prep -> cmds_common)
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(dir $(PYTHON))lint-imports

format: $(ENV_READY) ## Apply ruff's formatting and safe fixes
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

clean-fits: ## Delete the fits so the next `make fit` samples again (or: make fit REFIT=1)
	rm -rf $(RESULTS)/fits

clean: ## Delete everything under results/
	rm -rf $(RESULTS)
