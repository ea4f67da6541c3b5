# The two commands a newcomer runs: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Debian's PostgreSQL 15 server, when installed: `make test` also runs the suite on it.
PG15_BINDIR ?= /usr/lib/postgresql/15/bin

.PHONY: demo test test-pg18 test-pg15 chromium snapshots bench clean install

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The demo's server lives in ./.fspg (make clean removes it); fspg commands run in this
# folder or below find it there.
demo: $(STAMP)
	FSPG_HOME=$(CURDIR)/.fspg $(BIN)/fspg demo

test: chromium test-pg18 test-pg15

# The catalog-site tests drive Debian's Chromium (never a downloaded browser). Installed
# here when missing and apt-get can run (root); elsewhere those tests skip and say why,
# unless FSPG_REQUIRE_BROWSER=1 (.ci/run) makes a missing browser a failure.
chromium:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "== installing Debian's chromium for the catalog-site tests"; \
		apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null); \
	fi

test-pg18: $(STAMP)
	$(BIN)/pytest -q

# Runs only where PostgreSQL 15 is installed; vector tests skip there (no pgvector).
test-pg15: $(STAMP)
	@if [ -x "$(PG15_BINDIR)/postgres" ]; then \
		echo "== test suite on PostgreSQL 15 ($(PG15_BINDIR))"; \
		FSPG_PG_BINDIR=$(PG15_BINDIR) $(BIN)/pytest -q; \
	else \
		echo "== PostgreSQL 15 not installed at $(PG15_BINDIR): suite ran on the embedded PostgreSQL 18 only"; \
	fi

# After an intended SQL change: rewrite the catalog snapshots (both servers), then review the diff.
snapshots: $(STAMP)
	FSPG_UPDATE_SNAPSHOT=1 $(BIN)/pytest -q tests/test_migrate.py
	@if [ -x "$(PG15_BINDIR)/postgres" ]; then FSPG_UPDATE_SNAPSHOT=1 FSPG_PG_BINDIR=$(PG15_BINDIR) $(BIN)/pytest -q tests/test_migrate.py; fi

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .fspg build dist *.egg-info
