# Closed Loop — the two set-up commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test test-fast install lint servers-start servers-stop clean web

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11"; exit 1; }
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## make web: build the web app (web/ → web/dist) when its sources or lock file changed; says why when there is none.
web:
	scripts/build-web.sh

## make run: the web app built, the four services in embedded mode (SQLite files in var/) behind the gateway
## on http://127.0.0.1:8000, seeded with the reference ledger.
run: install web
	$(VENV)/bin/closeloop dev --data-dir var/embedded

## make test: starts Kafka and PostgreSQL (scripts/servers.sh), runs every test, stops them.
test: install
	scripts/test.sh

## make test-fast: the handler tier only (runtimes without an app, no servers), in seconds.
test-fast: install
	$(VENV)/bin/pytest -q -p no:cacheprovider -m fast tests

lint: install
	$(VENV)/bin/ruff check contracts runtime services audit closeloop gateway tests bench
	$(VENV)/bin/mypy contracts runtime services audit closeloop gateway

servers-start:
	scripts/servers.sh start

servers-stop:
	scripts/servers.sh stop

clean:
	rm -rf var/embedded var/test-servers
