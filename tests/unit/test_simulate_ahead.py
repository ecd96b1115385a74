"""What a day's arrivals work out from numbers and channels alone, worked out by a
second process (``simulate.ahead``) and learnt by the core (``core.learnt``):
what is learnt is what the core's functions work out themselves, a learnt result
is not worked out again, a day is the same with or without it, and a second
process that dies takes nothing with it."""

from __future__ import annotations

import gc
import hashlib
import hmac
import multiprocessing
import os
import signal
import time
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from callrouter.core import call_ids, numbers, repeat
from callrouter.core.learnt import Learnt
from callrouter.core.numbers import CallerNumber, Presentation
from callrouter.core.repeat import RepeatRules
from callrouter.simulate import ahead as ah
from callrouter.simulate import engine, workers
from callrouter.simulate.engine import simulate
from callrouter.simulate.people import number_for
from tests.unit.test_simulate import run_small

RULES = RepeatRules(secret=b"a test key")


def forget_all() -> None:
    for table in (numbers.NORMALISED, repeat.KEYS, call_ids.CALL_IDS):
        table.forget()


@pytest.fixture(autouse=True)
def nothing_known() -> Iterator[None]:
    forget_all()
    yield
    forget_all()


def until_closed(ahead: ah.Ahead) -> None:
    deadline = time.monotonic() + 30
    while ahead.open and time.monotonic() < deadline:
        ahead.take()
        time.sleep(0.01)
    assert not ahead.open, "the second process sent its last batch"


def test_what_comes_back_is_what_the_core_works_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ah, "BATCH", 7)  # several batches, the last one short
    pairs = [(number_for("RU", n), "RU") for n in range(30)] + [("8 495 123-45-67", "RU"), ("bob", "US")]
    channels = [f"c{n}" for n in range(1, 41)]  # more channels than people: both come back
    ahead = ah.Ahead(pairs, RULES, "node-1", channels)
    until_closed(ahead)
    assert not ahead.process.is_alive()
    normalised = dict(numbers.NORMALISED.known)
    assert len(normalised) == len(pairs)
    for number, country in pairs:
        assert normalised[number, country] == numbers._normalise(number, country)
    assert normalised["8 495 123-45-67", "RU"].e164 == "+74951234567"
    assert normalised["bob", "US"].presentation is Presentation.UNPARSEABLE
    keys = dict(repeat.KEYS.known)
    assert len(keys) == len(pairs) - 1  # not the unparseable one
    for (secret, e164), key in keys.items():
        assert secret == RULES.secret
        assert key == RepeatRules(secret=RULES.secret).key_of(e164) == RULES.key_of(e164)
    assert ("+74951234567" in {e164 for _, e164 in keys}) and len(next(iter(keys.values()))) == 32
    ids = dict(call_ids.CALL_IDS.known)
    assert ids == {
        ("node-1", channel): str(uuid.uuid5(call_ids.CALL_ID_NAMESPACE, f"node-1/{channel}"))
        for channel in channels
    }


def test_what_is_learnt_is_not_worked_out_again(monkeypatch: pytest.MonkeyPatch) -> None:
    learnt = CallerNumber("+74950000001", Presentation.NUMBER)
    numbers.NORMALISED.learn([(("+7 495 000-00-01", "RU"), learnt)])
    repeat.KEYS.learn([((RULES.secret, "+74950000001"), "k" * 32)])
    call_ids.CALL_IDS.learn([(("node-1", "c1"), "id-1")])
    monkeypatch.setattr(numbers, "_normalise", lambda *_: pytest.fail("worked out again"))
    assert numbers.normalise("+7 495 000-00-01", "RU") is learnt
    withheld = numbers.normalise("+7 495 000-00-01", "RU", restricted=True)  # withholding still applies
    assert withheld == CallerNumber(None, Presentation.WITHHELD, asserted="+74950000001")
    assert RULES.person(learnt) == "k" * 32
    assert RepeatRules(secret=b"another key").key_of("+74950000001") != "k" * 32  # the key's own secret
    assert RepeatRules(secret=RULES.secret, exclude=("+7495*",)).person(learnt) is None  # still excluded
    assert call_ids.call_id_for("node-1", "c1") == "id-1"
    assert call_ids.call_id_for("node-2", "c1") == str(uuid.uuid5(call_ids.CALL_ID_NAMESPACE, "node-2/c1"))


def test_what_is_learnt_is_bounded_the_newest_kept() -> None:
    table: Learnt[str, int] = Learnt(most=3)
    table.learn((str(n), n) for n in range(2))
    table.learn([("2", 2)])
    assert list(table.known) == ["0", "1", "2"]
    table.learn([("3", 3), ("4", 4)])  # past the bound: what it had is forgotten
    assert list(table.known) == ["3", "4"] and table.get("0") is None and table.get("4") == 4


def test_a_second_process_killed_midway_leaves_the_rest_to_the_switchboard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ah, "BATCH", 1)
    ahead = ah.Ahead([(f"+7916{n:07d}", "RU") for n in range(200_000)], RULES, "node-1", [])
    assert ahead.process.pid is not None
    os.kill(ahead.process.pid, signal.SIGKILL)
    ahead.process.join(10)
    deadline = time.monotonic() + 10
    while ahead.open and time.monotonic() < deadline:
        ahead.take()  # what it sent before it died, then the pipe's end: no exception
    assert not ahead.open
    assert len(numbers.NORMALISED.known) < 200_000


def test_a_day_is_the_same_with_its_arrivals_worked_out_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[ah.Ahead] = []
    real_start = ah.Ahead.start

    def start(*args: object) -> ah.Ahead | None:
        ahead = real_start(*args)  # type: ignore[arg-type]
        assert ahead is not None, "started: the small example's day has enough people with this bound"
        until_closed(ahead)  # everything learnt before the first call
        started.append(ahead)
        return ahead

    monkeypatch.setattr(ah, "AT_LEAST", 10)
    monkeypatch.setattr(ah.Ahead, "start", staticmethod(start))
    _, ahead_day = run_small()
    assert started and len(numbers.NORMALISED.known) == len(ahead_day.people)
    assert len(call_ids.CALL_IDS.known) >= len(ahead_day.calls)
    monkeypatch.setattr(numbers, "_normalise", lambda *_: pytest.fail("a number worked out again"))
    monkeypatch.setattr(hmac, "digest", lambda *_: pytest.fail("a person's key worked out again"))
    monkeypatch.setattr(hashlib, "sha1", lambda *_: pytest.fail("a call id worked out again"))
    _, again = run_small()  # everything known: nothing is worked out by the switchboard
    forget_all()
    monkeypatch.undo()
    monkeypatch.setattr(ah.Ahead, "start", staticmethod(lambda *_: None))
    _, plain_day = run_small()
    assert ahead_day.calls == plain_day.calls == again.calls, "every record the same, to the microsecond"
    assert ahead_day.agent_states == plain_day.agent_states
    assert len(plain_day.calls) > 10


ENOUGH = [(f"+7916{n:07d}", "RU") for n in range(ah.AT_LEAST)]


def _started_here() -> bool:
    ahead = ah.Ahead.start(ENOUGH, RULES, "node-1", [])
    if ahead is not None:
        ahead.close()
    return ahead is not None


def test_started_for_a_day_with_enough_people_not_for_a_small_one_nor_in_a_pools_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ah.Ahead.start(ENOUGH[:-1], RULES, "node-1", []) is None
    assert _started_here(), "this process, two CPUs: started"
    with workers.pool(1) as pool:  # a replication's worker (not a daemon): its day has its CPU
        assert pool.submit(_started_here).result(timeout=60) is False
    monkeypatch.setattr(multiprocessing.current_process(), "daemon", True, raising=False)
    assert not _started_here()
    s, day = run_small()
    assert simulate(s).calls == day.calls


def test_a_simulation_is_gone_with_its_day_without_waiting_for_a_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its handlers hold it (a cycle): left to the collector, a later day's ``gc.freeze``
    would keep every day before it for that day's length."""
    made: list[weakref.ref[engine.Simulation]] = []
    real_init = engine.Simulation.__init__

    def init(self: engine.Simulation, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        made.append(weakref.ref(self))

    monkeypatch.setattr(engine.Simulation, "__init__", init)
    gc.disable()
    try:
        _, day = run_small()
        assert day.calls and made and made[0]() is None, "freed as the day ended, no collection run"
    finally:
        gc.enable()


def test_what_a_caller_froze_stays_frozen_through_a_day_and_what_the_day_froze_does_not() -> None:
    """A day freezes what exists before it (the collector skips it) and lets it go after;
    objects its caller had frozen are not let go with them."""
    assert gc.get_freeze_count() == 0
    run_small()
    assert gc.get_freeze_count() == 0, "the day's own freeze is undone"
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        run_small()
        assert gc.get_freeze_count() >= frozen, "the caller's frozen objects are still frozen"
    finally:
        gc.unfreeze()


def test_a_persons_key_is_the_one_the_database_holds_for_their_number() -> None:
    """Stored keys are read back after a restart: the key of a number never changes
    (HMAC-SHA256 of the number under the secret, its first 32 hex digits)."""
    assert RULES.key_of("+79161234567") == "e5a0165969dd6d76e13bc854557d6e48"
    repeat.KEYS.learn([((RULES.secret, "+79161234567"), "e5a0165969dd6d76e13bc854557d6e48")])
    assert RULES.key_of("+79161234567") == "e5a0165969dd6d76e13bc854557d6e48"
