"""Callbacks are dialled only inside their line's opening hours: a retry that falls
due after the line closed, or a callback that reaches an agent after it closed,
waits (no agent reserved, nothing dialled) until the line opens again. Pure
switchboard steps on the example's board: clinic-central is open 08:00-20:00
Moscow time on weekdays (05:00-17:00 UTC)."""

from __future__ import annotations

from callrouter.core import call_events as ev
from callrouter.core import switchboard as sb
from callrouter.core.records import CallbackRecord, CallbackState
from tests.unit.test_callbacks import ANNA, accept, busy_centre, finish_playback, waiting_with_offer, written
from tests.unit.test_switchboard import at, on, originates

CLOSES = 10 * 3600  # Monday 20:00 in Moscow (T0 is 10:00)
OPENS = 22 * 3600  # Tuesday 08:00 in Moscow
RECHECK = 300  # how often a closed line is looked at again (callbacks.CLOSED_RECHECK)


def booked_before_closing(seconds: float) -> sb.Board:
    """ANNA waits from ``seconds`` with agent1 on a break, takes a callback and hangs up."""
    board = waiting_with_offer(busy_centre("agent1"), "c1", seconds, number=ANNA)
    board, _ = accept(board, "c1", seconds + 20)
    board, _ = finish_playback(board, "c1", seconds + 30)
    board, _ = on(board, "c1", ev.CallerHungUp(), seconds + 31)
    return board


def dials(commands: list[sb.Command]) -> list[sb.Dial]:
    return [c for c in commands if isinstance(c, sb.Dial)]


def dialled(board: sb.Board, callback_id: str, seconds: float) -> tuple[sb.Board, sb.Dial]:
    """The lease is taken, agent1's phone rings and is answered: the person is dialled."""
    board, out = sb.step(board, sb.CallbackLeased(callback_id, sb.Lease.TAKEN), at(seconds))
    (ring,) = originates(out)
    assert ring.agent_id == "agent1"
    board, out = sb.step(board, sb.LegAnswered(ring.channel_id), at(seconds + 2))
    (dial,) = dials(out)
    return board, dial


def closed_all_night(board: sb.Board, callback_id: str, since: float) -> sb.Board:
    """Woken every recheck until the line opens: nothing reserved, leased, rung or dialled."""
    for seconds in range(int(since), OPENS, RECHECK):
        board, out = sb.step(board, sb.Wake(), at(seconds))
        assert sb.LeaseCallback(callback_id) not in out and not originates(out) and not dials(out), seconds
        assert board.centre.agents["agent1"].state.value == "idle", seconds
        assert callback_id not in board.centre.queue, seconds
    return board


def test_a_retry_falling_due_after_closing_waits_for_the_line_to_open() -> None:
    board = booked_before_closing(CLOSES - 1000)
    (callback_id,) = board.callbacks
    board, out = sb.step(board, sb.AgentCommand("agent1", "resume"), at(CLOSES - 400))
    assert sb.LeaseCallback(callback_id) in out
    board, dial = dialled(board, callback_id, CLOSES - 399)
    board, out = sb.step(board, sb.DialGone(dial.channel_id, "No answer"), at(CLOSES - 200))
    record = written(out, CallbackRecord)[-1]
    assert record.state is CallbackState.PENDING and [a.outcome for a in record.attempts] == ["no_answer"]
    (leg,) = [c.channel_id for c in out if isinstance(c, sb.HangupLeg)]
    board, _ = sb.step(board, sb.LegGone(leg, "normal"), at(CLOSES - 199.8))

    # The retry (300 s on) would fall due at 20:01:40: the line is closed until the morning.
    board = closed_all_night(board, callback_id, CLOSES - 200 + RECHECK)
    board, out = sb.step(board, sb.Wake(), at(OPENS))
    assert sb.LeaseCallback(callback_id) in out, "tried again as the line opens"
    board, dial = dialled(board, callback_id, OPENS + 0.1)
    assert dial.number == ANNA


def test_a_callback_reaching_an_agent_after_closing_is_not_dialled_until_the_line_opens() -> None:
    board = booked_before_closing(CLOSES - 1000)
    (callback_id,) = board.callbacks
    board, out = sb.step(board, sb.AgentCommand("agent1", "resume"), at(CLOSES + 60))
    assert sb.LeaseCallback(callback_id) not in out and not originates(out), "no lease, no ring: closed"
    board, out = sb.step(board, sb.Wake(), at(CLOSES + 60))
    assert board.centre.agents["agent1"].state.value == "idle", "the reserved agent is let go at once"
    assert callback_id not in board.centre.queue and board.callbacks[callback_id].record.attempts == ()
    board, _ = sb.step(board, sb.Wake(), at(CLOSES + 60 + RECHECK))
    assert board.deadlines[("callback", callback_id)] == at(OPENS), "left until the line opens"

    board = closed_all_night(board, callback_id, CLOSES + 61)
    leased = None
    for seconds in range(OPENS, OPENS + RECHECK + 1, 10):
        board, out = sb.step(board, sb.Wake(), at(seconds))
        if sb.LeaseCallback(callback_id) in out:
            leased = seconds
            break
    assert leased is not None, "looked at again within the recheck of opening"
    board, dial = dialled(board, callback_id, leased + 0.1)
    assert dial.number == ANNA
