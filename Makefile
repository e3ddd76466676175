# Two commands a user needs: `make run` and `make test`. Both bootstrap the virtualenv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint format clean web web-test api-client chaos soak

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The dashboard (web/): installed from the lock file and rebuilt only when its sources change.
# Without npm the platform still runs and serves a plain status page at / instead.
NPM := $(shell command -v npm 2>/dev/null)
WEB_DEPS := web/node_modules/.package-lock.json
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/package.json web/tsconfig.json web/vite.config.ts
NO_NPM := "make: npm not found, so the dashboard is not built: / shows a plain status page and the browser tests skip. Install Node.js 20+ with npm to get it."

$(WEB_DEPS): web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

web/dist/index.html: $(WEB_DEPS) $(WEB_SOURCES)
	cd web && npm run --silent build

web:
ifeq ($(NPM),)
	@echo $(NO_NPM)
else
	@$(MAKE) -s --no-print-directory web/dist/index.html
endif

web-test: web
ifneq ($(NPM),)
	cd web && npm test --silent
endif

api-client: $(STAMP) $(WEB_DEPS)
	cd web && npm run api

run: $(STAMP) web
	$(BIN)/streambot run

test: $(STAMP) web web-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q

# The feed_throughput section measures the official SDK beside the platform's feed client.
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/streambot bench

# The reliability suite, long versions: more kills, crash trials and fuzzed frames than `make test`
# runs, then a million frames through the atheris fuzzer; ends with a table of every test's figures.
CHAOS_RESULTS := $(CURDIR)/.chaos-results.jsonl
chaos: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,chaos]'
	rm -f $(CHAOS_RESULTS)
	status=0; \
	STREAMBOT_CHAOS_LONG=1 STREAMBOT_CHAOS_RESULTS=$(CHAOS_RESULTS) $(BIN)/pytest -q -m chaos || status=$$?; \
	STREAMBOT_CHAOS_LONG=1 STREAMBOT_CHAOS_RESULTS=$(CHAOS_RESULTS) $(BIN)/python -m tests.fuzz_parse -runs=1000000 || status=$$?; \
	$(BIN)/python -m bench.chaos_table $(CHAOS_RESULTS); \
	exit $$status

# The whole platform at full simulator speed for DURATION seconds: RSS and open fds over time.
DURATION ?= 600
soak: $(STAMP)
	$(BIN)/python -m bench.soak --duration $(DURATION)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache web/node_modules web/dist
