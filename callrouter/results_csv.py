"""A CSV file of results, read whole before anything is put in: its header names
the fields of ``core.results_input`` (any order, any case; ``language`` may be
left out), then one row per result. UTF-8, with or without a byte order mark;
commas, semicolons or tabs between fields (the header's tell which).

Each row keeps the line of the file it starts on (the header is line 1): a
quoted field may hold line breaks, and such a row is known by its first line.
Blank lines are skipped. A file that cannot be read as such (not UTF-8, no
header, a required column missing, a column unknown or given twice, broken
quoting) is one ``CsvError`` before any row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from callrouter.core.results_input import FIELDS, REQUIRED

DELIMITERS = (",", ";", "\t")


class CsvError(Exception):
    """The file is unusable; the message says where and why (never a value in it)."""


@dataclass(frozen=True)
class CsvRow:
    line: int  # the file's line the row starts on
    values: dict[str, str]  # by field name; empty when the row is malformed
    problem: str = ""  # the row as a whole is malformed (its count of fields)


def read_csv(data: bytes) -> list[CsvRow]:
    """Every row of the file with its line; CsvError when the file is unusable."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvError(f"line {line}: not UTF-8 (byte {exc.start + 1})") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise CsvError(f"line {line}: a NUL character: not a CSV file")
    first = text.splitlines()[0] if text.strip() else ""
    # A field as long as the file is a bad row of it (its field's check says so), not a file
    # that cannot be read: the csv module's limit (128 KiB) raised to the file's length.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    delimiter = max(DELIMITERS, key=lambda d: len(_names(first, d) & set(FIELDS)))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[CsvRow] = []
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CsvError(f"line {start}: not valid CSV: {exc}") from None
        if not any(field.strip() for field in fields):
            continue
        if header is None:
            header = _header(fields, start)
        elif len(fields) != len(header):
            problem = f"has {len(fields)} fields, the header {len(header)}"
            rows.append(CsvRow(start, {}, problem))
        else:
            rows.append(CsvRow(start, dict(zip(header, fields, strict=True))))
    if header is None:
        raise CsvError("no header row (the first line names the fields: " + ",".join(FIELDS) + ")")
    return rows


def _names(line: str, delimiter: str) -> set[str]:
    try:
        fields = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return set()
    return {field.strip().lower() for field in fields}


def _header(fields: list[str], line: int) -> list[str]:
    names = [field.strip().lower() for field in fields]
    if not set(names) & set(FIELDS):  # data, say: never quoted back (it may hold a secret)
        raise CsvError(f"line {line}: not a header: it names none of the fields ({', '.join(FIELDS)})")
    twice = sorted({name for name in names if names.count(name) > 1})
    unknown = [name for name in names if name not in FIELDS]
    missing = [name for name in FIELDS if name in REQUIRED and name not in names]
    problems = []
    if missing:
        problems.append(f"required column{'s' * (len(missing) > 1)} missing: {', '.join(missing)}")
    if unknown:
        quoted = ", ".join(repr(name[:40]) for name in unknown)
        problems.append(f"unknown column{'s' * (len(unknown) > 1)}: {quoted}")
    if twice:
        problems.append(f"column{'s' * (len(twice) > 1)} given twice: {', '.join(twice)}")
    if problems:
        raise CsvError(f"line {line} (the header): {'; '.join(problems)} (the fields: {', '.join(FIELDS)})")
    return names
