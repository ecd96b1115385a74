"""The spool format: every record the router produces comes back from its line unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callrouter.core.records import (
    AgentStateRecord,
    CallEventRecord,
    CallRecord,
    Outcome,
    PlaceRecord,
    PlaceState,
    Record,
)
from callrouter.store import spool

T0 = datetime(2026, 11, 22, 22, 0, 56, 802_000, tzinfo=UTC)

zones = st.sampled_from([UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-5, minutes=-30))])
times = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=zones)
# Any text: quotes, newlines, NUL, emoji, and lone surrogates (Asterisk's JSON may carry them).
# (st.text never yields surrogates, whatever its alphabet: join characters instead). Only
# high surrogates: JSON text never gives Python a high+low pair as two code points.
text = st.lists(
    st.characters(codec="utf-8") | st.sampled_from(["\ud800", "\udbff", '"', "\n"]), max_size=40
).map("".join)
maybe = st.one_of
# Event kinds the router writes, and the names of record types on purpose: a kind must never
# be taken for the type of the line (the first format lost every call event that way).
event_kinds = st.one_of(
    st.sampled_from(["arrived", "menu", "key", "queued", "offered", "agent_missed", "bridged",
                     "overflow", "ended", "call", "call_event", "agent_state", "type", "record"]),
    text,
)  # fmt: skip

calls = st.builds(
    CallRecord,
    call_id=text,
    node=text,
    channel_id=text,
    did=text,
    line=maybe(st.none(), text),
    caller_number=maybe(st.none(), text),
    caller_presentation=text,
    started_at=times,
    answered_at=maybe(st.none(), times),
    ended_at=maybe(st.none(), times),
    outcome=maybe(st.none(), st.sampled_from(Outcome)),
    end_reason=maybe(st.none(), text),
    language=maybe(st.none(), text),
    menu_path=maybe(st.none(), text),
    topic=maybe(st.none(), text),
    priority=maybe(st.none(), st.integers(-(2**31), 2**31 - 1)),
    queued_at=maybe(st.none(), times),
    agent=maybe(st.none(), text),
    agent_answered_at=maybe(st.none(), times),
)
call_events = st.builds(CallEventRecord, call_id=text, node=text, at=times, kind=event_kinds, detail=text)
agent_states = st.builds(
    AgentStateRecord, agent=text, at=times, state=text, reason=text, call_id=maybe(st.none(), text)
)
places = st.builds(
    PlaceRecord,
    place_id=text,
    node=text,
    at=times,
    state=st.sampled_from(PlaceState),
    person=maybe(st.none(), text),
    topic=text,
    priority=st.integers(-(2**31), 2**31 - 1),
    language=text,
    line=text,
    joined_at=times,
    call_id=maybe(st.none(), text),
)
STRATEGIES: dict[type, st.SearchStrategy[Record]] = {
    CallRecord: calls,
    CallEventRecord: call_events,
    AgentStateRecord: agent_states,
    PlaceRecord: places,
}


def test_every_record_type_has_a_spool_name_and_a_strategy_here() -> None:
    """A record type added later without a spool name, or without a round-trip test, fails here."""
    produced = set(get_args(Record))
    assert set(spool.RECORD_TYPES.values()) == produced
    assert set(STRATEGIES) == produced


@given(st.one_of(*STRATEGIES.values()))
def test_every_record_comes_back_from_its_spool_line_unchanged(record: Record) -> None:
    line = spool.encode(record)
    assert "\n" not in line  # one record, one line
    back = spool.decode(line.encode("utf-8"))
    assert back == record
    assert type(back) is type(record)
    for name in ("at", "started_at"):  # the same instant in the same zone, not only an equal one
        if hasattr(record, name):
            assert getattr(back, name).utcoffset() == getattr(record, name).utcoffset()


@given(call_events)
def test_a_call_event_of_any_kind_stays_a_call_event(event: CallEventRecord) -> None:
    data = json.loads(spool.encode(event))
    assert data["type"] == "call_event"
    assert data["record"]["kind"] == event.kind


def test_a_record_of_a_type_without_a_spool_name_is_refused_at_once() -> None:
    class Invoice:
        pass

    with pytest.raises(TypeError, match="no spool name"):
        spool.encode(Invoice())  # type: ignore[arg-type]


# ---- lines written by earlier versions (fields at the top level, type in "kind") ---------
def test_first_format_call_line_is_read() -> None:
    line = (
        '{"kind": "call", "call_id": "c1", "node": "asterisk-1", "channel_id": "1.2", "did": "103",'
        ' "line": null, "caller_number": null, "caller_presentation": "withheld",'
        ' "started_at": "2026-11-22T22:00:56.802000+00:00", "outcome": "abandoned"}'
    )
    assert spool.decode(line.encode()) == CallRecord(
        "c1", "asterisk-1", "1.2", "103", None, None, "withheld", T0, outcome=Outcome.ABANDONED
    )


def test_first_format_call_event_whose_kind_replaced_the_type_is_read() -> None:
    """The line that release wrote for a call event (and then could not read)."""
    line = '{"kind": "arrived", "call_id": "c1", "node": "asterisk-1", "at": "2026-11-22T22:00:56.802+00:00", "detail": "did 103"}'  # noqa: E501
    assert spool.decode(line.encode()) == CallEventRecord("c1", "asterisk-1", T0, "arrived", "did 103")


def test_first_format_agent_state_line_from_records_bad_is_read() -> None:
    line = '{"kind": "agent_state", "agent": "agent1", "at": "2026-11-22T22:00:56.802+00:00", "state": "idle", "reason": "login", "call_id": null, "refused": "why"}'  # noqa: E501
    assert spool.decode(line.encode()) == AgentStateRecord("agent1", T0, "idle", "login")


def test_a_bad_line_says_what_is_wrong() -> None:
    with pytest.raises(spool.UnreadableLine, match=r"CallEventRecord\.at: .* no time zone"):
        spool.decode(
            b'{"type": "call_event", "record": {"call_id": "c", "node": "n", "at": "2026-11-22T10:00:00",'
            b' "kind": "arrived", "detail": ""}}'
        )


def test_a_lone_surrogate_survives_the_spool(tmp_path) -> None:
    record = CallEventRecord("c", "asterisk-1", T0, "key", "caller id \ud800 from the trunk")
    path = tmp_path / "records.jsonl"
    spool.append(path, [spool.encode(record)])
    taken = spool.take(path, tmp_path / "records.replaying")
    assert taken.records == [record] and taken.unreadable == []


def test_a_record_appended_after_a_torn_line_is_not_glued_to_it(tmp_path) -> None:
    path = tmp_path / "records.jsonl"
    path.write_bytes(b'{"type": "call", "record": {"call_id": "c1", "no')  # a crash mid-write
    record = AgentStateRecord("agent1", T0, "idle", "login")
    spool.append(path, [spool.encode(record)])
    taken = spool.take(path, tmp_path / "records.replaying")
    assert taken.records == [record]
    assert [number for number, _raw, _why in taken.unreadable] == [1]


def test_a_place_line_with_an_unknown_state_or_a_text_priority_is_refused() -> None:
    record = PlaceRecord("p1", "asterisk-1", T0, PlaceState.WAITING, None, "operator", 10, "ru", "clinic", T0)
    body = json.loads(spool.encode(record))
    assert spool.decode(json.dumps(body).encode()) == record
    for field, value, why in [("state", "parked", "not a known value"), ("priority", "10", "whole number")]:
        bad = {**body, "record": {**body["record"], field: value}}
        with pytest.raises(spool.UnreadableLine, match=f"PlaceRecord.{field}: .*{why}"):
            spool.decode(json.dumps(bad).encode())
