"""Keys lost with the events' WebSocket: a results call's secret, or a callback's
number, being keyed when the WebSocket is cut and back is asked for again (the digits
so far dropped, no try used), never checked short."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from callrouter.core import call_events as ev
from callrouter.core import commands as cmd
from callrouter.core import switchboard as sb
from callrouter.core.records import CallEventRecord
from tests.unit.switchboard import Switchboard, settle, up
from tests.unit.test_callbacks import busy_centre, heard, waiting_with_offer
from tests.unit.test_results import NID, SECRET, answered, asked, key, media, notification, on
from tests.unit.test_switchboard import T0, fresh


def kinds(commands: list[sb.Command]) -> list[tuple[str, str]]:
    return [
        (c.record.kind, c.record.detail)
        for c in commands
        if isinstance(c, sb.Write) and isinstance(c.record, CallEventRecord)
    ]


def test_a_secret_cut_short_by_a_reconnect_is_asked_again_and_no_try_is_used() -> None:
    board, channel = answered()
    board, _ = on(board, channel, ev.PlaybackFinished(board.calls[channel].playback_id or ""), 8)
    board, _ = key(board, channel, SECRET[:3], 9)  # the rest, and the #, lost in the break
    board, out = on(board, channel, ev.InputInterrupted(), 10)
    assert media(out, channel) == ["results_verify"]
    assert ("results_secret_interrupted", "try 1") in kinds(out)
    assert asked(out) == [], "nothing checked"
    board, out = key(board, channel, SECRET + "#", 12)
    assert asked(out) == [cmd.VerifySecret(NID, SECRET)], "the whole secret, not the digits before the break"
    assert ("results_secret_keyed", "try 1") in kinds(out)
    board, out = on(board, channel, ev.SecretChecked(True), 13)
    assert ("results_verified", "try 1") in kinds(out)
    dialog = board.calls[channel].results
    assert dialog is not None and (dialog.verified, dialog.tries) == (True, 0)


def test_a_break_in_the_greeting_hears_it_again_and_one_while_checking_changes_nothing() -> None:
    board, channel = answered()
    _, out = on(board, channel, ev.InputInterrupted(), 6)
    assert media(out, channel) == ["results_greeting-clinic-central", "results_verify"]
    board, _ = key(board, channel, SECRET + "#", 8)
    checking, out = on(board, channel, ev.InputInterrupted(), 9)
    assert out == [] and checking.calls == board.calls, "the secret keyed in full is being checked"


def test_a_callback_number_cut_short_by_a_reconnect_is_asked_again_not_booked_short() -> None:
    board = waiting_with_offer(busy_centre("agent1"), "c1", 1, number="anonymous")
    board, out = on(board, "c1", ev.Digit("1"), 20)
    assert heard(out, "c1") == ["callback_key_number"]
    board, _ = key(board, "c1", "8916111", 21)  # "2233#" lost in the break
    board, out = on(board, "c1", ev.InputInterrupted(), 22)
    assert heard(out, "c1") == ["callback_key_number"]
    assert [k for k, _ in kinds(out)] == ["callback_input_interrupted"]
    dialog = board.calls["c1"].dialog
    assert dialog is not None and (dialog.keyed, dialog.tries) == ("", 0)
    board, _ = key(board, "c1", "89161112233#", 24)
    (callback,) = board.callbacks.values()
    assert callback.record.number == "+79161112233"


async def test_a_reconnect_tells_a_results_call_keying_its_secret(tmp_path: Path) -> None:
    """Against the fake Asterisk: the digits keyed before the break are dropped at the
    reconnect and the secret asked for again; then the whole secret is the first try."""
    board = Switchboard(tmp_path)
    writing = await board.start()
    events = board.recording(CallEventRecord)
    core, _ = sb.step(fresh("agent1"), sb.ResultsTaken((notification(),), 1), T0)
    channel = core.results[NID].channel_id
    board.asterisk.channels[channel] = up(channel)
    dispatcher = board.dispatcher
    dispatcher.board = replace(
        dispatcher.board, results=core.results, result_dials=core.result_dials, rules=core.rules
    )
    dispatcher.step(sb.DialAnswered(channel))
    await settle()
    for digit in SECRET[:3]:
        board.press(channel, digit)
    await settle()
    results = dispatcher.board.calls[channel].results
    assert results is not None and results.keyed == SECRET[:3]
    await dispatcher.on_connect()  # the reconnect
    await settle()
    call = dispatcher.board.calls[channel]
    assert call.results is not None and (call.results.keyed, call.results.tries) == ("", 0)
    assert [e.detail for e in events if e.kind == "results_secret_interrupted"] == ["try 1"]
    assert board.asterisk.playbacks[channel] == call.playback_id, "the prompt is played again"
    board.hang_up(channel)
    await board.quiet()
    await board.writer.close(writing)
