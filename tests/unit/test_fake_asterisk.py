"""The fake Asterisk: the events each REST command and each caller's or phone's
act makes, in order, and the errors Asterisk answers with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callrouter.ari import models as ari
from callrouter.ari.client import AriClient, AriError, AriNotFound
from callrouter.ari.fake_asterisk import FakeAsterisk

DID = "+78162700101"
ARGS = "agent,entry-1,agent1"


@pytest.fixture
def received() -> list[ari.Event]:
    return []


@pytest.fixture
def asterisk(received: list[ari.Event]) -> FakeAsterisk:
    fake = FakeAsterisk()
    fake.connect(received.append)
    return fake


def kinds(events: list[ari.Event]) -> list[str]:
    return [event.type for event in events]


async def caller(asterisk: FakeAsterisk, received: list[ari.Event], channel_id: str = "c1") -> None:
    """A caller in the application, its StasisStart delivered and forgotten."""
    asterisk.call(channel_id, DID)
    await asterisk.settle()
    received.clear()


async def ring(asterisk: FakeAsterisk, channel_id: str = "a1", ring_seconds: float = 1.0) -> None:
    await asterisk.originate(channel_id, "PJSIP/agent1", "callrouter", ARGS, ring_seconds, '"x" <agent1>')


async def test_it_is_an_ari_client() -> None:
    client: AriClient = FakeAsterisk()
    assert client.round_trip == 0.0
    fake = FakeAsterisk()
    fake.round_trip = 0.25
    assert fake.round_trip == 0.25


async def test_a_call_enters_the_application(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    asterisk.call("c1", DID, number="+79160000001")
    assert received == []  # never from inside the act itself
    await asterisk.settle()
    (start,) = received
    assert isinstance(start, ari.StasisStart)
    assert start.args == ["inbound", DID]
    assert start.application == "callrouter"
    assert start.channel.state == "Up"
    assert start.channel.caller.number == "+79160000001"
    assert start.channel.dialplan.exten == DID
    assert start.channel.dialplan.app_data == f"callrouter,inbound,{DID}"
    assert (await asterisk.application("callrouter")).channel_ids == ["c1"]


async def test_a_call_not_answered_in_the_dialplan_rings(
    asterisk: FakeAsterisk, received: list[ari.Event]
) -> None:
    asterisk.call("c1", DID, up=False)
    assert (await asterisk.get_channel("c1")).state == "Ring"
    await asterisk.answer("c1")
    assert (await asterisk.get_channel("c1")).state == "Up"
    with pytest.raises(AriNotFound) as raised:
        await asterisk.answer("nobody")
    assert raised.value.status == 404


async def test_a_key(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    await caller(asterisk, received)
    asterisk.press("c1", "5")
    await asterisk.settle()
    (dtmf,) = received
    assert isinstance(dtmf, ari.ChannelDtmfReceived)
    assert (dtmf.digit, dtmf.channel.id) == ("5", "c1")


async def test_the_caller_hangs_up(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    await caller(asterisk, received)
    await asterisk.create_bridge("b1")
    await asterisk.add_to_bridge("b1", ["c1"])
    await asterisk.set_variable("c1", "PLACE", "3")
    asterisk.hang_up("c1")
    assert received == []
    await asterisk.settle()
    assert kinds(received) == ["ChannelHangupRequest", "StasisEnd", "ChannelDestroyed"]
    request, _, destroyed = received
    assert isinstance(request, ari.ChannelHangupRequest) and request.cause == 16
    assert isinstance(destroyed, ari.ChannelDestroyed)
    assert (destroyed.cause, destroyed.cause_txt) == (16, "Normal Clearing")
    assert asterisk.bridges == {"b1": set()}
    assert "c1" not in asterisk.channels and "c1" not in asterisk.variables
    assert asterisk.hung_up == []  # the router hung up nothing


async def test_a_channel_vanishes_without_a_word(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    await caller(asterisk, received)
    await asterisk.create_bridge("b1")
    await asterisk.add_to_bridge("b1", ["c1"])
    asterisk.vanish("c1")
    await asterisk.settle()
    assert received == []
    assert (await asterisk.application("callrouter")).channel_ids == []
    assert asterisk.bridges == {"b1": set()}
    with pytest.raises(AriNotFound):
        await asterisk.get_channel("c1")


async def test_a_playback_starts_then_finishes(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    await caller(asterisk, received)
    asterisk.play_seconds = 0.02
    await asterisk.play("c1", ("sound:hello", "sound:menu"), "p1", "ru")
    assert received == []
    await asterisk.settle()
    (started,) = received
    assert isinstance(started, ari.PlaybackStarted)
    assert started.playback.model_dump() == {
        "id": "p1",
        "media_uri": "sound:hello",
        "target_uri": "channel:c1",
        "state": "playing",
    }
    await asterisk.settle(0.03)
    assert kinds(received) == ["PlaybackStarted", "PlaybackFinished"]
    finished = received[1]
    assert isinstance(finished, ari.PlaybackFinished)
    assert (finished.playback.id, finished.playback.state) == ("p1", "done")
    assert asterisk.called("play") == [("c1", ("sound:hello", "sound:menu"), "p1", "ru")]


async def test_a_stopped_playback_finishes_at_once(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    await caller(asterisk, received)
    asterisk.play_seconds = 5.0
    await asterisk.play("c1", ("sound:menu",), "p1")
    await asterisk.settle()
    await asterisk.stop_playback("p1")
    await asterisk.settle()
    assert kinds(received) == ["PlaybackStarted", "PlaybackFinished"]
    finished = received[1]
    assert isinstance(finished, ari.PlaybackFinished)
    assert finished.playback.state == "done"  # Asterisk says "done" for a stopped one too
    with pytest.raises(AriNotFound):
        await asterisk.stop_playback("p1")


async def test_a_playback_on_a_channel_that_is_gone(
    asterisk: FakeAsterisk, received: list[ari.Event]
) -> None:
    await caller(asterisk, received)
    asterisk.vanish("c1")
    with pytest.raises(AriNotFound):
        await asterisk.play("c1", ("sound:menu",), "p1")
    await ring(asterisk)
    with pytest.raises(AriError) as raised:  # ringing: not in the application yet
        await asterisk.play("a1", ("sound:menu",), "p2")
    assert raised.value.status == 409
    await asterisk.settle()
    assert received == []


async def test_a_hang_up_fails_the_playback(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    await caller(asterisk, received)
    asterisk.play_seconds = 5.0
    await asterisk.play("c1", ("sound:menu",), "p1")
    await asterisk.settle()
    asterisk.hang_up("c1")
    await asterisk.settle()
    assert kinds(received) == [
        "PlaybackStarted",
        "ChannelHangupRequest",
        "PlaybackFinished",
        "StasisEnd",
        "ChannelDestroyed",
    ]
    finished = received[2]
    assert isinstance(finished, ari.PlaybackFinished) and finished.playback.state == "failed"


async def test_music_on_hold(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    await caller(asterisk, received)
    await asterisk.start_moh("c1")
    await asterisk.stop_moh("c1")
    assert asterisk.called("start_moh") == asterisk.called("stop_moh") == [("c1",)]
    with pytest.raises(AriNotFound):
        await asterisk.start_moh("nobody")
    with pytest.raises(AriNotFound):
        await asterisk.stop_moh("nobody")


async def test_the_router_hangs_up(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    await caller(asterisk, received)
    await asterisk.hangup("c1")
    assert received == []
    await asterisk.settle()
    assert kinds(received) == ["StasisEnd", "ChannelDestroyed"]
    destroyed = received[1]
    assert isinstance(destroyed, ari.ChannelDestroyed) and destroyed.cause == 16
    assert asterisk.hung_up == ["c1"]
    with pytest.raises(AriNotFound) as raised:  # hung up already: Asterisk knows it no more
        await asterisk.hangup("c1")
    assert raised.value.status == 404


async def test_a_hang_up_reason_is_its_cause(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    await caller(asterisk, received)
    with pytest.raises(AriError) as raised:
        await asterisk.hangup("c1", "whatever")
    assert raised.value.status == 400
    await asterisk.hangup("c1", "busy")
    await asterisk.settle()
    destroyed = received[-1]
    assert isinstance(destroyed, ari.ChannelDestroyed)
    assert (destroyed.cause, destroyed.cause_txt) == (17, "User busy")


async def test_continue_in_the_dialplan(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    await caller(asterisk, received)
    await asterisk.continue_in_dialplan("c1", "callrouter-fallback", DID)
    await asterisk.settle()
    assert kinds(received) == ["StasisEnd"]
    assert (await asterisk.application("callrouter")).channel_ids == []
    with pytest.raises(AriNotFound):
        await asterisk.continue_in_dialplan("c1", "callrouter-fallback", DID)


async def test_variables_live_and_die_with_their_channel(
    asterisk: FakeAsterisk, received: list[ari.Event]
) -> None:
    await caller(asterisk, received)
    await asterisk.set_variable("c1", "CALLROUTER_PLACE", "q1:3")
    assert await asterisk.get_variable("c1", "CALLROUTER_PLACE") == "q1:3"
    assert await asterisk.get_variable("c1", "OTHER") is None
    asterisk.hang_up("c1")
    assert asterisk.variables == {}
    assert await asterisk.get_variable("c1", "CALLROUTER_PLACE") is None  # the client's reading of 404
    with pytest.raises(AriNotFound):
        await asterisk.set_variable("c1", "CALLROUTER_PLACE", "q1:3")


async def test_bridges(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    await caller(asterisk, received)
    await asterisk.create_bridge("hold", "holding")
    await asterisk.start_bridge_moh("hold")
    await asterisk.create_bridge("call")
    with pytest.raises(AriError) as raised:
        await asterisk.create_bridge("hold", "holding")
    assert raised.value.status == 409
    await asterisk.add_to_bridge("hold", ["c1"])
    await asterisk.add_to_bridge("call", ["c1"])  # moved: it left the holding bridge
    assert asterisk.bridges == {"hold": set(), "call": {"c1"}}
    assert (await asterisk.application("callrouter")).bridge_ids == ["hold", "call"]
    await asterisk.destroy_bridge("call")
    assert asterisk.bridges == {"hold": set()}
    for missing in (asterisk.destroy_bridge("call"), asterisk.start_bridge_moh("call")):
        with pytest.raises(AriNotFound):
            await missing
    await asterisk.settle()
    assert received == []


async def test_adding_to_a_bridge_fails_as_in_asterisk(
    asterisk: FakeAsterisk, received: list[ari.Event]
) -> None:
    await caller(asterisk, received)
    with pytest.raises(AriNotFound):
        await asterisk.add_to_bridge("nowhere", ["c1"])
    await asterisk.create_bridge("call")
    with pytest.raises(AriError) as unknown:
        await asterisk.add_to_bridge("call", ["c1", "nobody"])
    await ring(asterisk)
    with pytest.raises(AriError) as ringing:  # ARI-NOTES 18: before its StasisStart
        await asterisk.add_to_bridge("call", ["c1", "a1"])
    assert (unknown.value.status, ringing.value.status) == (400, 422)
    assert asterisk.bridges == {"call": set()}  # all or nothing


async def test_channels_and_the_application(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    await caller(asterisk, received)
    assert (await asterisk.get_channel("c1")).id == "c1"
    with pytest.raises(AriNotFound) as raised:
        await asterisk.get_channel("nobody")
    assert raised.value.status == 404
    await ring(asterisk)
    await asterisk.create_bridge("b1")
    app = await asterisk.application("callrouter")
    assert (app.name, app.channel_ids, app.bridge_ids) == ("callrouter", ["c1", "a1"], ["b1"])
    with pytest.raises(AriNotFound):
        await asterisk.application("other")


async def test_filter_and_subscriptions_are_recorded(asterisk: FakeAsterisk) -> None:
    await asterisk.set_event_filter("callrouter", ["StasisStart", "StasisEnd"])
    await asterisk.subscribe("callrouter", ["endpoint:PJSIP/agent1", "endpoint:PJSIP/agent2"])
    assert asterisk.called("set_event_filter") == [("callrouter", ("StasisStart", "StasisEnd"))]
    assert asterisk.called("subscribe") == [
        ("callrouter", ("endpoint:PJSIP/agent1", "endpoint:PJSIP/agent2"))
    ]
    assert asterisk.filter == ["StasisStart", "StasisEnd"]
    app = await asterisk.application("callrouter")
    assert app.endpoint_ids == ["PJSIP/agent1", "PJSIP/agent2"]


async def test_an_endpoint_goes_offline(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    assert (await asterisk.endpoint("PJSIP", "agent1")).state == "online"
    asterisk.set_endpoint("agent1", "offline")
    asterisk.set_endpoint("agent1", "offline")  # no change, no event
    assert received == []
    await asterisk.settle()
    (change,) = received
    assert isinstance(change, ari.EndpointStateChange)
    assert change.endpoint.model_dump() == {
        "technology": "PJSIP",
        "resource": "agent1",
        "state": "offline",
        "channel_ids": [],
    }
    assert (await asterisk.endpoint("PJSIP", "agent1")).state == "offline"
    assert asterisk.called("endpoint") == [("PJSIP", "agent1"), ("PJSIP", "agent1")]


async def test_an_agent_answers(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    asterisk.agent("agent1", answer_after=0.02)
    await ring(asterisk)
    await asterisk.settle()
    assert received == []  # ringing: not in the application yet
    assert (await asterisk.get_channel("a1")).state == "Ringing"
    assert (await asterisk.endpoint("PJSIP", "agent1")).channel_ids == ["a1"]
    await asterisk.settle(0.03)
    (start,) = received
    assert isinstance(start, ari.StasisStart)
    assert start.args == ["agent", "entry-1", "agent1"]
    assert start.channel.state == "Up"
    assert start.channel.dialplan.app_data == f"callrouter,{ARGS}"
    assert start.channel.caller.model_dump() == {"name": "x", "number": "agent1"}
    assert (await asterisk.get_channel("a1")).dialplan.app_data == f"callrouter,{ARGS}"
    assert asterisk.called("originate") == [("a1", "PJSIP/agent1", "callrouter", ARGS, 1.0, '"x" <agent1>')]


@pytest.mark.parametrize("answer_after", [None, 0.05])
async def test_nobody_answers(
    asterisk: FakeAsterisk, received: list[ari.Event], answer_after: float | None
) -> None:
    asterisk.agent("agent1", answer_after=answer_after)
    await ring(asterisk, ring_seconds=0.02)
    await asterisk.settle(0.1)
    (destroyed,) = received
    assert isinstance(destroyed, ari.ChannelDestroyed)
    assert (destroyed.channel.id, destroyed.cause) == ("a1", 19)
    assert asterisk.channels == {}


async def test_an_agent_rejects(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    asterisk.agent("agent1", reject=True, reject_after=0.01)
    await ring(asterisk)
    await asterisk.settle()
    assert received == []
    await asterisk.settle(0.02)
    (destroyed,) = received
    assert isinstance(destroyed, ari.ChannelDestroyed)
    assert (destroyed.cause, destroyed.cause_txt) == (21, "Call Rejected")


async def test_ringing_an_offline_phone_fails(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    asterisk.set_endpoint("agent1", "offline")
    await asterisk.settle()
    received.clear()
    with pytest.raises(AriError) as raised:
        await ring(asterisk)
    assert raised.value.status == 500 and "Allocation failed" in str(raised.value)
    await asterisk.settle()
    assert received == [] and asterisk.channels == {}


async def test_originate_errors(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    await ring(asterisk)
    with pytest.raises(AriError) as twice:
        await ring(asterisk)
    with pytest.raises(AriError) as bad:
        await asterisk.originate("a2", "agent1", "callrouter", ARGS, 1.0, "")
    assert (twice.value.status, bad.value.status) == (409, 400)


async def test_a_ringing_phone_hung_up_by_the_router(
    asterisk: FakeAsterisk, received: list[ari.Event]
) -> None:
    asterisk.agent("agent1", answer_after=0.02)
    await ring(asterisk)
    await asterisk.hangup("a1")
    await asterisk.settle(0.05)
    assert kinds(received) == ["ChannelDestroyed"]  # it never entered the application
    assert asterisk.hung_up == ["a1"]


async def test_an_answered_agent_hangs_up(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    asterisk.agent("agent1", answer_after=0.0)
    await ring(asterisk)
    await asterisk.settle()
    asterisk.hang_up("a1")
    await asterisk.settle()
    assert kinds(received) == ["StasisStart", "ChannelHangupRequest", "StasisEnd", "ChannelDestroyed"]


async def test_told_to_fail(asterisk: FakeAsterisk, received: list[ari.Event]) -> None:
    await caller(asterisk, received)
    asterisk.fail("answer", times=2)
    asterisk.fail("hangup", status=404)
    asterisk.fail("get_variable", status=404)
    for _ in range(2):
        with pytest.raises(AriError) as raised:
            await asterisk.answer("c1")
        assert raised.value.status == 500 and not isinstance(raised.value, AriNotFound)
    await asterisk.answer("c1")
    with pytest.raises(AriNotFound):
        await asterisk.hangup("c1")
    assert "c1" in asterisk.channels  # a failed call changes nothing
    await asterisk.set_variable("c1", "V", "1")
    assert await asterisk.get_variable("c1", "V") is None  # as the client reads a 404
    assert len(asterisk.called("answer")) == 3
    with pytest.raises(ValueError):
        asterisk.fail("no_such_method")


async def test_history_is_bounded(received: list[ari.Event]) -> None:
    asterisk = FakeAsterisk(history=2)
    asterisk.connect(received.append)
    for n in range(3):
        asterisk.call(f"c{n}", DID)
    await asterisk.settle()
    for n in range(3):
        await asterisk.hangup(f"c{n}")
    assert len(asterisk.calls) == 2 and asterisk.hung_up == ["c1", "c2"]
    await asterisk.settle()
    assert len(asterisk.events) == 2 and len(received) == 9


async def test_events_keep_their_order_across_channels(
    asterisk: FakeAsterisk, received: list[ari.Event]
) -> None:
    for n in range(20):
        asterisk.call(f"c{n}", DID)
        asterisk.press(f"c{n}", "1")
    await asterisk.settle()
    assert [
        (e.type, e.channel.id) for e in received if isinstance(e, ari.StasisStart | ari.ChannelDtmfReceived)
    ] == [(kind, f"c{n}") for n in range(20) for kind in ("StasisStart", "ChannelDtmfReceived")]


async def test_event_lag_and_slow_replies(received: list[ari.Event]) -> None:
    asterisk = FakeAsterisk(event_seconds=0.02)
    asterisk.connect(received.append)
    asterisk.call("c1", DID)
    await asterisk.settle()
    assert received == []
    await asterisk.settle(0.03)
    assert kinds(received) == ["StasisStart"]
    asterisk.event_seconds = 0.0
    asterisk.reply_seconds = 0.02
    await asterisk.play("c1", ("sound:menu",), "p1")
    assert kinds(received) == ["StasisStart", "PlaybackStarted", "PlaybackFinished"]  # before the reply


async def test_a_late_event_is_stamped_when_asterisk_made_it(received: list[ari.Event]) -> None:
    now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    asterisk = FakeAsterisk(event_seconds=0.25, clock=lambda: now)
    asterisk.connect(received.append)
    asterisk.call("c1", DID)
    await asterisk.settle(0.3)
    assert [e.timestamp for e in received] == [now - timedelta(seconds=0.25)], "its age is the lag"


async def test_timestamps_come_from_the_clock(received: list[ari.Event]) -> None:
    at = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    asterisk = FakeAsterisk(app="other", clock=lambda: at)
    asterisk.connect(received.append)
    asterisk.call("c1", DID)
    await asterisk.settle()
    assert (received[0].timestamp, received[0].application) == (at, "other")
    assert asterisk.channels["c1"].dialplan.app_data == f"other,inbound,{DID}"


async def test_settle_raises_what_the_sink_raised() -> None:
    asterisk = FakeAsterisk()

    def sink(event: ari.Event) -> None:
        raise RuntimeError(event.type)

    asterisk.connect(sink)
    asterisk.call("c1", DID)
    with pytest.raises(RuntimeError, match="StasisStart"):
        await asterisk.settle()
