"""What the day's arrivals work out from their numbers and channels alone, worked
out by a second process while the day runs (``core.learnt``).

Each arrival normalises its caller's number (parsing it was a quarter of an
arrival's cost, 7% of a simulated day's time), hashes it into the person behind
it, and derives the call's id from its channel. Everyone who calls is known
before the day starts, and the day names its calls' channels in order (``c1``,
``c2``...), so on a machine with a core to spare a forked process works these out
in the order the day needs them and sends them back in batches; the day takes
each batch as it comes (``take``, between events) and the core learns it. One not
back yet is worked out by the switchboard as always: the day is the same either
way, only sooner.

Not started where it cannot help: fewer than ``AT_LEAST`` people, one CPU to run
on, or inside a pool's worker (``workers.IN_A_WORKER``: each replication has its
CPU already) or a daemon process.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Sequence
from multiprocessing.connection import Connection

from callrouter.core import call_ids, numbers, repeat
from callrouter.core.repeat import RepeatRules
from callrouter.simulate import workers

AT_LEAST = 2_000  # people: below this, the fork costs about what it saves
BATCH = 1_000
Pair = tuple[str, str]  # a number as it comes, and its line's country
Batch = tuple[
    list[tuple[tuple[str | None, str], numbers.CallerNumber]],  # numbers.NORMALISED
    list[tuple[tuple[bytes, str], str]],  # repeat.KEYS
    list[tuple[tuple[str, str], str]],  # call_ids.CALL_IDS
]


class Ahead:
    """The second process and the end of the pipe its batches come through."""

    def __init__(self, pairs: Sequence[Pair], rules: RepeatRules, node: str, channels: Sequence[str]) -> None:
        context = multiprocessing.get_context("fork")
        self.conn, theirs = context.Pipe(duplex=False)
        work = (pairs, rules, node, channels, theirs, self.conn, os.getpid())
        self.process = context.Process(target=_work_out, args=work, daemon=True)
        self.process.start()
        theirs.close()
        self.open = True

    @classmethod
    def start(
        cls, pairs: Sequence[Pair], rules: RepeatRules, node: str, channels: Sequence[str]
    ) -> Ahead | None:
        """Started where it helps (see the module's text), else None. ``pairs``: the people's
        numbers in the order of their first calls; ``channels``: the calls' channels, in order."""
        if len(pairs) < AT_LEAST or len(os.sched_getaffinity(0)) < 2:
            return None
        if workers.IN_A_WORKER or multiprocessing.current_process().daemon:
            return None
        try:
            return cls(pairs, rules, node, channels)
        except OSError:  # no process to be had (limits): the switchboard normalises each
            return None

    def take(self) -> None:
        """Every batch that has come back, learnt; none waited for."""
        try:
            while self.open and self.conn.poll():
                batch: Batch | None = self.conn.recv()
                if batch is None:  # all sent
                    self.close()
                    break
                normalised, keys, ids = batch
                numbers.NORMALISED.learn(normalised)
                repeat.KEYS.learn(keys)
                call_ids.CALL_IDS.learn(ids)
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


def _work_out(
    pairs: Sequence[Pair],
    rules: RepeatRules,
    node: str,
    channels: Sequence[str],
    conn: Connection,
    theirs: Connection,
    parent: int,
) -> None:
    """In the second process: person by person (with the day's calls' channels alongside,
    as many of each), in batches of ``BATCH``; ended with the day (or its command), quietly."""
    workers.end_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the command's to handle
    theirs.close()  # the day's end of the pipe: if the day goes, a send fails
    batch: Batch = ([], [], [])
    try:
        for n in range(max(len(pairs), len(channels))):
            if n < len(pairs):
                number, country = pairs[n]
                normalised = numbers.normalise(number, country)
                batch[0].append(((number, country), normalised))
                if normalised.e164 is not None:  # the key of a withheld caller's asserted number is this one
                    batch[1].append(((rules.secret, normalised.e164), rules.key_of(normalised.e164)))
            if n < len(channels):
                batch[2].append(((node, channels[n]), call_ids.call_id_for(node, channels[n])))
            if n % BATCH == BATCH - 1:
                conn.send(batch)
                batch = ([], [], [])
        conn.send(batch)
        conn.send(None)
    except OSError:  # the day is over (its end of the pipe closed): nothing more to send
        pass
    finally:
        conn.close()
