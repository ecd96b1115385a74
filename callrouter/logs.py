"""Structured logging: JSON lines when not on a terminal, phone numbers masked.

Fields passed with ``extra=`` appear as JSON keys. Any field named like a
phone number (``caller``, ``number``...) is masked, and every phone-number-like
token in the message itself too, so a careless log call cannot leak one.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from callrouter.core.numbers import mask, mask_text

NUMBER_FIELDS = {"caller", "callee", "number", "caller_number", "phone"}
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.__dict__.items():
        if key in _STANDARD or key.startswith("_"):
            continue
        if key in NUMBER_FIELDS and isinstance(value, str | int) and not isinstance(value, bool):
            value = mask(str(value))
        elif isinstance(value, str):
            value = mask_text(value)
        elif not isinstance(value, int | float | bool | type(None)):
            value = mask_text(str(value))
        out[key] = value
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_text(record.getMessage()),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{when} {record.levelname:<7} {record.name}: {mask_text(record.getMessage())}"
        if extras:
            line += f"  {extras}"
        if record.exc_info:
            line += "\n" + mask_text(self.formatException(record.exc_info))
        return line


def setup(level: str = "INFO", fmt: str = "auto") -> None:
    handler = logging.StreamHandler(sys.stderr)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # While PostgreSQL is away the pool warns, with a traceback, every few seconds that it
    # cannot keep its connections; the record writer says the outage once, in words.
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)
