# consentry: `make run` starts the daemon on the embedded default, `make test` runs
# the whole suite. Both install what they need on a fresh Debian machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
APT_STAMP := .venv-apt-ok
CONFIG ?= config.example.yaml

DEBS_RUN  := redis-server
DEBS_TEST := redis-server swaks postfix chromium systemd iproute2
DEBS_BENCH := nodejs npm

.PHONY: run test lint typecheck unit bench bench-relay eval torture clean deps-run deps-test deps-bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Debian packages: redis-server always; Postfix only for its smtp-sink/smtp-source test
# tools, with debconf's "No configuration" so no postfix daemon is set up or started.
deps-run:
	@command -v redis-server >/dev/null 2>&1 || { \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEBS_RUN); }

deps-test:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v swaks >/dev/null 2>&1 || missing="$$missing swaks"; \
	command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ] || missing="$$missing postfix"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	command -v ss >/dev/null 2>&1 || missing="$$missing iproute2"; \
	if [ -n "$$missing" ]; then \
	  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

run: deps-run $(STAMP)
	$(BIN)/consentry -c $(CONFIG) serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite runs on pytest-xdist workers: it mostly waits (real redis-servers, SMTP peers,
# timeouts, processes killed and restarted), so more workers than CPUs still pay off.
# --dist loadgroup keeps an xdist_group (the Redis Cluster module) on one worker.
# Serially: make test PYTEST_ARGS="-n 0"; more or fewer workers: PYTEST_ARGS="-n 6".
PYTEST_ARGS ?= -n 4 --dist loadgroup

# compileall: the editable install leaves src/ uncompiled, and with PYTHONDONTWRITEBYTECODE
# set every `consentry` process the suite starts would compile the package again.
test: deps-test $(STAMP) lint typecheck
	@$(BIN)/python -m compileall -q src >/dev/null
	$(BIN)/pytest -q $(PYTEST_ARGS)

# The benchmark suite (bench/suite.py): also needs node/npm (Haraka, installed by the
# suite itself into var/bench/haraka-VERSION) and the `bench` extra (matplotlib for the chart).
deps-bench:
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEBS_BENCH); }

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: deps-test deps-bench $(BENCH_STAMP)
	$(BIN)/python bench/suite.py $(BENCH_ARGS)

# The relay benchmark alone (consentry vs a bare passthrough, A/B of two builds).
bench-relay: deps-test $(STAMP)
	$(BIN)/python bench/relay.py $(BENCH_ARGS)

# The fault, hostile-input and fuzz suites in full (more messages, repetitions and
# examples than their short forms in `make test`), then the fault ledger's invariant
# counts per scenario as a table. Suites not present in this checkout are skipped.
TORTURE_DIRS := tests/fault tests/hostile tests/fuzz
TORTURE_COUNTS := var/torture-counts.jsonl
# Serial by default: the full scenarios load the daemon on purpose, and workers competing
# for the CPUs would shift their fault timings. TORTURE_ARGS="-n 2" runs them on
# pytest-xdist workers (the ledger appends each count line under a lock).
TORTURE_ARGS ?=

torture: deps-test $(STAMP)
	@mkdir -p var && rm -f $(TORTURE_COUNTS)
	@dirs=""; for d in $(TORTURE_DIRS); do [ -d $$d ] && dirs="$$dirs $$d"; done; \
	CONSENTRY_TORTURE=1 CONSENTRY_FAULT_COUNTS=$(TORTURE_COUNTS) $(BIN)/pytest -q $(TORTURE_ARGS) $$dirs; \
	rc=$$?; $(BIN)/python tests/fault/summary.py $(TORTURE_COUNTS); exit $$rc

# Inbound classifier against the labelled corpora in tests/data (issue 5 goals);
# HELDOUT=DIR also scores DIR/bounces and DIR/replies apart (a held-out half).
eval: $(STAMP)
	$(BIN)/python bench/inbound_eval.py $(if $(HELDOUT),--heldout $(HELDOUT))

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
