# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.13
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test install db stop migrate lint format bench bench-sms lock serve upgrade-check soak simulate

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installed once per change of the lock file.
$(VENV)/.installed: requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.lock
	touch $@

install: $(VENV)/.installed

db: install
	$(BIN)/python -m statstak.database start

migrate: db
	$(BIN)/python manage.py migrate --noinput

# The portal and a queue worker side by side (Procfile.dev, run by honcho); Ctrl-C stops both.
run: migrate
	$(BIN)/python manage.py seed_demo
	@echo
	@echo "  StatStak Labs admin portal: http://127.0.0.1:$(PORT)/  (log in with the staff login above)"
	@echo "  Text messages go through the queue worker started beside it (console SMS: printed below)."
	@echo
	PORT=$(PORT) PYTHONUNBUFFERED=1 $(BIN)/honcho start -f Procfile.dev

test: db
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The scale benchmark, every scenario (bench/README.md): builds its own database of 1,000,000
# customers on first use, then writes bench/REPORT.md. Takes about 25 minutes (plus about 11 to build its data once).
bench: db
	PYTHONUNBUFFERED=1 $(BIN)/python -m bench $(BENCH_ARGS)

# The SMS queue: 10,000 messages drained by a worker, console and Twilio (a local server).
bench-sms: db
	$(BIN)/python -m bench.sms

# Production-style, on this machine: static files collected (compressed, hashed names) and served by
# gunicorn through WhiteNoise (gunicorn.conf.py), a queue worker beside it (Procfile). Ctrl-C stops both.
serve: migrate
	STATIC_MANIFEST=true $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	STATIC_MANIFEST=true DJANGO_DEBUG=false GUNICORN_BIND=127.0.0.1:$(PORT) PATH="$(CURDIR)/$(BIN):$$PATH" \
		PYTHONUNBUFFERED=1 $(BIN)/honcho start -f Procfile web worker

# The concurrency soak for longer than CI gives it (tests/books/test_soak.py): SECONDS=…, SEED=… to replay.
SECONDS ?= 300
soak: db
	SOAK_SECONDS=$(SECONDS) $(if $(SEED),SOAK_SEED=$(SEED)) $(BIN)/python -m pytest -q -s tests/books/test_soak.py

# The randomized simulation of the money system (tests/books/simulation.py): RUNS runs of STEPS steps from a
# random base seed (printed); SEED=… replays one run exactly.
RUNS ?= 1000
STEPS ?= 40
simulate: db
	SIM_RUNS=$(RUNS) SIM_STEPS=$(STEPS) $(if $(SEED),SIM_SEED=$(SEED)) $(BIN)/python -m pytest -q -s -p no:cacheprovider \
		tests/books/test_simulation.py -k keep_every_rule

# A database made by an earlier main (REF, default in the script), with money in it, migrated by
# this checkout: the books still balance and the schema equals a fresh one's. CI runs it.
upgrade-check: db
	bash .ci/upgrade_check.sh $(REF)

stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m statstak.database stop; fi

# Regenerate the pinned versions from pyproject.toml.
lock: | $(BIN)/python
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.13 -o requirements.lock
