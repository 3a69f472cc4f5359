# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DJANGO_SETTINGS_MODULE := medappt.settings

.PHONY: run worker test test-all lint format install install-dev migrate seed clean bench soak

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

## run: the service on SQLite with demo data, DEBUG on, at http://127.0.0.1:8000; background
## jobs run in-process (no broker) and the periodic ones in run_periodic, stopped on exit
run: install
	DEBUG=true $(BIN)/python manage.py migrate --noinput
	DEBUG=true $(BIN)/python manage.py seed_demo
	@echo "Portal: http://127.0.0.1:8000/portal/   API docs: http://127.0.0.1:8000/api/docs/   admin: http://127.0.0.1:8000/admin/"
	DEBUG=true $(BIN)/python manage.py run_periodic & periodic=$$!; \
	trap 'kill $$periodic 2>/dev/null' EXIT INT TERM; \
	DEBUG=true $(BIN)/python manage.py runserver 127.0.0.1:8000

## worker: a Celery worker with the one beat (needs REDIS_URL or CELERY_BROKER_URL); on other
## hosts run only `celery -A medappt worker` (README, Background jobs)
worker: install
	$(BIN)/celery -A medappt worker --beat --loglevel=INFO \
		--schedule=$(VENV)/celerybeat-schedule

## test: the fast suite, no fuzz or browser tests (SQLite unless DATABASE_URL points elsewhere)
test: install-dev
	$(BIN)/pytest -m "not fuzz and not browser"

## test-all: everything, the schemathesis fuzz run and the Chromium tests included (what CI runs)
test-all: install-dev
	$(BIN)/pytest

## lint: ruff, and import-linter's layer contracts (pyproject.toml, docs/architecture.md)
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: HTTP throughput/latency targets under gunicorn + wrk on PostgreSQL (bench/README.md);
## BENCH_DOCTORS="20 200" runs both scales and checks the cost stays flat
BENCH_DOCTORS ?= 20
bench: install
	$(BIN)/python bench/http_bench.py --doctors $(BENCH_DOCTORS) $(BENCH_ARGS)

## soak: ten minutes (SOAK_SECONDS) of mixed traffic with a Celery worker, then counts mails,
## events, deliveries, worker memory and the audit chain (bench/README.md); not part of test
SOAK_SECONDS ?= 600
soak: install
	SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles
