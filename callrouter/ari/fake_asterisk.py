"""A fake Asterisk for unit tests of the shell (never for end-to-end tests): an
``AriClient`` that turns REST commands into the ARI events Asterisk would send.

Events go to the sink given to ``connect``, always later on the running loop,
never from inside the REST call that caused them: ``event_seconds`` (the lag
of Asterisk's event queue) and ``play_seconds`` default to 0, an agent's phone
answers after its own delay. ``reply_seconds`` delays successful REST replies,
so an event can overtake the reply that caused it (ARI-NOTES 1). Errors are
the ones the installed ``rest-api/*.json`` documents: 404 for an unknown
channel, bridge or playback, 409 for a channel not (yet) in the application,
400 and 422 from ``addChannel``. ``settle`` waits until what is due has been
delivered.

The test plays the callers (``call``, ``press``, ``hang_up``, ``vanish``) and
the agents' phones (``agent``, ``set_endpoint``); ``fail`` makes REST calls fail.
That side is here; the REST side the router calls is ``ari.fake_asterisk_rest``'s,
the event queue ``ari.fake_events``'s, the REST errors and hangup causes
``ari.fake_answers``'s.
"""

from __future__ import annotations

from typing import Any

from callrouter.ari import models
from callrouter.ari.fake import caller_of
from callrouter.ari.fake_answers import NORMAL_CLEARING
from callrouter.ari.fake_asterisk_rest import FakeAsteriskRest, Phone
from callrouter.ari.fake_events import Sink


class FakeAsterisk(FakeAsteriskRest):
    """The REST side the router calls, and the test's: events, callers, phones, failures."""

    def connect(self, sink: Sink) -> None:
        """Where events go (as the router's event stream hands them on)."""
        self._events.sink = sink

    def call(
        self,
        channel_id: str,
        did: str,
        number: str | None = None,
        up: bool = True,
        presentation: str | None = None,
    ) -> None:
        """A call to ``did`` reaches the application (answered in the dialplan when ``up``),
        from ``number`` (by default a number of its own: one person per channel);
        ``presentation``: the CALLERID(pres) the dialplan passes after the DID (None: none)."""
        number = caller_of(channel_id) if number is None else number
        if channel_id in self.channels:
            raise ValueError(f"channel {channel_id} exists")
        args = ["inbound", did] if presentation is None else ["inbound", did, presentation]
        channel = models.Channel(
            id=channel_id,
            name=self._channel_name("trunk"),
            state="Up" if up else "Ring",
            caller=models.CallerID(number=number),
            connected=models.CallerID(),
            dialplan=models.DialplanCEP(
                context="callrouter-inbound",
                exten=did,
                priority=2 if up else 1,  # after Answer() when up
                app_name="Stasis",
                app_data=",".join([self.app, *args]),
            ),
            creationtime=self._clock(),
        )
        self.channels[channel_id] = channel
        self._in_app.add(channel_id)
        self._later(0.0, lambda: self._events.send(models.StasisStart, args=args, channel=channel))

    def press(self, channel_id: str, digit: str, duration_ms: int = 100) -> None:
        channel = self.channels[channel_id]
        self._later(
            0.0,
            lambda: self._events.send(
                models.ChannelDtmfReceived, digit=digit, duration_ms=duration_ms, channel=channel
            ),
        )

    def hang_up(self, channel_id: str) -> None:
        """The caller (or an agent) hangs up: ChannelHangupRequest, StasisEnd, ChannelDestroyed."""
        channel = self.channels[channel_id]
        was_in_app = channel_id in self._in_app
        del self.channels[channel_id]
        playing = self._drop(channel_id)

        def report() -> None:
            self._events.send(models.ChannelHangupRequest, channel=channel, cause=NORMAL_CLEARING[0])
            self._end(channel, was_in_app, playing, "failed", NORMAL_CLEARING)

        self._later(0.0, report)

    def vanish(self, channel_id: str) -> None:
        """The channel is gone and Asterisk says nothing (a lost event)."""
        del self.channels[channel_id]
        self._drop(channel_id)

    def agent(
        self, agent_id: str, answer_after: float | None = 0.6, reject: bool = False, reject_after: float = 0.0
    ) -> None:
        """How ``PJSIP/<agent_id>`` takes the calls originated to it from now on."""
        self._phones[agent_id] = Phone(answer_after, reject, reject_after)

    def set_endpoint(self, resource: str, state: str) -> None:
        """``PJSIP/<resource>`` goes online or offline: EndpointStateChange when it changed."""
        if self._endpoints.get(resource, "online") == state:
            return
        self._endpoints[resource] = state
        endpoint = self._endpoint("PJSIP", resource)
        self._later(0.0, lambda: self._events.send(models.EndpointStateChange, endpoint=endpoint))

    def fail(self, method_name: str, status: int = 500, times: int = 1) -> None:
        """The next ``times`` calls of that REST method fail with ``status``
        (``AriNotFound`` for 404) and change nothing."""
        self._ledger.fail(method_name, status, times)

    def called(self, name: str) -> list[tuple[Any, ...]]:
        return self._ledger.called(name)

    async def settle(self, seconds: float = 0.0) -> None:
        """Wait until every event due up to ``seconds`` from now has been
        delivered and what the sink started in return has run; re-raises the
        first exception the sink raised."""
        await self._events.settle(seconds)
