# Every target sets up what it needs: a fresh clone runs `make run` or `make test` directly.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Where settings.py keeps the SQLite database, the secret key and collected static files.
VAR_DIR := $(or $(BONTRACK_VAR_DIR),var)

.PHONY: run test lint format typecheck pytest bench fuzz clean catalog-lock openapi \
	migrations-check secret-key

$(STAMP): pyproject.toml
	@echo "[0/4] Python packages: installing into $(VENV) (first run only)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Where `make run` listens: BIND=0.0.0.0 serves the clinic network (docs/operations.md).
BIND ?= 127.0.0.1
PORT ?= 8000
# Source maps serve only a developer's browser tools; production builds keep them for the
# manifest, which rewrites the files' references to them.
STATIC_IGNORE := $(if $(filter production,$(BONTRACK_ENV)),,--ignore '*.map')

## run: install, migrate, load the demo clinic on an empty database, serve on http://$(BIND):$(PORT)
## (make run BIND=0.0.0.0 PORT=8080 for tablets on the clinic network: see docs/operations.md)
run: $(STAMP) secret-key
	@echo "[1/4] Database: applying migrations (a minute on a new database)"
	$(BIN)/python manage.py migrate --noinput --verbosity 0
	@echo "[2/4] Demo clinic: loaded only into an empty database"
	$(BIN)/bontrack demo --if-empty
	@echo "[3/4] Static files: copying the pages' scripts and styles"
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0 $(STATIC_IGNORE)
	@echo "[4/4] Serving http://$(BIND):$(PORT) with debug off (Ctrl-C stops): sign in there"
	@echo "  with a demo user and the password printed when the demo was loaded. Or log in to the API:"
	@echo "  curl -X POST http://$(BIND):$(PORT)/api/v1/auth/token -H 'Content-Type: application/json' \\"
	@echo "       -d '{\"username\": \"physician\", \"password\": \"...\"}'"
	@echo "  docs: /api/v1/docs (physician and admin set up an authenticator app at their first"
	@echo "  sign-in on the pages, then add \"code\": \"123456\" with the app's current code)"
	@if [ "$(BIND)" != "127.0.0.1" ] && [ "$(BIND)" != "localhost" ]; then \
		echo "  Other devices: add this machine's name or address to BONTRACK_ALLOWED_HOSTS"; \
		echo "  (now: $${BONTRACK_ALLOWED_HOSTS:-127.0.0.1,localhost}). Sign-in, security keys"; \
		echo "  and secure cookies need HTTPS with the clinic's certificate: docs/operations.md."; \
	fi
	@# The task consumer (bulk exports) runs beside gunicorn; Ctrl-C stops both (the trap ends
	@# the consumer, which a non-interactive shell starts with SIGINT ignored).
	BONTRACK_DEBUG=0 $(BIN)/python manage.py run_huey & consumer=$$!; \
	trap 'kill $$consumer 2>/dev/null; wait $$consumer' EXIT INT TERM; \
	BONTRACK_DEBUG=0 $(BIN)/gunicorn bontrack.wsgi:application --bind $(BIND):$(PORT) \
		--workers 2 --access-logfile - --no-control-socket $(GUNICORN_TLS)

# HTTPS with the clinic's certificate: make run TLS_CERT=/path/cert.pem TLS_KEY=/path/key.pem
GUNICORN_TLS := $(if $(TLS_CERT),--certfile $(TLS_CERT) --keyfile $(TLS_KEY))

# A random key in $(VAR_DIR)/secret_key (mode 600, never committed) unless SECRET_KEY is set;
# likewise $(VAR_DIR)/credentials_key unless BONTRACK_CREDENTIALS_KEY is set, and $(VAR_DIR)/audit_key
# unless BONTRACK_AUDIT_KEY is set.
secret-key:
	@if [ -z "$$SECRET_KEY" ] && [ ! -s $(VAR_DIR)/secret_key ]; then \
		mkdir -p $(VAR_DIR) && (umask 077; $(PYTHON) -c \
			'import secrets; print(secrets.token_urlsafe(50))' > $(VAR_DIR)/secret_key) && \
		chmod 600 $(VAR_DIR)/secret_key && echo "wrote a new secret key to $(VAR_DIR)/secret_key"; \
	fi
	@# The Fernet key of second-factor secrets (as Fernet.generate_key() makes it: this Python
	@# may not have cryptography), unless BONTRACK_CREDENTIALS_KEY is set. Never in a backup.
	@if [ -z "$$BONTRACK_CREDENTIALS_KEY" ] && [ ! -s $(VAR_DIR)/credentials_key ]; then \
		mkdir -p $(VAR_DIR) && (umask 077; $(PYTHON) -c \
			'import base64, secrets; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())' \
			> $(VAR_DIR)/credentials_key) && chmod 600 $(VAR_DIR)/credentials_key && \
		echo "wrote a new key for second-factor secrets to $(VAR_DIR)/credentials_key"; \
	fi
	@# The HMAC key of the audit trail and the security log, unless BONTRACK_AUDIT_KEY is set.
	@# Kept apart from the database and its backups: whoever can edit the tables cannot re-key them.
	@if [ -z "$$BONTRACK_AUDIT_KEY" ] && [ ! -s $(VAR_DIR)/audit_key ]; then \
		mkdir -p $(VAR_DIR) && (umask 077; $(PYTHON) -c \
			'import secrets; print(secrets.token_urlsafe(32))' > $(VAR_DIR)/audit_key) && \
		chmod 600 $(VAR_DIR)/audit_key && \
		echo "wrote a new key for the audit trail to $(VAR_DIR)/audit_key"; \
	fi

## test: lint, type-check the domain core, run the test suite
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check bontrack tests bench
	$(BIN)/ruff format --check bontrack tests bench

format: $(STAMP)
	$(BIN)/ruff check --fix bontrack tests bench
	$(BIN)/ruff format bontrack tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict bontrack/domain

# Test processes: one per core (pytest-xdist); each has its own test database and files.
# TEST_WORKERS=0 runs the suite in this one process.
TEST_WORKERS ?= auto

pytest: $(STAMP)
	DATABASE_URL= $(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup || [ $$? -eq 5 ]
	DATABASE_URL=$${BONTRACK_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres} \
		$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup -m postgres || [ $$? -eq 5 ]

## bench: benchmarks that print ratios measured in one run
bench: $(STAMP)
	$(BIN)/python bench/check.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/due.py
	$(BIN)/python bench/export.py --database sqlite
	$(BIN)/python bench/export.py --database postgres
	$(BIN)/python bench/reauth.py
	$(BIN)/python bench/load.py --database sqlite
	$(BIN)/python bench/load.py --database postgres
	$(BIN)/python bench/scale.py

## openapi: write the API's schema to docs/openapi.json (a test compares it with the code)
openapi: $(STAMP) secret-key
	$(BIN)/python -m bontrack.api.openapi

## migrations-check: fail when a model change has no migration (pytest runs the same check)
migrations-check: $(STAMP) secret-key
	$(BIN)/python manage.py makemigrations --check --dry-run

## fuzz: longer property-based runs than the test suite does; the API schema fuzz runs again
## against PostgreSQL, which refuses what SQLite stores (over-long text, NUL)
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz DATABASE_URL= $(BIN)/pytest -q -p no:cacheprovider tests/domain \
		tests/cli tests/api/test_fuzz_api.py tests/interop/test_fuzz_csv_import.py \
		tests/services/test_fuzz_diary_import.py
	HYPOTHESIS_PROFILE=fuzz \
	DATABASE_URL=$${BONTRACK_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres} \
		$(BIN)/pytest -q -p no:cacheprovider tests/api/test_fuzz_api.py

clean:
	rm -rf $(VENV) build *.egg-info

## catalog-lock: record the catalog data's hash after bumping its version
catalog-lock: $(STAMP)
	$(BIN)/python -m bontrack.catalog_lock
