"""``callrouter results import FILE.csv``: lab results from a CSV file put in.

The file is read whole first (results_csv.py: an unusable file writes nothing),
then checked and put in ``BATCH_ROWS`` rows at a time: each bad row on stderr
as ``line N: field: reason`` (never the row's secret, number or result; an unknown line's
name, a language or an external id may be said, to find the row by),
the good ones into PostgreSQL (store/notifications.py), a progress line on
stderr when it is a terminal, and a summary at the end on stdout.

Exit 0: every row went in or was in already; 1: some rows were rejected;
2: the file, the config or the database was unusable (the batches put in
before the database failed stay in: the same file again makes them duplicates).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import asyncpg

from callrouter.core.results_input import InputRules, NewNotification, read_item
from callrouter.results_csv import CsvError, CsvRow, read_csv
from callrouter.store.notifications import Notifications, PutStatus
from callrouter.store.queries import DatabaseUnavailable

BATCH_ROWS = 500
EXIT_REJECTED = 1
EXIT_UNUSABLE = 2

RowProblem = tuple[int, str, str]  # (line, field, reason)


@dataclass
class Summary:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0  # rows
    reasons: Counter[str] = field(default_factory=Counter)  # "field: reason" -> rows (a row may have several)

    @property
    def total(self) -> int:
        return self.accepted + self.duplicates + self.rejected

    def lines(self) -> list[str]:
        rejected = [f"  {count:>6}  {reason}" for reason, count in sorted(self.reasons.items(), key=_most)]
        return [
            f"accepted:   {self.accepted}",
            f"duplicates: {self.duplicates}",
            f"rejected:   {self.rejected}",
            *rejected,
            f"total:      {self.total}",
        ]


def _most(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


class Report:
    """Problems on stderr; on a terminal, a progress line that they never run into."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._total = total
        self._shown = 0  # characters of the progress line on screen

    def problems(self, problems: Sequence[RowProblem]) -> None:
        self._clear()
        for line, name, reason in sorted(problems):
            print(f"line {line}: {name}: {reason}", file=self._stream)

    def progress(self, done: int) -> None:
        if not self._tty:
            return
        text = f"\r{done}/{self._total} rows ({100 * done // max(1, self._total)}%)"
        self._stream.write(text)
        self._stream.flush()
        self._shown = len(text) - 1

    def done(self) -> None:
        self._clear()

    def _clear(self) -> None:
        if self._shown:
            self._stream.write("\r" + " " * self._shown + "\r")
            self._shown = 0


async def put_rows(
    rows: Sequence[CsvRow],
    rules: InputRules,
    store: Notifications,
    report: Report,
    summary: Summary,
    batch: int | None = None,
) -> None:
    """Check and put in the rows, ``batch`` (default ``BATCH_ROWS``) at a time, counting in ``summary``."""
    batch = batch or BATCH_ROWS
    for start in range(0, len(rows), batch):
        problems: list[RowProblem] = []
        good: list[tuple[int, NewNotification]] = []
        for row in rows[start : start + batch]:
            checked = read_item(row.values, rules) if not row.problem else [("row", row.problem)]
            if isinstance(checked, NewNotification):
                good.append((row.line, checked))
                continue
            problems.extend((row.line, name, reason) for name, reason in checked)
            summary.reasons.update(f"{name}: {reason}" for name, reason in checked)
            summary.rejected += 1
        outcomes = await store.put([notification for _, notification in good], datetime.now(UTC))
        for (line, _), outcome in zip(good, outcomes, strict=True):
            if outcome.status is PutStatus.ACCEPTED:
                summary.accepted += 1
            elif outcome.status is PutStatus.DUPLICATE:
                summary.duplicates += 1
            else:
                problems.append((line, "external_id", outcome.reason))
                summary.reasons[f"external_id: exists with a different {' and '.join(outcome.changed)}"] += 1
                summary.rejected += 1
        report.problems(problems)
        report.progress(min(start + batch, len(rows)))
    report.done()


def run(path: Path, rules: InputRules, store: Notifications, stdout: TextIO, stderr: TextIO) -> int:
    """The whole import; its exit code."""
    try:
        rows = read_csv(path.read_bytes())
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror}", file=stderr)
        return EXIT_UNUSABLE
    except CsvError as exc:
        print(f"{path}: {exc}", file=stderr)
        return EXIT_UNUSABLE
    summary = Summary()
    report = Report(stderr, len(rows))
    try:
        asyncio.run(_put_and_close(rows, rules, store, report, summary))
    except (DatabaseUnavailable, asyncpg.PostgresError) as exc:
        report.done()
        hint = "" if isinstance(exc, DatabaseUnavailable) else " (is it migrated? callrouter migrate)"
        print(f"{path}: the database cannot take the results: {exc}{hint}", file=stderr)
        print(f"  {summary.accepted + summary.duplicates} rows went in before it failed (or were in already);"
              " import the file again once it is back (those are then duplicates)", file=stderr)  # fmt: skip
        return EXIT_UNUSABLE
    print("\n".join(summary.lines()), file=stdout)
    return EXIT_REJECTED if summary.rejected else 0


async def _put_and_close(
    rows: Sequence[CsvRow], rules: InputRules, store: Notifications, report: Report, summary: Summary
) -> None:
    try:
        await put_rows(rows, rules, store, report, summary)
    finally:
        await store.close()


def hash_threads() -> int:
    """Every core this process may use: the import has the machine to itself."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
