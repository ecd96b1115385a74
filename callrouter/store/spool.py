"""The spool: records kept on local disk while PostgreSQL is away, one JSON line each.

A line is an envelope, ``{"type": "call_event", "record": {...}}``: the record's
type lives beside its fields, never among them (a call event has a field of its
own called ``kind``; the first format stored the type in a field of that name
and a call event's kind overwrote it). Every record type the router produces
has a name in ``RECORD_TYPES``; a test holds that table against ``Record``.

Decoding is strict (a field of the wrong type is an error, not a guess), and
still reads the first format, so spools and ``records.bad`` files written by
earlier versions replay.

The file functions here block (they fsync): the writer calls them through
``asyncio.to_thread``, never on the event loop.
"""

from __future__ import annotations

import json
import os
import types
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, Union, get_args, get_origin, get_type_hints

from callrouter.core.records import (
    AgentStateRecord,
    CallbackRecord,
    CallEventRecord,
    CallRecord,
    NotificationRecord,
    PersonRecord,
    PlaceRecord,
    Record,
)

RECORD_TYPES: dict[str, type[Record]] = {
    "call": CallRecord,
    "call_event": CallEventRecord,
    "agent_state": AgentStateRecord,
    "place": PlaceRecord,
    "person": PersonRecord,
    "callback": CallbackRecord,
    "notification": NotificationRecord,
}
_NAMES = {cls: name for name, cls in RECORD_TYPES.items()}


class UnreadableLine(ValueError):
    """A spool line that is not a record this version can rebuild."""


def encode(record: Record, **extra: str) -> str:
    """One spool line (without the newline) for a record; ``extra`` goes into the envelope."""
    name = _NAMES.get(type(record))
    if name is None:
        raise TypeError(f"{type(record).__name__} has no spool name in RECORD_TYPES")
    body = _plain(record)
    # ASCII only: text from Asterisk may hold lone surrogates, which UTF-8 cannot carry
    # but a JSON escape can; the line then reads back to the same record.
    return json.dumps({"type": name, "record": body, **extra}, allow_nan=False)


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):  # a callback's attempts
        return [_plain(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


def decode(raw: bytes) -> Record:
    """Rebuild a record from a spool line; ``UnreadableLine`` says why it cannot."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise UnreadableLine(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UnreadableLine(f"a JSON {type(data).__name__}, not a record")
    if "type" in data:
        name, body = data["type"], data.get("record")
        if not isinstance(body, dict):
            raise UnreadableLine("the envelope holds no record")
    else:
        name, body = _first_format(data)
    cls = RECORD_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise UnreadableLine(f"unknown record type {name!r}")
    return _build(cls, body)


def _first_format(data: dict[str, Any]) -> tuple[object, dict[str, Any]]:
    """The first format: fields at the top level with the type in ``kind``, which a
    call event's own kind replaced (a call event is recognised by its fields)."""
    body = {k: v for k, v in data.items() if k != "refused"}
    kind = body.pop("kind", "call")
    if kind in RECORD_TYPES:
        return kind, body
    if {"call_id", "node", "at"} <= body.keys():
        return "call_event", {**body, "kind": kind}  # the event's own kind
    return kind, body


@dataclass(frozen=True)
class _FieldType:
    base: Any  # a class, or a generic alias such as tuple[CallbackAttempt, ...]
    optional: bool


_TYPES: dict[type, dict[str, _FieldType]] = {}  # each class's fields, read once


def _field_types(cls: type) -> dict[str, _FieldType]:
    if cls not in _TYPES:
        out = {}
        for name, hint in get_type_hints(cls).items():
            args = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
            bases = [a for a in args if a is not type(None)]
            out[name] = _FieldType(bases[0], len(bases) < len(args))
        _TYPES[cls] = out
    return _TYPES[cls]


_Built = TypeVar("_Built")


def _build(cls: type[_Built], body: dict[str, Any], where: str = "") -> _Built:
    """``cls`` (a record, or a dataclass inside one) from its JSON object; ``where``
    names it in errors (``CallbackRecord.attempts[0]``), by default its class."""
    where = where or cls.__name__
    expected = _field_types(cls)
    unknown = body.keys() - expected.keys()
    if unknown:
        raise UnreadableLine(f"{where} has no field {sorted(unknown)[0]!r}")
    values: dict[str, Any] = {}
    for name, value in body.items():
        values[name] = _value(f"{where}.{name}", value, expected[name])
    try:
        return cls(**values)
    except TypeError as exc:  # a required field is missing
        raise UnreadableLine(f"{where}: {exc}") from None


def _value(where: str, value: object, kind: _FieldType) -> object:
    if value is None:
        if kind.optional:
            return None
        raise UnreadableLine(f"{where} is missing")
    base = kind.base
    if get_origin(base) is tuple:  # tuple[Item, ...], Item a dataclass
        return _items(where, value, get_args(base)[0])
    if base is datetime:
        return _time(where, value)
    if isinstance(base, type) and issubclass(base, Enum):
        try:
            return base(value)
        except ValueError:
            raise UnreadableLine(f"{where}: {value!r} is not a known value") from None
    if base is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise UnreadableLine(f"{where}: {value!r} is not a whole number")
    if base is str and not isinstance(value, str):
        raise UnreadableLine(f"{where}: {value!r} is not text")
    return value


def _time(where: str, value: object) -> datetime:
    if not isinstance(value, str):
        raise UnreadableLine(f"{where}: a time must be ISO 8601 text")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise UnreadableLine(f"{where}: {value!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise UnreadableLine(f"{where}: {value!r} has no time zone")
    return when


def _items(where: str, value: object, item: type) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise UnreadableLine(f"{where}: {value!r} is not a list")
    built: list[object] = []
    for index, body in enumerate(value):
        if not isinstance(body, dict):
            raise UnreadableLine(f"{where}[{index}]: {body!r} is not an object")
        built.append(_build(item, body, f"{where}[{index}]"))
    return tuple(built)


# ---- the files (blocking: call through asyncio.to_thread) ------------------------------
def open_private(path: Path) -> BinaryIO:
    """``path`` open to append to (and read), owner-only (0600) whatever the umask, and
    whatever mode an earlier version made it with: the spool files hold callers' numbers."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "a+b")


def append(path: Path, lines: list[str]) -> None:
    """Append lines and fsync: once this returns, the records survive a crash."""
    with open_private(path) as spool:
        torn = spool.tell() > 0 and (spool.seek(-1, os.SEEK_END), spool.read(1))[1] != b"\n"
        # A crash mid-write can leave a torn last line: never glue a whole record to it.
        text = ("\n" if torn else "") + "".join(line + "\n" for line in lines)
        spool.write(text.encode("ascii"))
        spool.flush()
        os.fsync(spool.fileno())


def count_lines(*paths: Path) -> int:
    total = 0
    for path in paths:
        if path.exists():
            with open(path, "rb") as spool:
                total += sum(1 for _ in spool)
    return total


@dataclass
class Taken:
    """What one read of a replay took: the records, the lines it could not read (with
    their numbers), how many lines in all, and where the next read starts."""

    records: list[Record]
    unreadable: list[tuple[int, bytes, str]]
    lines: int
    next_offset: int
    done: bool


def take(spool: Path, replaying: Path, offset: int = 0, first_line: int = 1, limit: int = 5_000) -> Taken:
    """Read up to ``limit`` lines of the replay from byte ``offset``. The first read
    moves the spool aside (unless a replay the last run did not finish is there).
    Chunks keep few records alive at once: the garbage collector's pauses grow
    with every object in memory, and they stop the event loop too."""
    taken = Taken([], [], 0, offset, True)
    if not replaying.exists():
        if offset or not spool.exists():
            return taken
        spool.rename(replaying)
    with open(replaying, "rb") as source:
        source.seek(offset)
        for raw in source:
            taken.lines += 1
            taken.next_offset += len(raw)
            line = raw.rstrip(b"\n")
            if line.strip():
                try:
                    taken.records.append(decode(line))
                except UnreadableLine as exc:
                    taken.unreadable.append((first_line + taken.lines - 1, line, str(exc)))
            if taken.lines >= limit:
                taken.done = source.read(1) == b""
                break
    return taken


def scan(*paths: Path) -> list[Record]:
    """Every readable record in these spool files, left where they are (a restarted
    router reads what the last one could not write yet; the replay writes it later)."""
    records: list[Record] = []
    for path in paths:
        if not path.exists():
            continue
        with open(path, "rb") as source:
            for raw in source:
                try:
                    records.append(decode(raw.rstrip(b"\n")))
                except UnreadableLine:
                    continue  # the replay sets it aside and says so
    return records
