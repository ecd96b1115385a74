"""The demo's redial storm: people who call again, and what recognising them saved.

A few dozen people (numbers no other demo caller uses) call during the busy
hour, several times each, as people do when they do not get through:
- redialling: they give up after waiting a while and call again a few seconds
  later (inside the demo's ``[repeat] resume_seconds``), once or twice;
- two lines: while their first call still waits, they dial another clinic;
- back again: they call again after an earlier call of theirs ended;
- callback: redialling, they press 1 at the callback offer and confirm the
  number read back; one of them calls in again while the callback waits.

The plan says only what the people do. What the router made of it is read
back from PostgreSQL by ``redial_report``, never from this plan.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

# The demo's config: the example's windows scaled to a demo that lasts minutes.
CONFIG = {
    "resume_seconds = 600 ": "resume_seconds = 60 ",  # redials come seconds apart
    # An honest estimate is at least a minute: every caller who hears one is offered a callback.
    "offer_after_seconds = 300 ": "offer_after_seconds = 60 ",
    "retry_seconds = 300 ": "retry_seconds = 10 ",
    "max_attempts = 3 ": "max_attempts = 2 ",
    "ring_seconds = 30             #": "ring_seconds = 10             #",
}

REDIALLERS, TWO_LINES, BACK_AGAIN, CALLBACKS = 12, 8, 6, 4
# The menu keys of the storm's people (results, operator, home visit, change an
# appointment). A person presses the same keys on every call: a redial that
# kept its place skips the menu and is in line when they arrive, where they
# do nothing, so none holds a 1 (there, 1 takes the callback offer).
KEYS = ["3", "0", "0", "3", "23", "22"]
PATIENT_MS = 22_000  # a caller who waits this long is usually answered
# 1 at the callback offer (said with the first announcement, after the greeting
# of a redial that kept its place), then 1 to confirm the number read back.
TAKE_CALLBACK = ((7000, "1"), (2500, "1"))


@dataclass(frozen=True)
class PlannedCall:
    """One sipp call of the demo: when it starts (seconds after the callers
    start), who calls which DID, the keys pressed after the answer (pause in ms,
    key), and how long after the last key the caller hangs up, unless the
    router hangs up first."""

    offset: float
    number: str
    did: str
    keys: tuple[tuple[int, str], ...] = ()
    hold_ms: int = 10_000

    @property
    def ends(self) -> float:
        """The latest it ends, in seconds after the callers start."""
        return self.offset + (sum(pause for pause, _ in self.keys) + self.hold_ms) / 1000


def menu_keys(keys: str) -> tuple[tuple[int, str], ...]:
    """The menu's keys as a caller presses them: into the greeting, then one by one."""
    return tuple((1500 if n == 0 else 900, key) for n, key in enumerate(keys))


def plan(clinics: Sequence[str], start: float = 8.0, seed: int = 14) -> list[PlannedCall]:
    """The storm's calls, in the order they start."""
    rnd = random.Random(seed)
    people = REDIALLERS + TWO_LINES + BACK_AGAIN + CALLBACKS
    numbers = [f"+7921{n}" for n in rnd.sample(range(1_000_000, 10_000_000), people)]
    calls: list[PlannedCall] = []
    for i in range(REDIALLERS):
        calls += _redialler(rnd, numbers.pop(), start + i * 2.6, clinics, twice=i % 2 == 0)
    for i in range(TWO_LINES):
        calls += _two_lines(rnd, numbers.pop(), start + 4 + i * 3.6, clinics, again=i % 2 == 0)
    for i in range(BACK_AGAIN):
        calls += _back_again(rnd, numbers.pop(), start + 2 + i * 5.0, clinics)
    for i in range(CALLBACKS):
        calls += _callback(rnd, numbers.pop(), start + 24 + i * 4.0, clinics, calls_again=i == 0)
    return sorted(calls, key=lambda c: c.offset)


def _redialler(
    rnd: random.Random, number: str, at: float, clinics: Sequence[str], twice: bool
) -> list[PlannedCall]:
    """Gives up after 7-10 s in line and redials within seconds, gives up again
    if ``twice``, then waits."""
    did, keys = rnd.choice(clinics), menu_keys(rnd.choice(KEYS))
    calls = [PlannedCall(at, number, did, keys, rnd.randint(7000, 10_000))]
    for hold in ([rnd.randint(7000, 10_000)] if twice else []) + [PATIENT_MS]:
        calls.append(PlannedCall(calls[-1].ends + rnd.uniform(2, 5), number, did, keys, hold))
    return calls


def _two_lines(
    rnd: random.Random, number: str, at: float, clinics: Sequence[str], again: bool
) -> list[PlannedCall]:
    """Waits on one clinic's line and, meanwhile, dials another clinic (``again``:
    and calls once more after that)."""
    did, other = rnd.sample(list(clinics), 2)
    keys = menu_keys(rnd.choice(KEYS))
    first = PlannedCall(at, number, did, keys, 40_000)
    second = PlannedCall(at + rnd.uniform(5, 8), number, other, keys, PATIENT_MS)
    calls = [first, second]
    if again:
        calls.append(PlannedCall(second.ends + rnd.uniform(3, 8), number, did, keys, 12_000))
    return calls


def _back_again(rnd: random.Random, number: str, at: float, clinics: Sequence[str]) -> list[PlannedCall]:
    """A short call, then another a little after it ended, and maybe a third."""
    did = rnd.choice(clinics)
    calls = [PlannedCall(at, number, did, menu_keys(rnd.choice(KEYS)), 14_000)]
    for _ in range(rnd.choice([1, 2])):
        keys = menu_keys(rnd.choice(KEYS))  # something else this time
        calls.append(PlannedCall(calls[-1].ends + rnd.uniform(4, 10), number, did, keys, 12_000))
    return calls


def _callback(
    rnd: random.Random, number: str, at: float, clinics: Sequence[str], calls_again: bool
) -> list[PlannedCall]:
    """Gives up after a while in line and redials (the place kept: no menu); there,
    presses 1 at the offer said with the first estimate and 1 to confirm the
    number read back, and the router says the callback is booked and hangs up.
    ``calls_again``: calls in a few seconds later, while the callback waits."""
    did = rnd.choice(clinics)
    first = PlannedCall(at, number, did, menu_keys(rnd.choice(KEYS)), rnd.randint(7000, 10_000))
    redial = PlannedCall(first.ends + rnd.uniform(2, 5), number, did, TAKE_CALLBACK, 15_000)
    calls = [first, redial]
    if calls_again:  # booked after ~10 s, told so for ~8 s more
        calls.append(PlannedCall(redial.offset + 21, number, did, (), PATIENT_MS))
    return calls
