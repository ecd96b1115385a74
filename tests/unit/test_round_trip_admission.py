"""The ARI client's ``round_trip`` as overload admission reads it (the dispatcher's
``_arrive``: the lag is the later of the call's event lag and ``round_trip``).

Found live: two requests on one channel, held by Asterisk behind a long playback,
timed out after 10 s each; the client's running average of round trips took them in
and rose to about 1 s, and the next callers were told "busy" with agents idle.
Admission is for the router or Asterisk falling behind (most requests slow, events
late), not for one channel's requests."""

from __future__ import annotations

from typing import Any

import pytest

from callrouter.ari import client as client_module
from callrouter.ari.client import AriConnectionError, HttpAriClient
from callrouter.config_router import Router
from callrouter.core.admission import Admission, AdmissionRules, admit, observe

# As the router builds them (compiled.py), at the default shed_lag_seconds (0.5 s).
RULES = AdmissionRules(Router().shed_lag_seconds)
ARRIVAL_GAP = 0.25  # seconds between new callers: 4 calls/s, a quiet box
FAST = 0.015  # a request answered at once


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


class ScriptedAsterisk(HttpAriClient):
    """The real client's bookkeeping of round trips (and of the metric), Asterisk's
    answers scripted: a request takes the next of ``takes`` seconds, then raises its
    error if one is given (a timeout: no answer came)."""

    def __init__(self, clock: Clock) -> None:
        self.observed: list[float] = []  # what goes to callrouter_ari_request_seconds
        super().__init__("http://asterisk.invalid:8088", "callrouter", "secret", observe=self.observed.append)
        self.clock = clock
        self.takes: list[tuple[float, BaseException | None]] = []

    async def _request(self, method: str, path: str, json_body: Any, params: dict[str, str]) -> Any:
        seconds, error = self.takes.pop(0)
        self.clock.now += seconds
        if error is not None:
            raise error
        return None


@pytest.fixture
def asterisk(monkeypatch: pytest.MonkeyPatch) -> ScriptedAsterisk:
    clock = Clock()
    monkeypatch.setattr(client_module, "time", clock)
    return ScriptedAsterisk(clock)


async def a_call(asterisk: ScriptedAsterisk, channel_id: str, seconds: list[float]) -> None:
    """What a new caller's call asks of Asterisk first: answer, greeting, music."""
    asterisk.takes += [(took, None) for took in seconds]
    await asterisk.answer(channel_id)
    await asterisk.play(channel_id, ("sound:hello",), f"p-{channel_id}")
    await asterisk.start_moh(channel_id)


async def stuck_channel(asterisk: ScriptedAsterisk, error: BaseException) -> None:
    """Two requests on one channel held behind its long playback until the client gave up."""
    asterisk.takes += [(10.0, error), (10.0, error)]
    with pytest.raises(type(error)):
        await asterisk.stop_playback("p-stuck")
    with pytest.raises(type(error)):
        await asterisk.hangup("stuck")


async def callers(
    asterisk: ScriptedAsterisk, admission: Admission, start: int, count: int, seconds: list[float]
) -> tuple[Admission, list[bool], list[float]]:
    """``count`` new callers, ``ARRIVAL_GAP`` apart, each admitted or not on the lag the
    dispatcher reads (events on time: the round trip), then their calls' requests taking
    ``seconds``. Returns the admission, whether each was taken, and each lag."""
    taken, lags = [], []
    for n in range(start, start + count):
        now = n * ARRIVAL_GAP  # admission's own clock; the client's only times requests
        lag = max(0.0, asterisk.round_trip)
        admission = observe(admission, now, lag)
        admission, admitted = admit(admission, now, urgent=False)
        taken.append(admitted)
        lags.append(lag)
        if admitted:
            await a_call(asterisk, f"c{n}", seconds)
    return admission, taken, lags


@pytest.mark.parametrize(
    "error",
    [TimeoutError(), AriConnectionError(0, "DELETE", "/channels/stuck", "ServerDisconnectedError")],
    ids=["timed-out", "failed"],
)
async def test_one_stuck_channel_does_not_make_new_callers_busy(
    asterisk: ScriptedAsterisk, error: BaseException
) -> None:
    admission = Admission.start(RULES, 0.0)
    admission, before, _ = await callers(asterisk, admission, 0, 12, [FAST, 0.02, 0.01])
    await stuck_channel(asterisk, error)
    admission, after, lags = await callers(asterisk, admission, 12, 20, [FAST, 0.02, 0.01])
    assert all(before) and all(after), "a new caller was told to call back"
    assert not admission.limiting
    assert max(lags) < RULES.target_lag_seconds
    # The metric still shows every request as long as it took, the two 10 s ones too.
    assert [round(took, 6) for took in sorted(asterisk.observed)[-2:]] == [10.0, 10.0]
    assert len(asterisk.observed) == (12 + 20) * 3 + 2


async def test_a_handful_of_slow_requests_do_not_either(asterisk: ScriptedAsterisk) -> None:
    admission = Admission.start(RULES, 0.0)
    admission, _, _ = await callers(asterisk, admission, 0, 12, [FAST, 0.02, 0.01])
    for _ in range(3):  # six of them, answered late or not at all
        await stuck_channel(asterisk, TimeoutError())
    admission, taken, lags = await callers(asterisk, admission, 12, 20, [FAST, 0.02, 0.01])
    assert all(taken) and not admission.limiting
    assert max(lags) < RULES.target_lag_seconds


async def test_asterisk_slow_on_every_request_still_sheds_new_callers(asterisk: ScriptedAsterisk) -> None:
    admission = Admission.start(RULES, 0.0)
    admission, before, _ = await callers(asterisk, admission, 0, 12, [FAST, 0.02, 0.01])
    assert all(before)
    admission, slow, lags = await callers(asterisk, admission, 12, 30, [1.0, 1.5, 2.0])
    assert max(lags) > RULES.target_lag_seconds
    assert admission.limiting
    assert not all(slow), "Asterisk slow on every request and nobody was told to call back"
    assert all(slow[:4])  # not at once: a moment's slowness is no overload
