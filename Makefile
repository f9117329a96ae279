# The README's two commands: `make run` and `make test`. Both create (or reuse) the project
# virtualenv in .venv and install what is missing before they start.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
# MLflow's git lookups are for lineage only; a missing git must not make a run fail.
export GIT_PYTHON_REFRESH := quiet

.PHONY: install browser run test lint format benchmark benchmark-rolling benchmark-scale calibration-study rounds-study benchmark-docs benchmark-readme viz ui clean-registry server server-stop

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,viz,jupyter,team]"
	@touch $(STAMP)

install: $(STAMP)

## Train, register and gate a new model version on the files in data/01_raw; without a
## train.csv there, write synthetic ones first (`kedro data synthesize`, never over real files).
run: install
	@test -f data/01_raw/train.csv || $(BIN)/kedro data synthesize
	$(BIN)/kedro run

## The headless browser the kedro-viz test renders the site in: Debian's chromium, installed
## only when missing (needs root or passwordless sudo). Elsewhere, set CHROMIUM=/path/to/chrome.
## Never fatal here: without a browser the kedro-viz browser test fails and says why.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
browser:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
		echo "make browser: $(CHROMIUM) is missing and there is no apt-get: install Chromium and set CHROMIUM=" >&2; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else \
		echo "make browser: $(CHROMIUM) is missing; install it as root: apt-get install -y chromium" >&2; exit 0; fi; \
	echo "make browser: installing Debian's chromium"; \
	( $$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null ) \
		|| echo "make browser: apt-get install chromium failed" >&2

## Everything the project promises, tested for real (SQLite registry, real kedro runs, kedro-viz
## in headless Chromium).
## Two workers (pytest-xdist; TEST_WORKERS=0 runs in one process): most of the suite's time is
## real `kedro` subprocesses on one core each. A test file stays on one worker, so its
## module-scoped projects are built once.
TEST_WORKERS ?= 2
test: install browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: install
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

format: install
	$(BIN)/ruff format src tests scripts
	$(BIN)/ruff check --fix src tests scripts

## Speed and accuracy figures: full-size synthetic data, or Kaggle files with
## `make benchmark DATA=../shared/realdata-dev` (any folder with train.csv, store.csv, test.csv).
## Writes benchmark/results/<date>-<commit>[-<label>].json and .md and refills its block in
## docs/benchmarks.md. More options: `make benchmark ARGS="--n-stores 300 --keep"`; see
## scripts/benchmark.py. About 23 minutes on 2 cores (measured: 16:26 -> 16:48); then the
## rolling-origin benchmark (benchmark-rolling below; its options in ROLLING_ARGS).
DATA ?=
ARGS ?=
ROLLING_ARGS ?=
benchmark: install
	$(BIN)/python scripts/benchmark.py $(if $(DATA),--data $(DATA)) $(ARGS)
	$(BIN)/python scripts/rolling_benchmark.py $(if $(DATA),--data $(DATA)) $(ROLLING_ARGS)

## Accuracy over the seasons: the real `kedro run`, gate and promotion at 8 forecast origins
## spread over the data's last year (Christmas and Easter included), each scored on the 42
## days after it; `DATA=` as above (about 13 minutes on 2 cores for the 82-store dev slice,
## 31 for the full-size synthetic default, measured). See scripts/rolling_benchmark.py.
benchmark-rolling: install
	$(BIN)/python scripts/rolling_benchmark.py $(if $(DATA),--data $(DATA)) $(ARGS)

## How cost grows with the chain: `kedro run` on 100 to 11,150 synthetic stores (about 22
## minutes on 2 cores, measured; a size that would not fit is stopped at a memory ceiling).
benchmark-scale: install
	$(BIN)/python scripts/benchmark_scale.py $(ARGS)

## The forecast quantiles' calibration replayed over six periods, and whether a store's error carries
## from one period to the next (DATA=... for Kaggle files; about 7 minutes on full-size synthetic).
calibration-study: install
	$(BIN)/python scripts/calibration_study.py $(if $(DATA),--data $(DATA)) $(ARGS)

## Boosting rounds measured: each booster's RMSPE by rounds over several forecast origins
## (DATA=... for Kaggle files; about 4 minutes on the real dev slice, 12 on full-size synthetic).
rounds-study: install
	$(BIN)/python scripts/rounds_study.py $(if $(DATA),--data $(DATA)) $(ARGS)

## Refill the generated tables of docs/benchmarks.md from the newest results in benchmark/results.
benchmark-docs: install
	$(BIN)/python scripts/benchmark_report.py

# The target's name from when those tables lived in the README.
benchmark-readme: benchmark-docs

viz: install
	$(BIN)/kedro viz run

## A team's MLflow server on loopback: a throwaway PostgreSQL cluster (Debian's postgresql,
## installed with apt-get when missing and run as root), the server's own proxied artifact
## store and MLflow's permissions, all in .team-server/ (git-ignored). Prints the URI to use.
## TEAM_SERVER_PORT=5001 make server picks another port; ARGS="--no-auth" turns permissions off.
server: install
	$(BIN)/python scripts/team_server.py start $(ARGS)

server-stop: install
	$(BIN)/python scripts/team_server.py stop

ui: install
	$(BIN)/kedro mlflow ui
