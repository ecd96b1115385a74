"""The demo report's redial storm section reads its figures from the records as the
router writes them (through the record store, into a migrated PostgreSQL): calls
against people, the places kept, the queue entries that saved, the callbacks."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from callrouter.core.records import (
    CallbackAttempt,
    CallbackRecord,
    CallbackState,
    CallEventRecord,
    CallRecord,
    Outcome,
    Record,
    RepeatKind,
)
from devstack import redial_report
from tests.integration.conftest import Migrated
from tests.integration.test_repeats import T0, at

NODE = "asterisk-1"


class Calls:
    """Calls numbered in the order they start, one second apart."""

    def __init__(self) -> None:
        self.made: list[CallRecord] = []

    def call(
        self, number: str | None, outcome: Outcome, queued: float | None = None, **changes: object
    ) -> CallRecord:
        n = len(self.made) + 1
        record = CallRecord(
            str(uuid.uuid4()), NODE, f"1795385046.{n}", "+78162700101", "clinic-central", number,
            "number" if number else "withheld", at(n), outcome=outcome, topic="operator",
            queued_at=at(queued) if queued is not None else None,
        )  # fmt: skip
        record = replace(record, **changes)  # type: ignore[arg-type]
        self.made.append(record)
        return record


def event(call: CallRecord, kind: str, seconds: float) -> CallEventRecord:
    return CallEventRecord(call.call_id, NODE, at(seconds), kind)


def callback(call: CallRecord, state: CallbackState, *outcomes: str) -> CallbackRecord:
    attempts = tuple(CallbackAttempt(at(50 + n), "agent1", o) for n, o in enumerate(outcomes))
    assert call.caller_number is not None and call.queued_at is not None
    return CallbackRecord(
        str(uuid.uuid4()), at(60), state, call.caller_number, call.started_at, call.queued_at, "operator",
        "clinic-central", "ru", 0, call_id=call.call_id, attempts=attempts,
    )  # fmt: skip


def storm() -> list[Record]:
    """Five people and a withheld caller, calling 11 times in all; one older call."""
    c = Calls()
    c.call("+79160000009", Outcome.ANSWERED, started_at=T0 - timedelta(hours=1))  # before the storm
    anna = c.call("+79160000001", Outcome.ABANDONED, queued=1.5)
    anna2 = c.call("+79160000001", Outcome.ABANDONED, queued=1.5, repeat_kind=RepeatKind.RESUMED)
    c.call("+79160000001", Outcome.ANSWERED, queued=1.5, repeat_kind=RepeatKind.RESUMED, agent="agent1")
    c.call("+79160000002", Outcome.REPLACED, queued=5)
    c.call("+79160000002", Outcome.ANSWERED, queued=5, repeat_kind=RepeatKind.ALREADY_WAITING)
    c.call("+79160000003", Outcome.ANSWERED, queued=7)
    c.call("+79160000003", Outcome.ANSWERED, queued=8, repeat_kind=RepeatKind.RECENT_CONTACT)
    darya = c.call("+79160000004", Outcome.CALLBACK, queued=9)
    c.call("+79160000004", Outcome.ABANDONED, queued=9, repeat_kind=RepeatKind.CALLBACK_PENDING)
    egor = c.call("+79160000005", Outcome.CALLBACK, queued=11)
    c.call(None, Outcome.ABANDONED, queued=12)
    events = [
        event(anna, "callback_offered", 3),  # offered, never taken
        event(anna2, "callback_offered", 4),  # offered again on a later call: one more call offered
        *(event(darya, kind, 10) for kind in ("callback_offered", "callback_offer_taken")),
        *(event(darya, kind, 11) for kind in ("callback_requested", "callback_booked")),
        *(event(egor, kind, 12) for kind in ("callback_offered", "callback_offer_taken")),
        *(event(egor, kind, 13) for kind in ("callback_requested", "callback_booked")),
        event(egor, "callback_offered", 14),  # a reminder is not a second offer
    ]
    cancelled = callback(darya, CallbackState.CANCELLED)
    failed = callback(egor, CallbackState.FAILED, "failed", "failed")
    return [*c.made, *events, cancelled, failed]


async def test_the_figures_come_from_what_the_router_recorded(db: Migrated) -> None:
    assert await db.store.write(storm()) == []
    f = await redial_report.figures(db.conn, at(0).timestamp())
    assert (f.calls, f.people, f.withheld) == (11, 6, 1), "the call before the moment is left out"
    assert f.per_person == {1: 1, 2: 3, 3: 1}
    assert (f.repeats, f.resumed, f.resumed_people, f.resumed_answered) == (5, 2, 1, 1)
    assert (f.already_waiting, f.replaced, f.recent_contact, f.callback_pending) == (1, 1, 1, 1)
    assert (f.queued, f.entries_avoided) == (11, 4)
    assert (f.offered, f.pressed, f.confirmed, f.accepted) == (4, 2, 2, 2)
    assert f.callbacks == {"cancelled": 1, "failed": 1} and f.dials == {"failed": 2}


async def test_the_section_reads_as_the_figures_say(db: Migrated) -> None:
    assert await db.store.write(storm()) == []
    text = await redial_report.section(db.conn, at(0).timestamp(), note="(a note)")
    lines = text.splitlines()
    assert lines[0] == "redial storm: people who called again, as PostgreSQL recorded it"
    assert "11 calls from 6 people (told apart by number; 1 withheld, each one person)" in text
    assert "1 call came in while their callback waited" in text
    assert "1 person once, 3 twice, 1 three times" in text
    assert "4 of the 11 calls that queued took over or got back a place" in text
    assert "offered 4 / accepted 2 / completed 0 / failed 1 (cancelled 1, still open 0)" in text
    assert "dial attempts: 2 failed" in text and "(a note)" in text
    # One person for each way a place was kept, their calls in order.
    assert [line.split()[0] for line in lines if line.startswith("    +")] == [
        "+79*******01",
        "+79*******02",
        "+79*******04",
    ]
