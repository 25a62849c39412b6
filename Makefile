# Heliox: `make run` serves the app with demo data, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
# Local development and tests run with DEBUG on (no TLS redirect, dev secret key);
# production sets DEBUG=off and a SECRET_KEY (see .env.example).
export DEBUG ?= on

.PHONY: install run worker beat migrate migration test lint format check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-focus.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# A local .env with DEBUG on, so that `.venv/bin/python manage.py ...` works outside make too.
.env:
	printf 'DEBUG=on\n' > .env
	@echo "Wrote .env (DEBUG=on) for local development; see .env.example for every setting."

# `make run PORT=8001` when 8000 is taken; the address printed last is the one to open.
PORT ?= 8000
run: install .env migrate
	$(MANAGE) seed_demo --if-empty
	$(MANAGE) ensure_admin
	@echo "Heliox: open http://127.0.0.1:$(PORT)/admin/ (the dashboard; log in as admin)"
	$(MANAGE) runserver 127.0.0.1:$(PORT)

# Background work on workers: set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) in .env, then
# run `make run`, `make worker` (as many as you like) and one `make beat`, each in its own terminal.
# Without a broker, tasks run inside `make run` itself, and these two say so and stop.
worker: install .env migrate
	$(BIN)/celery -A heliox worker --loglevel INFO

beat: install .env migrate
	$(BIN)/celery -A heliox beat --loglevel INFO

migrate: install
	$(MANAGE) migrate --noinput

migration: install
	@test -n "$(MSG)" || (echo "usage: make migration MSG=short_name_of_the_change" >&2; exit 2)
	$(MANAGE) makemigrations --name "$(MSG)"

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

# Style, the import contracts (.importlinter), module and function sizes, and types on the domain code.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python .ci/code_sizes.py
	$(BIN)/mypy teams jobs costs ops web

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Migrations match the models, the production settings pass Django's deploy checks
# with nothing set but SECRET_KEY and ALLOWED_HOSTS, and the static files build as the
# Dockerfile builds them (hashed names: a reference to a missing file fails).
PROD_ENV = env -u DEBUG DEBUG=off ALLOWED_HOSTS=heliox.example.com \
	SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')"
check: install
	$(MANAGE) check
	$(MANAGE) makemigrations --check --dry-run
	$(PROD_ENV) $(MANAGE) check --deploy --fail-level WARNING
	static=$$(mktemp -d) && trap 'rm -rf "$$static"' EXIT && \
		$(PROD_ENV) STATIC_ROOT="$$static" $(MANAGE) collectstatic --noinput --verbosity 0

clean:
	rm -rf $(VENV) staticfiles
