"""The day's numbers normalised ahead by a second process (``simulate.ahead``) and
learnt by the core (``core.numbers.learn``): what is learnt is what ``normalise``
works out itself, a day is the same with or without it, and a second process
that dies takes nothing with it."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator

import pytest

from callrouter.core import numbers
from callrouter.core.numbers import CallerNumber, Presentation
from callrouter.simulate import ahead as ah
from callrouter.simulate.engine import simulate
from callrouter.simulate.people import number_for
from tests.unit.test_simulate import run_small


@pytest.fixture(autouse=True)
def nothing_known() -> Iterator[None]:
    numbers.KNOWN.clear()
    yield
    numbers.KNOWN.clear()


def until_closed(ahead: ah.Ahead) -> None:
    deadline = time.monotonic() + 30
    while ahead.open and time.monotonic() < deadline:
        ahead.take()
        time.sleep(0.01)
    assert not ahead.open, "the second process sent its last batch"


def test_the_numbers_come_back_as_normalise_works_them_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ah, "BATCH", 7)  # several batches, the last one short
    pairs = [(number_for("RU", n), "RU") for n in range(30)] + [("8 495 123-45-67", "RU"), ("bob", "US")]
    ahead = ah.Ahead(pairs)
    until_closed(ahead)
    assert not ahead.process.is_alive()
    learnt = dict(numbers.KNOWN)
    assert len(learnt) == len(pairs)
    for number, country in pairs:
        assert learnt[number, country] == numbers._normalise(number, country)
    assert learnt["8 495 123-45-67", "RU"].e164 == "+74951234567"
    assert learnt["bob", "US"].presentation is Presentation.UNPARSEABLE


def test_a_learnt_number_is_not_worked_out_again_and_withholding_still_applies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    learnt = CallerNumber("+74950000001", Presentation.NUMBER)
    numbers.learn([("+7 495 000-00-01", "RU", learnt)])
    monkeypatch.setattr(numbers, "_normalise", lambda *_: pytest.fail("worked out again"))
    assert numbers.normalise("+7 495 000-00-01", "RU") is learnt
    withheld = numbers.normalise("+7 495 000-00-01", "RU", restricted=True)
    assert withheld == CallerNumber(None, Presentation.WITHHELD, asserted="+74950000001")


def test_what_is_learnt_is_bounded_the_oldest_forgotten_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numbers, "KNOWN_MOST", 3)
    numbers.learn((f"+7495000000{n}", "RU", numbers._normalise(f"+7495000000{n}", "RU")) for n in range(5))
    assert list(numbers.KNOWN) == [("+74950000002", "RU"), ("+74950000003", "RU"), ("+74950000004", "RU")]


def test_a_second_process_killed_midway_leaves_the_rest_to_the_switchboard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ah, "BATCH", 1)
    ahead = ah.Ahead([(f"+7916{n:07d}", "RU") for n in range(200_000)])
    assert ahead.process.pid is not None
    os.kill(ahead.process.pid, signal.SIGKILL)
    ahead.process.join(10)
    deadline = time.monotonic() + 10
    while ahead.open and time.monotonic() < deadline:
        ahead.take()  # what it sent before it died, then the pipe's end: no exception
    assert not ahead.open
    assert len(numbers.KNOWN) < 200_000


def test_a_day_is_the_same_with_its_numbers_normalised_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[ah.Ahead] = []
    real_start = ah.Ahead.start

    def start(pairs: list[ah.Pair]) -> ah.Ahead | None:
        ahead = real_start(pairs)
        assert ahead is not None, "started: the small example's day has enough people with this bound"
        until_closed(ahead)  # every number learnt before the first call
        started.append(ahead)
        return ahead

    monkeypatch.setattr(ah, "AT_LEAST", 10)
    monkeypatch.setattr(ah.Ahead, "start", staticmethod(start))
    _, ahead_day = run_small()
    assert started and len(numbers.KNOWN) == len(ahead_day.people)
    monkeypatch.setattr(numbers, "_normalise", lambda *_: pytest.fail("a number worked out again"))
    _, again = run_small()  # every number known: none is normalised by the switchboard
    numbers.KNOWN.clear()
    monkeypatch.undo()
    monkeypatch.setattr(ah.Ahead, "start", staticmethod(lambda _: None))
    _, plain_day = run_small()
    assert ahead_day.calls == plain_day.calls == again.calls, "every record the same, to the microsecond"
    assert ahead_day.agent_states == plain_day.agent_states
    assert len(plain_day.calls) > 10


def test_not_started_for_a_small_day_nor_in_a_pools_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    few = [(number_for("RU", n), "RU") for n in range(ah.AT_LEAST - 1)]
    assert ah.Ahead.start(few) is None
    monkeypatch.setattr(multiprocessing.current_process(), "daemon", True, raising=False)
    assert ah.Ahead.start(few + [("+74950000001", "RU")] * 2) is None
    s, day = run_small()
    assert simulate(s).calls == day.calls
