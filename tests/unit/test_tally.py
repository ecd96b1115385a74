"""The repeat callers' and callbacks' metrics: every series from the first scrape,
each call counted once by how it was recognised (when it ends), each callback
once requested and once in the state it ends in (not again at each retry), the
open callbacks read at scrape time; and the dispatcher counting what it carries out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from prometheus_client import generate_latest

from callrouter.app import build_metrics
from callrouter.calls import tally
from callrouter.core import call_events as ev
from callrouter.core import switchboard as sb
from callrouter.core.records import (
    CallbackRecord,
    CallbackState,
    NotificationAttempt,
    NotificationRecord,
    NotificationState,
    RepeatKind,
)
from callrouter.metrics import CALLBACK_RESULTS, NOTIFICATION_STATES, LiveCollector
from tests.unit.switchboard import Switchboard
from tests.unit.test_callbacks import (
    ANNA,
    BORIS,
    accept,
    booked,
    busy_centre,
    finish_playback,
    waiting_with_offer,
)
from tests.unit.test_switchboard import NORTH, at, originates, queued


class Counted:
    """A board stepped as the dispatcher steps it: every command it returns counted."""

    def __init__(self, board: sb.Board) -> None:
        self.board = board
        self.metrics = build_metrics([])

    def count(self, commands: list[sb.Command]) -> list[sb.Command]:
        for command in commands:
            tally.count(self.metrics, command)
        return commands

    def step(self, event: sb.Event, seconds: float) -> list[sb.Command]:
        self.board, out = sb.step(self.board, event, at(seconds))
        return self.count(out)

    def on(self, channel_id: str, event: ev.CallEvent, seconds: float) -> list[sb.Command]:
        return self.step(sb.OnCall(channel_id, event), seconds)

    def queued(self, channel_id: str, seconds: float, **arrival: object) -> None:
        self.board, out = queued(self.board, channel_id, seconds, **arrival)  # type: ignore[arg-type]
        self.count(out)

    def callbacks(self) -> dict[str, float | None]:
        sample = self.metrics.registry.get_sample_value
        return {r: sample("callrouter_callbacks_total", {"result": r}) for r in CALLBACK_RESULTS}

    def repeats(self) -> dict[str, float | None]:
        sample = self.metrics.registry.get_sample_value
        return {k.value: sample("callrouter_repeat_calls_total", {"kind": k.value}) for k in RepeatKind}


def counts(**given: float) -> dict[str, float]:
    return {result: given.get(result, 0.0) for result in CALLBACK_RESULTS}


def kinds(**given: float) -> dict[str, float]:
    return {kind.value: given.get(kind.value, 0.0) for kind in RepeatKind}


def test_every_series_exists_at_zero_from_the_first_scrape() -> None:
    metrics = build_metrics(["clinic-central"])
    metrics.watch(LiveCollector(lambda: 0, lambda: 0, lambda: 2))
    text = generate_latest(metrics.registry).decode()
    for kind in RepeatKind:
        assert f'callrouter_repeat_calls_total{{kind="{kind.value}"}} 0.0' in text
    for result in ("requested", "completed", "failed", "cancelled"):
        assert f'callrouter_callbacks_total{{result="{result}"}} 0.0' in text
    assert "callrouter_callbacks_pending 2.0" in text


def test_a_callback_is_requested_once_and_fails_once_however_many_attempts() -> None:
    counted = Counted(waiting_with_offer(busy_centre("agent1"), "c1", 1, number=ANNA))
    counted.board, out = accept(counted.board, "c1", 20)
    counted.count(out)
    assert counted.callbacks() == counts(requested=1)
    (callback_id,) = counted.board.callbacks
    counted.step(sb.AgentCommand("agent1", "resume"), 60)
    t = 60.0
    for _ in range(3):
        (ring,) = originates(counted.step(sb.CallbackLeased(callback_id, sb.Lease.TAKEN), t + 0.1))
        (dial,) = [c for c in counted.step(sb.LegAnswered(ring.channel_id), t + 2) if isinstance(c, sb.Dial)]
        counted.step(sb.DialGone(dial.channel_id, "No answer"), t + 32)
        counted.step(sb.LegGone(ring.channel_id, "normal"), t + 32.2)
        t += 32 + 300
        counted.step(sb.Wake(), t)
    assert counted.callbacks() == counts(requested=1, failed=1), "pending again after each try: not requested"


def test_a_completed_callback_is_counted_once() -> None:
    counted = Counted(busy_centre("agent1"))
    counted.board = booked(counted.board)  # requested before counting began
    (callback_id,) = counted.board.callbacks
    counted.step(sb.AgentCommand("agent1", "resume"), 60)
    (ring,) = originates(counted.step(sb.CallbackLeased(callback_id, sb.Lease.TAKEN), 60.1))
    (dial,) = [c for c in counted.step(sb.LegAnswered(ring.channel_id), 63) if isinstance(c, sb.Dial)]
    counted.step(sb.DialAnswered(dial.channel_id), 70)
    counted.step(sb.DialGone(dial.channel_id, "Normal Clearing"), 300)
    counted.step(sb.LegGone(ring.channel_id, "normal"), 300.2)
    assert counted.callbacks() == counts(completed=1)


def test_a_person_calling_in_cancels_their_callback_and_their_call_counts_when_it_ends() -> None:
    counted = Counted(booked(busy_centre("agent1")))
    counted.board, _ = finish_playback(counted.board, "c1", 30)
    counted.on("c1", ev.CallerHungUp(), 31)
    counted.queued("c3", 100, number=ANNA, did=NORTH, keys="5")  # not 1: waits in the callback's place
    assert counted.callbacks() == counts(cancelled=1)
    assert counted.repeats() == kinds(), "counted when the call ends"
    counted.on("c3", ev.CallerHungUp(), 120)
    assert counted.repeats() == kinds(callback_pending=1)


def test_each_repeat_call_is_counted_once_by_its_kind() -> None:
    counted = Counted(busy_centre("agent1"))
    counted.queued("c1", 1, number=ANNA)
    counted.on("c1", ev.CallerHungUp(), 240)
    counted.queued("c2", 300, number=ANNA, keys="")  # resumed
    counted.queued("c3", 310, number=ANNA, did=NORTH)  # takes the place over: c2 is released
    counted.queued("c4", 320, number=BORIS)
    for channel_id, seconds in (("c2", 330), ("c3", 340), ("c4", 350)):
        if channel_id in counted.board.calls:
            counted.on(channel_id, ev.CallerHungUp(), seconds)
    assert not counted.board.calls
    assert counted.repeats() == kinds(resumed=1, already_waiting=1)


# ---- the dispatcher -----------------------------------------------------------------------------
async def test_the_dispatcher_counts_the_callbacks_it_books_and_cancels(tmp_path: Path) -> None:
    router = Switchboard(tmp_path)
    dispatcher = router.dispatcher
    router.metrics.watch(LiveCollector(lambda: 0, lambda: 0, lambda: dispatcher.callbacks_pending))
    sample = router.metrics.registry.get_sample_value
    now = router.clock()
    record = CallbackRecord(
        "6f1c1d8e5d4f4a439c1e0c8f6c1b2a11", now, CallbackState.PENDING, ANNA, now, now, "operator",
        "clinic-central", "ru", 0,
    )  # fmt: skip
    dispatcher.step(sb.ScheduleCallback(record))
    dispatcher.step(
        sb.ScheduleCallback(replace(record, callback_id="cb-2", number=BORIS, joined_at=at(9999)))
    )
    assert sample("callrouter_callbacks_total", {"result": "requested"}) == 2
    assert sample("callrouter_callbacks_pending") == 2, "waiting, and scheduled for later"
    dispatcher.step(sb.CancelCallback(record.callback_id, "sorted"))
    assert sample("callrouter_callbacks_total", {"result": "cancelled"}) == 1
    assert sample("callrouter_callbacks_pending") == 1


def test_a_notification_is_counted_once_in_its_final_state_with_its_attempts() -> None:
    metrics = build_metrics([])
    text = generate_latest(metrics.registry).decode()
    for state in NOTIFICATION_STATES:
        assert f'callrouter_notifications_total{{state="{state}"}} 0.0' in text
    tries = tuple(NotificationAttempt(at(n), "no_answer") for n in range(3))
    pending = NotificationRecord("n1", at(0), NotificationState.PENDING, at(60), tries[:1])
    final = NotificationRecord("n1", at(9), NotificationState.UNREACHABLE, at(60), tries)
    for record in (pending, pending, final):
        tally.count(metrics, sb.Write(record))
    text = generate_latest(metrics.registry).decode()
    assert 'callrouter_notifications_total{state="unreachable"} 1.0' in text
    assert 'callrouter_notifications_total{state="delivered"} 0.0' in text
    assert "callrouter_notification_attempts_count 1.0" in text
    assert "callrouter_notification_attempts_sum 3.0" in text
