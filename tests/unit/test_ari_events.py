"""ARI events: parsing what Asterisk 22 sends, and the stream's handling of each message."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from callrouter.app import build_metrics
from callrouter.ari import events
from callrouter.ari import models as ari
from callrouter.ari.events import EVENT_LABELS, EventStream, Replaced
from callrouter.ari.models import BadEvent, parse_event
from callrouter.metrics import Metrics

ASTERISK_ID = "02:42:ac:14:00:02"


def channel(state: str = "Ring") -> dict[str, Any]:
    """A channel as Asterisk 22 puts it in events (fields the router ignores included)."""
    return {
        "id": "1732312856.12",
        "name": "PJSIP/trunk-0000000c",
        "state": state,
        "protocol_id": "3f8d2a1c-6e1b-4c7a-9a55-0d2f6b1e9c11",
        "caller": {"name": "", "number": "+79161234567"},
        "connected": {"name": "", "number": ""},
        "accountcode": "",
        "dialplan": {
            "context": "callrouter-inbound",
            "exten": "+78162700101",
            "priority": 1,
            "app_name": "Stasis",
            "app_data": "callrouter,inbound,+78162700101",
        },
        "creationtime": "2026-11-22T22:00:56.795+0000",
        "language": "ru",
        "caller_rdnis": "",
    }


def envelope(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "timestamp": "2026-11-22T22:00:56.802+0000",
        **fields,
        "asterisk_id": ASTERISK_ID,
        "application": "callrouter",
    }


STASIS_START = envelope("StasisStart", args=["inbound", "+78162700101"], channel=channel())
STASIS_END = envelope("StasisEnd", channel=channel("Up"))
PLAYBACK_FINISHED = envelope(
    "PlaybackFinished",
    playback={
        "id": "7d4c5b8e-2f1a-4b3c-8d9e-0a1b2c3d4e5f-greeting",
        "media_uri": "sound:/usr/share/callrouter/prompts/ru/greeting-clinic-central",
        "target_uri": "channel:1732312856.12",
        "language": "ru",
        "state": "done",
    },
)
CHANNEL_DESTROYED = envelope("ChannelDestroyed", cause=16, cause_txt="Normal Clearing", channel=channel("Up"))
CHANNEL_HANGUP_REQUEST = envelope("ChannelHangupRequest", cause=16, soft=True, channel=channel("Up"))
CHANNEL_DTMF_RECEIVED = envelope("ChannelDtmfReceived", digit="1", duration_ms=120, channel=channel("Up"))
APPLICATION_REPLACED = envelope("ApplicationReplaced")
DEVICE_STATE_CHANGED = envelope(
    "DeviceStateChanged", device_state={"name": "PJSIP/agent-101", "state": "NOT_INUSE"}
)

GOOD_EVENTS = [
    STASIS_START,
    STASIS_END,
    PLAYBACK_FINISHED,
    CHANNEL_DESTROYED,
    CHANNEL_HANGUP_REQUEST,
    CHANNEL_DTMF_RECEIVED,
]


def text(event: dict[str, Any]) -> str:
    return json.dumps(event)


def with_change(event: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    target = changed
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


_DELETE = object()


# ---- parse_event ------------------------------------------------------------------
def test_stasis_start() -> None:
    event = parse_event(text(STASIS_START))
    assert isinstance(event, ari.StasisStart)
    assert event.args == ["inbound", "+78162700101"]
    assert event.application == "callrouter"
    assert event.asterisk_id == ASTERISK_ID
    assert event.timestamp == datetime(2026, 11, 22, 22, 0, 56, 802_000, tzinfo=UTC)
    assert event.replace_channel is None
    ch = event.channel
    assert ch.id == "1732312856.12"
    assert ch.name == "PJSIP/trunk-0000000c"
    assert ch.state == "Ring"
    assert ch.caller == ari.CallerID(name="", number="+79161234567")
    assert ch.connected.number == ""
    assert ch.dialplan.exten == "+78162700101"
    assert ch.dialplan.priority == 1
    assert ch.dialplan.app_data == "callrouter,inbound,+78162700101"
    assert ch.creationtime == datetime(2026, 11, 22, 22, 0, 56, 795_000, tzinfo=UTC)
    assert ch.language == "ru"


def test_stasis_start_accepts_bytes() -> None:
    event = parse_event(text(STASIS_START).encode())
    assert isinstance(event, ari.StasisStart)


def test_timestamp_with_another_offset() -> None:
    event = parse_event(text(with_change(STASIS_START, ("timestamp",), "2026-11-23T01:00:56.802+0300")))
    assert event is not None
    assert event.timestamp == datetime(2026, 11, 22, 22, 0, 56, 802_000, tzinfo=UTC)
    assert event.timestamp.utcoffset() == timedelta(hours=3)


def test_playback_finished() -> None:
    event = parse_event(text(PLAYBACK_FINISHED))
    assert isinstance(event, ari.PlaybackFinished)
    assert event.playback == ari.Playback(
        id="7d4c5b8e-2f1a-4b3c-8d9e-0a1b2c3d4e5f-greeting",
        media_uri="sound:/usr/share/callrouter/prompts/ru/greeting-clinic-central",
        target_uri="channel:1732312856.12",
        state="done",
    )


def test_channel_destroyed() -> None:
    event = parse_event(text(CHANNEL_DESTROYED))
    assert isinstance(event, ari.ChannelDestroyed)
    assert event.cause == 16
    assert event.cause_txt == "Normal Clearing"
    assert event.channel.state == "Up"


def test_channel_hangup_request() -> None:
    event = parse_event(text(CHANNEL_HANGUP_REQUEST))
    assert isinstance(event, ari.ChannelHangupRequest)
    assert event.cause == 16
    assert event.soft is True


def test_channel_hangup_request_without_cause() -> None:
    bare = with_change(with_change(CHANNEL_HANGUP_REQUEST, ("cause",), _DELETE), ("soft",), _DELETE)
    event = parse_event(text(bare))
    assert isinstance(event, ari.ChannelHangupRequest)
    assert event.cause is None
    assert event.soft is None


def test_stasis_end() -> None:
    event = parse_event(text(STASIS_END))
    assert isinstance(event, ari.StasisEnd)
    assert event.channel.id == "1732312856.12"


def test_channel_dtmf_received() -> None:
    event = parse_event(text(CHANNEL_DTMF_RECEIVED))
    assert isinstance(event, ari.ChannelDtmfReceived)
    assert event.digit == "1"
    assert event.duration_ms == 120


def test_application_replaced() -> None:
    assert isinstance(parse_event(text(APPLICATION_REPLACED)), ari.ApplicationReplaced)


@pytest.mark.parametrize("kind", ["DeviceStateChanged", "ChannelVarset", "BridgeCreated", "Dial"])
def test_an_unknown_type_is_none(kind: str) -> None:
    assert parse_event(text(envelope(kind, whatever={"x": 1}))) is None


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="empty"),
        pytest.param("{not json", id="not-json"),
        pytest.param(b"\xff\xfe\x00garbage", id="bad-bytes"),
        pytest.param("[]", id="json-list"),
        pytest.param(json.dumps([STASIS_START]), id="event-in-a-list"),
        pytest.param('"StasisStart"', id="json-string"),
        pytest.param("null", id="json-null"),
        pytest.param(text(with_change(STASIS_START, ("type",), _DELETE)), id="no-type"),
        pytest.param(text(with_change(STASIS_START, ("type",), 7)), id="type-not-a-string"),
        pytest.param(text(with_change(STASIS_START, ("channel",), _DELETE)), id="stasis-start-no-channel"),
        pytest.param(text(with_change(STASIS_START, ("channel", "id"), _DELETE)), id="channel-no-id"),
        pytest.param(text(with_change(STASIS_START, ("args",), "inbound")), id="args-not-a-list"),
        pytest.param(text(with_change(STASIS_START, ("timestamp",), "yesterday")), id="bad-timestamp"),
        pytest.param(text(with_change(CHANNEL_DESTROYED, ("cause",), "sixteen")), id="cause-not-an-int"),
        pytest.param(text(with_change(PLAYBACK_FINISHED, ("playback",), None)), id="playback-null"),
        pytest.param(
            text(with_change(STASIS_START, ("channel", "dialplan", "priority"), "first")),
            id="priority-not-an-int",
        ),
        pytest.param("[" * 100_000, id="deeply-nested"),
    ],
)
def test_garbage_raises_bad_event(raw: str | bytes) -> None:
    with pytest.raises(BadEvent):
        parse_event(raw)


def test_bad_event_says_where() -> None:
    with pytest.raises(BadEvent, match=r"StasisStart: channel"):
        parse_event(text(with_change(STASIS_START, ("channel",), _DELETE)))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def event_like(draw: st.DrawFn) -> str:
    """A real event with one field replaced by arbitrary JSON, so that pydantic sees it."""
    event = copy.deepcopy(draw(st.sampled_from([*GOOD_EVENTS, APPLICATION_REPLACED])))
    target = event
    while True:
        key = draw(st.sampled_from(sorted(target)))
        if isinstance(target[key], dict) and draw(st.booleans()):
            target = target[key]
            continue
        target[key] = draw(json_values)
        return json.dumps(event)


@given(st.one_of(st.text(), st.binary(), event_like()))
def test_parse_event_raises_nothing_but_bad_event(raw: str | bytes) -> None:
    try:
        event = parse_event(raw)
    except BadEvent:
        return
    assert event is None or isinstance(event, ari.Event)


# ---- EventStream.handle_text -------------------------------------------------------
class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.events: list[ari.Event] = []
        self.fail = fail

    def __call__(self, event: ari.Event) -> None:
        self.events.append(event)
        if self.fail:
            raise RuntimeError("handler bug")


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(event_types=EVENT_LABELS)


def make_stream(metrics: Metrics, url: str = "http://127.0.0.1:8088") -> EventStream:
    # aiohttp 3.14 deprecates BasicAuth (see test_event_stream_builds_without_deprecation_warnings);
    # the tests of what the stream does with messages must not fail on that.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "BasicAuth is deprecated", DeprecationWarning)
        return EventStream(url, "callrouter", "callrouter", "not-a-secret", metrics)


@pytest.fixture
def stream(metrics: Metrics) -> EventStream:
    return make_stream(metrics)


def events_counted(metrics: Metrics, kind: str) -> float:
    value = metrics.registry.get_sample_value("callrouter_ari_events_total", {"type": kind})
    assert value is not None, kind
    return value


def test_stream_url() -> None:
    assert make_stream(Metrics(), "https://pbx.test:8089/").url == "wss://pbx.test:8089/ari/events"
    assert make_stream(Metrics(), "http://pbx.test:8088").url == "ws://pbx.test:8088/ari/events"


def test_event_stream_builds_without_deprecation_warnings() -> None:
    # pyproject turns warnings into errors; the locked aiohttp (3.14) deprecates
    # aiohttp.BasicAuth, which EventStream.__init__ builds.
    EventStream("http://127.0.0.1:8088", "callrouter", "callrouter", "not-a-secret", Metrics())


async def test_handle_text_skips_garbage_and_counts_it(stream: EventStream, metrics: Metrics) -> None:
    handler = Recorder()
    garbage = ["{not json", "[]", text(with_change(STASIS_START, ("channel",), _DELETE)), ""]
    for raw in garbage:
        stream.handle_text(raw, handler)
    assert handler.events == []
    assert events_counted(metrics, "malformed") == len(garbage)
    assert events_counted(metrics, "StasisStart") == 0


async def test_handle_text_dispatches_good_events(stream: EventStream, metrics: Metrics) -> None:
    handler = Recorder()
    for event in GOOD_EVENTS:
        stream.handle_text(text(event), handler)
    assert [e.type for e in handler.events] == [e["type"] for e in GOOD_EVENTS]
    assert isinstance(handler.events[0], ari.StasisStart)
    assert events_counted(metrics, "StasisStart") == 1
    assert events_counted(metrics, "PlaybackFinished") == 1
    assert events_counted(metrics, "malformed") == 0
    handled = metrics.registry.get_sample_value("callrouter_event_handling_seconds_count")
    assert handled == len(GOOD_EVENTS)


async def test_handle_text_counts_unknown_types_and_skips_them(stream: EventStream, metrics: Metrics) -> None:
    handler = Recorder()
    stream.handle_text(text(DEVICE_STATE_CHANGED), handler)
    assert handler.events == []
    assert events_counted(metrics, "other") == 1
    assert events_counted(metrics, "malformed") == 0


async def test_handle_text_survives_a_failing_handler(stream: EventStream, metrics: Metrics) -> None:
    handler = Recorder(fail=True)
    stream.handle_text(text(STASIS_START), handler)
    stream.handle_text(text(STASIS_END), handler)
    assert [e.type for e in handler.events] == ["StasisStart", "StasisEnd"]
    assert events_counted(metrics, "StasisEnd") == 1


async def test_handle_text_raises_replaced(stream: EventStream, metrics: Metrics) -> None:
    handler = Recorder()
    with pytest.raises(Replaced):
        stream.handle_text(text(APPLICATION_REPLACED), handler)
    assert handler.events == []
    assert events_counted(metrics, "ApplicationReplaced") == 1


async def test_handle_text_measures_event_lag(stream: EventStream, metrics: Metrics) -> None:
    two_seconds_ago = (datetime.now(UTC) - timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%f")[
        :-3
    ] + "+0000"
    stream.handle_text(text(with_change(STASIS_END, ("timestamp",), two_seconds_ago)), Recorder())
    lag_sum = metrics.registry.get_sample_value("callrouter_ari_event_lag_seconds_sum")
    assert lag_sum is not None
    assert 2.0 <= lag_sum < 60.0


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-11-22T22:00:56.802",  # no offset: pydantic reads a naive datetime
        "2026-11-22T22:00:56.802-1200",
    ],
)
async def test_handle_text_never_raises_on_odd_timestamps(
    stream: EventStream, metrics: Metrics, timestamp: str
) -> None:
    handler = Recorder()
    stream.handle_text(text(with_change(STASIS_END, ("timestamp",), timestamp)), handler)
    assert events_counted(metrics, "StasisEnd") + events_counted(metrics, "malformed") == 1


async def test_handle_text_never_raises_on_deep_nesting(stream: EventStream, metrics: Metrics) -> None:
    stream.handle_text("[" * 100_000, Recorder())
    assert events_counted(metrics, "malformed") == 1


@given(raw=st.one_of(st.text(), event_like()))
def test_handle_text_raises_nothing_but_replaced(raw: str) -> None:
    metrics = Metrics(event_types=EVENT_LABELS)
    stream = make_stream(metrics)

    async def feed() -> None:
        with contextlib.suppress(Replaced):
            stream.handle_text(raw, Recorder())

    asyncio.run(feed())
    counted = sum(events_counted(metrics, kind) for kind in EVENT_LABELS)
    assert counted == 1


def test_stream_metrics_start_at_zero() -> None:
    metrics = build_metrics([])  # as app.py wires them
    for kind in [*ari.EVENT_TYPES, "other", "malformed"]:
        assert events_counted(metrics, kind) == 0


async def test_a_handshake_asterisk_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that takes the connection and says nothing (Asterisk with its
    ARI deadlocked) makes the stream log and retry, not wait five minutes."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(events, "HANDSHAKE_SECONDS", 0.2)
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(TimeoutError, match=r"no WebSocket handshake within 0\.2 s"):
                await events.open_websocket(session, events.events_url(f"http://127.0.0.1:{port}"), "app")
        assert accepted, "the connection was made: the handshake is what timed out"
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
