# The gate (make check) and the demo. Run them through ./dev.sh, which installs
# what they need first.
PY := .venv/bin/python
BIN := .venv/bin

.PHONY: check lint types test test-unit test-integration test-packaging test-e2e demo prompts up down bench bench-smoke

check: lint types test

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
