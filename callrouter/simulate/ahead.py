"""The day's callers' numbers normalised by a second process while the day runs.

Every call's arrival normalises its caller's number (``core.numbers``): parsing
it was a quarter of an arrival's cost, 7% of a simulated day's time. Everyone who calls is known
before the day starts, so on a machine with a core to spare a forked process
normalises their numbers in the order of their first calls and sends them back
in batches; the day takes each batch as it comes (``take``, between events) and
``core.numbers.learn``s it. A number not back yet is normalised by the
switchboard as always: the day is the same either way, only sooner.

Not started where it cannot help or may not run: fewer than ``AT_LEAST`` people,
one CPU, or inside a worker process of a pool (each replication already has its
core, and a pool's workers may not have children of their own).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from multiprocessing.connection import Connection

from callrouter.core import numbers
from callrouter.simulate.workers import end_with

AT_LEAST = 2_000  # people: below this, the fork costs about what it saves
BATCH = 1_000
Pair = tuple[str, str]  # a number as it comes, and its line's country


class Ahead:
    """The second process and the end of the pipe its batches come through."""

    def __init__(self, pairs: Sequence[Pair]) -> None:
        context = multiprocessing.get_context("fork")
        self.conn, theirs = context.Pipe(duplex=False)
        self.process = context.Process(target=_normalise, args=(pairs, theirs, os.getpid()), daemon=True)
        self.process.start()
        theirs.close()
        self.open = True

    @classmethod
    def start(cls, pairs: Sequence[Pair]) -> Ahead | None:
        """Started where it helps (see the module's text), else None."""
        if len(pairs) < AT_LEAST or (os.cpu_count() or 1) < 2 or multiprocessing.current_process().daemon:
            return None
        try:
            return cls(pairs)
        except OSError:  # no process to be had (limits): the switchboard normalises each
            return None

    def take(self) -> None:
        """Every batch that has come back, learnt; none waited for."""
        try:
            while self.open and self.conn.poll():
                batch = self.conn.recv()
                if batch is None:  # all sent
                    self.close()
                    break
                numbers.learn(batch)
        except (EOFError, OSError):  # it ended early (killed): the rest is normalised as it comes
            self.close()

    def close(self) -> None:
        if not self.open:
            return
        self.open = False
        self.conn.close()
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()


def _normalise(pairs: Sequence[Pair], conn: Connection, parent: int) -> None:
    end_with(parent)
    batch: list[tuple[str, str, numbers.CallerNumber]] = []
    for number, country in pairs:
        batch.append((number, country, numbers.normalise(number, country)))
        if len(batch) == BATCH:
            conn.send(batch)
            batch = []
    conn.send(batch)
    conn.send(None)
    conn.close()
