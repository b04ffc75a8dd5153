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

DEMO_DIR := var/demo

## make run: the web app built, the four services in embedded mode behind the gateway on http://127.0.0.1:8000,
## on the demo campaign (played once into var/demo, then kept);
## make run EMPTY=1: the reference ledger with no history instead (var/embedded).
run: install web
ifeq ($(EMPTY),1)
	$(VENV)/bin/closeloop dev --data-dir var/embedded
else
	@if [ ! -f $(DEMO_DIR)/DEMO.json ]; then \
	  if [ -e $(DEMO_DIR) ]; then echo "error: $(DEMO_DIR) holds an unfinished demo; remove it and run make run again"; exit 1; fi; \
	  $(VENV)/bin/closeloop demo --data-dir $(DEMO_DIR); \
	fi
	@echo "演示数据: the services open on the simulated Hohhot campaign in $(DEMO_DIR)."
	@echo "  To start with the reference ledger and no history instead: make run EMPTY=1"
	$(VENV)/bin/closeloop dev --data-dir $(DEMO_DIR) --no-seed
endif

## make test: starts Kafka and PostgreSQL (scripts/servers.sh), runs every test, stops them.
test: install
	scripts/test.sh

## make test-fast: the handler tier only (runtimes without an app, no servers), in seconds.
test-fast: install
	$(VENV)/bin/pytest -q -p no:cacheprovider -m fast tests

lint: install
	$(VENV)/bin/ruff check contracts runtime services audit closeloop gateway demo tests bench scripts/simplify_districts.py
	$(VENV)/bin/mypy contracts runtime services audit closeloop gateway demo

servers-start:
	scripts/servers.sh start

servers-stop:
	scripts/servers.sh stop

clean:
	rm -rf var/embedded var/demo var/test-servers
