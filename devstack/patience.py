"""A queue's people for real, in sipp: callers who call at given moments and wait in
the queue for at most their patience (``Patients``), and agents' softphones that talk
for given times (``TalkingAgent``). What the simulator's model of people does
(``callrouter.simulate.engine``), on the real stack, so the two can be compared."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devstack.asterisk_files import COLP_CALLERS
from devstack.sipp import _logged_at, _Phones, _render, caller_port

# The scenarios' clock: "seconds" := ms since 1970, now (sipp has no such keyword).
NOW_MS = """<gettimeofday assign_to="seconds,micros"/>
      <multiply assign_to="seconds" value="1000"/>
      <divide assign_to="micros" value="1000"/>
      <add assign_to="seconds" variable="micros"/>"""


@dataclass(frozen=True)
class Patient:
    """One caller: their number, the DID they dial, when they call (seconds after the
    calls start) and how long they wait in the queue before hanging up."""

    number: str
    did: str
    at: float
    patience: float


def _rows_file(rows: Sequence[str]) -> Path:
    with tempfile.NamedTemporaryFile("w", prefix="callrouter-sipp-", suffix=".csv", delete=False) as inf:
        inf.write("SEQUENTIAL\n" + "".join(f"{row};\n" for row in rows))
    return Path(inf.name)


class Patients(_Phones):
    """Every caller of ``patients`` in one sipp, in the background, from ``COLP_CALLERS``
    (Asterisk tells those callers when an agent answers). All calls start at once, each
    waits until its moment to send its INVITE; each keys ``key`` ``key_ms`` after the
    answer, then waits for an agent at most its patience. ``bridged`` and ``gave_up``:
    who was answered, who hung up waiting, and when (Unix time), once it is done."""

    START_RATE = 100  # calls started per second: each then waits for its own moment

    def __init__(
        self,
        sip_port: int,
        patients: Sequence[Patient],
        key: str,
        key_ms: int,
        talk_limit_s: int = 300,
        timeout_s: int = 300,
    ) -> None:
        # Call n starts n / START_RATE s after the first: its INVITE waits that much less.
        rows = [
            f"{p.number};{p.did};{max(round(p.at * 1000 - n * 1000 / self.START_RATE), 0)};"
            f"{round(p.patience * 1000)}"
            for n, p in enumerate(patients)
        ]
        self._rows = _rows_file(rows)
        self.bridged: dict[str, float] = {}
        self.gave_up: dict[str, float] = {}
        values = {
            "KEY": key,
            "KEY_MS": str(key_ms),
            "TALK_LIMIT_MS": str(talk_limit_s * 1000),
            "NOW_MS": NOW_MS,
        }
        extra = [
            f"127.0.0.1:{sip_port}", "-inf", str(self._rows), "-r", str(self.START_RATE), "-rp", "1000",
            "-l", str(len(rows)),
        ]  # fmt: skip
        port = caller_port()
        super().__init__(port, _render("patient.xml", values), len(rows), timeout_s, extra, COLP_CALLERS)

    def _read(self, logged: list[str]) -> None:
        self._rows.unlink(missing_ok=True)
        for line in logged:
            what, _, rest = line.partition(": ")
            if what in ("Bridged", "Gave up"):
                number = rest.split(" at ", 1)[0]
                (self.bridged if what == "Bridged" else self.gave_up)[number] = _logged_at(rest)


class TalkingAgent(_Phones):
    """An agent's softphone that rings ``ring_ms``, answers, and talks for the next of
    ``talks`` (seconds) on each call, unless the caller hangs up first. It answers until
    stopped (``stop``). ``rung_at``: when each call came (Unix time), once it is done."""

    def __init__(self, port: int, talks: Sequence[float], ring_ms: int, timeout_s: int = 300) -> None:
        self._talks = _rows_file([str(round(seconds * 1000)) for seconds in talks])
        self.rung_at: list[float] = []
        scenario = _render("agent_talks.xml", {"RING_MS": str(ring_ms), "NOW_MS": NOW_MS})
        super().__init__(port, scenario, 100_000, timeout_s, ["-inf", str(self._talks)])

    def _read(self, logged: list[str]) -> None:
        self._talks.unlink(missing_ok=True)
        self.rung_at = [_logged_at(line) for line in logged if line.startswith("Rung at: ")]
