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
    CallbackAttempt,
    CallbackRecord,
    CallbackState,
    CallEventRecord,
    CallRecord,
    NotificationAttempt,
    NotificationRecord,
    NotificationState,
    Outcome,
    PersonRecord,
    PlaceRecord,
    PlaceState,
    Record,
    RepeatKind,
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
    repeat_of=maybe(st.none(), text),
    repeat_kind=maybe(st.none(), st.sampled_from(RepeatKind)),
    direction=st.sampled_from(["inbound", "results"]),
)
call_events = st.builds(
    CallEventRecord, call_id=maybe(st.none(), text), node=text, at=times, kind=event_kinds, detail=text,
    callback_id=maybe(st.none(), text),
)  # fmt: skip
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
priorities = st.integers(-(2**31), 2**31 - 1)
people = st.builds(
    PersonRecord,
    person=text,
    at=times,
    left_at=maybe(st.none(), times),
    joined_at=maybe(st.none(), times),
    topic=maybe(st.none(), text),
    priority=maybe(st.none(), priorities),
    language=maybe(st.none(), text),
    line=maybe(st.none(), text),
    left_call_id=maybe(st.none(), text),
    contact_at=maybe(st.none(), times),
    contact_agent=maybe(st.none(), text),
    contact_call_id=maybe(st.none(), text),
)
attempts = st.builds(CallbackAttempt, at=times, agent=text, outcome=text)
callbacks = st.builds(
    CallbackRecord,
    callback_id=text,
    at=times,
    state=st.sampled_from(CallbackState),
    number=text,
    requested_at=times,
    joined_at=times,
    topic=text,
    line=text,
    language=text,
    priority=priorities,
    person=maybe(st.none(), text),
    call_id=maybe(st.none(), text),
    attempts=st.lists(attempts, max_size=4).map(tuple),
    reason=text,
)
notifications = st.builds(
    NotificationRecord,
    notification_id=text,
    at=times,
    state=st.sampled_from(NotificationState),
    due_at=times,
    attempts=st.lists(
        st.builds(NotificationAttempt, at=times, outcome=text, call_id=maybe(st.none(), text)), max_size=4
    ).map(tuple),
    reason=text,
)
STRATEGIES: dict[type, st.SearchStrategy[Record]] = {
    CallRecord: calls,
    CallEventRecord: call_events,
    AgentStateRecord: agent_states,
    PlaceRecord: places,
    PersonRecord: people,
    CallbackRecord: callbacks,
    NotificationRecord: notifications,
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
    if isinstance(record, CallbackRecord):
        assert isinstance(back, CallbackRecord)
        assert all(type(a) is CallbackAttempt for a in back.attempts)
        assert [a.at.utcoffset() for a in back.attempts] == [a.at.utcoffset() for a in record.attempts]


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


# ---- people and callbacks -----------------------------------------------------------------
CALLBACK = CallbackRecord(
    "0b5c8a52-7c3e-4a4e-9a51-2f1f3c0c9d11", T0, CallbackState.FAILED, "+79161234567", T0, T0,
    "operator", "clinic-central", "ru", 10, person="+79161234567",
    attempts=(CallbackAttempt(T0, "agent1", "no_answer"), CallbackAttempt(T0, "agent2", "busy")),
    reason="every attempt failed",
)  # fmt: skip


def test_a_callback_line_holds_its_attempts_as_a_list_of_objects() -> None:
    data = json.loads(spool.encode(CALLBACK))
    assert data["type"] == "callback"
    assert data["record"]["attempts"] == [
        {"at": T0.isoformat(), "agent": "agent1", "outcome": "no_answer"},
        {"at": T0.isoformat(), "agent": "agent2", "outcome": "busy"},
    ]
    assert spool.decode(json.dumps(data).encode()) == CALLBACK


def test_a_callback_line_without_attempts_has_none() -> None:
    data = json.loads(spool.encode(CALLBACK))
    del data["record"]["attempts"]
    assert spool.decode(json.dumps(data).encode()).attempts == ()  # type: ignore[union-attr]


def _with(record: Record, field: str, value: object) -> bytes:
    data = json.loads(spool.encode(record))
    data["record"][field] = value
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("agent1", r"CallbackRecord\.attempts: 'agent1' is not a list"),
        ({"at": "x"}, r"CallbackRecord\.attempts: .* is not a list"),
        (["agent1"], r"CallbackRecord\.attempts\[0\]: 'agent1' is not an object"),
        ([None], r"CallbackRecord\.attempts\[0\]: None is not an object"),
        ([{"at": T0.isoformat(), "agent": "a1"}], r"CallbackRecord\.attempts\[0\]: .*outcome"),
        (
            [{"at": T0.isoformat(), "agent": "a1", "outcome": "busy", "cost": 3}],
            r"CallbackRecord\.attempts\[0\] has no field 'cost'",
        ),
        (
            [{"at": "2026-11-22T10:00:00", "agent": "a1", "outcome": "busy"}],
            r"CallbackRecord\.attempts\[0\]\.at: .* no time zone",
        ),
        (
            [{"at": T0.isoformat(), "agent": 7, "outcome": "busy"}],
            r"CallbackRecord\.attempts\[0\]\.agent: 7 is not text",
        ),
        (
            [{"at": T0.isoformat(), "agent": "a1", "outcome": None}],
            r"CallbackRecord\.attempts\[0\]\.outcome is missing",
        ),
    ],
)
def test_a_callback_line_with_malformed_attempts_is_unreadable(value: object, why: str) -> None:
    with pytest.raises(spool.UnreadableLine, match=why):
        spool.decode(_with(CALLBACK, "attempts", value))


@pytest.mark.parametrize(
    ("record", "field", "value", "why"),
    [
        (CALLBACK, "state", "ringing", r"CallbackRecord\.state: 'ringing' is not a known value"),
        (CALLBACK, "state", None, r"CallbackRecord\.state is missing"),
        (CALLBACK, "priority", 1.5, r"CallbackRecord\.priority: 1\.5 is not a whole number"),
        (CALLBACK, "number", None, r"CallbackRecord\.number is missing"),
        (PersonRecord("+79161234567", T0), "left_at", 5, r"PersonRecord\.left_at: a time must be"),
        (PersonRecord("+79161234567", T0), "priority", True, r"PersonRecord\.priority: True is not a whole"),
        (PersonRecord("+79161234567", T0), "mood", "calm", r"PersonRecord has no field 'mood'"),
        (
            CallRecord("c", "n", "1.2", "103", None, None, "withheld", T0),
            "repeat_kind",
            "again",
            r"CallRecord\.repeat_kind: 'again' is not a known value",
        ),
    ],
)
def test_a_person_or_callback_line_with_a_bad_field_is_unreadable(
    record: Record, field: str, value: object, why: str
) -> None:
    with pytest.raises(spool.UnreadableLine, match=why):
        spool.decode(_with(record, field, value))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


@given(st.sampled_from([CALLBACK, PersonRecord("+79161234567", T0, left_at=T0)]), st.data())
def test_garbage_in_any_field_is_unreadable_never_a_crash(record: Record, data: st.DataObject) -> None:
    """Whatever JSON stands in a field (or an attempt's field), the decoder rebuilds a
    record or says the line is unreadable: it never raises anything else."""
    body = json.loads(spool.encode(record))["record"]
    field = data.draw(st.sampled_from(sorted(body)))
    value = data.draw(json_values)
    if field == "attempts" and data.draw(st.booleans()):
        attempt = {"at": T0.isoformat(), "agent": "a1", "outcome": "busy"}
        value = [{**attempt, data.draw(st.sampled_from(sorted(attempt))): value}]
    try:
        back = spool.decode(_with(record, field, value))
    except spool.UnreadableLine:
        return
    assert type(back) is type(record)


@pytest.mark.parametrize(
    "line",
    [
        b'{"type": "callback", "record": []}',
        b'{"type": "callback", "record": {"callback_id": "c"}}',
        b'{"type": "person", "record": {"person": "+79161234567"}}',
        b'{"type": "person", "record": {"person": "+79161234567", "at": "' + T0.isoformat().encode(),
        b'{"type": "people", "record": {}}',
        b"\xff\xfe garbage",
        b'{"kind": "callback", "callback_id": "c"}',
    ],
)
def test_garbage_lines_of_the_new_types_are_unreadable(line: bytes) -> None:
    with pytest.raises(spool.UnreadableLine):
        spool.decode(line)


def test_a_spool_of_people_and_callbacks_with_a_torn_line_replays_the_rest(tmp_path) -> None:
    person = PersonRecord("+79161234567", T0, contact_at=T0, contact_agent="agent1", contact_call_id="c1")
    path = tmp_path / "records.jsonl"
    spool.append(path, [spool.encode(person), spool.encode(CALLBACK)])
    with open(path, "ab") as torn:
        torn.write(spool.encode(CALLBACK).encode()[:40])  # a crash mid-write
    assert spool.scan(path) == [person, CALLBACK]
    taken = spool.take(path, tmp_path / "records.replaying")
    assert taken.records == [person, CALLBACK]
    assert [number for number, _raw, _why in taken.unreadable] == [3]
