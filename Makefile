# The one place that knows the project's commands. `make help` lists them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NODES ?= 1
PYTEST_ARGS ?=
BENCH_ARGS ?=
MERGE ?=

.DEFAULT_GOAL := help
.PHONY: help venv postgres-binaries test test-reliability lint format kafka-up kafka-down registry-up registry-down sim bench demo clean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed  ## create .venv with the pinned requirements

postgres-binaries:  ## PostgreSQL's server binaries for the store tests (Debian's package, where missing)
	@scripts/postgres-binaries.sh

test: venv lint postgres-binaries  ## the whole suite, against a real Kafka (started here if none answers at localhost:9092), throw-away PostgreSQL servers and a schema registry the tests start
	kafka/with-kafka.sh $(PY) -m pytest $(PYTEST_ARGS)

# Full counts run a scenario for longer than make test's 10 minutes a test (pyproject.toml).
test-reliability: venv postgres-binaries  ## the fault-injection suite at full counts; rewrites docs/RELIABILITY.md (MERGE=1: only the rows of the scenarios it ran)
	AQI_RELIABILITY_SCALE=full AQI_RELIABILITY_REPORT=docs/RELIABILITY.md AQI_RELIABILITY_MERGE=$(MERGE) \
		kafka/with-kafka.sh $(PY) -m pytest tests/reliability --timeout 2400 $(PYTEST_ARGS)

lint: venv  ## ruff: lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv  ## ruff: fix what can be fixed and format
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

kafka-up: venv  ## start a local Kafka from Maven Central jars (NODES=3 for a cluster)
	$(PY) kafka/local_kafka.py up --nodes $(NODES)

kafka-down: venv  ## stop the local Kafka (CLEAN=1 also wipes its data)
	$(PY) kafka/local_kafka.py down $(if $(CLEAN),--clean)

registry-up: venv  ## start Apicurio Registry at http://localhost:8080/apis/ccompat/v7, schemas kept in the local Kafka
	$(PY) kafka/local_registry.py up

registry-down: venv  ## stop the local registry (CLEAN=1 also deletes its schemas)
	$(PY) kafka/local_registry.py down $(if $(CLEAN),--clean)

sim: venv  ## run the WAQI simulator in the foreground on localhost:8765
	$(PY) -m aqistream.waqi_sim --port 8765

bench: venv postgres-binaries  ## benchmarks against the naive baseline: writes bench/results.json and bench/RESULTS.md
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	kafka/with-kafka.sh $(PY) -m bench.run $(BENCH_ARGS)

demo: venv  ## the quickstart: Kafka, the WAQI simulator (unless WAQI_TOKEN is set), producer and consumer; Ctrl-C stops them (REGISTRY=1: with a schema registry)
	@scripts/demo.sh $(CONFIG)

clean:  ## remove the venv and every local broker's data
	-$(PY) kafka/local_registry.py down
	-$(PY) kafka/local_kafka.py down --clean
	rm -rf $(VENV) kafka/.run .pytest_cache .ruff_cache
