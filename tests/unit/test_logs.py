"""Structured logs: JSON lines, and no caller number in them in the clear."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest

from callrouter import logs
from callrouter.logs import JsonFormatter, TextFormatter

NUMBER = "+79161234567"
MASKED = "+79*******67"


def log_record(
    msg: str, *args: object, extra: dict[str, Any] | None = None, exc: bool = False
) -> logging.LogRecord:
    """A record as ``logger.info(msg, *args, extra=extra)`` makes it."""
    exc_info = None
    if exc:
        try:
            raise ValueError(f"bad number {NUMBER}")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.getLogger("callrouter.test").makeRecord(
        "callrouter.test", logging.WARNING, __file__, 1, msg, args, exc_info, extra=extra
    )


def formatted(record: logging.LogRecord) -> dict[str, Any]:
    line = JsonFormatter().format(record)
    assert "\n" not in line, "one event, one line"
    entry = json.loads(line)
    assert isinstance(entry, dict)
    assert NUMBER not in line
    assert NUMBER.removeprefix("+") not in line
    return entry


def test_json_formatter_writes_one_json_object() -> None:
    entry = formatted(log_record("call %s ended", "c0ffee", extra={"line": "clinic-central", "seconds": 7.5}))
    assert entry["level"] == "warning"
    assert entry["logger"] == "callrouter.test"
    assert entry["msg"] == "call c0ffee ended"
    assert entry["line"] == "clinic-central"
    assert entry["seconds"] == 7.5
    assert entry["ts"].endswith("+00:00")


def test_a_number_in_the_message_is_masked() -> None:
    entry = formatted(log_record("call from %s to line clinic-central", NUMBER))
    assert entry["msg"] == f"call from {MASKED} to line clinic-central"


@pytest.mark.parametrize("field", ["caller", "number", "caller_number", "phone", "callee"])
def test_a_number_field_is_masked(field: str) -> None:
    entry = formatted(log_record("call ended", extra={field: NUMBER}))
    assert entry[field] == MASKED


def test_a_number_in_another_field_is_masked() -> None:
    entry = formatted(log_record("call ended", extra={"detail": f"caller {NUMBER} hung up"}))
    assert entry["detail"] == f"caller {MASKED} hung up"


def test_a_number_in_a_non_string_field_is_masked() -> None:
    entry = formatted(log_record("call ended", extra={"callers": [NUMBER]}))
    assert MASKED in entry["callers"]


def test_ids_are_not_masked() -> None:
    entry = formatted(
        log_record("channel %s", "1732312856.12", extra={"call_id": "5f0b8a7e-1c2d-4e3f-9a8b-7c6d5e4f3a2b"})
    )
    assert entry["msg"] == "channel 1732312856.12"
    assert entry["call_id"] == "5f0b8a7e-1c2d-4e3f-9a8b-7c6d5e4f3a2b"


def test_withheld_and_missing_callers_pass_through() -> None:
    entry = formatted(log_record("call ended", extra={"caller": None, "outcome": "greeted"}))
    assert entry["caller"] is None
    assert entry["outcome"] == "greeted"


def test_a_number_in_a_traceback_is_masked() -> None:
    entry = formatted(log_record("call failed", exc=True))
    assert "ValueError: bad number " + MASKED in entry["exc"]


def test_text_formatter_masks_too() -> None:
    line = TextFormatter().format(log_record("call from %s", NUMBER, extra={"caller": NUMBER}))
    assert NUMBER not in line
    assert f"call from {MASKED}" in line
    assert f"caller={MASKED}" in line


def test_through_a_real_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="callrouter.calls")
    logging.getLogger("callrouter.calls").info("call ended", extra={"caller": NUMBER, "line": "ambulance"})
    (record,) = caplog.records
    entry = formatted(record)
    assert entry["caller"] == MASKED
    assert entry["line"] == "ambulance"


def test_the_pools_warnings_during_an_outage_are_left_to_the_writer() -> None:
    """asyncpg's pool warns with a traceback every few seconds while PostgreSQL is away;
    the record writer says the outage once. Its errors still come through."""
    root = logging.getLogger()
    kept = (root.handlers[:], root.level)
    try:
        logs.setup("INFO", "json")
        pool = logging.getLogger("asyncpg.pool")
        assert not pool.isEnabledFor(logging.WARNING) and pool.isEnabledFor(logging.ERROR)
        assert logging.getLogger("callrouter.store.writer").isEnabledFor(logging.WARNING)
    finally:
        root.handlers[:], root.level = kept[0], kept[1]
