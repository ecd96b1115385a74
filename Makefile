# The gate (make check) and the demo. Run them through ./dev.sh, which installs
# what they need first.
PY := .venv/bin/python
BIN := .venv/bin

.PHONY: check lint types test test-beside test-unit test-integration test-packaging test-e2e demo prompts up down bench bench-smoke

# The end-to-end tests' second stream (the first: all the others), each on its own
# stack (CALLROUTER_E2E_STACK): about half of the time of the calls each (most of it
# is waiting on real calls, not CPU). A new test file goes to the first stream;
# test_simulate_validation.py stays there (its scenario names the stack "test"'s config).
E2E_B := tests/e2e/test_callbacks.py tests/e2e/test_results_calls.py tests/e2e/test_queue_log.py \
	tests/e2e/test_db_outage.py tests/e2e/test_hold.py tests/e2e/test_bench_smoke.py

# The gate: the end-to-end tests in two streams side by side, beside the rest (lint,
# types, unit, integration and packaging tests: mostly CPU). The first stream's output
# is printed as it comes, the others' once all are done; it fails if any does. The
# prompts are made first (both streams' stacks install them).
check:
	@mkdir -p .run
	@rm -f .run/check-beside.rc .run/check-e2e-b.rc
	@$(PY) -m devstack prompts
	@trap 'trap - INT TERM; kill 0' INT TERM; \
	( $(MAKE) --no-print-directory lint types test-beside > .run/check-beside.log 2>&1; \
	   echo $$? > .run/check-beside.rc ) & beside=$$!; \
	( CALLROUTER_E2E_STACK=test-b $(BIN)/pytest $(E2E_B) --durations=10 > .run/check-e2e-b.log 2>&1; \
	   echo $$? > .run/check-e2e-b.rc ) & second=$$!; \
	$(BIN)/pytest tests/e2e $(E2E_B:%=--ignore=%) --durations=10; e2e=$$?; \
	wait $$second; wait $$beside; \
	echo "==== the end-to-end tests' second stream: $(E2E_B:tests/e2e/%=%)"; \
	cat .run/check-e2e-b.log; e2e_b=$$(cat .run/check-e2e-b.rc); \
	echo "==== beside the e2e tests: lint, types, unit, integration and packaging tests"; \
	cat .run/check-beside.log; beside_rc=$$(cat .run/check-beside.rc); \
	echo "==== e2e tests: exit $$e2e and $$e2e_b; lint, types and the other tests: exit $$beside_rc"; \
	[ "$$e2e" -eq 0 ] && [ "$$e2e_b" -eq 0 ] && [ "$$beside_rc" -eq 0 ]

test-beside:
	$(BIN)/pytest tests/unit tests/integration tests/packaging --durations=15

# lint-imports: the layers (pyproject's [tool.importlinter] contracts).
lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache --no-logo

types:
	$(BIN)/mypy

test:
	$(BIN)/pytest --durations=25

test-unit:
	$(BIN)/pytest tests/unit

test-integration:
	$(BIN)/pytest tests/integration

test-packaging:
	$(BIN)/pytest tests/packaging

test-e2e:
	$(BIN)/pytest tests/e2e

demo:
	$(PY) -m devstack.demo

prompts:
	$(PY) -m devstack prompts

up:
	$(PY) -m devstack up

down:
	$(PY) -m devstack down

# The rate steps, callers waiting on hold, one overload step, the record writer (about 40 minutes).
bench:
	$(PY) -m bench.run
	$(PY) -m bench.hold
	$(PY) -m bench.overload
	$(PY) -m bench.writer

bench-smoke:
	$(PY) -m bench.run --smoke
