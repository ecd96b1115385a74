# The gate (make check) and the demo. Run them through ./dev.sh, which installs
# what they need first.
PY := .venv/bin/python
BIN := .venv/bin

.PHONY: check lint types test test-beside test-unit test-integration test-packaging test-e2e demo prompts up down bench bench-smoke

# The gate: the end-to-end tests (mostly waiting on real calls) run beside the rest
# (lint, types, unit, integration and packaging tests: mostly CPU), whose output is
# printed once both are done; it fails if either does.
check:
	@mkdir -p .run
	@( $(MAKE) --no-print-directory lint types test-beside > .run/check-beside.log 2>&1; \
	   echo $$? > .run/check-beside.rc ) & beside=$$!; \
	$(BIN)/pytest tests/e2e --durations=15; e2e=$$?; \
	wait $$beside; \
	echo "==== beside the e2e tests: lint, types, unit, integration and packaging tests"; \
	cat .run/check-beside.log; beside_rc=$$(cat .run/check-beside.rc); \
	echo "==== e2e tests: exit $$e2e; lint, types and the other tests: exit $$beside_rc"; \
	[ "$$e2e" -eq 0 ] && [ "$$beside_rc" -eq 0 ]

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
